package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TestUntrustedRedirectNeverFollowed: an unknown client or an unregistered
// redirect_uri shows our error page and never redirects.
func TestUntrustedRedirectNeverFollowed(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		b := newBrowser(t)
		for name, cfg := range map[string]*oauth2.Config{
			"unknown client": e.oauthConfig("no-such-client", ""),
			"unregistered uri": func() *oauth2.Config {
				c := e.oauthConfig(confidentialID, "")
				c.RedirectURL = "https://rp.example/evil"
				return c
			}(),
			"uri prefix": func() *oauth2.Config {
				c := e.oauthConfig(confidentialID, "")
				c.RedirectURL = callbackURL + "/x"
				return c
			}(),
		} {
			p := b.get(newAuthRequest(cfg).url)
			if p.url.Host == "rp.example" || p.status < 400 {
				t.Errorf("%s: got %d at %s, want an error page", name, p.status, p.url)
			}
			if !strings.Contains(p.header.Get("Content-Type"), "text/html") {
				t.Errorf("%s: error page Content-Type %q", name, p.header.Get("Content-Type"))
			}
		}
	})
}

// TestWrongPasswordAndUnknownEmailLookAlike: the login form answers both
// alike, so it does not reveal which accounts exist.
func TestWrongPasswordAndUnknownEmailLookAlike(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		b := newBrowser(t)
		p := b.get(newAuthRequest(cfg).url)
		wrong := b.signIn(p, testEmail, "not the password")
		unknown := b.signIn(wrong, "nobody@example.com", "not the password")
		if wrong.status != unknown.status || wrong.status != http.StatusUnauthorized {
			t.Fatalf("statuses %d and %d", wrong.status, unknown.status)
		}
		norm := func(s, email string) string {
			s = strings.ReplaceAll(s, email, "EMAIL")
			_, f := page{body: s, url: wrong.url}.form(t, "password")
			return strings.ReplaceAll(s, f.Get("csrf_token"), "CSRF")
		}
		if norm(wrong.body, testEmail) != norm(unknown.body, "nobody@example.com") {
			t.Fatal("the answers for a wrong password and an unknown email differ")
		}
		for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "Referrer-Policy", "Cache-Control"} {
			if wrong.header.Get(h) == "" {
				t.Errorf("login page lacks %s", h)
			}
		}
		if !strings.Contains(wrong.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("CSP = %q", wrong.header.Get("Content-Security-Policy"))
		}
		// A form without its CSRF token is refused.
		action, form := p.form(t, "password")
		form.Del("csrf_token")
		form.Set("email", testEmail)
		form.Set("password", testPassword)
		if got := b.post(action, form); got.status != http.StatusForbidden {
			t.Fatalf("login without CSRF token: %d", got.status)
		}
	})
}

// TestPromptNoneAndMaxAge covers silent authentication and re-authentication.
func TestPromptNoneAndMaxAge(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		b := newBrowser(t)
		p := b.get(newAuthRequest(cfg, oauth2.SetAuthURLParam("prompt", "none")).url)
		if q := callback(t, p, e.issuer); q.Get("error") != "login_required" {
			t.Fatalf("prompt=none without a session: %v", q)
		}
		e.fullLogin(b, newAuthRequest(cfg))

		a := newAuthRequest(cfg, oauth2.SetAuthURLParam("prompt", "none"))
		q := callback(t, b.get(a.url), e.issuer)
		if q.Get("code") == "" || q.Get("state") != a.state {
			t.Fatalf("prompt=none with a session: %v", q)
		}

		time.Sleep(1100 * time.Millisecond)
		p = b.get(newAuthRequest(cfg, oauth2.SetAuthURLParam("max_age", "0")).url)
		if !strings.HasSuffix(p.url.Path, "/login") {
			t.Fatalf("max_age=0 did not ask to sign in again: %d %s", p.status, p.url)
		}
		p = b.get(newAuthRequest(cfg, oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("max_age", "0")).url)
		if q := callback(t, p, e.issuer); q.Get("error") != "login_required" {
			t.Fatalf("prompt=none with expired max_age: %v", q)
		}
		a = newAuthRequest(cfg, oauth2.SetAuthURLParam("prompt", "login"))
		p = b.get(a.url)
		if !strings.HasSuffix(p.url.Path, "/login") {
			t.Fatalf("prompt=login did not show the login page: %s", p.url)
		}
		q = callback(t, b.signIn(p, testEmail, testPassword), e.issuer)
		if q.Get("code") == "" {
			t.Fatalf("prompt=login after signing in: %v", q)
		}
	})
}

// TestConsentDenied returns access_denied to the client.
func TestConsentDenied(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		b := newBrowser(t)
		a := newAuthRequest(cfg)
		p := b.signIn(b.get(a.url), testEmail, testPassword)
		q := callback(t, b.consent(p, "deny", false), e.issuer)
		if q.Get("error") != "access_denied" || q.Get("state") != a.state || q.Get("code") != "" {
			t.Fatalf("deny: %v", q)
		}
	})
}

