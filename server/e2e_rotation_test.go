package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/server"
)

// TestKeyRotationUnderTrafficAcrossReplicas: two replicas on one database,
// each caching its keys for two seconds; an admin rotates the keys through
// the first replica as fast as the API lets them, while clients get access and
// ID tokens from both replicas. Every token is checked against the OTHER
// replica: by go-oidc's RemoteKeySet and ID token verifier on that
// replica's JWKS (as an API or a relying party would), and by that
// replica's introspection. Not one check may fail. Rotations inside the
// publish delay are refused with 409 rotation_too_soon.
func TestKeyRotationUnderTrafficAcrossReplicas(t *testing.T) {
	const cache, publish, wantRotations = 2 * time.Second, 2500 * time.Millisecond, 3
	replicas := startReplicas(t, 2, func(int) ([]keyring.Option, func(*server.Config)) {
		return []keyring.Option{keyring.WithCachePeriod(cache), keyring.WithPublishDelay(publish)}, nil
	})
	ctx := context.Background()

	type verifier struct {
		keys *oidc.RemoteKeySet
		id   *oidc.IDTokenVerifier
	}
	verifiers := make([]verifier, len(replicas))
	for i, r := range replicas {
		ks := oidc.NewRemoteKeySet(ctx, r.issuer+"/.well-known/jwks.json")
		verifiers[i] = verifier{ks, oidc.NewVerifier(replicas[0].issuer, ks, &oidc.Config{ClientID: confidentialID})}
	}

	// One refresh chain per replica, started by a sign-in (through the
	// first replica, which serves the issuer's pages).
	refresh := make([]string, len(replicas))
	for i := range replicas {
		refresh[i] = replicas[0].signIn(replicas[0].oauthConfig(confidentialID, confidentialKey)).RefreshToken
	}

	var (
		checked, failed atomic.Int64
		mu              sync.Mutex
		failures        []string
		kids            = map[string]bool{}
	)
	fail := func(format string, args ...any) {
		failed.Add(1)
		mu.Lock()
		if len(failures) < 10 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
		mu.Unlock()
	}
	check := func(from, at int, kind, token string) {
		checked.Add(1)
		mu.Lock()
		kids[fmt.Sprint(jwtHeaderOf(token)["kid"])] = true
		mu.Unlock()
		v := verifiers[at]
		var err error
		if kind == "ID token" {
			_, err = v.id.Verify(ctx, token)
		} else {
			_, err = v.keys.VerifySignature(ctx, token)
		}
		if err != nil {
			fail("%s from replica %d, verified on replica %d's JWKS: %v", kind, from, at, err)
		}
		if kind == "access token" {
			if active, err := introspectAt(replicas[at].issuer, token); err != nil || !active {
				fail("access token from replica %d, introspected at replica %d: active=%v %v", from, at, active, err)
			}
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range replicas {
		other := (i + 1) % len(replicas)
		wg.Go(func() { // client credentials
			for {
				select {
				case <-stop:
					return
				default:
				}
				tok, err := tokenAt(replicas[i].issuer, url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}})
				if err != nil {
					fail("client credentials at replica %d: %v", i, err)
					continue
				}
				check(i, other, "access token", tok.AccessToken)
			}
		})
		wg.Go(func() { // refresh: a new access token and ID token each time
			for {
				select {
				case <-stop:
					return
				default:
				}
				tok, err := tokenAt(replicas[i].issuer, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh[i]}})
				if err != nil {
					fail("refresh at replica %d: %v", i, err)
					return // the chain is broken
				}
				refresh[i] = tok.RefreshToken
				check(i, other, "access token", tok.AccessToken)
				id, _ := tok.Extra("id_token").(string)
				check(i, other, "ID token", id)
			}
		})
	}

	var rotations, refused int
	deadline := time.Now().Add(30 * time.Second)
	for rotations < wantRotations && time.Now().Before(deadline) {
		time.Sleep(150 * time.Millisecond)
		status, body, header := replicas[0].adminCall(adminToken, http.MethodPost, "/keys/rotate", nil)
		switch {
		case status == http.StatusOK:
			rotations++
		case status == http.StatusConflict && body["error"] == "rotation_too_soon" && header.Get("Retry-After") != "":
			refused++
		default:
			t.Errorf("rotate: %d %v", status, body)
		}
	}
	// Let tokens signed with the last key reach the verifiers too.
	time.Sleep(2 * cache)
	close(stop)
	wg.Wait()

	if rotations < wantRotations || refused == 0 {
		t.Errorf("%d rotations, %d refused as too soon: want %d rotations and some refusals", rotations, refused, wantRotations)
	}
	if n := len(kids); n < wantRotations {
		t.Errorf("tokens were signed with %d keys over %d rotations", n, rotations)
	}
	if failed.Load() > 0 || checked.Load() < 50 {
		t.Fatalf("%d of %d checks failed:\n%s", failed.Load(), checked.Load(), strings.Join(failures, "\n"))
	}
	t.Logf("%d tokens checked across %d rotations (%d refused as too soon), signed with %d keys", checked.Load(), rotations, refused, len(kids))
}

// tokenAt posts a token request to the replica at base as the confidential
// client; it never calls t.Fatal, so goroutines may use it.
func tokenAt(base string, form url.Values) (*oauth2.Token, error) {
	req, _ := http.NewRequest(http.MethodPost, base+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(confidentialID, confidentialKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %v", resp.StatusCode, body)
	}
	access, _ := body["access_token"].(string)
	refresh, _ := body["refresh_token"].(string)
	tok := &oauth2.Token{AccessToken: access, RefreshToken: refresh}
	return tok.WithExtra(body), nil
}

// introspectAt asks the replica at base whether token is active.
func introspectAt(base, token string) (bool, error) {
	req, _ := http.NewRequest(http.MethodPost, base+"/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(confidentialID, confidentialKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("status %d: %v", resp.StatusCode, body)
	}
	return body["active"] == true, nil
}

// jwtHeaderOf decodes a JWT's header, or returns nil.
func jwtHeaderOf(token string) map[string]any {
	head, _, _ := strings.Cut(token, ".")
	raw, err := base64URL(head)
	if err != nil {
		return nil
	}
	var h map[string]any
	_ = json.Unmarshal(raw, &h)
	return h
}

func base64URL(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
