package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gorilla/mux"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tollgate/tollgate/docs"
	"github.com/tollgate/tollgate/server/account"
	"github.com/tollgate/tollgate/storage"
)

// accountCall makes an account API request and decodes the JSON answer.
func (e *env) accountCall(token, method, path string, body any) (int, map[string]any, http.Header) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				e.t.Fatal(err)
			}
		}
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.issuer+account.APIPrefix+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

// accountBrowser signs a new browser in through the account page: it is
// sent to sign in, and comes back to the page.
func (e *env) accountBrowser(password string) (*browser, page) {
	e.t.Helper()
	b := newBrowser(e.t)
	p := b.get(e.issuer + "/account")
	if p.url.Path != "/login" || p.url.Query().Get("next") != "/account" {
		e.t.Fatalf("/account without a session: got %d at %s, want the sign-in page", p.status, p.url)
	}
	p = b.signIn(p, testEmail, password)
	if p.status != http.StatusOK || p.url.Path != "/account" || !strings.Contains(p.body, "Your account") {
		e.t.Fatalf("after signing in: %d at %s:\n%s", p.status, p.url, p.body)
	}
	return b, p
}

// submit fills the page's form that has field with values and posts it.
func (b *browser) submit(p page, field string, values map[string]string) page {
	b.t.Helper()
	action, form := p.form(b.t, field)
	for k, v := range values {
		form.Set(k, v)
	}
	return b.post(action, form)
}

// TestAccountPageNeedsSignIn: the page sends a visitor without a session to
// sign in and back; its forms refuse a post without the CSRF token.
func TestAccountPageNeedsSignIn(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		b, p := e.accountBrowser(testPassword)
		for _, want := range []string{testEmail, "Ada Lovelace", "Change password", "this browser", "/account/identities", "/account/mfa", "Delete account"} {
			if !strings.Contains(p.body, want) {
				t.Errorf("the account page lacks %q", want)
			}
		}
		action, form := p.form(t, "name")
		form.Del("csrf_token")
		form.Set("name", "Mallory")
		if got := b.post(action, form); got.status != http.StatusForbidden {
			t.Fatalf("profile form without the CSRF token: %d", got.status)
		}
		// A wrong password on the way keeps the way back.
		retry := newBrowser(t)
		failed := retry.signIn(retry.get(e.issuer+"/account"), testEmail, "not my password")
		if failed.status != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", failed.status)
		}
		if got := retry.signIn(failed, testEmail, testPassword); got.status != http.StatusOK || got.url.Path != "/account" {
			t.Fatalf("sign-in after a wrong password: %d at %s", got.status, got.url)
		}
		// An open redirect through next is refused: the sign-in stays here.
		other := newBrowser(t)
		login := other.get(e.issuer + "/login?next=//evil.example/")
		if strings.Contains(login.body, "evil.example") {
			t.Fatal("the sign-in page carries a next that leaves Tollgate")
		}
		if got := other.signIn(login, testEmail, testPassword); got.url.Host != mustParse(t, e.issuer).Host || got.status != http.StatusOK {
			t.Fatalf("sign-in with a foreign next: %d at %s", got.status, got.url)
		}
	})
}