// TestClientCredentialsIntrospectRevoke: a machine client gets a token, an API
// introspects it, the client revokes it, and it is then inactive.
func TestClientCredentialsIntrospectRevoke(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cc := clientcredentials.Config{ClientID: confidentialID, ClientSecret: confidentialKey, TokenURL: e.issuer + "/token", Scopes: []string{"api:read"}}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("client_credentials: %v", err)
		}
		got := e.introspect(tok.AccessToken)
		if got["active"] != true || got["client_id"] != confidentialID || got["scope"] != "api:read" {
			t.Fatalf("introspection = %v", got)
		}
		form := url.Values{"token": {tok.AccessToken}}
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/revoke", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(confidentialID, confidentialKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("revoke: %d", resp.StatusCode)
		}
		if got := e.introspect(tok.AccessToken); got["active"] != false {
			t.Fatalf("revoked token introspects as %v", got)
		}
		// A wrong secret is refused.
		bad := clientcredentials.Config{ClientID: confidentialID, ClientSecret: "wrong", TokenURL: e.issuer + "/token"}
		if _, err := bad.Token(ctx); err == nil {
			t.Fatal("a wrong client secret was accepted")
		}
		// Introspection needs client authentication.
		resp, err = http.PostForm(e.issuer+"/introspect", url.Values{"token": {tok.AccessToken}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("unauthenticated introspection: %d", resp.StatusCode)
		}
	})
}

// TestUserinfoErrors: 401 with WWW-Authenticate for a missing or bad token;
// POST with the token in the body works.
func TestUserinfoErrors(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		resp, err := http.Get(e.issuer + "/userinfo")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("no token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer not-a-token")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
			t.Fatalf("bad token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}

		cfg := e.oauthConfig(confidentialID, confidentialKey)
		a := newAuthRequest(cfg)
		q := e.fullLogin(newBrowser(t), a)
		tok, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(a.verifier))
		if err != nil {
			t.Fatal(err)
		}
		resp, err = http.PostForm(e.issuer+"/userinfo", url.Values{"access_token": {tok.AccessToken}})
		if err != nil {
			t.Fatal(err)
		}
		var info map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&info)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || info["sub"] != e.user.ID || info["email"] != testEmail {
			t.Fatalf("POST userinfo: %d %v", resp.StatusCode, info)
		}
	})
}

// TestLogout: RP-initiated logout with id_token_hint ends the session and
// returns to a registered post_logout_redirect_uri with state; an
// unregistered one is refused.
func TestLogout(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		b := newBrowser(t)
		tok := e.signInWith(b, cfg)
		idToken, _ := tok.Extra("id_token").(string)

		bad := b.get(e.issuer + "/logout?" + url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://rp.example/elsewhere"}}.Encode())
		if bad.url.Host == "rp.example" || bad.status != http.StatusBadRequest {
			t.Fatalf("unregistered post_logout_redirect_uri: %d %s", bad.status, bad.url)
		}

		p := b.get(e.issuer + "/logout?" + url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {postLogoutURL}, "state": {"xyz"}}.Encode())
		if p.url.String() != postLogoutURL+"?state=xyz" {
			t.Fatalf("logout landed at %d %s", p.status, p.url)
		}
		p = b.get(newAuthRequest(cfg, oauth2.SetAuthURLParam("prompt", "none")).url)
		if q := callback(t, p, e.issuer); q.Get("error") != "login_required" {
			t.Fatalf("after logout, prompt=none gave %v", q)
		}

		// Without a hint the user confirms on a page.
		e.fullLogin(b, newAuthRequest(cfg))
		p = b.get(e.issuer + "/logout")
		if p.status != http.StatusOK {
			t.Fatalf("logout confirmation: %d", p.status)
		}
		action, form := p.form(t, "csrf_token")
		form.Set("decision", "logout")
		if p = b.post(action, form); p.status != http.StatusOK {
			t.Fatalf("confirm logout: %d", p.status)
		}
		p = b.get(newAuthRequest(cfg, oauth2.SetAuthURLParam("prompt", "none")).url)
		if q := callback(t, p, e.issuer); q.Get("error") != "login_required" {
			t.Fatalf("after confirmed logout, prompt=none gave %v", q)
		}
	})
}

// TestDiscoveryAndJWKS checks the metadata clients rely on and that JWKS
// carries no private material.
func TestDiscoveryAndJWKS(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		var meta map[string]any
		getJSON(t, e.issuer+"/.well-known/openid-configuration", &meta)
		if meta["issuer"] != e.issuer || meta["authorization_response_iss_parameter_supported"] != true {
			t.Errorf("metadata: %v", meta)
		}
		if m, _ := json.Marshal(meta["code_challenge_methods_supported"]); string(m) != `["S256"]` {
			t.Errorf("code_challenge_methods_supported = %s", m)
		}
		var set struct {
			Keys []map[string]any `json:"keys"`
		}
		getJSON(t, e.issuer+"/.well-known/jwks.json", &set)
		if len(set.Keys) < 2 {
			t.Fatalf("JWKS has %d keys, want the active and the next", len(set.Keys))
		}
		for _, k := range set.Keys {
			if k["kid"] == nil || k["use"] != "sig" || k["alg"] != "RS256" {
				t.Errorf("key %v lacks kid/use/alg", k)
			}
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
				if _, ok := k[private]; ok {
					t.Fatalf("JWKS publishes private member %q", private)
				}
			}
		}
	})
}

