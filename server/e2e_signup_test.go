package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/mailer"
	"github.com/tollgate/tollgate/mailer/mailtest"
	"github.com/tollgate/tollgate/passwords"
	"github.com/tollgate/tollgate/server"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

const newPassword = "violet kettle under nine moons"

// signupBackends runs fn with sign-up on, mail going to a real SMTP server
// in the test, on SQLite and on PostgreSQL + Redis.
func signupBackends(t *testing.T, fn func(t *testing.T, e *env, mail *mailtest.Server)) {
	for _, b := range []struct {
		name string
		open func(testing.TB) storage.Store
	}{{"sqlite", testbackend.SQLite}, {"postgres+redis", testbackend.PostgresRedis}} {
		t.Run(b.name, func(t *testing.T) {
			mail := mailtest.Start(t)
			sender, err := mailer.NewSMTP(mailer.SMTPConfig{Host: mail.Host, Port: mail.Port, From: "no-reply@tollgate.test", TLS: "none"})
			if err != nil {
				t.Fatal(err)
			}
			e := newEnvWith(t, b.name, b.open(t), keyring.RS256, func(c *server.Config) {
				c.Mailer, c.SignupEnabled, c.RequireVerifiedEmail, c.PasswordPolicy = sender, true, true, passwords.DefaultPolicy()
			})
			fn(t, e, mail)
		})
	}
}

// TestSignUpWithPromptCreate: prompt=create starts at sign-up; the emailed
// link confirms the address (once); the user then signs in and returns to
// the client with a verified email in the ID token.
func TestSignUpWithPromptCreate(t *testing.T) {
	signupBackends(t, func(t *testing.T, e *env, mail *mailtest.Server) {
		ctx := context.Background()
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		b := newBrowser(t)
		a := newAuthRequest(cfg, oauth2.SetAuthURLParam("prompt", "create"))
		p := b.get(a.url)
		if !strings.HasSuffix(p.url.Path, "/signup") || !strings.Contains(p.body, "Web App") {
			t.Fatalf("prompt=create landed at %d %s", p.status, p.url)
		}
		action, form := p.form(t, "password")
		form.Set("email", "Grace@Example.com")
		form.Set("name", "Grace Hopper")
		form.Set("password", newPassword)
		p = b.post(action, form)
		if p.status != http.StatusOK || !strings.Contains(p.body, "Check your email") {
			t.Fatalf("sign-up: %d\n%s", p.status, p.body)
		}
		user, err := e.store.GetUserByEmail(ctx, "grace@example.com")
		if err != nil || user.EmailVerified || user.Name != "Grace Hopper" {
			t.Fatalf("created user %+v %v", user, err)
		}

		// Before confirming, the password is right but sign-in is refused.
		early := newBrowser(t)
		if p := early.signIn(early.get(e.issuer+"/login"), "grace@example.com", newPassword); p.status != http.StatusForbidden || !strings.Contains(p.body, "Confirm your email") {
			t.Fatalf("sign-in before verification: %d", p.status)
		}

		link := mail.WaitFor(t, "grace@example.com").Link(t, e.issuer+"/verify-email")
		p = b.get(link)
		if p.status != http.StatusOK || !strings.Contains(p.body, "Email confirmed") {
			t.Fatalf("verification: %d\n%s", p.status, p.body)
		}
		if again := newBrowser(t).get(link); again.status != http.StatusBadRequest {
			t.Fatalf("second use of the link: %d", again.status)
		}
		action, form = p.form(t, "request")
		p = b.get(action + "?" + form.Encode())
		p = b.consent(b.signIn(p, "grace@example.com", newPassword), "allow", true)
		q := callback(t, p, e.issuer)
		tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(a.verifier))
		if err != nil {
			t.Fatal(err)
		}
		idToken, err := e.provider().Verifier(&oidc.Config{ClientID: confidentialID}).Verify(ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var claims struct {
			Email         string `json:"email"`
			EmailVerified bool   `json:"email_verified"`
			Name          string `json:"name"`
		}
		if err := idToken.Claims(&claims); err != nil || claims.Email != "grace@example.com" || !claims.EmailVerified || claims.Name != "Grace Hopper" {
			t.Fatalf("ID token claims %+v %v", claims, err)
		}
	})
}

// TestSignUpRevealsNothing: signing up with an address that has an account
// looks exactly like a new sign-up (the owner is told by email instead);
// a weak password is refused with the rule it broke, and nothing is stored.
func TestSignUpRevealsNothing(t *testing.T) {
	signupBackends(t, func(t *testing.T, e *env, mail *mailtest.Server) {
		ctx := context.Background()
		signUp := func(email, password string) page {
			b := newBrowser(t)
			action, form := b.get(e.issuer+"/signup").form(t, "password")
			form.Set("email", email)
			form.Set("name", "Someone")
			form.Set("password", password)
			return b.post(action, form)
		}
		existing := signUp(testEmail, newPassword)
		fresh := signUp("newcomer@example.com", newPassword)
		if existing.status != fresh.status || strings.ReplaceAll(existing.body, testEmail, "X") != strings.ReplaceAll(fresh.body, "newcomer@example.com", "X") {
			t.Fatalf("existing and new addresses answered differently: %d vs %d", existing.status, fresh.status)
		}
		owner := mail.WaitFor(t, testEmail)
		if !strings.Contains(owner.Header.Get("Subject"), "tried to sign up") {
			t.Fatalf("the owner got %q", owner.Header.Get("Subject"))
		}
		if u, err := e.store.GetUserByEmail(ctx, testEmail); err != nil || u.ID != e.user.ID || u.Name != e.user.Name {
			t.Fatalf("the existing account changed: %+v %v", u, err)
		}
		mail.WaitFor(t, "newcomer@example.com")

		weak := signUp("weak@example.com", "Password123!")
		if weak.status != http.StatusBadRequest || !strings.Contains(weak.body, "too common or too easy to guess") {
			t.Fatalf("weak password: %d", weak.status)
		}
		if _, err := e.store.GetUserByEmail(ctx, "weak@example.com"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("a refused sign-up stored a user: %v", err)
		}
		if mail.Count("weak@example.com") != 0 {
			t.Fatal("a refused sign-up sent email")
		}
	})
}

// Without sign-up, the page and prompt=create are refused.
func TestSignUpDisabled(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		if p := newBrowser(t).get(e.issuer + "/signup"); p.status != http.StatusNotFound {
			t.Fatalf("sign-up page while disabled: %d", p.status)
		}
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		q := callback(t, newBrowser(t).get(newAuthRequest(cfg, oauth2.SetAuthURLParam("prompt", "create")).url), e.issuer)
		if q.Get("error") != "invalid_request" {
			t.Fatalf("prompt=create while disabled: %v", q)
		}
	})
}
