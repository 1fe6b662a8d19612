// Package mailer sends Tollgate's email: verification, password reset,
// account notices. Messages are rendered from the templates in
// templates/mail (HTML and text) and delivered over SMTP, or, on the
// embedded default with no SMTP server configured, written to files (and
// the log) so a newcomer can follow the links.
package mailer

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one email, ready to send.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
}

// Sender delivers messages.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// SMTPConfig names an SMTP server.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string
	// TLS is "starttls" (required, the default), "tls" (implicit TLS,
	// usually port 465) or "none" (local relays only).
	TLS string
}

// SMTP sends through an SMTP server with go-mail.
type SMTP struct{ cfg SMTPConfig }

// NewSMTP checks cfg and returns a sender for it.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	switch cfg.TLS {
	case "", "starttls", "tls", "none":
	default:
		return nil, fmt.Errorf("smtp_tls %q: want starttls, tls or none", cfg.TLS)
	}
	if cfg.Host == "" || cfg.From == "" {
		return nil, fmt.Errorf("smtp: host and from are required")
	}
	return &SMTP{cfg: cfg}, nil
}

// Send delivers m.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg, err := build(s.cfg.From, m)
	if err != nil {
		return err
	}
	opts := []gomail.Option{gomail.WithTimeout(15 * time.Second)}
	if s.cfg.Port != 0 {
		opts = append(opts, gomail.WithPort(s.cfg.Port))
	}
	switch s.cfg.TLS {
	case "tls":
		opts = append(opts, gomail.WithSSL())
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	client, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp: send to %s: %w", s.cfg.Host, err)
	}
	return nil
}

func build(from string, m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.From(from); err != nil {
		return nil, fmt.Errorf("mail from %q: %w", from, err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("mail to: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// Files writes each message to a file in Dir and says so in the log, with
// the text, so that the links in it can be followed. It is for the embedded
// default: messages carry single-use links, which must never reach the
// logs of a real deployment.
type Files struct {
	Dir    string
	From   string
	Logger *slog.Logger
}

// Send writes m to Dir/<time>-<recipient>.eml.
func (f *Files) Send(ctx context.Context, m Message) error {
	msg, err := build(f.From, m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return fmt.Errorf("mail directory: %w", err)
	}
	name := time.Now().UTC().Format("20060102T150405.000000000") + "-" + strings.NewReplacer("@", "_at_", "/", "_").Replace(m.To) + ".eml"
	path := filepath.Join(f.Dir, name)
	if err := msg.WriteToFile(path); err != nil {
		return fmt.Errorf("write mail: %w", err)
	}
	f.Logger.InfoContext(ctx, "email written to a file (no SMTP server is configured)", "to", m.To, "subject", m.Subject, "path", path, "text", m.Text)
	return nil
}