// TestKeyRotationKeepsTokensValid: tokens signed before a rotation still
// verify, and new tokens are signed with the key that was published as next.
func TestKeyRotationKeepsTokensValid(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cc := clientcredentials.Config{ClientID: confidentialID, ClientSecret: confidentialKey, TokenURL: e.issuer + "/token"}
		before, err := cc.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var set struct {
			Keys []map[string]any `json:"keys"`
		}
		getJSON(t, e.issuer+"/.well-known/jwks.json", &set)
		published := map[any]bool{}
		for _, k := range set.Keys {
			published[k["kid"]] = true
		}
		if err := e.keys.Rotate(ctx, time.Hour); err != nil {
			t.Fatal(err)
		}
		after, err := cc.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		kid := jwtHeader(t, after.AccessToken)["kid"]
		if kid == jwtHeader(t, before.AccessToken)["kid"] || !published[kid] {
			t.Fatalf("after rotation the token is signed by %v; published before were %v", kid, published)
		}
		for _, tok := range []string{before.AccessToken, after.AccessToken} {
			if e.introspect(tok)["active"] != true {
				t.Fatal("a token did not survive the rotation")
			}
			if _, err := oidc.NewRemoteKeySet(ctx, e.issuer+"/.well-known/jwks.json").VerifySignature(ctx, tok); err != nil {
				t.Fatalf("JWKS cannot verify a token after rotation: %v", err)
			}
		}
	})
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, body)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func jwtHeader(t *testing.T, token string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestAuthorizeByPOST: the authorization endpoint accepts its parameters as
// a form POST (OIDC Core §3.1.2.1), and unknown parameters are ignored.
func TestAuthorizeByPOST(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		a := newAuthRequest(cfg, oauth2.SetAuthURLParam("unknown_extension", "ignored"))
		u := mustParse(t, a.url)
		b := newBrowser(t)
		p := b.post(e.issuer+"/authorize", u.Query())
		if !strings.HasSuffix(p.url.Path, "/login") {
			t.Fatalf("POST /authorize: %d at %s", p.status, p.url)
		}
		p = b.consent(b.signIn(p, testEmail, testPassword), "allow", false)
		q := callback(t, p, e.issuer)
		if q.Get("code") == "" || q.Get("state") != a.state {
			t.Fatalf("callback %v", q)
		}
		if _, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(a.verifier)); err != nil {
			t.Fatal(err)
		}
	})
}

// TestHomePageShowsWhoIsSignedIn: the issuer's root says who is signed in
// and offers to sign in otherwise; unknown paths get the error page.
func TestHomePageShowsWhoIsSignedIn(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		b := newBrowser(t)
		if p := b.get(e.issuer + "/"); p.status != http.StatusOK || !strings.Contains(p.body, `action="/login"`) {
			t.Fatalf("home before sign-in: %d\n%s", p.status, p.body)
		}
		p := b.signIn(b.get(e.issuer+"/login"), testEmail, testPassword)
		if p.status != http.StatusOK || !strings.Contains(p.body, testEmail) {
			t.Fatalf("direct sign-in: %d\n%s", p.status, p.body)
		}
		if p := b.get(e.issuer + "/"); !strings.Contains(p.body, testEmail) {
			t.Fatalf("home after sign-in does not name the user:\n%s", p.body)
		}
		if p := b.get(e.issuer + "/no/such/page"); p.status != http.StatusNotFound || !strings.Contains(p.body, "There is no page") {
			t.Fatalf("unknown path: %d", p.status)
		}
	})
}

// TestWrongMethodListsAllowed: a method an address does not accept is a 405
// that lists the ones it does (RFC 9110, 15.5.6), inside the admin API's
// subrouter too; an address that does not exist stays a 404.
func TestWrongMethodListsAllowed(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		for _, c := range []struct {
			method, path string
			status       int
			allow        string
		}{
			{"GET", "/token", http.StatusMethodNotAllowed, "POST, OPTIONS"},
			{"DELETE", "/userinfo", http.StatusMethodNotAllowed, "GET, POST, OPTIONS"},
			{"POST", "/healthz", http.StatusMethodNotAllowed, "GET, HEAD"},
			{"PUT", "/admin/v1/clients/" + confidentialID, http.StatusMethodNotAllowed, "GET, PATCH, DELETE"},
			{"GET", "/no-such-page", http.StatusNotFound, ""},
			{"GET", "/admin/v1/no-such-resource", http.StatusNotFound, ""},
		} {
			req, err := http.NewRequest(c.method, e.issuer+c.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status || resp.Header.Get("Allow") != c.allow {
				t.Errorf("%s %s: %d, Allow %q; want %d, Allow %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), c.status, c.allow)
			}
		}
	})
}
