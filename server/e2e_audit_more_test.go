package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/server/admin"
)

// wantDetail checks one detail of an audit event.
func wantDetail(t *testing.T, ev admin.AuditEventView, key, value string) {
	t.Helper()
	if ev.Details[key] != value {
		t.Errorf("%s: details[%s] = %q, want %q (details %v)", ev.Type, key, ev.Details[key], value, ev.Details)
	}
}

// noSecrets fails when any of secrets appears in the events.
func noSecrets(t *testing.T, events []admin.AuditEventView, secrets map[string]string) {
	t.Helper()
	all := mustJSON(t, events)
	for name, s := range secrets {
		if s != "" && strings.Contains(all, s) {
			t.Errorf("an audit event contains the %s", name)
		}
	}
}

// TestAuditMFAEvents: a wrong code at enrollment, the enrollment, wrong and
// throttled codes at sign-in, a recovery code spent, recovery codes
// renewed (after a wrong password), the second factor turned off, and an
// admin's reset are each in the audit log, without a code or key.
func TestAuditMFAEvents(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		awayFromStepEdge()
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		b := newBrowser(t)
		e.fullLogin(b, newAuthRequest(cfg))
		if p := b.confirmEnrollment(b.get(e.issuer+"/account/mfa"), "000000"); p.status != http.StatusUnauthorized {
			t.Fatalf("a wrong enrollment code: %d", p.status)
		}
		secret, codes := e.enrollMFA(b)

		_, p := e.mfaSignIn(newAuthRequest(cfg), "000000")
		refused(t, p, "a wrong code")
		a := newAuthRequest(cfg)
		rb, rp := e.mfaSignIn(a, codes[0])
		wantFactor(t, e.finish(rb, cfg, a, rp), "pwd", "mfa")

		submit := func(action, password string) page {
			target, form := formWithValue(t, b.get(e.issuer+"/account/mfa"), "action", action)
			form.Set("password", password)
			return b.post(target, form)
		}
		if p := submit("regenerate", "not my password"); p.status != http.StatusUnauthorized {
			t.Fatalf("regenerate with a wrong password: %d", p.status)
		}
		fresh := recoveryCodes(t, submit("regenerate", testPassword))
		if p := submit("disable", testPassword); !strings.Contains(p.body, "Two-step verification is off") {
			t.Fatalf("turning MFA off: %d", p.status)
		}
		e.enrollMFA(b)
		if status, _, _ := e.adminCall(adminToken, "POST", "/users/"+e.user.ID+"/mfa/reset", nil); status != http.StatusNoContent {
			t.Fatalf("admin MFA reset: %d", status)
		}

		// Wrong codes until the throttle answers.
		e.enrollMFA(b)
		tb := newBrowser(t)
		p = e.passwordStep(tb, newAuthRequest(cfg))
		for i := 0; p.status != http.StatusTooManyRequests; i++ {
			if i == 10 {
				t.Fatalf("no throttle after %d wrong codes", i)
			}
			p = tb.giveCode(p, "000000")
		}

		events := e.auditEvents(url.Values{"user": {e.user.ID}})
		findEvent(t, events, admin.AuditEventView{Type: "mfa.failed", Reason: "wrong_code", Outcome: "failure"})
		enabled := findEvent(t, events, admin.AuditEventView{Type: "mfa.enabled", Actor: "user:" + e.user.ID, Outcome: "success"})
		wantDetail(t, enabled, "method", "otp")
		wrong := findEvent(t, events, admin.AuditEventView{Type: "signin.failed", Reason: "wrong_code"})
		wantDetail(t, wrong, "method", "mfa")
		throttled := findEvent(t, events, admin.AuditEventView{Type: "signin.failed", Reason: "throttled"})
		wantDetail(t, throttled, "method", "mfa")
		findEvent(t, events, admin.AuditEventView{Type: "mfa.recovery_code_used", Outcome: "success"})
		findEvent(t, events, admin.AuditEventView{Type: "mfa.recovery_codes_regenerated", Reason: "wrong_password"})
		findEvent(t, events, admin.AuditEventView{Type: "mfa.recovery_codes_regenerated", Outcome: "success"})
		findEvent(t, events, admin.AuditEventView{Type: "mfa.disabled", Outcome: "success"})
		findEvent(t, events, admin.AuditEventView{Type: "admin.user.mfa_reset", Actor: "admin_token"})
		// The sign-in with the recovery code is a success with its factor.
		ok := findEvent(t, events, admin.AuditEventView{Type: "signin.succeeded", ClientID: confidentialID})
		if ok.Details["amr"] == "" {
			t.Errorf("signin.succeeded without amr: %v", ok.Details)
		}
		secrets := map[string]string{"TOTP key": secret, "password": testPassword}
		for i, c := range append(codes, fresh...) {
			secrets["recovery code "+string(rune('a'+i))] = c
		}
		noSecrets(t, events, secrets)
	})
}

