package mailer_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/mailer"
	"github.com/tollgate/tollgate/mailer/mailtest"
	"github.com/tollgate/tollgate/templates"
)

func message(t *testing.T) mailer.Message {
	t.Helper()
	r, err := templates.NewMail()
	if err != nil {
		t.Fatal(err)
	}
	subject, text, html, err := r.Render("verify_email", templates.MailData{Name: "Ada <b>", Email: "ada@example.com", Link: "https://id.example/verify-email?token=abc123"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, "Ada <b>") {
		t.Fatal("the HTML body does not escape the name")
	}
	return mailer.Message{To: "ada@example.com", Subject: subject, Text: text, HTML: html}
}

// A message goes over SMTP to a real server and arrives whole.
func TestSMTPDelivery(t *testing.T) {
	srv := mailtest.Start(t)
	s, err := mailer.NewSMTP(mailer.SMTPConfig{Host: srv.Host, Port: srv.Port, From: "Tollgate <no-reply@id.example>", TLS: "none"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), message(t)); err != nil {
		t.Fatal(err)
	}
	got := srv.WaitFor(t, "ada@example.com")
	if got.Header.Get("Subject") != "Confirm your email address" || !strings.Contains(got.From, "no-reply@id.example") {
		t.Fatalf("received %q from %q", got.Header.Get("Subject"), got.From)
	}
	if link := got.Link(t, "https://id.example/verify-email"); link != "https://id.example/verify-email?token=abc123" {
		t.Fatalf("link %q", link)
	}
}

// STARTTLS is required unless configured off: a server without it is refused.
func TestSMTPRequiresTLSByDefault(t *testing.T) {
	srv := mailtest.Start(t)
	s, err := mailer.NewSMTP(mailer.SMTPConfig{Host: srv.Host, Port: srv.Port, From: "no-reply@id.example"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), message(t)); err == nil {
		t.Fatal("sent without TLS to a server that offers none")
	}
	if srv.Count("ada@example.com") != 0 {
		t.Fatal("a message went out in clear")
	}
	if _, err := mailer.NewSMTP(mailer.SMTPConfig{Host: "x", From: "a@b", TLS: "maybe"}); err == nil {
		t.Fatal("an unknown TLS mode was accepted")
	}
}

// Without SMTP, messages land in files a newcomer can open.
func TestFiles(t *testing.T) {
	dir := t.TempDir()
	var logs strings.Builder
	f := &mailer.Files{Dir: dir, From: "no-reply@localhost", Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	if err := f.Send(context.Background(), message(t)); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) != 1 {
		t.Fatalf("%d files", len(files))
	}
	raw, _ := os.ReadFile(files[0])
	if !strings.Contains(string(raw), "Confirm your email address") || !strings.Contains(logs.String(), "verify-email?token=abc123") {
		t.Fatalf("file or log lacks the message:\n%s\n%s", raw, logs.String())
	}
}
