package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/passwords"
	"github.com/tollgate/tollgate/server"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

const (
	appID     = "spa-example" // the app whose tokens the API accepts
	appSecret = "app-secret-0123456789abcdef"
	otherID   = "other-app"
	apiID     = "example-api"
	apiSecret = "api-secret-0123456789abcdef"
	testScope = "api:read"
)

// tollgate starts a real Tollgate on the embedded SQLite store with the
// clients the tests need, and returns its issuer and keyring.
func tollgate(t *testing.T) (string, *keyring.Keyring) {
	t.Helper()
	ctx := t.Context()
	store := testbackend.SQLite(t)
	secret := []byte("test-system-secret-0123456789-abcdefghijkl")
	keys, err := keyring.New(store, secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	hasher, err := passwords.New(passwords.Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	srv, err := server.New(server.Config{
		Issuer: issuer, AccessTokenLifetime: time.Hour, IDTokenLifetime: time.Hour,
		RefreshTokenLifetime: time.Hour, CodeLifetime: time.Minute, SessionLifetime: time.Hour,
		Secret: secret, Passwords: hasher,
	}, store, keys)
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)
	now := time.Now().UTC()
	for id, sec := range map[string]string{appID: appSecret, otherID: appSecret, apiID: apiSecret} {
		hash, err := hasher.Hash(sec)
		if err != nil {
			t.Fatal(err)
		}
		err = store.CreateClient(ctx, storage.Client{
			ID: id, SecretHash: hash, Name: id, GrantTypes: []string{"client_credentials"},
			Scopes: []string{testScope, "other"}, CreatedAt: now, UpdatedAt: now,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return issuer, keys
}

// token gets an access token for client id with scope, from Tollgate.
func token(t *testing.T, issuer, id, scope string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, issuer+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, appSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("token for %s: status %d, %v", id, resp.StatusCode, err)
	}
	return body.AccessToken
}

func startAPI(t *testing.T, issuer string) *httptest.Server {
	t.Helper()
	api, err := New(t.Context(), Config{
		Issuer: issuer, Audience: appID, Scope: testScope,
		IntrospectionClientID: apiID, IntrospectionClientSecret: apiSecret,
		CORSOrigin: "http://localhost:5173",
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(api)
	t.Cleanup(ts.Close)
	return ts
}

func call(t *testing.T, method, u, tok string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	b, _ := json.Marshal(body)
	return resp.StatusCode, string(b) + " " + resp.Header.Get("WWW-Authenticate")
}

// sign makes a token with Tollgate's own active key but claims and typ of
// the test's choosing: what a verifier must refuse despite a good signature.
func sign(t *testing.T, keys *keyring.Keyring, typ string, claims map[string]any) string {
	t.Helper()
	k, err := keys.Active(context.Background(), keyring.RS256)
	if err != nil {
		t.Fatal(err)
	}
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", k.ID)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k.Private}, opts)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestLocalVerification(t *testing.T) {
	issuer, keys := tollgate(t)
	api := startAPI(t, issuer)
	good := token(t, issuer, appID, testScope)
	claims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{"iss": issuer, "aud": []string{appID}, "sub": "user-1", "client_id": appID,
			"scope": testScope, "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "jti": rand.Text()}
		edit(c)
		return c
	}
	for _, tc := range []struct {
		name, token string
		status      int
		want        string
	}{
		{"a token from Tollgate", good, http.StatusOK, `"client_id":"` + appID + `"`},
		{"no token", "", http.StatusUnauthorized, "invalid_request"},
		{"garbage", "not.a.jwt", http.StatusUnauthorized, "invalid_token"},
		{"another app's token", token(t, issuer, otherID, testScope), http.StatusUnauthorized, "audience"},
		{"without the scope", token(t, issuer, appID, "other"), http.StatusForbidden, "insufficient_scope"},
		{"crafted, good", sign(t, keys, "at+jwt", claims(func(map[string]any) {})), http.StatusOK, `"sub":"user-1"`},
		{"an ID token (typ JWT)", sign(t, keys, "JWT", claims(func(map[string]any) {})), http.StatusUnauthorized, "not an access token"},
		{"expired", sign(t, keys, "at+jwt", claims(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })), http.StatusUnauthorized, "expired"},
		{"another issuer", sign(t, keys, "at+jwt", claims(func(c map[string]any) { c["iss"] = "https://evil.example" })), http.StatusUnauthorized, "different provider"},
		{"tampered", good[:len(good)-4] + "AAAA", http.StatusUnauthorized, "signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, http.MethodGet, api.URL+"/api/hello", tc.token)
			if status != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("status %d, body %s; want %d with %q", status, body, tc.status, tc.want)
			}
		})
	}
}

// TestRevocation: local verification cannot see a revocation until the
// token expires; the sensitive call, which introspects, refuses it at once.
func TestRevocation(t *testing.T) {
	issuer, _ := tollgate(t)
	api := startAPI(t, issuer)
	tok := token(t, issuer, appID, testScope)
	if status, body := call(t, http.MethodPost, api.URL+"/api/sensitive", tok); status != http.StatusOK {
		t.Fatalf("sensitive before revocation: %d %s", status, body)
	}
	req, _ := http.NewRequest(http.MethodPost, issuer+"/revoke", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(appID, appSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	resp.Body.Close()
	if status, body := call(t, http.MethodPost, api.URL+"/api/sensitive", tok); status != http.StatusUnauthorized || !strings.Contains(body, "revoked") {
		t.Fatalf("sensitive after revocation: %d %s", status, body)
	}
	if status, _ := call(t, http.MethodGet, api.URL+"/api/hello", tok); status != http.StatusOK {
		t.Fatalf("hello after revocation: %d (local verification cannot know)", status)
	}
}

func TestCORSPreflight(t *testing.T) {
	issuer, _ := tollgate(t)
	api := startAPI(t, issuer)
	for origin, want := range map[string]string{"http://localhost:5173": "http://localhost:5173", "https://evil.example": ""} {
		req, _ := http.NewRequest(http.MethodOptions, api.URL+"/api/hello", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin %q, want %q", origin, got, want)
		}
	}
}