// TestAuditAccountEvents: the account page and API record profile
// changes (field names only), password changes and wrong current
// passwords, the other sessions a password change ends, sessions ended,
// and the account deleted.
func TestAuditAccountEvents(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		// The API, before the password changes (which ends its grant).
		tok := e.signIn(cfg)
		if status, _, _ := e.accountCall(tok.AccessToken, "PATCH", "/profile", map[string]any{"preferences": map[string]any{"theme": "dark"}}); status != http.StatusOK {
			t.Fatalf("API profile: %d", status)
		}
		if status, _, _ := e.accountCall(tok.AccessToken, "PUT", "/password", map[string]any{"current_password": "wrong guess here", "new_password": "yet another long passphrase"}); status != http.StatusBadRequest {
			t.Fatalf("API wrong password: %d", status)
		}

		b, p := e.accountBrowser(testPassword)

		if got := b.submit(p, "name", map[string]string{"name": "Ada King"}); got.status != http.StatusOK {
			t.Fatalf("profile: %d", got.status)
		}
		p = b.get(e.issuer + "/account")
		if got := b.submit(p, "current_password", map[string]string{"current_password": "wrong guess here", "new_password": newPassword, "confirm_password": newPassword}); got.status != http.StatusBadRequest {
			t.Fatalf("wrong current password: %d", got.status)
		}
		p = b.get(e.issuer + "/account")
		if got := b.submit(p, "current_password", map[string]string{"current_password": testPassword, "new_password": newPassword, "confirm_password": newPassword}); got.status != http.StatusOK {
			t.Fatalf("change password: %d", got.status)
		}
		// A second browser, then end it from this one.
		e.accountBrowser(newPassword)
		p = b.get(e.issuer + "/account")
		_, others := sessionHandles(t, p)
		if len(others) != 1 {
			t.Fatalf("other sessions: %v", others)
		}
		if got := b.submit(p, "session", map[string]string{"session": others[0]}); got.status != http.StatusOK {
			t.Fatalf("end session: %d", got.status)
		}

		// Deleting: a wrong password first.
		p = b.get(e.issuer + "/account/delete")
		if got := b.submit(p, "password", map[string]string{"password": "wrong guess here"}); got.status != http.StatusBadRequest {
			t.Fatalf("delete with a wrong password: %d", got.status)
		}
		p = b.get(e.issuer + "/account/delete")
		if got := b.submit(p, "password", map[string]string{"password": newPassword}); got.status != http.StatusOK {
			t.Fatalf("delete: %d", got.status)
		}

		events := e.auditEvents(url.Values{"user": {e.user.ID}, "type": {"account.*"}})
		page := findEvent(t, events, admin.AuditEventView{Type: "account.profile_updated", Actor: "user:" + e.user.ID})
		api := events[0]
		for _, ev := range events {
			if ev.Type == "account.profile_updated" && ev.Details["via"] == "api" {
				api = ev
			}
			if ev.Type == "account.profile_updated" && ev.Details["via"] == "page" {
				page = ev
			}
		}
		if !strings.Contains(page.Details["fields"], "name") || strings.Contains(mustJSON(t, events), "Ada King") {
			t.Errorf("page profile change: fields %q; the new name must not be recorded", page.Details["fields"])
		}
		wantDetail(t, api, "fields", "preferences")
		findEvent(t, events, admin.AuditEventView{Type: "account.password_changed", Reason: "wrong_password", Outcome: "failure"})
		changed := findEvent(t, events, admin.AuditEventView{Type: "account.password_changed", Outcome: "success"})
		wantDetail(t, changed, "via", "page")
		findEvent(t, events, admin.AuditEventView{Type: "account.other_sessions_ended", Outcome: "success"})
		findEvent(t, events, admin.AuditEventView{Type: "account.session_ended", Outcome: "success"})
		findEvent(t, events, admin.AuditEventView{Type: "account.deleted", Reason: "wrong_password"})
		findEvent(t, events, admin.AuditEventView{Type: "account.deleted", Outcome: "success"})
		wrongAPI := 0
		for _, ev := range events {
			if ev.Type == "account.password_changed" && ev.Reason == "wrong_password" {
				wrongAPI++
			}
		}
		if wrongAPI != 2 {
			t.Errorf("wrong current passwords recorded: %d, want 2 (page and API)", wrongAPI)
		}
		noSecrets(t, events, map[string]string{"password": testPassword, "new password": newPassword, "access token": tok.AccessToken})
	})
}

