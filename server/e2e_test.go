package server_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/keyring"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestConfidentialClientSignIn drives a whole sign-in as a server-side app
// would: code + PKCE through the hosted pages, ID token verification with
// go-oidc, userinfo, then refresh.
func TestConfidentialClientSignIn(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		a := newAuthRequest(cfg)
		b := newBrowser(t)

		q := e.fullLogin(b, a)
		tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(a.verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		provider := e.provider()
		rawID, _ := tok.Extra("id_token").(string)
		idt, err := provider.Verifier(&oidc.Config{ClientID: confidentialID}).Verify(ctx, rawID)
		if err != nil {
			t.Fatalf("id token: %v", err)
		}
		if idt.Nonce != a.nonce {
			t.Errorf("nonce = %q, want %q", idt.Nonce, a.nonce)
		}
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			t.Errorf("at_hash: %v", err)
		}
		var claims struct {
			Sub           string   `json:"sub"`
			Email         string   `json:"email"`
			EmailVerified bool     `json:"email_verified"`
			Name          string   `json:"name"`
			AMR           []string `json:"amr"`
			AuthTime      int64    `json:"auth_time"`
		}
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		if claims.Sub != e.user.ID || claims.Email != testEmail || !claims.EmailVerified || claims.Name != "Ada Lovelace" {
			t.Errorf("id token claims = %+v", claims)
		}
		if !slices.Equal(claims.AMR, []string{"pwd"}) || claims.AuthTime == 0 || time.Since(time.Unix(claims.AuthTime, 0)) > time.Minute {
			t.Errorf("amr = %v, auth_time = %d", claims.AMR, claims.AuthTime)
		}
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token for offline_access")
		}

		info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		if info.Subject != e.user.ID || info.Email != testEmail {
			t.Errorf("userinfo = %+v", info)
		}

		// Access token: an RFC 9068 JWT any API can verify from JWKS.
		keySet := oidc.NewRemoteKeySet(ctx, e.issuer+"/.well-known/jwks.json")
		payload, err := keySet.VerifySignature(ctx, tok.AccessToken)
		if err != nil {
			t.Fatalf("access token signature: %v", err)
		}
		for _, want := range []string{`"client_id":"webapp"`, `"sub":"` + e.user.ID + `"`, `"jti":`, `"scope":"openid profile email offline_access"`, `"aud":["webapp"]`, `"iss":"` + e.issuer + `"`} {
			if !strings.Contains(string(payload), want) {
				t.Errorf("access token payload lacks %s: %s", want, payload)
			}
		}
		if typ := jwtHeader(t, tok.AccessToken)["typ"]; typ != "at+jwt" {
			t.Errorf("access token typ = %v, want at+jwt", typ)
		}

		// Refresh rotates the refresh token.
		next, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
			t.Fatal("refresh did not rotate the tokens")
		}
		if e.introspect(next.AccessToken)["active"] != true {
			t.Fatal("refreshed access token is not active")
		}
	})
}

// TestPublicClientPKCE signs in as a public client (no secret, PKCE only) with
// consent skipped, and checks that PKCE is enforced: no challenge, a plain
// challenge, and a wrong verifier are all refused, and a wrong verifier
// spends the code.
func TestPublicClientPKCE(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cfg := e.oauthConfig(publicID, "")
		cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		b := newBrowser(t)

		// No code_challenge at all: refused, back at the client with an error.
		p := b.get(cfg.AuthCodeURL(randString(), oidc.Nonce(randString())))
		if q := callback(t, p, e.issuer); q.Get("error") != "invalid_request" || q.Get("code") != "" {
			t.Fatalf("missing PKCE: callback %v", q)
		}
		// plain is not offered.
		p = b.get(cfg.AuthCodeURL(randString(), oauth2.SetAuthURLParam("code_challenge", strings.Repeat("a", 43)), oauth2.SetAuthURLParam("code_challenge_method", "plain")))
		if q := callback(t, p, e.issuer); q.Get("error") == "" || q.Get("code") != "" {
			t.Fatalf("plain PKCE: callback %v", q)
		}

		a := newAuthRequest(cfg)
		q := e.fullLogin(b, a)
		if _, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
			t.Fatal("a wrong code_verifier was accepted")
		}
		// The failed attempt consumed the challenge: no second guess.
		if _, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(a.verifier)); err == nil {
			t.Fatal("a code was redeemed after a wrong code_verifier")
		}

		a = newAuthRequest(cfg)
		p = b.get(a.url) // signed in and consent skipped: straight back
		q = callback(t, p, e.issuer)
		tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(a.verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if tok.RefreshToken == "" {
			t.Fatal("public client got no refresh token")
		}
		next, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil || next.RefreshToken == tok.RefreshToken {
			t.Fatalf("public refresh: %v", err)
		}
	})
}

