package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/backend"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// openURLs migrates and opens the storage the URLs name.
func openURLs(t *testing.T, dbURL, redisURL string) storage.Store {
	t.Helper()
	ctx := context.Background()
	if err := backend.Migrate(ctx, dbURL); err != nil {
		t.Fatal(err)
	}
	store, err := backend.Open(ctx, dbURL, redisURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// TestPostgresRestartUnderLoad: while PostgreSQL restarts, requests get 503
// with Retry-After, never another 5xx and never a success that was not
// stored; the pool recovers by itself; a refresh token tried during the
// outage still works once afterwards, and only once. The load is
// introspection, which must check the revocation list (in PostgreSQL here)
// on every call: client_credentials tokens are stateless, and need no
// database while their client's registration is cached.
func TestPostgresRestartUnderLoad(t *testing.T) {
	pg := testbackend.StartPostgres(t)
	e := newEnvWith(t, "own postgres", openURLs(t, pg.URL(), ""), keyring.RS256)
	ctx := context.Background()
	cfg := e.oauthConfig(confidentialID, confidentialKey)
	tok := e.signIn(cfg)

	var stop atomic.Bool
	var ok, unavailable atomic.Int64
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for !stop.Load() {
				status, body, hdr := introspectWithHeaders(e, tok.AccessToken)
				switch {
				case status == http.StatusOK && body["active"] == true:
					ok.Add(1)
				case status == http.StatusServiceUnavailable && hdr.Get("Retry-After") != "":
					unavailable.Add(1)
				default:
					t.Errorf("during the restart: %d %v", status, body)
					return
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	pg.Stop()
	// With the database down, a refresh is refused as unavailable: it was
	// not stored, so it must not look like a success.
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
	if status, body, hdr := e.tokenRequest(confidentialID, confidentialKey, refresh); status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Errorf("refresh with the database down: %d %v", status, body)
	}
	time.Sleep(300 * time.Millisecond)
	pg.Start()
	// The pool reconnects by itself.
	deadline := time.Now().Add(20 * time.Second)
	for before := ok.Load(); ok.Load() <= before; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no request succeeded after PostgreSQL came back")
		}
	}
	stop.Store(true)
	wg.Wait()
	if unavailable.Load() == 0 {
		t.Error("no request saw the outage; the test did not test it")
	}
	// The refresh token tried during the outage is intact: it works once,
	// and its successor is the only live one (no forked family).
	next, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh after recovery: %v", err)
	}
	if status, _, _ := e.tokenRequest(confidentialID, confidentialKey, refresh); status != http.StatusBadRequest {
		t.Fatalf("second use of the refresh token: %d", status)
	}
	_ = next
	if resp, err := http.Get(e.issuer + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz after recovery: %v %v", resp, err)
	}
}

// TestRedisFaults: with Redis stopped, restarted empty, or flushed, a
// revoked access token is never reported active, and everything recovers
// without a restart of Tollgate.
func TestRedisFaults(t *testing.T) {
	rd := testbackend.StartRedis(t)
	e := newEnvWith(t, "own redis", openURLs(t, testbackend.PostgresURL(t), rd.URL()), keyring.RS256)
	cfg := e.oauthConfig(confidentialID, confidentialKey)
	revoked, live := e.signIn(cfg), e.signIn(cfg)
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/revoke", strings.NewReader(url.Values{"token": {revoked.AccessToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(confidentialID, confidentialKey)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %v %v", resp, err)
	}

	check := func(phase string, mayBeUnavailable bool) {
		t.Helper()
		for _, tc := range []struct {
			token  string
			active bool
		}{{revoked.AccessToken, false}, {live.AccessToken, true}} {
			status, body := e.introspectStatus(tc.token)
			if status == http.StatusServiceUnavailable && mayBeUnavailable {
				continue
			}
			if status != http.StatusOK || body["active"] != tc.active {
				t.Errorf("%s: introspection of a token that should be active=%v: %d %v", phase, tc.active, status, body)
			}
		}
	}
	check("Redis up", false)
	rd.Stop()
	check("Redis down", true)
	rd.Start()
	check("Redis back, empty", false)
	rd.FlushAll()
	check("Redis flushed", false)
}
