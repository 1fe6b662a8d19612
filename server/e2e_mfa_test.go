package server_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/mailer/mailtest"
	"github.com/tollgate/tollgate/server"
	"github.com/tollgate/tollgate/storage/testbackend"
)

const mfaACR = "urn:tollgate:mfa"

var (
	manualKeyRe    = regexp.MustCompile(`id="mfa-secret">([A-Z2-7]+)<`)
	recoveryCodeRe = regexp.MustCompile(`class="recovery-code">([A-Z0-9-]+)<`)
)

// totpAt is the code an authenticator app shows at now+shift.
func totpAt(t *testing.T, secret string, shift time.Duration) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, time.Now().Add(shift), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// awayFromStepEdge waits, when a TOTP step is about to end, for the next
// one, so that a test's codes all belong to the steps it means.
func awayFromStepEdge() {
	if left := 30 - time.Now().Unix()%30; left < 4 {
		time.Sleep(time.Duration(left)*time.Second + 100*time.Millisecond)
	}
}

// setupPage is the enrollment page: it must show a QR code and the key.
func setupPage(t *testing.T, p page) string {
	t.Helper()
	m := manualKeyRe.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil {
		t.Fatalf("not the enrollment page: %d at %s\n%s", p.status, p.url, p.body)
	}
	if !strings.Contains(p.body, `src="data:image/png;base64,`) {
		t.Fatal("the enrollment page has no QR code image")
	}
	return m[1]
}

// confirmEnrollment submits code on the enrollment page p.
func (b *browser) confirmEnrollment(p page, code string) page {
	b.t.Helper()
	action, form := p.form(b.t, "code")
	form.Set("code", code)
	return b.post(action, form)
}

// recoveryCodes reads the codes shown once after enrolling.
func recoveryCodes(t *testing.T, p page) []string {
	t.Helper()
	var codes []string
	for _, m := range recoveryCodeRe.FindAllStringSubmatch(p.body, -1) {
		codes = append(codes, m[1])
	}
	if p.status != http.StatusOK || len(codes) != 10 {
		t.Fatalf("expected 10 recovery codes, got %d (status %d):\n%s", len(codes), p.status, p.body)
	}
	return codes
}

// enrollMFA turns on a second factor for the user signed in at b, through
// /account/mfa, confirming with the code of the previous step (30 s of
// skew), and returns the key and the recovery codes.
func (e *env) enrollMFA(b *browser) (string, []string) {
	e.t.Helper()
	p := b.get(e.issuer + "/account/mfa")
	secret := setupPage(e.t, p)
	if again := setupPage(e.t, b.get(e.issuer+"/account/mfa")); again != secret {
		e.t.Fatal("reloading the enrollment page changed the key")
	}
	return secret, recoveryCodes(e.t, b.confirmEnrollment(p, totpAt(e.t, secret, -30*time.Second)))
}

// passwordStep starts an authorization at b and gives the password; it
// returns the page that follows.
func (e *env) passwordStep(b *browser, a authRequest) page {
	e.t.Helper()
	p := b.get(a.url)
	if !strings.HasSuffix(p.url.Path, "/login") {
		e.t.Fatalf("expected the login page, got %d at %s", p.status, p.url)
	}
	return b.signIn(p, testEmail, testPassword)
}

// giveCode answers the second-factor page p.
func (b *browser) giveCode(p page, code string) page {
	b.t.Helper()
	if !strings.HasSuffix(p.url.Path, "/login/mfa") {
		b.t.Fatalf("expected the second-factor page, got %d at %s:\n%s", p.status, p.url, p.body)
	}
	action, form := p.form(b.t, "code")
	form.Set("code", code)
	return b.post(action, form)
}

// mfaSignIn signs in with the password and code in a new browser and
// returns the page after the code.
func (e *env) mfaSignIn(a authRequest, code string) (*browser, page) {
	e.t.Helper()
	b := newBrowser(e.t)
	return b, b.giveCode(e.passwordStep(b, a), code)
}

type idClaims struct {
	AMR []string `json:"amr"`
	ACR string   `json:"acr"`
}

