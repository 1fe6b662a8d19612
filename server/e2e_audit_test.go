package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tollgate/tollgate/mailer/mailtest"
	"github.com/tollgate/tollgate/server/admin"
)

// auditEvents pages through the audit log (two events a page, to exercise
// the cursors) with the query's filters, and checks that no event repeats.
func (e *env) auditEvents(query url.Values) []admin.AuditEventView {
	e.t.Helper()
	var all []admin.AuditEventView
	seen := map[string]bool{}
	query.Set("page_size", "2")
	for {
		status, body, _ := e.adminCall(adminToken, "GET", "/audit-events?"+query.Encode(), nil)
		if status != http.StatusOK {
			e.t.Fatalf("audit events: %d %v", status, body)
		}
		var page struct {
			Items         []admin.AuditEventView `json:"items"`
			NextPageToken string                 `json:"next_page_token"`
		}
		if err := json.Unmarshal([]byte(mustJSON(e.t, body)), &page); err != nil {
			e.t.Fatal(err)
		}
		for _, ev := range page.Items {
			if seen[ev.ID] {
				e.t.Fatalf("event %s on two pages", ev.ID)
			}
			seen[ev.ID] = true
		}
		all = append(all, page.Items...)
		if page.NextPageToken == "" {
			return all
		}
		query.Set("page_token", page.NextPageToken)
	}
}

// findEvent returns the newest event of the type matching want's non-empty
// fields, failing the test when there is none.
func findEvent(t *testing.T, events []admin.AuditEventView, want admin.AuditEventView) admin.AuditEventView {
	t.Helper()
	for _, ev := range events {
		if ev.Type == want.Type && (want.UserID == "" || ev.UserID == want.UserID) &&
			(want.ClientID == "" || ev.ClientID == want.ClientID) && (want.Reason == "" || ev.Reason == want.Reason) &&
			(want.Actor == "" || ev.Actor == want.Actor) && (want.Outcome == "" || ev.Outcome == want.Outcome) {
			return ev
		}
	}
	t.Fatalf("no audit event like %+v among:\n%s", want, describeEvents(events))
	return admin.AuditEventView{}
}

func describeEvents(events []admin.AuditEventView) string {
	var b strings.Builder
	for _, ev := range events {
		fmt.Fprintf(&b, "  %s %s actor=%s user=%s client=%s reason=%s %v\n", ev.Type, ev.Outcome, ev.Actor, ev.UserID, ev.ClientID, ev.Reason, ev.Details)
	}
	return b.String()
}

