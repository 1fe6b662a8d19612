package keyring_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

var secret = []byte("keyring-test-secret-0123456789-abcdefghij")

func newKeyring(t *testing.T, store keyring.Store, s []byte) *keyring.Keyring {
	t.Helper()
	k, err := keyring.New(store, s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Private keys are stored encrypted, and only the system secret opens them.
func TestKeysEncryptedAtRest(t *testing.T) {
	ctx := context.Background()
	store := testbackend.SQLite(t)
	k := newKeyring(t, store, secret)
	if err := k.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	active, err := k.Active(ctx)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(active.Private)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := store.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stored {
		if bytes.Contains(s.PrivateKey, der[len(der)-64:]) {
			t.Fatalf("key %s is stored in the clear", s.ID)
		}
	}
	other := newKeyring(t, store, []byte("a-different-secret-0123456789-abcdefghij"))
	if _, err := other.Active(ctx); err == nil || !strings.Contains(err.Error(), "system secret") {
		t.Fatalf("another secret opened the keys: %v", err)
	}
	if _, err := keyring.New(store, []byte("short")); err == nil {
		t.Fatal("a short system secret was accepted")
	}
}

// Ensure creates an active key and a published successor; rotation promotes
// the successor, keeps the old key published for the retention, and JWKS
// never carries private material.
func TestRotation(t *testing.T) {
	ctx := context.Background()
	store := testbackend.SQLite(t)
	k := newKeyring(t, store, secret)
	if err := k.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if err := k.Ensure(ctx); err != nil { // idempotent
		t.Fatal(err)
	}
	states := func() map[storage.KeyState][]string {
		keys, err := store.ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[storage.KeyState][]string{}
		for _, key := range keys {
			m[key.State] = append(m[key.State], key.ID)
		}
		return m
	}
	before := states()
	if len(before[storage.KeyActive]) != 1 || len(before[storage.KeyNext]) != 1 || len(before[storage.KeyRetired]) != 0 {
		t.Fatalf("after Ensure: %v", before)
	}
	if err := k.Rotate(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	after := states()
	if after[storage.KeyActive][0] != before[storage.KeyNext][0] || after[storage.KeyRetired][0] != before[storage.KeyActive][0] || len(after[storage.KeyNext]) != 1 {
		t.Fatalf("rotation: before %v, after %v", before, after)
	}
	active, err := k.Active(ctx)
	if err != nil || active.ID != before[storage.KeyNext][0] {
		t.Fatalf("signing with %v (%v), want the promoted key %s", active.ID, err, before[storage.KeyNext][0])
	}
	set, err := k.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 3 {
		t.Fatalf("JWKS has %d keys, want next, active and retired", len(set.Keys))
	}
	raw, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	for _, private := range []string{`"d"`, `"p"`, `"q"`, `"dp"`, `"dq"`, `"qi"`} {
		if bytes.Contains(raw, []byte(private+":")) {
			t.Fatalf("JWKS carries private member %s", private)
		}
	}
	for _, key := range set.Keys {
		if key.KeyID == "" || key.Use != "sig" || key.Algorithm != "RS256" {
			t.Fatalf("JWK without kid/use/alg: %+v", key)
		}
	}
	if _, err := k.Lookup(ctx, before[storage.KeyActive][0]); err != nil {
		t.Fatalf("retired key no longer found: %v", err)
	}
	if _, err := k.Lookup(ctx, "nope"); err == nil {
		t.Fatal("unknown kid found")
	}
}
