package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/server"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

const initialAccessToken = "initial-access-token-0123456789abcdefghij"

// registrationBackends runs fn on SQLite and on PostgreSQL + Redis with
// dynamic client registration on, guarded by token (empty: open).
func registrationBackends(t *testing.T, token string, fn func(t *testing.T, e *env)) {
	for _, b := range []struct {
		name string
		open func(testing.TB) storage.Store
	}{
		{"sqlite", testbackend.SQLite},
		{"postgres+redis", testbackend.PostgresRedis},
	} {
		t.Run(b.name, func(t *testing.T) {
			fn(t, newEnvWith(t, b.name, b.open(t), keyring.RS256, func(c *server.Config) {
				c.RegistrationEnabled, c.RegistrationToken = true, token
			}))
		})
	}
}

// regCall sends a JSON request to the registration endpoint with an
// optional bearer token and decodes the JSON answer.
func (e *env) regCall(method, url, token string, body any) (int, map[string]any, http.Header) {
	e.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

// TestDynamicRegistrationRoundTrip registers a client as RFC 7591 says,
// reads and updates it as RFC 7592 says, signs a user in with it through
// x/oauth2 and go-oidc, and deletes it.
func TestDynamicRegistrationRoundTrip(t *testing.T) {
	registrationBackends(t, initialAccessToken, func(t *testing.T, e *env) {
		ctx := context.Background()
		endpoint := e.issuer + "/oauth2/register"
		var meta struct {
			RegistrationEndpoint string `json:"registration_endpoint"`
		}
		if err := e.provider().Claims(&meta); err != nil || meta.RegistrationEndpoint != endpoint {
			t.Fatalf("discovery registration_endpoint = %q (%v), want %q", meta.RegistrationEndpoint, err, endpoint)
		}

		status, reg, h := e.regCall(http.MethodPost, endpoint, initialAccessToken, map[string]any{
			"client_name":                "Registered App",
			"redirect_uris":              []string{callbackURL},
			"grant_types":                []string{"authorization_code", "refresh_token"},
			"response_types":             []string{"code"},
			"token_endpoint_auth_method": "client_secret_basic",
			"scope":                      "openid profile email offline_access",
			"logo_uri":                   "https://rp.example/logo.png", // not kept: ignored
		})
		if status != http.StatusCreated {
			t.Fatalf("register: %d %v", status, reg)
		}
		id, _ := reg["client_id"].(string)
		secret, _ := reg["client_secret"].(string)
		regToken, _ := reg["registration_access_token"].(string)
		clientURI, _ := reg["registration_client_uri"].(string)
		if id == "" || len(secret) < 32 || len(regToken) < 32 || clientURI != endpoint+"/"+id {
			t.Fatalf("registration response lacks credentials: %v", reg)
		}
		if reg["client_secret_expires_at"] != float64(0) || reg["client_id_issued_at"] == nil || reg["client_id_issued_at"] == float64(0) {
			t.Fatalf("client_secret_expires_at / client_id_issued_at: %v", reg)
		}
		if reg["client_name"] != "Registered App" || reg["token_endpoint_auth_method"] != "client_secret_basic" {
			t.Fatalf("registered metadata: %v", reg)
		}
		if h.Get("Cache-Control") != "no-store" {
			t.Errorf("registration response Cache-Control = %q", h.Get("Cache-Control"))
		}
		// The registration access token is stored hashed, never in clear.
		stored, err := e.store.GetClient(ctx, id)
		if err != nil || stored.RegistrationTokenHash == "" || stored.RegistrationTokenHash == regToken || stored.SkipConsent {
			t.Fatalf("stored client: %+v, %v", stored, err)
		}

		// RFC 7592 read.
		status, got, _ := e.regCall(http.MethodGet, clientURI, regToken, nil)
		if status != http.StatusOK || got["client_id"] != id || got["client_secret"] != nil || got["registration_client_uri"] != clientURI {
			t.Fatalf("read: %d %v", status, got)
		}

		// RFC 7592 update: the whole metadata, with the client's identity.
		status, got, _ = e.regCall(http.MethodPut, clientURI, regToken, map[string]any{
			"client_id": id, "client_secret": secret,
			"client_name":               "Registered App v2",
			"redirect_uris":             []string{callbackURL, "http://127.0.0.1:9999/cb"},
			"post_logout_redirect_uris": []string{postLogoutURL},
			"grant_types":               []string{"authorization_code", "refresh_token"},
		})
		if status != http.StatusOK || got["client_name"] != "Registered App v2" || len(got["redirect_uris"].([]any)) != 2 {
			t.Fatalf("update: %d %v", status, got)
		}

		// An admin's change through the admin API keeps the registration
		// access token working.
		req, _ := http.NewRequest(http.MethodPatch, e.issuer+"/admin/v1/clients/"+id, strings.NewReader(`{"client_name": "Registered App v2"}`))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("admin update of a registered client: %v %v", resp, err)
		} else {
			resp.Body.Close()
		}
		if status, got, _ := e.regCall(http.MethodGet, clientURI, regToken, nil); status != http.StatusOK {
			t.Fatalf("read after an admin's update: %d %v", status, got)
		}

		// Sign a user in with the registered client: code + PKCE, consent
		// (a dynamic client never skips it), ID token checked by go-oidc.
		cfg := e.oauthConfig(id, secret)
		a := newAuthRequest(cfg)
		b := newBrowser(t)
		p := b.get(a.url)
		p = b.signIn(p, testEmail, testPassword)
		if !strings.HasSuffix(p.url.Path, "/consent") || !strings.Contains(p.body, "Registered App v2") {
			t.Fatalf("expected the consent page naming the registered client, got %d at %s", p.status, p.url)
		}
		q := callback(t, b.consent(p, "allow", false), e.issuer)
		tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(a.verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		rawID, _ := tok.Extra("id_token").(string)
		idt, err := e.provider().Verifier(&oidc.Config{ClientID: id}).Verify(ctx, rawID)
		if err != nil || idt.Subject != e.user.ID || idt.Nonce != a.nonce {
			t.Fatalf("id token: %v %+v", err, idt)
		}

		// RFC 7592 delete: the registration and the client are gone.
		if status, body, _ := e.regCall(http.MethodDelete, clientURI, regToken, nil); status != http.StatusNoContent {
			t.Fatalf("delete: %d %v", status, body)
		}
		if status, body, _ := e.regCall(http.MethodGet, clientURI, regToken, nil); status != http.StatusUnauthorized {
			t.Fatalf("read after delete: %d %v", status, body)
		}
		if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
			t.Fatal("a deleted client could still refresh")
		}
	})
}

