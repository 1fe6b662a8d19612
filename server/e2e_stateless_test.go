package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/passwords"
	"github.com/tollgate/tollgate/server/admin"
	"github.com/tollgate/tollgate/storage"
)

// addM2MClient registers a confidential client_credentials client.
func (e *env) addM2MClient(id, secret string, scopes ...string) {
	e.t.Helper()
	hasher, err := passwords.New(fastArgon)
	if err != nil {
		e.t.Fatal(err)
	}
	hash, err := hasher.Hash(secret)
	if err != nil {
		e.t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := e.store.CreateClient(context.Background(), storage.Client{
		ID: id, SecretHash: hash, Name: "M2M " + id, GrantTypes: []string{"client_credentials"},
		Scopes: scopes, CreatedAt: now, UpdatedAt: now,
	}); err != nil {
		e.t.Fatal(err)
	}
}

// clientToken gets a client_credentials access token.
func (e *env) clientToken(id, secret, scope string) string {
	e.t.Helper()
	status, body, _ := e.tokenRequest(id, secret, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}})
	tok, _ := body["access_token"].(string)
	if status != http.StatusOK || tok == "" {
		e.t.Fatalf("client_credentials: %d %v", status, body)
	}
	return tok
}

// introspectWithHeaders introspects as the confidential client, from any
// goroutine (it reports no failure through t).
func introspectWithHeaders(e *env, token string) (int, map[string]any, http.Header) {
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(confidentialID, confidentialKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, map[string]any{"error": err.Error()}, nil
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body, resp.Header
}

// revokeAs calls the RFC 7009 endpoint as a client.
func (e *env) revokeAs(id, secret, token string) int {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/revoke", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestStatelessClientCredentials: a client_credentials access token is not
// stored, yet introspection finds it active with its client, scope and
// audience; it works as an admin bearer; RFC 7009 revocation (by its own
// client only) makes it inactive everywhere; so does deleting its client;
// and a tampered token is never active.
func TestStatelessClientCredentials(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		const id, secret = "m2m", "m2m-secret-0123456789abcdefghijklmnop"
		e.addM2MClient(id, secret, "api:read", admin.Scope)

		tok := e.clientToken(id, secret, "api:read")
		parts := strings.Split(tok, ".")
		if _, err := e.store.GetToken(ctx, storage.KindAccessToken, parts[2]); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("a client_credentials token was stored: %v", err)
		}
		got := e.introspect(tok)
		if got["active"] != true || got["client_id"] != id || got["scope"] != "api:read" || got["exp"] == nil || got["iat"] == nil {
			t.Fatalf("introspection of a stateless token: %v", got)
		}
		if aud, _ := got["aud"].([]any); len(aud) != 1 || aud[0] != id {
			t.Fatalf("audience: %v", got["aud"])
		}
		if _, ok := got["sub"]; ok {
			t.Fatalf("a client's own token has no user: %v", got)
		}

		// Tampering with the claims breaks the signature.
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		forged := strings.Replace(string(payload), `"api:read"`, `"`+admin.Scope+`"`, 1)
		if forged == string(payload) {
			t.Fatalf("no scope to tamper with in %s", payload)
		}
		tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2]
		if got := e.introspect(tampered); got["active"] != false {
			t.Fatalf("tampered token: %v", got)
		}

		// As a bearer of the admin API: the scope is checked, and the
		// token stops working once revoked.
		if status, _, _ := e.adminCall(tok, "GET", "/clients", nil); status != http.StatusForbidden {
			t.Fatalf("admin call without the admin scope: %d", status)
		}
		adminTok := e.clientToken(id, secret, admin.Scope)
		if status, body, _ := e.adminCall(adminTok, "GET", "/clients", nil); status != http.StatusOK {
			t.Fatalf("admin call with a stateless admin token: %d %v", status, body)
		}
		// Another client may not revoke it.
		e.revokeAs(confidentialID, confidentialKey, adminTok)
		if got := e.introspect(adminTok); got["active"] != true {
			t.Fatalf("another client revoked the token: %v", got)
		}
		if status := e.revokeAs(id, secret, adminTok); status != http.StatusOK {
			t.Fatalf("revoke: %d", status)
		}
		if got := e.introspect(adminTok); got["active"] != false {
			t.Fatalf("revoked token is active: %v", got)
		}
		if status, _, _ := e.adminCall(adminTok, "GET", "/clients", nil); status != http.StatusUnauthorized {
			t.Fatalf("admin call with a revoked token: %d", status)
		}
		// Revoking it again, or revoking garbage, is fine (RFC 7009 §2.2).
		if status := e.revokeAs(id, secret, adminTok); status != http.StatusOK {
			t.Fatalf("second revocation: %d", status)
		}
		if got := e.introspect(tok); got["active"] != true {
			t.Fatalf("revoking one token revoked another: %v", got)
		}

		// Deleting the client ends its tokens.
		if status, body, _ := e.adminCall(adminToken, "DELETE", "/clients/"+id, nil); status != http.StatusNoContent {
			t.Fatalf("delete client: %d %v", status, body)
		}
		if got := e.introspect(tok); got["active"] != false {
			t.Fatalf("token of a deleted client is active: %v", got)
		}
	})
}

// TestStatelessTokenRevokedOnEveryReplica: the revocation of a stateless
// token made on one replica holds on another that verified (and cached)
// the token before.
func TestStatelessTokenRevokedOnEveryReplica(t *testing.T) {
	replicas := startReplicas(t, 2, nil)
	a, b := replicas[0], replicas[1]
	const id, secret = "m2m", "m2m-secret-0123456789abcdefghijklmnop"
	a.addM2MClient(id, secret, "api:read")
	tok := a.clientToken(id, secret, "api:read")
	if got := b.introspect(tok); got["active"] != true {
		t.Fatalf("other replica: %v", got)
	}
	if status := a.revokeAs(id, secret, tok); status != http.StatusOK {
		t.Fatalf("revoke: %d", status)
	}
	for i, r := range replicas {
		if got := r.introspect(tok); got["active"] != false {
			t.Fatalf("replica %d finds the revoked token active: %v", i, got)
		}
	}
}