// finish follows a page to the client's callback, exchanges the code and
// returns the ID token's amr and acr.
func (e *env) finish(b *browser, cfg *oauth2.Config, a authRequest, p page) idClaims {
	e.t.Helper()
	if strings.HasSuffix(p.url.Path, "/consent") {
		p = b.consent(p, "allow", true)
	}
	q := callback(e.t, p, e.issuer)
	if q.Get("error") != "" {
		e.t.Fatalf("authorization failed: %v", q)
	}
	tok, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(a.verifier))
	if err != nil {
		e.t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := e.provider().Verifier(&oidc.Config{ClientID: cfg.ClientID}).Verify(context.Background(), raw)
	if err != nil {
		e.t.Fatal(err)
	}
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func wantFactor(t *testing.T, c idClaims, amr ...string) {
	t.Helper()
	if !slices.Equal(c.AMR, amr) || c.ACR != mfaACR {
		t.Fatalf("ID token amr = %v, acr = %q; want %v and %q", c.AMR, c.ACR, amr, mfaACR)
	}
}

func refused(t *testing.T, p page, what string) {
	t.Helper()
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "not right") {
		t.Fatalf("%s: got %d at %s, want the code refused", what, p.status, p.url)
	}
}

// TestMFASignIn: a user enrolls at /account/mfa (QR code and manual key,
// confirmed with a code), then every sign-in asks for a code after the
// password: the ID token says amr [pwd otp] and acr urn:tollgate:mfa; a code
// is accepted once, ±30 s of skew is accepted and ±60 s refused; a recovery
// code works once and gives amr [pwd mfa].
func TestMFASignIn(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		awayFromStepEdge()
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		b := newBrowser(t)
		e.fullLogin(b, newAuthRequest(cfg))

		// Enrolling: a wrong code, or one a minute off, is refused.
		p := b.get(e.issuer + "/account/mfa")
		secret := setupPage(t, p)
		for _, shift := range []time.Duration{-60 * time.Second, 60 * time.Second} {
			if bad := b.confirmEnrollment(p, totpAt(t, secret, shift)); bad.status != http.StatusUnauthorized {
				t.Fatalf("enrollment with a code %v off: %d", shift, bad.status)
			}
		}
		if enrolled, _ := e.store.GetMFA(t.Context(), e.user.ID); enrolled.Confirmed {
			t.Fatal("a refused code turned MFA on")
		} else if strings.Contains(string(enrolled.SealedSecret), secret) {
			t.Fatal("the TOTP secret is stored in clear")
		}
		codes := recoveryCodes(t, b.confirmEnrollment(p, totpAt(t, secret, -30*time.Second)))
		if manage := b.get(e.issuer + "/account/mfa"); !strings.Contains(manage.body, `id="codes-left">10<`) {
			t.Fatalf("the account page does not show 10 codes left:\n%s", manage.body)
		}

		// The password alone is not a session.
		a := newAuthRequest(cfg)
		half := newBrowser(t)
		codePage := e.passwordStep(half, a)
		if !strings.HasSuffix(codePage.url.Path, "/login/mfa") {
			t.Fatalf("after the password: %d at %s", codePage.status, codePage.url)
		}
		if p := half.get(e.issuer + "/account/mfa"); p.status != http.StatusUnauthorized {
			t.Fatalf("before the code, the account page answered %d", p.status)
		}
		now := totpAt(t, secret, 0)
		wantFactor(t, e.finish(half, cfg, a, half.giveCode(codePage, now)), "pwd", "otp")

		_, replay := e.mfaSignIn(newAuthRequest(cfg), now)
		refused(t, replay, "the same code again")
		for _, shift := range []time.Duration{60 * time.Second, -60 * time.Second} {
			_, off := e.mfaSignIn(newAuthRequest(cfg), totpAt(t, secret, shift))
			refused(t, off, "a code "+shift.String()+" off")
		}
		a = newAuthRequest(cfg)
		nb, ahead := e.mfaSignIn(a, totpAt(t, secret, 30*time.Second))
		wantFactor(t, e.finish(nb, cfg, a, ahead), "pwd", "otp")

		// A recovery code, typed carelessly, works once.
		a = newAuthRequest(cfg)
		careless := strings.ToLower(strings.ReplaceAll(codes[0], "-", " "))
		rb, rp := e.mfaSignIn(a, careless)
		wantFactor(t, e.finish(rb, cfg, a, rp), "pwd", "mfa")
		_, again := e.mfaSignIn(newAuthRequest(cfg), codes[0])
		refused(t, again, "a used recovery code")
		if left, _ := e.store.CountRecoveryCodes(t.Context(), e.user.ID); left != 9 {
			t.Fatalf("%d recovery codes left, want 9", left)
		}
	})
}

