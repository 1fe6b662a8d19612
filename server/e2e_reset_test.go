package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/tollgate/tollgate/mailer/mailtest"
)

// TestPasswordReset: the same answer whether or not the address has an
// account; the emailed link works once; the new password must pass the
// policy; afterwards the old password, the old sessions, refresh tokens and
// access tokens all stop working.
func TestPasswordReset(t *testing.T) {
	signupBackends(t, func(t *testing.T, e *env, mail *mailtest.Server) {
		ctx := context.Background()
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		signedIn := newBrowser(t)
		a := newAuthRequest(cfg)
		q := e.fullLogin(signedIn, a)
		tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(a.verifier))
		if err != nil {
			t.Fatal(err)
		}

		ask := func(email string) page {
			b := newBrowser(t)
			p := b.get(e.issuer + "/login")
			if !strings.Contains(p.body, "Forgot your password?") {
				t.Fatal("the sign-in page has no way to reset a password")
			}
			action, form := b.get(e.issuer+"/forgot-password").form(t, "email")
			form.Set("email", email)
			return b.post(action, form)
		}
		known, unknown := ask(testEmail), ask("nobody@example.com")
		if known.status != http.StatusOK || known.status != unknown.status ||
			strings.ReplaceAll(known.body, testEmail, "X") != strings.ReplaceAll(unknown.body, "nobody@example.com", "X") {
			t.Fatalf("known and unknown addresses answered differently: %d vs %d", known.status, unknown.status)
		}
		link := mail.WaitFor(t, testEmail).Link(t, e.issuer+"/reset-password")
		if mail.Count("nobody@example.com") != 0 {
			t.Fatal("an email went to an address without an account")
		}

		b := newBrowser(t)
		p := b.get(link)
		action, form := p.form(t, "password")
		form.Set("password", "Password123!")
		if weak := b.post(action, form); weak.status != http.StatusBadRequest || !strings.Contains(weak.body, "too easy to guess") {
			t.Fatalf("weak new password: %d", weak.status)
		}
		form.Set("password", newPassword)
		if p = b.post(action, form); p.status != http.StatusOK || !strings.Contains(p.body, "Password changed") {
			t.Fatalf("reset: %d\n%s", p.status, p.body)
		}
		if again := newBrowser(t).get(link); again.status != http.StatusBadRequest {
			t.Fatalf("second use of the reset link: %d", again.status)
		}

		// Everything issued before the reset has stopped working.
		if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
			t.Error("a refresh token from before the reset still works")
		}
		if e.introspect(tok.AccessToken)["active"] != false {
			t.Error("an access token from before the reset is still active")
		}
		none := signedIn.get(newAuthRequest(cfg, oauth2.SetAuthURLParam("prompt", "none")).url)
		if q := callback(t, none, e.issuer); q.Get("error") != "login_required" {
			t.Errorf("the old browser session survived the reset: %v", q)
		}
		// The old password fails, the new one works.
		fresh := newBrowser(t)
		if p := fresh.signIn(fresh.get(e.issuer+"/login"), testEmail, testPassword); p.status != http.StatusUnauthorized {
			t.Errorf("the old password still works: %d", p.status)
		}
		if p := fresh.signIn(fresh.get(e.issuer+"/login"), testEmail, newPassword); p.status != http.StatusOK {
			t.Errorf("the new password does not work: %d", p.status)
		}
	})
}
