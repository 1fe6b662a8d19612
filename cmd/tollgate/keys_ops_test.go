package main

import (
	"path/filepath"
	"testing"
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
		issuer := startServe(t, "TOLLGATE_DATA_DIR="+filepath.Join(t.TempDir(), "data"), "TOLLGATE_ADMIN_TOKEN="+token)
		c := cli{t, []string{"TOLLGATE_DATA_DIR=" + filepath.Join(t.TempDir(), "none"), "TOLLGATE_TOKEN=" + token}}
		c.ok(nil, "", "--endpoint", issuer, "keys", "rotate")
		c.fails(exitFailure, "rotate again in", "", "--endpoint", issuer, "keys", "rotate")
	})
}