// TestMFAStepUp: acr_values=urn:tollgate:mfa sends a user without a second
// factor to enroll, mid-flow, and back to the client; a session from
// before the enrollment steps up with a code; prompt=none cannot.
func TestMFAStepUp(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		awayFromStepEdge()
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		old := newBrowser(t)
		e.fullLogin(old, newAuthRequest(cfg))
		plain := newBrowser(t)
		a := newAuthRequest(cfg)
		if c := e.finish(plain, cfg, a, e.passwordStep(plain, a)); c.ACR != "" || !slices.Equal(c.AMR, []string{"pwd"}) {
			t.Fatalf("a password sign-in claims amr %v, acr %q", c.AMR, c.ACR)
		}

		// Demanding MFA of a user without it: enroll, then continue.
		mfa := oauth2.SetAuthURLParam("acr_values", mfaACR)
		a = newAuthRequest(cfg, mfa)
		p := plain.get(a.url)
		if !strings.HasSuffix(p.url.Path, "/account/mfa") || !strings.Contains(p.body, "asks for two-step verification") {
			t.Fatalf("acr_values without MFA: %d at %s", p.status, p.url)
		}
		secret := setupPage(t, p)
		done := plain.confirmEnrollment(p, totpAt(t, secret, 0))
		recoveryCodes(t, done)
		next := regexp.MustCompile(`href="([^"]+)">I have saved them`).FindStringSubmatch(done.body)
		if next == nil || !strings.Contains(next[1], "/authorize/resume") {
			t.Fatalf("no way back to the client:\n%s", done.body)
		}
		wantFactor(t, e.finish(plain, cfg, a, plain.get(strings.ReplaceAll(next[1], "&amp;", "&"))), "pwd", "otp")

		// The old browser's session had the password only: it cannot
		// answer silently, and steps up with a code.
		silent := old.get(newAuthRequest(cfg, mfa, oauth2.SetAuthURLParam("prompt", "none")).url)
		if q := callback(t, silent, e.issuer); q.Get("error") != "interaction_required" {
			t.Fatalf("prompt=none without the second factor: %v", q)
		}
		a = newAuthRequest(cfg, mfa)
		p = old.get(a.url)
		if !strings.HasSuffix(p.url.Path, "/login/mfa") {
			t.Fatalf("step-up: %d at %s", p.status, p.url)
		}
		wantFactor(t, e.finish(old, cfg, a, old.giveCode(p, totpAt(t, secret, 30*time.Second))), "pwd", "otp")

		// Now the session has it: no further question, prompt=none works.
		a = newAuthRequest(cfg, mfa, oauth2.SetAuthURLParam("prompt", "none"))
		wantFactor(t, e.finish(old, cfg, a, old.get(a.url)), "pwd", "otp")
	})
}

// TestMFARequiredByClient: a client registered with require_mfa (admin API)
// sends users without a second factor to enroll; mfa_required does the same
// for every client.
func TestMFARequiredByClient(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		status, created, _ := e.adminCall(adminToken, "POST", "/clients", map[string]any{
			"client_id": "strict", "client_name": "Strict App", "redirect_uris": []string{callbackURL},
			"require_mfa": true, "skip_consent": true,
		})
		if status != http.StatusCreated || created["require_mfa"] != true {
			t.Fatalf("create client with require_mfa: %d %v", status, created)
		}
		cfg := e.oauthConfig("strict", created["client_secret"].(string), oidc.ScopeOpenID)
		b := newBrowser(t)
		a := newAuthRequest(cfg)
		p := e.passwordStep(b, a)
		if !strings.HasSuffix(p.url.Path, "/account/mfa") {
			t.Fatalf("a require_mfa client let a user without MFA in: %d at %s", p.status, p.url)
		}
		// Other clients do not ask.
		other := e.oauthConfig(confidentialID, confidentialKey)
		ob := newBrowser(t)
		oa := newAuthRequest(other)
		if c := e.finish(ob, other, oa, e.passwordStep(ob, oa)); c.ACR != "" {
			t.Fatalf("a client without require_mfa got acr %q", c.ACR)
		}
	})
	t.Run("mfa_required", func(t *testing.T) {
		e := newEnvWith(t, "sqlite", testbackend.SQLite(t), keyring.RS256, func(c *server.Config) { c.MFARequired = true })
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		b := newBrowser(t)
		a := newAuthRequest(cfg)
		p := e.passwordStep(b, a)
		if !strings.HasSuffix(p.url.Path, "/account/mfa") {
			t.Fatalf("mfa_required let a user without MFA in: %d at %s", p.status, p.url)
		}
	})
}

