package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/mailer"
	"github.com/tollgate/tollgate/mailer/mailtest"
	"github.com/tollgate/tollgate/passwords"
	"github.com/tollgate/tollgate/server"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// askReset submits the forgot-password form for email from a new browser.
func (e *env) askReset(email string) page {
	e.t.Helper()
	b := newBrowser(e.t)
	action, form := b.get(e.issuer+"/forgot-password").form(e.t, "email")
	form.Set("email", email)
	return b.post(action, form)
}

// waitForCount waits until n messages went to the address.
func waitForCount(t *testing.T, mail *mailtest.Server, to string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for mail.Count(to) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d emails to %s, want %d", mail.Count(to), to, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPasswordResetThrottled: a few reset requests an hour per address
// typed go through; then the answer is 429 with one page whether or not
// the account exists, and no mail goes out. Many addresses from one client
// are throttled too.
func TestPasswordResetThrottled(t *testing.T) {
	signupBackends(t, func(t *testing.T, e *env, mail *mailtest.Server) {
		for _, email := range []string{testEmail, "nobody@example.com"} {
			for i := range 3 {
				if p := e.askReset(email); p.status != http.StatusOK {
					t.Fatalf("request %d for %s: %d", i+1, email, p.status)
				}
			}
		}
		known, unknown := e.askReset(testEmail), e.askReset("nobody@example.com")
		if known.status != http.StatusTooManyRequests || unknown.status != http.StatusTooManyRequests ||
			known.header.Get("Retry-After") == "" || unknown.header.Get("Retry-After") == "" {
			t.Fatalf("4th request: %d (Retry-After %q) and %d", known.status, known.header.Get("Retry-After"), unknown.status)
		}
		if known.body != unknown.body {
			t.Fatalf("throttled answers differ for an existing and an unknown address:\n%s\n---\n%s", known.body, unknown.body)
		}
		waitForCount(t, mail, testEmail, 3)
		time.Sleep(200 * time.Millisecond) // a 4th mail would be sent by now
		if n := mail.Count(testEmail); n != 3 {
			t.Errorf("%d reset emails, want 3 (none for the throttled request)", n)
		}
		if mail.Count("nobody@example.com") != 0 {
			t.Error("an email went to an address without an account")
		}
		if n := countAuditReason(t, e, "throttled"); n != 2 {
			t.Errorf("%d throttled reset requests in the audit log, want 2", n)
		}

		// Per client address: the 6 requests above counted, so 14 more
		// addresses go through, and the next is throttled.
		for i := range 14 {
			if p := e.askReset(fmt.Sprintf("probe%d@example.com", i)); p.status != http.StatusOK {
				t.Fatalf("probe %d: %d", i, p.status)
			}
		}
		if p := e.askReset("probe-last@example.com"); p.status != http.StatusTooManyRequests {
			t.Fatalf("21st request from one client: %d", p.status)
		}
	})
}

// slowSender delays every mail, as a distant SMTP server does.
type slowSender struct {
	next  mailer.Sender
	delay time.Duration
	sent  atomic.Int32
}

func (s *slowSender) Send(ctx context.Context, m mailer.Message) error {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	err := s.next.Send(ctx, m)
	if err == nil {
		s.sent.Add(1)
	}
	return err
}

// TestAccountMailAfterTheAnswer: with a slow mail server, a reset request
// or a sign-up for an existing account answers as fast as one for an
// unknown address: the mail goes after the answer, and still arrives.
func TestAccountMailAfterTheAnswer(t *testing.T) {
	for _, b := range []struct {
		name string
		open func(testing.TB) storage.Store
	}{{"sqlite", testbackend.SQLite}, {"postgres+redis", testbackend.PostgresRedis}} {
		t.Run(b.name, func(t *testing.T) {
			mail := mailtest.Start(t)
			smtp, err := mailer.NewSMTP(mailer.SMTPConfig{Host: mail.Host, Port: mail.Port, From: "no-reply@tollgate.test", TLS: "none"})
			if err != nil {
				t.Fatal(err)
			}
			const delay = 2 * time.Second
			slow := &slowSender{next: smtp, delay: delay}
			e := newEnvWith(t, b.name, b.open(t), keyring.RS256, func(c *server.Config) {
				c.Mailer, c.SignupEnabled, c.PasswordPolicy = slow, true, passwords.DefaultPolicy()
			})
			start := time.Now()
			if p := e.askReset(testEmail); p.status != http.StatusOK {
				t.Fatalf("reset request: %d", p.status)
			}
			if took := time.Since(start); took >= delay {
				t.Errorf("the reset request for an existing account waited for the mail: %s", took)
			}
			mail.WaitFor(t, testEmail)

			// Sign-up with the existing address: the "account exists"
			// mail goes after the answer too.
			bw := newBrowser(t)
			action, form := bw.get(e.issuer+"/signup").form(t, "password")
			form.Set("email", testEmail)
			form.Set("name", "Someone")
			form.Set("password", newPassword)
			start = time.Now()
			if p := bw.post(action, form); p.status != http.StatusOK {
				t.Fatalf("sign-up with an existing address: %d", p.status)
			}
			if took := time.Since(start); took >= delay {
				t.Errorf("sign-up with an existing address waited for the mail: %s", took)
			}
			waitForCount(t, mail, testEmail, 2)
		})
	}
}

// TestShutdownWaitsForMail: mail sent after the answer is not lost when
// the server closes: Close waits for it.
func TestShutdownWaitsForMail(t *testing.T) {
	mail := mailtest.Start(t)
	smtp, err := mailer.NewSMTP(mailer.SMTPConfig{Host: mail.Host, Port: mail.Port, From: "no-reply@tollgate.test", TLS: "none"})
	if err != nil {
		t.Fatal(err)
	}
	slow := &slowSender{next: smtp, delay: time.Second}
	e := newEnvWith(t, "sqlite", testbackend.SQLite(t), keyring.RS256, func(c *server.Config) { c.Mailer = slow })
	srv := e.server.Config.Handler.(*server.Server)
	if p := e.askReset(testEmail); p.status != http.StatusOK {
		t.Fatalf("reset request: %d", p.status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	if slow.sent.Load() != 1 || mail.Count(testEmail) != 1 {
		t.Fatalf("after Close: %d sent, %d received", slow.sent.Load(), mail.Count(testEmail))
	}
}

// countAuditReason counts the password_reset.requested events with reason.
func countAuditReason(t *testing.T, e *env, reason string) int {
	t.Helper()
	n := 0
	for _, ev := range e.auditEvents(url.Values{"type": {"password_reset.requested"}}) {
		if ev.Reason == reason {
			n++
		}
	}
	return n
}