// TestRefreshReuseRevokesFamily: using a rotated refresh token revokes every
// token of the grant (RFC 9700 §4.14.2).
func TestRefreshReuseRevokesFamily(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		tok := e.signIn(cfg)
		next, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatal(err)
		}
		status, body, _ := e.tokenRequest(confidentialID, confidentialKey, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
		if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("reuse: %d %v", status, body)
		}
		if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: next.RefreshToken}).Token(); err == nil {
			t.Fatal("the newest refresh token of a reused family still works")
		}
		for _, at := range []string{tok.AccessToken, next.AccessToken} {
			if got := e.introspect(at); got["active"] != false {
				t.Fatalf("access token of a revoked family is active: %v", got)
			}
		}
		if _, err := e.provider().UserInfo(ctx, oauth2.StaticTokenSource(next)); err == nil {
			t.Fatal("userinfo accepted a revoked access token")
		}
	})
}

// TestCodeReuseRevokesTokens: a code is single use, and its second use revokes
// the tokens the first use issued (RFC 6749 §4.1.2).
func TestCodeReuseRevokesTokens(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		a := newAuthRequest(cfg)
		q := e.fullLogin(newBrowser(t), a)
		tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(a.verifier))
		if err != nil {
			t.Fatal(err)
		}
		status, body, hdr := e.tokenRequest(confidentialID, confidentialKey, url.Values{
			"grant_type": {"authorization_code"}, "code": {q.Get("code")},
			"redirect_uri": {callbackURL}, "code_verifier": {a.verifier},
		})
		if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("code reuse: %d %v", status, body)
		}
		if hdr.Get("Cache-Control") != "no-store" {
			t.Errorf("token error Cache-Control = %q", hdr.Get("Cache-Control"))
		}
		if e.introspect(tok.AccessToken)["active"] != false {
			t.Fatal("access token from a reused code is still active")
		}
		if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
			t.Fatal("refresh token from a reused code still works")
		}
	})
}

// TestConcurrentRedemption: of 50 parallel redemptions of one code, and of 50
// parallel uses of one refresh token, exactly one succeeds. The losers count
// as reuse, so the winner's tokens may be revoked afterwards; that is the
// point of reuse detection and is checked in the reuse tests.
func TestConcurrentRedemption(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		b := newBrowser(t)
		a := newAuthRequest(cfg)
		q := e.fullLogin(b, a)
		form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {callbackURL}, "code_verifier": {a.verifier}}
		if n := parallel(50, func() (bool, map[string]any) {
			status, body, _ := e.tokenRequest(confidentialID, confidentialKey, cloneValues(form))
			if status >= 500 {
				t.Errorf("concurrent code redemption got %d %v", status, body)
			}
			return status == http.StatusOK, body
		}); n != 1 {
			t.Fatalf("%d of 50 concurrent code redemptions succeeded, want 1", n)
		}

		// A second sign-in (single sign-on, consent remembered) for a refresh
		// token nobody else has touched.
		a = newAuthRequest(cfg)
		p := b.get(a.url)
		q = callback(t, p, e.issuer)
		tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(a.verifier))
		if err != nil {
			t.Fatal(err)
		}
		rf := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
		if n := parallel(50, func() (bool, map[string]any) {
			status, body, _ := e.tokenRequest(confidentialID, confidentialKey, cloneValues(rf))
			if status >= 500 {
				t.Errorf("concurrent refresh got %d %v", status, body)
			}
			return status == http.StatusOK, body
		}); n != 1 {
			t.Fatalf("%d of 50 concurrent refreshes succeeded, want 1", n)
		}
	})
}

func cloneValues(v url.Values) url.Values {
	c := url.Values{}
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// parallel runs fn n times at once and returns how many succeeded.
func parallel(n int, fn func() (bool, map[string]any)) int {
	var wg sync.WaitGroup
	var ok atomic.Int32
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			if success, _ := fn(); success {
				ok.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	return int(ok.Load())
}

// TestES256AccessTokens: with access_token_signing_alg ES256, access tokens
// are ES256 JWTs verifiable from JWKS, ID tokens stay RS256, and
// introspection, userinfo and refresh work as before.
func TestES256AccessTokens(t *testing.T) {
	backendsWith(t, keyring.ES256, func(t *testing.T, e *env) {
		ctx := context.Background()
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		tok := e.signIn(cfg)
		if alg := jwtHeader(t, tok.AccessToken)["alg"]; alg != "ES256" {
			t.Fatalf("access token alg %v", alg)
		}
		rawID, _ := tok.Extra("id_token").(string)
		if alg := jwtHeader(t, rawID)["alg"]; alg != "RS256" {
			t.Fatalf("ID token alg %v", alg)
		}
		if _, err := e.provider().Verifier(&oidc.Config{ClientID: confidentialID}).Verify(ctx, rawID); err != nil {
			t.Fatalf("ID token: %v", err)
		}
		if _, err := oidc.NewRemoteKeySet(ctx, e.issuer+"/.well-known/jwks.json").VerifySignature(ctx, tok.AccessToken); err != nil {
			t.Fatalf("access token against JWKS: %v", err)
		}
		if e.introspect(tok.AccessToken)["active"] != true {
			t.Fatal("introspection refuses an ES256 access token")
		}
		info, err := e.provider().UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil || info.Subject != e.user.ID {
			t.Fatalf("userinfo: %v %v", info, err)
		}
		if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
			t.Fatalf("refresh: %v", err)
		}
	})
}