// TestAuditLogRecordsFlows drives sign-in failures of every kind, a
// consent denied then granted, the code, refresh and client credentials
// grants, refresh-token reuse, revocation, logout and admin changes, then
// reads the audit log through the admin API: each of them is there, with
// who, from where and under which request ID, and no secret appears in
// any event.
func TestAuditLogRecordsFlows(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		attempt := func(email, password string) page {
			b := newBrowser(t)
			return b.signIn(b.get(e.issuer+"/login"), email, password)
		}

		// A wrong password, under the caller's request ID and user agent.
		b := newBrowser(t)
		action, form := b.get(e.issuer+"/login").form(t, "password")
		form.Set("email", testEmail)
		form.Set("password", "a wrong password guess")
		req, _ := http.NewRequest(http.MethodPost, action, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Request-ID", "audit-trace-1")
		req.Header.Set("User-Agent", "audit-test/1.0")
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// An unknown account, until it is throttled.
		for i := range 6 {
			attempt("ghost@example.com", "guess number "+strconv.Itoa(i))
		}

		// Consent denied, then granted and remembered.
		b = newBrowser(t)
		denied := newAuthRequest(cfg)
		callback(t, b.consent(b.signIn(b.get(denied.url), testEmail, testPassword), "deny", false), e.issuer)
		b = newBrowser(t)
		a := newAuthRequest(cfg)
		q := e.fullLogin(b, a)
		tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(a.verifier))
		if err != nil {
			t.Fatal(err)
		}
		next, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatal(err)
		}
		if status, _, _ := e.tokenRequest(confidentialID, confidentialKey, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}); status != http.StatusBadRequest {
			t.Fatalf("refresh token reuse: %d", status)
		}
		cc, err := (&clientcredentials.Config{ClientID: confidentialID, ClientSecret: confidentialKey, TokenURL: e.issuer + "/token", Scopes: []string{"api:read"}}).Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		req, _ = http.NewRequest(http.MethodPost, e.issuer+"/revoke", strings.NewReader(url.Values{"token": {cc.AccessToken}, "token_type_hint": {"access_token"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(confidentialID, confidentialKey)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("revoke: %v %v", resp, err)
		}

		// Logout, confirmed on the page.
		p := b.get(e.issuer + "/logout")
		action, form = p.form(t, "csrf_token")
		form.Set("decision", "logout")
		if p = b.post(action, form); p.status != http.StatusOK {
			t.Fatalf("logout: %d", p.status)
		}

		// Admin changes, with the bootstrap token and with an admin
		// client's own token; a disabled user cannot sign in.
		if status, _, _ := e.adminCall(adminToken, "PATCH", "/users/"+e.user.ID, map[string]any{"name": "Ada King", "password": newPassword}); status != http.StatusOK {
			t.Fatalf("update: %d", status)
		}
		if status, _, _ := e.adminCall(adminToken, "POST", "/users/"+e.user.ID+"/disable", nil); status != http.StatusOK {
			t.Fatalf("disable: %d", status)
		}
		if p := attempt(testEmail, newPassword); p.status != http.StatusUnauthorized {
			t.Fatalf("sign-in of a disabled user: %d", p.status)
		}
		if status, _, _ := e.adminCall(adminToken, "POST", "/users/"+e.user.ID+"/enable", nil); status != http.StatusOK {
			t.Fatalf("enable: %d", status)
		}
		status, ops, _ := e.adminCall(adminToken, "POST", "/clients", map[string]any{
			"client_name": "Ops", "grant_types": []string{"client_credentials"}, "scope": admin.Scope,
		})
		if status != http.StatusCreated {
			t.Fatalf("create admin client: %d %v", status, ops)
		}
		opsToken, err := (&clientcredentials.Config{ClientID: ops["client_id"].(string), ClientSecret: ops["client_secret"].(string),
			TokenURL: e.issuer + "/token", Scopes: []string{admin.Scope}}).Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if status, _, _ := e.adminCall(opsToken.AccessToken, "POST", "/keys/rotate", nil); status != http.StatusOK {
			t.Fatalf("rotate keys: %d", status)
		}

		events := e.auditEvents(url.Values{})
		uid := e.user.ID
		wrong := findEvent(t, events, admin.AuditEventView{Type: "signin.failed", UserID: uid, Reason: "bad_password", Outcome: "failure"})
		if wrong.RequestID != "audit-trace-1" || wrong.UserAgent != "audit-test/1.0" || wrong.IP != "127.0.0.1" || wrong.Actor != "user:"+uid {
			t.Errorf("the failed sign-in event: %+v", wrong)
		}
		ghost := findEvent(t, events, admin.AuditEventView{Type: "signin.failed", Reason: "unknown_account"})
		if ghost.UserID != "" || ghost.Actor != "anonymous" {
			t.Errorf("an unknown account's failure names someone: %+v", ghost)
		}
		findEvent(t, events, admin.AuditEventView{Type: "signin.failed", Reason: "throttled"})
		findEvent(t, events, admin.AuditEventView{Type: "signin.failed", UserID: uid, Reason: "disabled"})
		findEvent(t, events, admin.AuditEventView{Type: "signin.succeeded", UserID: uid, ClientID: confidentialID, Outcome: "success"})
		findEvent(t, events, admin.AuditEventView{Type: "consent.denied", UserID: uid, ClientID: confidentialID})
		granted := findEvent(t, events, admin.AuditEventView{Type: "consent.granted", UserID: uid, ClientID: confidentialID})
		if !strings.Contains(granted.Details["scope"], "openid") || granted.Details["remembered"] != "true" {
			t.Errorf("consent details: %v", granted.Details)
		}
		grants := map[string]admin.AuditEventView{}
		for _, ev := range events {
			if ev.Type == "token.issued" {
				grants[ev.Details["grant_type"]] = ev
			}
		}
		for grant, user := range map[string]string{"authorization_code": uid, "refresh_token": uid, "client_credentials": ""} {
			ev, ok := grants[grant]
			if !ok || ev.UserID != user || ev.ClientID != confidentialID {
				t.Errorf("token.issued for %s: %+v (found: %v)", grant, ev, ok)
			}
		}
		if cc := grants["client_credentials"]; cc.Actor != "client:"+confidentialID || cc.Details["scope"] != "api:read" {
			t.Errorf("client credentials event: %+v", cc)
		}
		findEvent(t, events, admin.AuditEventView{Type: "token.refresh_reused", UserID: uid, ClientID: confidentialID, Outcome: "failure", Reason: "reused"})
		findEvent(t, events, admin.AuditEventView{Type: "token.revoked", ClientID: confidentialID})
		findEvent(t, events, admin.AuditEventView{Type: "session.logged_out", UserID: uid})
		updated := findEvent(t, events, admin.AuditEventView{Type: "admin.user.updated", UserID: uid, Actor: "admin_token"})
		if updated.Details["fields"] != "name,password" {
			t.Errorf("update details: %v", updated.Details)
		}
		findEvent(t, events, admin.AuditEventView{Type: "admin.user.disabled", UserID: uid, Actor: "admin_token"})
		findEvent(t, events, admin.AuditEventView{Type: "admin.user.enabled", UserID: uid, Actor: "admin_token"})
		findEvent(t, events, admin.AuditEventView{Type: "admin.client.created", ClientID: ops["client_id"].(string), Actor: "admin_token"})
		findEvent(t, events, admin.AuditEventView{Type: "admin.keys.rotated", Actor: "client:" + ops["client_id"].(string)})

		// Filters.
		for query, want := range map[string]func(admin.AuditEventView) bool{
			"user=" + uid:                    func(ev admin.AuditEventView) bool { return ev.UserID == uid },
			"client=" + confidentialID:       func(ev admin.AuditEventView) bool { return ev.ClientID == confidentialID },
			"type=signin.failed":             func(ev admin.AuditEventView) bool { return ev.Type == "signin.failed" },
			"type=admin.*":                   func(ev admin.AuditEventView) bool { return strings.HasPrefix(ev.Type, "admin.") },
			"type=signin.failed&user=" + uid: func(ev admin.AuditEventView) bool { return ev.Type == "signin.failed" && ev.UserID == uid },
		} {
			v, _ := url.ParseQuery(query)
			got := e.auditEvents(v)
			if len(got) == 0 {
				t.Errorf("%s: nothing", query)
			}
			for _, ev := range got {
				if !want(ev) {
					t.Errorf("%s: %+v", query, ev)
				}
			}
		}
		if got := e.auditEvents(url.Values{"since": {time.Now().Add(time.Hour).Format(time.RFC3339)}}); len(got) != 0 {
			t.Errorf("events from the future: %v", got)
		}
		if got := e.auditEvents(url.Values{"until": {time.Now().Add(-time.Hour).Format(time.RFC3339)}}); len(got) != 0 {
			t.Errorf("events from an hour ago: %v", got)
		}
		for i := 1; i < len(events); i++ {
			if events[i].Time.After(events[i-1].Time) {
				t.Fatalf("events out of order: %v after %v", events[i].Time, events[i-1].Time)
			}
		}

		// No secret in any event, nor in the log lines of the events.
		all := mustJSON(t, events)
		for name, secret := range map[string]string{
			"password": testPassword, "new password": newPassword, "wrong password": "a wrong password guess",
			"client secret": confidentialKey, "admin client secret": ops["client_secret"].(string), "admin token": adminToken,
			"code": q.Get("code"), "access token": tok.AccessToken, "refresh token": tok.RefreshToken,
			"rotated refresh token": next.RefreshToken, "client credentials token": cc.AccessToken,
			"admin client token": opsToken.AccessToken, "PKCE verifier": a.verifier,
		} {
			if strings.Contains(all, secret) {
				t.Errorf("an audit event contains the %s", name)
			}
			if strings.Contains(e.logs.String(), secret) {
				t.Errorf("the logs contain the %s", name)
			}
		}
		// Each event is one log line too.
		var logged bool
		for _, line := range strings.Split(e.logs.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "audit" && rec["audit_id"] == wrong.ID {
				logged = rec["type"] == "signin.failed" && rec["reason"] == "bad_password" && rec["request_id"] == "audit-trace-1"
			}
		}
		if !logged {
			t.Error("the failed sign-in has no audit log line")
		}
	})
}

