package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tollgate/tollgate/mailer/mailtest"
)

// TestAdminAPIUserSessionsAndConsents: an admin lists a user's sessions
// and ends one (that browser must sign in again, the other stays signed
// in); lists consents and revokes one, which also revokes the client's
// tokens for the user and makes the client ask again.
func TestAdminAPIUserSessionsAndConsents(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		call := func(method, path string) (int, map[string]any) {
			status, out, _ := e.adminCall(adminToken, method, path, nil)
			return status, out
		}
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		first, second := newBrowser(t), newBrowser(t)
		e.fullLogin(first, newAuthRequest(cfg))
		a := newAuthRequest(cfg)
		q := e.fullLogin(second, a)
		tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(a.verifier))
		if err != nil {
			t.Fatal(err)
		}
		signedIn := func(b *browser) bool {
			t.Helper()
			q := callback(t, b.get(newAuthRequest(cfg, oauth2.SetAuthURLParam("prompt", "none")).url), e.issuer)
			return q.Get("code") != ""
		}

		status, list := call("GET", "/users/"+e.user.ID+"/sessions")
		items, _ := list["items"].([]any)
		if status != http.StatusOK || len(items) != 2 {
			t.Fatalf("sessions: %d %v", status, list)
		}
		newest := items[0].(map[string]any)
		if newest["amr"].([]any)[0] != "pwd" || newest["auth_time"] == nil || newest["expires_at"] == nil {
			t.Fatalf("session view: %v", newest)
		}
		// Another user's path cannot reach this user's session.
		status, other, _ := e.adminCall(adminToken, "POST", "/users", map[string]any{"email": "other@example.com"})
		if status != http.StatusCreated {
			t.Fatalf("create other user: %d", status)
		}
		if status, body := call("DELETE", "/users/"+other["id"].(string)+"/sessions/"+newest["id"].(string)); status != http.StatusNotFound || body["error"] != "not_found" {
			t.Fatalf("delete through another user: %d %v", status, body)
		}
		if status, _ := call("DELETE", "/users/"+e.user.ID+"/sessions/"+newest["id"].(string)); status != http.StatusNoContent {
			t.Fatalf("delete session: %d", status)
		}
		if signedIn(second) {
			t.Error("the ended session still signs in")
		}
		if !signedIn(first) {
			t.Error("the other session ended too")
		}
		if status, _ := call("DELETE", "/users/"+e.user.ID+"/sessions/"+newest["id"].(string)); status != http.StatusNotFound {
			t.Fatalf("delete the session again: %d", status)
		}
		if _, list := call("GET", "/users/"+e.user.ID+"/sessions"); len(list["items"].([]any)) != 1 {
			t.Fatalf("sessions after the delete: %v", list)
		}

		status, list = call("GET", "/users/"+e.user.ID+"/consents")
		items, _ = list["items"].([]any)
		if status != http.StatusOK || len(items) != 1 {
			t.Fatalf("consents: %d %v", status, list)
		}
		if c := items[0].(map[string]any); c["client_id"] != confidentialID || !strings.Contains(c["scope"].(string), "openid") {
			t.Fatalf("consent view: %v", c)
		}
		if status, _ := call("DELETE", "/users/"+e.user.ID+"/consents/"+confidentialID); status != http.StatusNoContent {
			t.Fatalf("revoke consent: %d", status)
		}
		if e.introspect(tok.AccessToken)["active"] != false {
			t.Error("an access token survived the consent's revocation")
		}
		if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
			t.Error("a refresh token survived the consent's revocation")
		}
		if _, list := call("GET", "/users/"+e.user.ID+"/consents"); len(list["items"].([]any)) != 0 {
			t.Fatalf("consents after the revocation: %v", list)
		}
		if status, body := call("DELETE", "/users/"+e.user.ID+"/consents/"+confidentialID); status != http.StatusNotFound || body["error"] != "not_found" {
			t.Fatalf("revoke again: %d %v", status, body)
		}
		// The client must ask again.
		if p := first.get(newAuthRequest(cfg).url); !strings.HasSuffix(p.url.Path, "/consent") {
			t.Fatalf("after revocation the client got %d at %s, not the consent page", p.status, p.url)
		}

		// Both changes are in the audit log.
		events := e.auditEvents(url.Values{"user": {e.user.ID}})
		findEvent(t, events, auditView("admin.user.session_ended", e.user.ID, ""))
		findEvent(t, events, auditView("admin.user.consent_revoked", e.user.ID, confidentialID))
	})
}