// TestDynamicRegistrationErrors checks every refusal: the initial access
// token, each kind of bad metadata with its RFC 7591 error code, and the
// registration access token of RFC 7592 calls.
func TestDynamicRegistrationErrors(t *testing.T) {
	registrationBackends(t, initialAccessToken, func(t *testing.T, e *env) {
		endpoint := e.issuer + "/oauth2/register"
		good := map[string]any{"client_name": "App", "redirect_uris": []string{callbackURL}}

		for _, tc := range []struct{ name, token string }{{"no token", ""}, {"wrong token", "not-the-initial-access-token-0123456789"}} {
			status, body, h := e.regCall(http.MethodPost, endpoint, tc.token, good)
			if status != http.StatusUnauthorized || body["error"] != "invalid_token" || !strings.Contains(h.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: %d %v %q", tc.name, status, body, h.Get("WWW-Authenticate"))
			}
		}

		for _, tc := range []struct {
			name string
			meta map[string]any
			code string
		}{
			{"http redirect", map[string]any{"redirect_uris": []string{"http://rp.example/cb"}}, "invalid_redirect_uri"},
			{"fragment", map[string]any{"redirect_uris": []string{"https://rp.example/cb#x"}}, "invalid_redirect_uri"},
			{"relative redirect", map[string]any{"redirect_uris": []string{"/cb"}}, "invalid_redirect_uri"},
			{"no redirect", map[string]any{"client_name": "App"}, "invalid_redirect_uri"},
			{"bad logout redirect", map[string]any{"redirect_uris": []string{callbackURL}, "post_logout_redirect_uris": []string{"http://rp.example/bye"}}, "invalid_redirect_uri"},
			{"password grant", map[string]any{"redirect_uris": []string{callbackURL}, "grant_types": []string{"password"}}, "invalid_client_metadata"},
			{"implicit", map[string]any{"redirect_uris": []string{callbackURL}, "response_types": []string{"token"}}, "invalid_client_metadata"},
			{"code without grant", map[string]any{"grant_types": []string{"client_credentials"}, "response_types": []string{"code"}}, "invalid_client_metadata"},
			{"auth method", map[string]any{"redirect_uris": []string{callbackURL}, "token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata"},
			{"admin scope", map[string]any{"grant_types": []string{"client_credentials"}, "scope": "tollgate:admin"}, "invalid_client_metadata"},
			{"public client credentials", map[string]any{"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": "none"}, "invalid_client_metadata"},
			{"not json", nil, "invalid_client_metadata"},
		} {
			var body any = tc.meta
			if tc.meta == nil {
				body = "not an object"
			}
			status, got, _ := e.regCall(http.MethodPost, endpoint, initialAccessToken, body)
			desc, _ := got["error_description"].(string)
			if status != http.StatusBadRequest || got["error"] != tc.code || desc == "" {
				t.Errorf("%s: %d %v, want 400 %s with a description", tc.name, status, got, tc.code)
			}
		}

		status, reg, _ := e.regCall(http.MethodPost, endpoint, initialAccessToken, map[string]any{
			"redirect_uris": []string{callbackURL}, "token_endpoint_auth_method": "none",
		})
		if status != http.StatusCreated || reg["client_secret"] != nil || reg["client_secret_expires_at"] != nil || reg["client_name"] != "rp.example" {
			t.Fatalf("public registration: %d %v", status, reg)
		}
		clientURI, _ := reg["registration_client_uri"].(string)
		regToken, _ := reg["registration_access_token"].(string)
		id, _ := reg["client_id"].(string)

		for _, tc := range []struct{ name, method, url, token string }{
			{"read without token", http.MethodGet, clientURI, ""},
			{"read with the initial token", http.MethodGet, clientURI, initialAccessToken},
			{"read with a wrong token", http.MethodGet, clientURI, "wrong-registration-token-0123456789abcdef"},
			{"read an admin's client", http.MethodGet, endpoint + "/" + confidentialID, regToken},
			{"read an unknown client", http.MethodGet, endpoint + "/no-such-client", regToken},
			{"delete with a wrong token", http.MethodDelete, clientURI, "wrong-registration-token-0123456789abcdef"},
			{"update with a wrong token", http.MethodPut, clientURI, "wrong-registration-token-0123456789abcdef"},
		} {
			status, body, _ := e.regCall(tc.method, tc.url, tc.token, map[string]any{"client_id": id, "redirect_uris": []string{callbackURL}})
			if status != http.StatusUnauthorized || body["error"] != "invalid_token" {
				t.Errorf("%s: %d %v, want 401 invalid_token", tc.name, status, body)
			}
		}

		for _, tc := range []struct {
			name string
			meta map[string]any
			code string
		}{
			{"other client_id", map[string]any{"client_id": "webapp", "redirect_uris": []string{callbackURL}, "token_endpoint_auth_method": "none"}, "invalid_client_metadata"},
			{"becoming confidential", map[string]any{"client_id": id, "redirect_uris": []string{callbackURL}, "token_endpoint_auth_method": "client_secret_basic"}, "invalid_client_metadata"},
			{"bad redirect", map[string]any{"client_id": id, "redirect_uris": []string{"http://evil.example/cb"}, "token_endpoint_auth_method": "none"}, "invalid_redirect_uri"},
		} {
			status, got, _ := e.regCall(http.MethodPut, clientURI, regToken, tc.meta)
			if status != http.StatusBadRequest || got["error"] != tc.code {
				t.Errorf("update, %s: %d %v, want 400 %s", tc.name, status, got, tc.code)
			}
		}
		// Nothing was changed by the refused updates.
		if c, err := e.store.GetClient(context.Background(), id); err != nil || len(c.RedirectURIs) != 1 || c.RedirectURIs[0] != callbackURL || !c.Public {
			t.Fatalf("client after refused updates: %+v, %v", c, err)
		}
	})
}

// TestDynamicRegistrationOffOrOpen: off by default (404, not in
// discovery); on without an initial access token, anyone may register.
func TestDynamicRegistrationOffOrOpen(t *testing.T) {
	e := newEnvWith(t, "sqlite", testbackend.SQLite(t), keyring.RS256)
	var meta map[string]any
	if err := e.provider().Claims(&meta); err != nil || meta["registration_endpoint"] != nil {
		t.Fatalf("discovery advertises registration while it is off: %v", meta["registration_endpoint"])
	}
	if status, _, _ := e.regCall(http.MethodPost, e.issuer+"/oauth2/register", "", map[string]any{"redirect_uris": []string{callbackURL}}); status != http.StatusNotFound {
		t.Fatalf("registration while off: %d, want 404", status)
	}

	open := newEnvWith(t, "sqlite", testbackend.SQLite(t), keyring.RS256, func(c *server.Config) { c.RegistrationEnabled = true })
	status, reg, _ := open.regCall(http.MethodPost, open.issuer+"/oauth2/register", "", map[string]any{"redirect_uris": []string{callbackURL}, "client_name": "Anyone"})
	if status != http.StatusCreated || reg["client_id"] == nil {
		t.Fatalf("open registration: %d %v", status, reg)
	}
	if !strings.Contains(open.logs.String(), "registration is open") {
		t.Error("open registration is not warned about in the log")
	}
}