// TestAccountProfile: a new name shows on the page, in userinfo and in the
// next ID token; a bad picture URL is refused naming the field.
func TestAccountProfile(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		b := newBrowser(t)
		tok := e.signInWith(b, cfg)
		// Signed in already: the page opens at once.
		p := b.get(e.issuer + "/account")
		if p.status != http.StatusOK || p.url.Path != "/account" {
			t.Fatalf("account page for a signed-in browser: %d at %s", p.status, p.url)
		}
		bad := b.submit(p, "name", map[string]string{"picture": "http://img.example/ada.png"})
		if bad.status != http.StatusBadRequest || !strings.Contains(bad.body, "https://") || !strings.Contains(bad.body, `aria-invalid="true"`) {
			t.Fatalf("http picture: %d\n%s", bad.status, bad.body)
		}
		badLocale := b.submit(p, "name", map[string]string{"locale": "not a language!"})
		if badLocale.status != http.StatusBadRequest || !strings.Contains(badLocale.body, "language tag") {
			t.Fatalf("bad locale: %d", badLocale.status)
		}
		saved := b.submit(p, "name", map[string]string{
			"name": "Ada King", "picture": "https://img.example/ada.png", "locale": "en-GB", "theme": "dark",
		})
		if saved.status != http.StatusOK || saved.url.Query().Get("saved") != "profile" ||
			!strings.Contains(saved.body, "Your profile is saved.") || !strings.Contains(saved.body, `value="Ada King"`) ||
			!strings.Contains(saved.body, `<option value="dark" selected>`) || !strings.Contains(saved.body, `value="en-GB"`) {
			t.Fatalf("save profile: %d at %s\n%s", saved.status, saved.url, saved.body)
		}

		info, err := e.provider().UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatal(err)
		}
		var claims struct {
			Name    string `json:"name"`
			Picture string `json:"picture"`
		}
		if err := info.Claims(&claims); err != nil || claims.Name != "Ada King" || claims.Picture != "https://img.example/ada.png" {
			t.Fatalf("userinfo after the change: %+v %v", claims, err)
		}
		// A new sign-in from the same browser needs no password, and its
		// ID token carries the new name.
		a := newAuthRequest(cfg)
		q := callback(t, b.get(a.url), e.issuer)
		next, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(a.verifier))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := next.Extra("id_token").(string)
		idToken, err := e.provider().Verifier(&oidc.Config{ClientID: confidentialID}).Verify(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := idToken.Claims(&claims); err != nil || claims.Name != "Ada King" {
			t.Fatalf("ID token after the change: %+v %v", claims, err)
		}
		// The API sees the preferences the page set.
		if status, body, _ := e.accountCall(next.AccessToken, "GET", "/profile", nil); status != http.StatusOK ||
			mustJSON(t, body["preferences"]) != `{"locale":"en-GB","theme":"dark"}` {
			t.Fatalf("profile through the API: %d %v", status, body)
		}
	})
}

// TestAccountChangePassword: the current password is required, a weak new
// one is refused naming the rule; afterwards every other session, refresh
// token and access token is dead, and this browser stays signed in.
func TestAccountChangePassword(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		elsewhere := newBrowser(t)
		a := newAuthRequest(cfg)
		q := e.fullLogin(elsewhere, a)
		old, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(a.verifier))
		if err != nil {
			t.Fatal(err)
		}

		b, p := e.accountBrowser(testPassword)
		change := func(current, next, confirm string) page {
			return b.submit(p, "current_password", map[string]string{"current_password": current, "new_password": next, "confirm_password": confirm})
		}
		if got := change("not my password", newPassword, newPassword); got.status != http.StatusBadRequest || !strings.Contains(got.body, "current password is not right") {
			t.Fatalf("wrong current password: %d", got.status)
		}
		if got := change(testPassword, "Password123!", "Password123!"); got.status != http.StatusBadRequest || !strings.Contains(got.body, "too easy to guess") {
			t.Fatalf("weak new password: %d", got.status)
		}
		if got := change(testPassword, "short", "short"); got.status != http.StatusBadRequest || !strings.Contains(got.body, "at least 8 characters") {
			t.Fatalf("short new password: %d", got.status)
		}
		if got := change(testPassword, newPassword, newPassword+"x"); got.status != http.StatusBadRequest || !strings.Contains(got.body, "confirmation differ") {
			t.Fatalf("mismatched confirmation: %d", got.status)
		}
		done := change(testPassword, newPassword, newPassword)
		if done.status != http.StatusOK || done.url.Query().Get("saved") != "password" || !strings.Contains(done.body, "Your password is changed") {
			t.Fatalf("change password: %d at %s\n%s", done.status, done.url, done.body)
		}
		// This browser stays signed in; the other one is signed out.
		if again := b.get(e.issuer + "/account"); again.status != http.StatusOK || again.url.Path != "/account" {
			t.Fatalf("this browser after the change: %d at %s", again.status, again.url)
		}
		none := elsewhere.get(newAuthRequest(cfg, oauth2.SetAuthURLParam("prompt", "none")).url)
		if q := callback(t, none, e.issuer); q.Get("error") != "login_required" {
			t.Errorf("the other browser's session survived the change: %v", q)
		}
		// Tokens issued before the change are dead.
		if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: old.RefreshToken}).Token(); err == nil {
			t.Error("a refresh token from before the change still works")
		}
		if e.introspect(old.AccessToken)["active"] != false {
			t.Error("an access token from before the change is still active")
		}
		// The old password fails, the new one works.
		fresh := newBrowser(t)
		if got := fresh.signIn(fresh.get(e.issuer+"/login"), testEmail, testPassword); got.status != http.StatusUnauthorized {
			t.Errorf("the old password still works: %d", got.status)
		}
		e.accountBrowser(newPassword)
		if strings.Contains(e.logs.String(), newPassword) || strings.Contains(e.logs.String(), testPassword) {
			t.Error("a password reached the logs")
		}
	})
}

