package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// A second rotation right after the first is refused until the next key
// has been published for key_publish_delay, locally and through the API.
func TestKeysRotateTooSoon(t *testing.T) {
	deployments(t, func(t *testing.T, c cli) {
		c.ok(nil, "", "keys", "rotate")
		c.fails(exitFailure, "rotate again in", "", "keys", "rotate")
	})
	t.Run("remote", func(t *testing.T) {
		const token = "remote-admin-token-0123456789abcdefghij"
		issuer := startServeWithKeys(t, filepath.Join(t.TempDir(), "data"), "TOLLGATE_ADMIN_TOKEN="+token)
		c := cli{t, []string{"TOLLGATE_DATA_DIR=" + filepath.Join(t.TempDir(), "none"), "TOLLGATE_TOKEN=" + token}}
		c.ok(nil, "", "--endpoint", issuer, "keys", "rotate")
		c.fails(exitFailure, "rotate again in", "", "--endpoint", issuer, "keys", "rotate")
	})
}

// startServeWithKeys starts serve on a data directory whose first key
// family the CLI made, active and next together, so it may rotate at once.
// A server's own first start makes the next key once serving (see
// TestFirstStartMakesNextKeyOnceServing).
func startServeWithKeys(t *testing.T, dataDir string, environ ...string) string {
	t.Helper()
	cli{t, []string{"TOLLGATE_DATA_DIR=" + dataDir}}.ok(nil, "", "keys", "list")
	return startServe(t, append(environ, "TOLLGATE_DATA_DIR="+dataDir)...)
}

// On a new deployment, serve answers with the active key made and adds the
// next key once serving; that key counts as published from then, so an
// immediate rotation is refused.
func TestFirstStartMakesNextKeyOnceServing(t *testing.T) {
	const token = "remote-admin-token-0123456789abcdefghij"
	issuer := startServe(t, "TOLLGATE_DATA_DIR="+filepath.Join(t.TempDir(), "data"), "TOLLGATE_ADMIN_TOKEN="+token)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var set jose.JSONWebKeySet
		resp, err := http.Get(issuer + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&set)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(set.Keys) == 2 {
			break
		}
		if len(set.Keys) != 1 || time.Now().After(deadline) {
			t.Fatalf("JWKS of a new deployment holds %d keys, want the active one and then the next one too", len(set.Keys))
		}
		time.Sleep(50 * time.Millisecond)
	}
	c := cli{t, []string{"TOLLGATE_DATA_DIR=" + filepath.Join(t.TempDir(), "none"), "TOLLGATE_TOKEN=" + token}}
	c.fails(exitFailure, "rotate again in", "", "--endpoint", issuer, "keys", "rotate")
}