// TestAdminAPIActivityErrors: every new route refuses a missing or wrong
// token (401) and a token without the admin scope (403), answers 404 for
// an unknown user, and 400 with the field for bad query parameters; a
// password reset without mail set up is 409; a storage outage is 503.
func TestAdminAPIActivityErrors(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		plain, err := (&clientcredentials.Config{ClientID: confidentialID, ClientSecret: confidentialKey,
			TokenURL: e.issuer + "/token", Scopes: []string{"api:read"}}).Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		routes := []struct{ method, path string }{
			{"GET", "/audit-events"},
			{"GET", "/users/%s/sessions"},
			{"DELETE", "/users/%s/sessions/some-session"},
			{"GET", "/users/%s/consents"},
			{"DELETE", "/users/%s/consents/" + confidentialID},
			{"POST", "/users/%s/password-reset"},
		}
		for _, r := range routes {
			path := strings.ReplaceAll(r.path, "%s", e.user.ID)
			if status, body, hdr := e.adminCall("", r.method, path, nil); status != http.StatusUnauthorized || body["error"] != "invalid_token" || hdr.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s without a token: %d %v", r.method, path, status, body)
			}
			if status, _, _ := e.adminCall("not-the-admin-token", r.method, path, nil); status != http.StatusUnauthorized {
				t.Errorf("%s %s with a wrong token: %d", r.method, path, status)
			}
			if status, body, _ := e.adminCall(plain.AccessToken, r.method, path, nil); status != http.StatusForbidden || body["error"] != "insufficient_scope" {
				t.Errorf("%s %s without the admin scope: %d %v", r.method, path, status, body)
			}
			if strings.Contains(r.path, "%s") {
				unknown := strings.ReplaceAll(r.path, "%s", "no-such-user")
				if status, body, _ := e.adminCall(adminToken, r.method, unknown, nil); status != http.StatusNotFound || body["error"] != "not_found" {
					t.Errorf("%s %s: %d %v", r.method, unknown, status, body)
				}
			}
		}
		for query, field := range map[string]string{
			"since=yesterday":                "since",
			"until=2026-13-01T00:00:00Z":     "until",
			"page_size=0":                    "page_size",
			"page_size=501":                  "page_size",
			"page_token=not-a-cursor":        "page_token",
			"page_token=" + "MTIzNA":         "page_token", // "1234", no ID
			"since=2026-01-02T15:04:05+01:0": "since",
		} {
			if status, body, _ := e.adminCall(adminToken, "GET", "/audit-events?"+query, nil); status != http.StatusBadRequest || body["field"] != field || body["error"] != "invalid_request" {
				t.Errorf("audit events ?%s: %d %v", query, status, body)
			}
		}
		if status, body, _ := e.adminCall(adminToken, "POST", "/users/"+e.user.ID+"/password-reset", nil); status != http.StatusConflict || body["error"] != "mail_disabled" {
			t.Errorf("password reset without mail: %d %v", status, body)
		}

		// With the database gone, every route answers 503 with a retry hint.
		if err := e.store.Close(); err != nil {
			t.Fatal(err)
		}
		for _, r := range routes {
			path := strings.ReplaceAll(r.path, "%s", e.user.ID)
			if status, body, hdr := e.adminCall(adminToken, r.method, path, nil); status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || body["error"] != "temporarily_unavailable" {
				t.Errorf("%s %s during an outage: %d %v", r.method, path, status, body)
			}
		}
	})
}

// TestAdminAPIPasswordReset: the admin route mails the same single-use
// link the forgot-password page does; a disabled user gets none.
func TestAdminAPIPasswordReset(t *testing.T) {
	signupBackends(t, func(t *testing.T, e *env, mail *mailtest.Server) {
		if status, _, _ := e.adminCall(adminToken, "POST", "/users/"+e.user.ID+"/password-reset", nil); status != http.StatusAccepted {
			t.Fatalf("password reset: %d", status)
		}
		link := mail.WaitFor(t, testEmail).Link(t, e.issuer+"/reset-password")
		b := newBrowser(t)
		action, form := b.get(link).form(t, "password")
		form.Set("password", newPassword)
		if p := b.post(action, form); p.status != http.StatusOK || !strings.Contains(p.body, "Password changed") {
			t.Fatalf("reset through the admin's link: %d", p.status)
		}
		if p := b.signIn(b.get(e.issuer+"/login"), testEmail, newPassword); p.status != http.StatusOK {
			t.Fatalf("sign-in with the new password: %d", p.status)
		}
		findEvent(t, e.auditEvents(url.Values{"type": {"admin.user.password_reset_sent"}}), auditView("admin.user.password_reset_sent", e.user.ID, ""))

		if status, _, _ := e.adminCall(adminToken, "POST", "/users/"+e.user.ID+"/disable", nil); status != http.StatusOK {
			t.Fatalf("disable: %d", status)
		}
		if status, body, _ := e.adminCall(adminToken, "POST", "/users/"+e.user.ID+"/password-reset", nil); status != http.StatusConflict || body["error"] != "user_disabled" {
			t.Fatalf("password reset of a disabled user: %d %v", status, body)
		}
		if n := mail.Count(testEmail); n != 1 {
			t.Fatalf("%d emails, want 1", n)
		}
	})
}