// TestMFAManage: turning MFA off and renewing the recovery codes both need
// the password; renewed codes replace the old ones; once off, the
// password alone signs in again. An admin can remove a user's MFA.
func TestMFAManage(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		awayFromStepEdge()
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		b := newBrowser(t)
		e.fullLogin(b, newAuthRequest(cfg))
		_, codes := e.enrollMFA(b)

		submit := func(field, password string) page {
			action, form := formWithValue(t, b.get(e.issuer+"/account/mfa"), "action", field)
			form.Set("password", password)
			return b.post(action, form)
		}
		if p := submit("regenerate", "not my password"); p.status != http.StatusUnauthorized || strings.Contains(p.body, `class="recovery-code"`) {
			t.Fatalf("new recovery codes with a wrong password: %d", p.status)
		}
		fresh := recoveryCodes(t, submit("regenerate", testPassword))
		_, old := e.mfaSignIn(newAuthRequest(cfg), codes[1])
		refused(t, old, "a recovery code from before the renewal")
		a := newAuthRequest(cfg)
		nb, np := e.mfaSignIn(a, fresh[0])
		wantFactor(t, e.finish(nb, cfg, a, np), "pwd", "mfa")

		if p := submit("disable", "not my password"); p.status != http.StatusUnauthorized {
			t.Fatalf("turning MFA off with a wrong password: %d", p.status)
		}
		if on, _ := e.store.GetMFA(t.Context(), e.user.ID); !on.Confirmed {
			t.Fatal("a wrong password turned MFA off")
		}
		if p := submit("disable", testPassword); !strings.Contains(p.body, "Two-step verification is off") {
			t.Fatalf("turning MFA off: %d\n%s", p.status, p.body)
		}
		a = newAuthRequest(cfg)
		pb := newBrowser(t)
		if c := e.finish(pb, cfg, a, e.passwordStep(pb, a)); c.ACR != "" {
			t.Fatalf("after turning MFA off, sign-in claims acr %q", c.ACR)
		}

		// The admin reset.
		e.enrollMFA(b)
		if p := e.passwordStep(newBrowser(t), newAuthRequest(cfg)); !strings.HasSuffix(p.url.Path, "/login/mfa") {
			t.Fatalf("after enrolling again, no code asked: %s", p.url)
		}
		if status, _, _ := e.adminCall(adminToken, "POST", "/users/"+e.user.ID+"/mfa/reset", nil); status != http.StatusNoContent {
			t.Fatalf("admin MFA reset: %d", status)
		}
		if status, _, _ := e.adminCall(adminToken, "POST", "/users/no-such-user/mfa/reset", nil); status != http.StatusNotFound {
			t.Fatalf("admin MFA reset of an unknown user: %d", status)
		}
		a = newAuthRequest(cfg)
		ab := newBrowser(t)
		if c := e.finish(ab, cfg, a, e.passwordStep(ab, a)); c.ACR != "" {
			t.Fatalf("after the admin reset, sign-in claims acr %q", c.ACR)
		}
	})
}

// formWithValue returns the form on p whose field has value.
func formWithValue(t *testing.T, p page, field, value string) (string, url.Values) {
	t.Helper()
	for _, part := range strings.Split(p.body, "<form")[1:] {
		if strings.Contains(part, `name="`+field+`" value="`+value+`"`) {
			return page{status: p.status, url: p.url, body: "<form" + part}.form(t, field)
		}
	}
	t.Fatalf("no form with %s=%s on %s", field, value, p.url)
	return "", nil
}