// TestAccountSessions: the page lists each browser, marks this one, and
// signs another out, which then has to sign in again; ending this
// browser's own session signs it out.
func TestAccountSessions(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		other, _ := e.accountBrowser(testPassword)
		b, p := e.accountBrowser(testPassword)
		current, others := sessionHandles(t, p)
		if current == "" || len(others) != 1 {
			t.Fatalf("sessions on the page: current %q, others %v\n%s", current, others, p.body)
		}
		if !strings.Contains(p.body, "Go-http-client") || !strings.Contains(p.body, "with password") {
			t.Errorf("the session list does not show the browser or the sign-in method")
		}
		ended := b.submit(p, "session", map[string]string{"session": others[0]})
		if ended.status != http.StatusOK || !strings.Contains(ended.body, "That session is signed out.") {
			t.Fatalf("end the other session: %d\n%s", ended.status, ended.body)
		}
		if _, left := sessionHandles(t, ended); len(left) != 0 {
			t.Fatalf("the ended session is still listed: %v", left)
		}
		if got := other.get(e.issuer + "/account"); got.url.Path != "/login" {
			t.Fatalf("the signed-out browser still opens the account page: %d at %s", got.status, got.url)
		}
		// Ending this browser's own session signs it out.
		self := b.submit(ended, "session", map[string]string{"session": current})
		if self.status != http.StatusOK || !strings.Contains(self.body, "signed out") {
			t.Fatalf("end this session: %d\n%s", self.status, self.body)
		}
		if got := b.get(e.issuer + "/account"); got.url.Path != "/login" {
			t.Fatalf("after ending its own session: %d at %s", got.status, got.url)
		}
	})
}

var sessionItem = regexp.MustCompile(`(?s)<li>(.*?)</li>`)
var sessionField = regexp.MustCompile(`name="session" value="([^"]+)"`)

// sessionHandles reads the session list on the account page: the handle
// of this browser's session and those of the others.
func sessionHandles(t *testing.T, p page) (current string, others []string) {
	t.Helper()
	for _, li := range sessionItem.FindAllStringSubmatch(p.body, -1) {
		m := sessionField.FindStringSubmatch(li[1])
		if m == nil {
			continue
		}
		if strings.Contains(li[1], "this browser") {
			current = m[1]
		} else {
			others = append(others, m[1])
		}
	}
	return current, others
}

// TestAccountDelete: with the password again, the account goes with its
// sessions, tokens and consents; a wrong password deletes nothing.
func TestAccountDelete(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		b := newBrowser(t)
		tok := e.signInWith(b, cfg)
		if _, err := e.store.GetConsent(ctx, e.user.ID, confidentialID); err != nil {
			t.Fatalf("consent before deleting: %v", err)
		}
		p := b.get(e.issuer + "/account/delete")
		if p.status != http.StatusOK || !strings.Contains(p.body, "cannot be undone") {
			t.Fatalf("delete page: %d", p.status)
		}
		if wrong := b.submit(p, "password", map[string]string{"password": "not my password"}); wrong.status != http.StatusBadRequest || !strings.Contains(wrong.body, "not deleted") {
			t.Fatalf("wrong password: %d", wrong.status)
		}
		if _, err := e.store.GetUser(ctx, e.user.ID); err != nil {
			t.Fatalf("a wrong password deleted the account: %v", err)
		}
		done := b.submit(p, "password", map[string]string{"password": testPassword})
		if done.status != http.StatusOK || !strings.Contains(done.body, "Your account is deleted") {
			t.Fatalf("delete: %d\n%s", done.status, done.body)
		}
		if _, err := e.store.GetUser(ctx, e.user.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("the user is still stored: %v", err)
		}
		if _, err := e.store.GetConsent(ctx, e.user.ID, confidentialID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("the consent is still stored: %v", err)
		}
		if sessions, err := e.store.ListUserSessions(ctx, e.user.ID); err != nil || len(sessions) != 0 {
			t.Errorf("sessions left: %v %v", sessions, err)
		}
		if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
			t.Error("the refresh token still works")
		}
		if e.introspect(tok.AccessToken)["active"] != false {
			t.Error("the access token is still active")
		}
		if got := b.get(e.issuer + "/account"); got.url.Path != "/login" {
			t.Errorf("the deleting browser is still signed in: %d at %s", got.status, got.url)
		}
		fresh := newBrowser(t)
		if got := fresh.signIn(fresh.get(e.issuer+"/login"), testEmail, testPassword); got.status != http.StatusUnauthorized {
			t.Errorf("sign-in to the deleted account: %d", got.status)
		}
	})
}