// TestAuditFederationEvents: a federated sign-in is signin.succeeded with
// method upstream:ID; the user it creates is user.signed_up with that
// method; links (with the password, by trusted email, from the account
// page), a refused link, an unlink, and each upstream failure are
// recorded.
func TestAuditFederationEvents(t *testing.T) {
	fedBackends(t, func(t *testing.T, f *fed) {
		e := f.down
		cfg := e.oauthConfig(confidentialID, confidentialKey)

		// A new user from the upstream, through an application.
		a := newAuthRequest(cfg)
		b, _ := fedBrowser(t)
		f.idToken(cfg, a, f.signInUpstream(b, a, "Upstream Tollgate", "grace@example.com"))
		grace, err := e.store.GetUserByEmail(context.Background(), "grace@example.com")
		if err != nil {
			t.Fatal(err)
		}

		// Linking ada with her password, after a wrong one.
		a = newAuthRequest(cfg)
		lb, _ := fedBrowser(t)
		p := f.signInUpstream(lb, a, "Upstream Tollgate", testEmail)
		action, form := p.form(t, "password")
		form.Set("password", "not the password at all")
		p = lb.post(action, form)
		action, form = p.form(t, "password")
		form.Set("password", testPassword)
		f.idToken(cfg, a, f.drive(lb, lb.post(action, form), testEmail))

		// Alan by trusted email.
		a = newAuthRequest(cfg)
		tb, _ := fedBrowser(t)
		f.idToken(cfg, a, f.signInUpstream(tb, a, "Trusted IdP", "alan@example.com"))

		// Failures: cancelled, bad state, an invalid token.
		a = newAuthRequest(cfg)
		cb, _ := fedBrowser(t)
		p = cb.consent(cb.signIn(f.clickUpstream(cb, cb.get(a.url), "Upstream Tollgate"), "hedy@example.com", testPassword), "deny", false)
		f.errorPage(p, http.StatusForbidden, "access_denied", "You cancelled")
		f.errorPage(cb.get(e.issuer+"/login/upstream/tg/callback?state=forged&code=whatever"), http.StatusBadRequest, "invalid_state", "not valid")
		f.fake.setMode("wrong-nonce")
		f.errorPage(f.clickUpstream(cb, cb.get(newAuthRequest(cfg).url), "Fake IdP"), http.StatusBadGateway, "invalid_token", "could not be verified")
		f.fake.setMode("good")

		// Grace links the fake IdP from her account page and unlinks the
		// first upstream.
		p = b.get(e.issuer + "/account/identities")
		action, form = p.form(t, "upstream")
		form.Set("upstream", "fake")
		p = b.post(action, form)
		if !strings.Contains(p.body, "Fake IdP is now linked") {
			t.Fatalf("link from the account page: %d\n%s", p.status, p.body)
		}
		_, form = p.form(t, "identity")
		if p = b.post(e.issuer+"/account/identities/unlink", form); !strings.Contains(p.body, "is no longer linked") {
			t.Fatalf("unlink: %d\n%s", p.status, p.body)
		}

		events := e.auditEvents(url.Values{})
		signedUp := findEvent(t, events, admin.AuditEventView{Type: "user.signed_up", UserID: grace.ID})
		wantDetail(t, signedUp, "method", "upstream:tg")
		in := findEvent(t, events, admin.AuditEventView{Type: "signin.succeeded", UserID: grace.ID, ClientID: confidentialID})
		wantDetail(t, in, "method", "upstream:tg")
		findEvent(t, events, admin.AuditEventView{Type: "identity.link_refused", UserID: e.user.ID, Reason: "wrong_password"})
		linked := findEvent(t, events, admin.AuditEventView{Type: "identity.linked", UserID: e.user.ID})
		wantDetail(t, linked, "via", "password")
		wantDetail(t, linked, "upstream", "tg")
		trusted := findEvent(t, events, admin.AuditEventView{Type: "identity.linked", UserID: "local-alan"})
		wantDetail(t, trusted, "via", "trusted_email")
		alan := findEvent(t, events, admin.AuditEventView{Type: "signin.succeeded", UserID: "local-alan"})
		wantDetail(t, alan, "method", "upstream:trusted")
		page := findEvent(t, events, admin.AuditEventView{Type: "identity.linked", UserID: grace.ID})
		wantDetail(t, page, "via", "account_page")
		wantDetail(t, page, "upstream", "fake")
		unlinked := findEvent(t, events, admin.AuditEventView{Type: "identity.unlinked", UserID: grace.ID})
		wantDetail(t, unlinked, "upstream", "tg")
		for _, reason := range []string{"access_denied", "invalid_state", "invalid_token"} {
			ev := findEvent(t, events, admin.AuditEventView{Type: "signin.failed", Reason: reason})
			if !strings.HasPrefix(ev.Details["method"], "upstream:") {
				t.Errorf("signin.failed %s: method %q", reason, ev.Details["method"])
			}
		}
		noSecrets(t, events, map[string]string{"password": testPassword, "upstream client secret": upClientSecret, "fake client secret": fakeClientSecret})
	})
}