// TestAuditLogAccountFlows: sign-up, a refused unverified sign-in, email
// verification, password reset requested (for an account and for none)
// and completed are all recorded, and none of the emailed links is.
func TestAuditLogAccountFlows(t *testing.T) {
	signupBackends(t, func(t *testing.T, e *env, mail *mailtest.Server) {
		b := newBrowser(t)
		action, form := b.get(e.issuer+"/signup").form(t, "password")
		form.Set("email", "grace@example.com")
		form.Set("name", "Grace Hopper")
		form.Set("password", newPassword)
		if p := b.post(action, form); p.status != http.StatusOK {
			t.Fatalf("sign-up: %d", p.status)
		}
		if p := b.signIn(b.get(e.issuer+"/login"), "grace@example.com", newPassword); p.status != http.StatusForbidden {
			t.Fatalf("unverified sign-in: %d", p.status)
		}
		verify := mail.WaitFor(t, "grace@example.com").Link(t, e.issuer+"/verify-email")
		if p := b.get(verify); p.status != http.StatusOK {
			t.Fatalf("verify: %d", p.status)
		}
		for _, address := range []string{testEmail, "nobody@example.com"} {
			action, form := b.get(e.issuer+"/forgot-password").form(t, "email")
			form.Set("email", address)
			b.post(action, form)
		}
		reset := mail.WaitFor(t, testEmail).Link(t, e.issuer+"/reset-password")
		action, form = b.get(reset).form(t, "password")
		form.Set("password", "another long passphrase for ada")
		if p := b.post(action, form); p.status != http.StatusOK {
			t.Fatalf("reset: %d", p.status)
		}

		events := e.auditEvents(url.Values{})
		grace := findEvent(t, events, admin.AuditEventView{Type: "user.signed_up"})
		findEvent(t, events, admin.AuditEventView{Type: "signin.failed", UserID: grace.UserID, Reason: "unverified"})
		findEvent(t, events, admin.AuditEventView{Type: "email.verified", UserID: grace.UserID})
		findEvent(t, events, admin.AuditEventView{Type: "password_reset.requested", UserID: e.user.ID, Outcome: "success"})
		findEvent(t, events, admin.AuditEventView{Type: "password_reset.requested", Reason: "unknown_account", Outcome: "failure"})
		findEvent(t, events, admin.AuditEventView{Type: "password_reset.completed", UserID: e.user.ID})
		all := mustJSON(t, events)
		for name, secret := range map[string]string{
			"verification link": verify[strings.Index(verify, "token=")+6:], "reset link": reset[strings.Index(reset, "token=")+6:],
			"password": newPassword, "new password": "another long passphrase for ada",
		} {
			if strings.Contains(all, secret) {
				t.Errorf("an audit event contains the %s", name)
			}
		}
	})
}

func auditView(typ, userID, clientID string) admin.AuditEventView {
	return admin.AuditEventView{Type: typ, UserID: userID, ClientID: clientID}
}