// TestAccountAPI: with an access token from a real authorization code flow,
// the API reads and patches the profile, validates preferences naming the
// field, lists and ends sessions, and changes the password keeping the
// caller's grant; bad tokens get 401 with WWW-Authenticate.
func TestAccountAPI(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		tok := e.signIn(cfg)
		other := e.signIn(cfg)
		at := tok.AccessToken

		status, body, _ := e.accountCall(at, "GET", "/profile", nil)
		if status != http.StatusOK || body["sub"] != e.user.ID || body["email"] != testEmail || body["name"] != "Ada Lovelace" ||
			mustJSON(t, body["preferences"]) != `{}` || body["has_password"] != true {
			t.Fatalf("get profile: %d %v", status, body)
		}

		// Tokens that do not qualify.
		for _, tc := range []struct {
			name, token string
			status      int
			code        string
		}{
			{"no token", "", http.StatusUnauthorized, "invalid_token"},
			{"garbage", "not-a-token", http.StatusUnauthorized, "invalid_token"},
			{"tampered", at[:len(at)-4] + "AAAA", http.StatusUnauthorized, "invalid_token"},
		} {
			status, body, hdr := e.accountCall(tc.token, "GET", "/profile", nil)
			if status != tc.status || body["error"] != tc.code || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") || body["error_description"] == "" {
				t.Errorf("%s: %d %v %q", tc.name, status, body, hdr.Get("WWW-Authenticate"))
			}
		}
		noOpenID, err := (&clientcredentials.Config{ClientID: confidentialID, ClientSecret: confidentialKey,
			TokenURL: e.issuer + "/token", Scopes: []string{"api:read"}}).Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if status, body, hdr := e.accountCall(noOpenID.AccessToken, "GET", "/profile", nil); status != http.StatusForbidden ||
			body["error"] != "insufficient_scope" || !strings.Contains(hdr.Get("WWW-Authenticate"), `scope="openid"`) {
			t.Errorf("token without openid: %d %v", status, body)
		}
		clientOnly, err := (&clientcredentials.Config{ClientID: confidentialID, ClientSecret: confidentialKey,
			TokenURL: e.issuer + "/token", Scopes: []string{"openid"}}).Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if status, body, _ := e.accountCall(clientOnly.AccessToken, "GET", "/profile", nil); status != http.StatusUnauthorized || body["error"] != "invalid_token" {
			t.Errorf("a client's own token: %d %v", status, body)
		}

		// An empty patch changes nothing, not even updated_at.
		if status, same, _ := e.accountCall(at, "PATCH", "/profile", map[string]any{}); status != http.StatusOK || same["updated_at"] != body["updated_at"] {
			t.Fatalf("empty patch: %d %v, before %v", status, same, body)
		}
		// Patching: fields present only; preferences merge.
		status, body, _ = e.accountCall(at, "PATCH", "/profile", map[string]any{"name": "  Ada King ", "preferences": map[string]any{"locale": "fr-CA", "theme": "dark", "editor": map[string]any{"tabs": 4}}})
		if status != http.StatusOK || body["name"] != "Ada King" || mustJSON(t, body["preferences"]) != `{"editor":{"tabs":4},"locale":"fr-CA","theme":"dark"}` {
			t.Fatalf("patch profile: %d %v", status, body)
		}
		status, body, _ = e.accountCall(at, "PATCH", "/profile", map[string]any{"preferences": map[string]any{"theme": nil, "editor": map[string]any{"wrap": true}}})
		if status != http.StatusOK || body["name"] != "Ada King" || mustJSON(t, body["preferences"]) != `{"editor":{"tabs":4,"wrap":true},"locale":"fr-CA"}` {
			t.Fatalf("merge preferences: %d %v", status, body)
		}
		for _, tc := range []struct {
			name  string
			body  any
			field string
		}{
			{"theme", map[string]any{"preferences": map[string]any{"theme": "purple"}}, "preferences.theme"},
			{"locale", map[string]any{"preferences": map[string]any{"locale": "not a tag!"}}, "preferences.locale"},
			{"not an object", map[string]any{"preferences": []int{1}}, "preferences"},
			{"bad key", map[string]any{"preferences": map[string]any{"has space": 1}}, "preferences"},
			{"too deep", map[string]any{"preferences": map[string]any{"a": map[string]any{"b": map[string]any{"c": map[string]any{"d": 1}}}}}, "preferences.a.b.c"},
			{"too big", map[string]any{"preferences": map[string]any{"notes": strings.Repeat("x", 5000)}}, "preferences"},
			{"picture", map[string]any{"picture": "javascript:alert(1)"}, "picture"},
			{"name", map[string]any{"name": strings.Repeat("n", 201)}, "name"},
			{"name type", map[string]any{"name": 7}, "name"},
			{"unknown field", map[string]any{"email": "eve@example.com"}, "email"},
		} {
			status, body, _ := e.accountCall(at, "PATCH", "/profile", tc.body)
			if status != http.StatusBadRequest || body["error"] != "invalid_request" || body["field"] != tc.field || body["error_description"] == "" {
				t.Errorf("%s: %d %v, want 400 naming %s", tc.name, status, body, tc.field)
			}
		}
		if status, body, _ := e.accountCall(at, "PATCH", "/profile", []byte(`{"name":`)); status != http.StatusBadRequest || body["error"] != "invalid_request" {
			t.Errorf("malformed JSON: %d %v", status, body)
		}
		if status, _, _ := e.accountCall(at, "PATCH", "/profile", bytes.Repeat([]byte(" "), 20<<10)); status != http.StatusRequestEntityTooLarge {
			t.Errorf("oversized body: %d", status)
		}
		if status, body, _ := e.accountCall(at, "GET", "/profile", nil); mustJSON(t, body["preferences"]) != `{"editor":{"tabs":4,"wrap":true},"locale":"fr-CA"}` {
			t.Fatalf("a refused patch changed the profile: %d %v", status, body)
		}
		if status, body, _ := e.accountCall(at, "PATCH", "/profile", map[string]any{"preferences": nil}); status != http.StatusOK || mustJSON(t, body["preferences"]) != `{}` {
			t.Fatalf("clear preferences: %d %v", status, body)
		}

		// Sessions: each sign-in above left a browser session.
		status, body, _ = e.accountCall(at, "GET", "/sessions", nil)
		items, _ := body["items"].([]any)
		if status != http.StatusOK || len(items) != 2 {
			t.Fatalf("list sessions: %d %v", status, body)
		}
		first := items[0].(map[string]any)
		if first["browser"] != "Go-http-client/1.1" || mustJSON(t, first["amr"]) != `["pwd"]` || first["id"] == "" {
			t.Errorf("session view: %v", first)
		}
		id := first["id"].(string)
		if status, _, _ := e.accountCall(at, "DELETE", "/sessions/"+id, nil); status != http.StatusNoContent {
			t.Fatalf("end session: %d", status)
		}
		if status, body, _ := e.accountCall(at, "DELETE", "/sessions/"+id, nil); status != http.StatusNotFound || body["error"] != "not_found" {
			t.Fatalf("end it again: %d %v", status, body)
		}
		if _, body, _ := e.accountCall(at, "GET", "/sessions", nil); len(body["items"].([]any)) != 1 {
			t.Fatalf("after ending one: %v", body)
		}

		// Password: checked, judged by the policy, then every other grant ends.
		change := func(current, next string) (int, map[string]any) {
			status, body, _ := e.accountCall(at, "PUT", "/password", map[string]any{"current_password": current, "new_password": next})
			return status, body
		}
		if status, body := change("not my password", newPassword); status != http.StatusBadRequest || body["field"] != "current_password" {
			t.Fatalf("wrong current password: %d %v", status, body)
		}
		if status, body := change(testPassword, "Password123!"); status != http.StatusBadRequest || body["field"] != "new_password" || body["rule"] != "guessable" {
			t.Fatalf("weak password: %d %v", status, body)
		}
		if status, body := change(testPassword, testPassword); status != http.StatusBadRequest || body["rule"] != "reused" {
			t.Fatalf("same password: %d %v", status, body)
		}
		if status, body, _ := e.accountCall(at, "PUT", "/password", map[string]any{"new_password": newPassword}); status != http.StatusBadRequest || body["field"] != "current_password" {
			t.Fatalf("missing current password: %d %v", status, body)
		}
		if status, body := change(testPassword, newPassword); status != http.StatusNoContent {
			t.Fatalf("change password: %d %v", status, body)
		}
		// The caller's grant lives on; the other grant and every session end.
		if status, _, _ := e.accountCall(at, "GET", "/profile", nil); status != http.StatusOK {
			t.Errorf("the caller's token after the change: %d", status)
		}
		if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
			t.Errorf("the caller's refresh token after the change: %v", err)
		}
		if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: other.RefreshToken}).Token(); err == nil {
			t.Error("another grant's refresh token survived the change")
		}
		if status, _, _ := e.accountCall(other.AccessToken, "GET", "/profile", nil); status != http.StatusUnauthorized {
			t.Errorf("another grant's access token after the change: %d", status)
		}
		if _, body, _ := e.accountCall(at, "GET", "/sessions", nil); len(body["items"].([]any)) != 0 {
			t.Errorf("browser sessions survived the change: %v", body)
		}
	})
}