// TestAuditFederationReplay: a replayed upstream callback is a failed
// sign-in with reason replayed.
func TestAuditFederationReplay(t *testing.T) {
	fedBackends(t, func(t *testing.T, f *fed) {
		cfg := f.down.oauthConfig(confidentialID, confidentialKey)
		a := newAuthRequest(cfg)
		b, stopAt := fedBrowser(t)
		*stopAt = "/login/upstream/tg/callback"
		p := f.signInUpstream(b, a, "Upstream Tollgate", "katherine@example.com")
		cb := p.url.String()
		*stopAt = ""
		f.idToken(cfg, a, f.drive(b, b.get(cb), "katherine@example.com"))
		f.errorPage(b.get(cb), http.StatusBadRequest, "already_used", "already completed")
		ev := findEvent(t, f.down.auditEvents(url.Values{"type": {"signin.failed"}}), admin.AuditEventView{Type: "signin.failed", Reason: "replayed"})
		wantDetail(t, ev, "method", "upstream:tg")
	})
}

// TestAuditRegistrationEvents: dynamic registration records the client
// registered, updated and deleted, and the attempts refused for a bad
// initial or registration access token, never a token or secret.
func TestAuditRegistrationEvents(t *testing.T) {
	registrationBackends(t, initialAccessToken, func(t *testing.T, e *env) {
		endpoint := e.issuer + "/oauth2/register"
		meta := map[string]any{"client_name": "Audited App", "redirect_uris": []string{callbackURL}}
		if status, _, _ := e.regCall(http.MethodPost, endpoint, "not-the-initial-token", meta); status != http.StatusUnauthorized {
			t.Fatalf("register with a bad initial token: %d", status)
		}
		status, reg, _ := e.regCall(http.MethodPost, endpoint, initialAccessToken, meta)
		if status != http.StatusCreated {
			t.Fatalf("register: %d %v", status, reg)
		}
		id, _ := reg["client_id"].(string)
		regToken, _ := reg["registration_access_token"].(string)
		secret, _ := reg["client_secret"].(string)
		update := map[string]any{"client_id": id, "client_name": "Audited App 2", "redirect_uris": []string{callbackURL}}
		if status, body, _ := e.regCall(http.MethodPut, endpoint+"/"+id, regToken, update); status != http.StatusOK {
			t.Fatalf("update: %d %v", status, body)
		}
		if status, _, _ := e.regCall(http.MethodDelete, endpoint+"/"+id, "a-wrong-registration-token", nil); status != http.StatusUnauthorized {
			t.Fatalf("delete with a wrong token: %d", status)
		}
		if status, _, _ := e.regCall(http.MethodDelete, endpoint+"/"+id, regToken, nil); status != http.StatusNoContent {
			t.Fatalf("delete: %d", status)
		}

		events := e.auditEvents(url.Values{"type": {"client.*"}})
		findEvent(t, events, admin.AuditEventView{Type: "client.registered", Reason: "invalid_initial_token", Actor: "anonymous", Outcome: "failure"})
		registered := findEvent(t, events, admin.AuditEventView{Type: "client.registered", ClientID: id, Outcome: "success"})
		wantDetail(t, registered, "client_name", "Audited App")
		findEvent(t, events, admin.AuditEventView{Type: "client.registration_updated", ClientID: id, Actor: "client:" + id})
		findEvent(t, events, admin.AuditEventView{Type: "client.registration_deleted", ClientID: id, Reason: "invalid_registration_token"})
		findEvent(t, events, admin.AuditEventView{Type: "client.registration_deleted", ClientID: id, Outcome: "success"})
		noSecrets(t, events, map[string]string{"initial access token": initialAccessToken, "registration access token": regToken, "client secret": secret})
	})
}

