package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TestLogsCarryRequestIDsAndNoSecrets drives a full run (a failed and a
// good sign-in, code exchange, refresh, introspection, revocation, client
// credentials, admin calls) and then reads every log line: each one written
// while serving a request names its request ID, a caller's X-Request-ID is
// kept, and no password, secret, code or token appears anywhere.
func TestLogsCarryRequestIDsAndNoSecrets(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		b := newBrowser(t)
		a := newAuthRequest(cfg)
		p := b.get(a.url)
		action, form := p.form(t, "password")
		form.Set("email", testEmail)
		form.Set("password", "a wrong password guess")
		req, _ := http.NewRequest(http.MethodPost, action, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Request-ID", "caller-trace-42")
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("X-Request-ID") != "caller-trace-42" {
			t.Fatalf("X-Request-ID echoed as %q", resp.Header.Get("X-Request-ID"))
		}
		p = b.consent(b.signIn(b.get(a.url), testEmail, testPassword), "allow", true)
		q := callback(t, p, e.issuer)
		tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(a.verifier))
		if err != nil {
			t.Fatal(err)
		}
		next, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatal(err)
		}
		_ = e.introspect(next.AccessToken)
		if status, _, _ := e.tokenRequest(confidentialID, confidentialKey, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}); status != http.StatusBadRequest {
			t.Fatalf("reuse: %d", status)
		}
		cc, err := (&clientcredentials.Config{ClientID: confidentialID, ClientSecret: confidentialKey, TokenURL: e.issuer + "/token", Scopes: []string{"api:read"}}).Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		e.adminCall(adminToken, "GET", "/clients", nil)
		e.adminCall("a-wrong-admin-token-value", "GET", "/clients", nil)
		// A junk X-Request-ID is replaced, never logged.
		req, _ = http.NewRequest(http.MethodGet, e.issuer+"/healthz", nil)
		req.Header.Set("X-Request-ID", `bad id {"level":"forged"}`)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Request-ID"); got == "" || strings.ContainsAny(got, " \n{") {
			t.Fatalf("junk X-Request-ID answered with %q", got)
		}

		logs := e.logs.String()
		for name, secret := range map[string]string{
			"password": testPassword, "wrong password": "a wrong password guess", "client secret": confidentialKey,
			"admin token": adminToken, "wrong admin token": "a-wrong-admin-token-value", "code": q.Get("code"),
			"access token": tok.AccessToken, "refresh token": tok.RefreshToken, "rotated refresh token": next.RefreshToken,
			"ID token": tok.Extra("id_token").(string), "client credentials token": cc.AccessToken, "PKCE verifier": a.verifier,
		} {
			if strings.Contains(logs, secret) {
				t.Errorf("the logs contain the %s", name)
			}
		}
		var traced bool
		lines := strings.Split(strings.TrimSpace(logs), "\n")
		if len(lines) < 3 {
			t.Fatalf("expected log lines for the failed sign-in, the sign-in and the reuse, got:\n%s", logs)
		}
		for _, line := range lines {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("not a JSON log line: %q", line)
			}
			id, _ := rec["request_id"].(string)
			if id == "" {
				t.Errorf("log line without a request_id: %s", line)
			}
			traced = traced || (id == "caller-trace-42" && rec["msg"] == "sign-in failed")
		}
		if !traced {
			t.Errorf("the failed sign-in was not logged under the caller's request ID:\n%s", logs)
		}
	})
}
