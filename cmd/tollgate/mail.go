package main

import (
	"net/url"
	"path/filepath"

	"github.com/tollgate/tollgate/mailer"
)

// mailer returns where account email goes: the configured SMTP server; on
// the embedded default without one, files under the data directory (and
// the log); otherwise nowhere, and sign-up stays off, because links that
// sign people up must not land in a production log.
func (a *app) mailer(e *env) (mailer.Sender, error) {
	from := e.cfg.SMTPFrom
	if from == "" {
		host := "localhost"
		if u, err := url.Parse(e.cfg.Issuer); err == nil && u.Hostname() != "" {
			host = u.Hostname()
		}
		from = "Tollgate <no-reply@" + host + ">"
	}
	switch {
	case e.cfg.SMTPHost != "":
		port := e.cfg.SMTPPort
		if port == 0 {
			port = 587
		}
		return mailer.NewSMTP(mailer.SMTPConfig{
			Host: e.cfg.SMTPHost, Port: port, Username: e.cfg.SMTPUsername, Password: e.cfg.SMTPPassword,
			From: from, TLS: e.cfg.SMTPTLS,
		})
	case e.cfg.EmbeddedDatabase():
		dir := filepath.Join(e.cfg.DataDir, "mail")
		e.log.Warn("no SMTP server configured: email is written to files and the log", "dir", dir)
		return &mailer.Files{Dir: dir, From: from, Logger: e.log}, nil
	default:
		if e.cfg.SignupEnabled {
			e.log.Warn("no SMTP server configured: sign-up is off until smtp_host is set")
		}
		return nil, nil
	}
}