// TestAuditConsoleActor: what an admin does in the console is recorded
// with that admin as the actor, not the user acted on.
func TestAuditConsoleActor(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		plain := consoleUsers(t, e)
		b, _ := consoleSignIn(t, e, testEmail)
		p := b.get(e.issuer + "/admin/users/" + plain.ID)
		token := csrfOf(t, p)
		if p = b.post(e.issuer+"/admin/users/"+plain.ID+"/disable", url.Values{"csrf_token": {token}}); p.status != http.StatusOK {
			t.Fatalf("disable: %d", p.status)
		}
		since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		events := e.auditEvents(url.Values{"type": {"admin.*"}, "since": {since}})
		ev := findEvent(t, events, admin.AuditEventView{Type: "admin.user.disabled", UserID: plain.ID})
		if ev.Actor != "user:"+e.user.ID {
			t.Fatalf("console action actor = %q, want user:%s", ev.Actor, e.user.ID)
		}
	})
}

// TestAuditFederationUpstreamDown: an upstream that does not answer is a
// failed sign-in with reason upstream_unavailable.
func TestAuditFederationUpstreamDown(t *testing.T) {
	fedBackends(t, func(t *testing.T, f *fed) {
		f.fake.setMode("down")
		b, _ := fedBrowser(t)
		if p := b.get(f.down.issuer + "/login/upstream/fake"); p.status != http.StatusBadGateway {
			t.Fatalf("upstream down: %d", p.status)
		}
		ev := findEvent(t, f.down.auditEvents(url.Values{"type": {"signin.failed"}}), admin.AuditEventView{Type: "signin.failed", Reason: "upstream_unavailable"})
		wantDetail(t, ev, "method", "upstream:fake")
	})
}