// TestMFAThrottling: after five wrong codes an account waits before its
// next code is even checked, the right one included, on every path; the
// wait ends by itself.
func TestMFAThrottling(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		awayFromStepEdge()
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		b := newBrowser(t)
		e.fullLogin(b, newAuthRequest(cfg))
		before := newBrowser(t) // a session from before the enrollment
		e.fullLogin(before, newAuthRequest(cfg))
		secret, codes := e.enrollMFA(b)

		attacker := newBrowser(t)
		p := e.passwordStep(attacker, newAuthRequest(cfg))
		// The form needs its CSRF token.
		action, form := p.form(t, "code")
		form.Del("csrf_token")
		form.Set("code", totpAt(t, secret, 0))
		if forged := attacker.post(action, form); forged.status != http.StatusForbidden {
			t.Fatalf("a code without the CSRF token: %d", forged.status)
		}
		for _, guess := range []string{"000000", "111111", "222222", "333333", "444444"} {
			if guess == totpAt(t, secret, 0) {
				continue
			}
			refused(t, attacker.giveCode(p, guess), "a guess")
		}
		right := totpAt(t, secret, 0)
		if p := attacker.giveCode(p, right); p.status != http.StatusTooManyRequests || !strings.Contains(p.body, "Too many attempts") {
			t.Fatalf("after five wrong codes, the right one: %d", p.status)
		}
		// Another browser, a recovery code: the account is locked there too.
		_, other := e.mfaSignIn(newAuthRequest(cfg), codes[0])
		if other.status != http.StatusTooManyRequests {
			t.Fatalf("a recovery code in another browser during the lockout: %d", other.status)
		}
		// And a step-up from an older session.
		if p := before.giveCode(before.get(newAuthRequest(cfg).url), right); p.status != http.StatusTooManyRequests {
			t.Fatalf("a step-up during the lockout: %d", p.status)
		}
		time.Sleep(1100 * time.Millisecond)
		a := newAuthRequest(cfg)
		nb, np := e.mfaSignIn(a, right)
		wantFactor(t, e.finish(nb, cfg, a, np), "pwd", "otp")
	})
}

// TestMFASurvivesPasswordReset: resetting a forgotten password does not
// remove the second factor.
func TestMFASurvivesPasswordReset(t *testing.T) {
	signupBackends(t, func(t *testing.T, e *env, mail *mailtest.Server) {
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		b := newBrowser(t)
		e.fullLogin(b, newAuthRequest(cfg))
		e.enrollMFA(b)

		r := newBrowser(t)
		action, form := r.get(e.issuer+"/forgot-password").form(t, "email")
		form.Set("email", testEmail)
		r.post(action, form)
		link := mail.WaitFor(t, testEmail).Link(t, e.issuer+"/reset-password")
		action, form = r.get(link).form(t, "password")
		form.Set("password", newPassword)
		if p := r.post(action, form); p.status != http.StatusOK {
			t.Fatalf("reset: %d", p.status)
		}
		s := newBrowser(t)
		p := s.get(newAuthRequest(cfg).url)
		if p = s.signIn(p, testEmail, newPassword); !strings.HasSuffix(p.url.Path, "/login/mfa") {
			t.Fatalf("after a password reset, sign-in skipped the second factor: %d at %s", p.status, p.url)
		}
	})
}

// TestMFAAddressThrottling: wrong codes from one address add up across
// accounts; past 50 the address waits, whatever account it tries.
func TestMFAAddressThrottling(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		awayFromStepEdge()
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		b := newBrowser(t)
		e.fullLogin(b, newAuthRequest(cfg))
		secret, _ := e.enrollMFA(b)
		// 50 failures from this address against other accounts (counted
		// as the server counts them).
		for range 50 {
			if _, err := e.store.RecordFailure(t.Context(), "mfa:address:127.0.0.1", time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		_, p := e.mfaSignIn(newAuthRequest(cfg), totpAt(t, secret, 0))
		if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" {
			t.Fatalf("the right code from a throttled address: %d", p.status)
		}
	})
}

// TestMFAKeepsTheWayBack: a sign-in that starts at a page of Tollgate's
// own (the account page) returns there after the code step too.
func TestMFAKeepsTheWayBack(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		owner, _ := e.accountBrowser(testPassword)
		secret, _ := e.enrollMFA(owner)
		awayFromStepEdge()

		b := newBrowser(t)
		p := b.signIn(b.get(e.issuer+"/account"), testEmail, testPassword)
		p = b.giveCode(p, totpAt(t, secret, 0))
		if p.status != http.StatusOK || p.url.Path != "/account" || !strings.Contains(p.body, "Your account") {
			t.Fatalf("after the code: %d at %s, want the account page", p.status, p.url)
		}
	})
}