// TestAccountAPIWrongPasswordsAreThrottled: guessing the current password
// with a stolen token slows down as sign-in does.
func TestAccountAPIWrongPasswordsAreThrottled(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		at := e.signIn(e.oauthConfig(confidentialID, confidentialKey)).AccessToken
		var status int
		var hdr http.Header
		for range 7 {
			status, _, hdr = e.accountCall(at, "PUT", "/password", map[string]any{"current_password": "guess", "new_password": newPassword})
		}
		if status != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
			t.Fatalf("after 7 wrong passwords: %d, Retry-After %q", status, hdr.Get("Retry-After"))
		}
		// Even the right password waits.
		if status, _, _ := e.accountCall(at, "PUT", "/password", map[string]any{"current_password": testPassword, "new_password": newPassword}); status != http.StatusTooManyRequests {
			t.Fatalf("right password while throttled: %d", status)
		}
	})
}

// TestAccountStorageOutage: with the database gone, the API and the page
// answer 503 with Retry-After, never a success.
func TestAccountStorageOutage(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		b := newBrowser(t)
		tok := e.signInWith(b, cfg)
		p := b.get(e.issuer + "/account")
		if err := e.store.Close(); err != nil {
			t.Fatal(err)
		}
		for _, call := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/profile", nil},
			{"PATCH", "/profile", map[string]any{"name": "Ada King"}},
			{"GET", "/sessions", nil},
		} {
			status, body, hdr := e.accountCall(tok.AccessToken, call.method, call.path, call.body)
			if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || body["error"] != "temporarily_unavailable" {
				t.Errorf("%s %s during an outage: %d %v", call.method, call.path, status, body)
			}
		}
		if got := b.get(e.issuer + "/account"); got.status != http.StatusServiceUnavailable || got.header.Get("Retry-After") == "" {
			t.Errorf("account page during an outage: %d", got.status)
		}
		if got := b.submit(p, "name", map[string]string{"name": "Ada King"}); got.status != http.StatusServiceUnavailable {
			t.Errorf("profile form during an outage: %d", got.status)
		}
	})
}

// TestAccountOpenAPIMatchesRoutes: every API route is described, every
// described operation exists, and the description is served.
func TestAccountOpenAPIMatchesRoutes(t *testing.T) {
	r := mux.NewRouter()
	(&account.Handler{}).Mount(r)
	// Only the API: not the hosted page, nor the subrouter's prefix.
	checkOpenAPI(t, r, account.APIPrefix+"/", account.APIPrefix, docs.AccountOpenAPI, account.APIPrefix+"/openapi.json")
}
