package keyring_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
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
	active, err := k.Active(ctx, keyring.RS256)
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
	if _, err := other.Active(ctx, keyring.RS256); err == nil || !strings.Contains(err.Error(), "system secret") {
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
	active, err := k.Active(ctx, keyring.RS256)
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

// Each algorithm has its own family: an active key, a published next key,
// and rotation moves every family at once.
func TestFamiliesPerAlgorithm(t *testing.T) {
	ctx := context.Background()
	store := testbackend.SQLite(t)
	k, err := keyring.New(store, secret, keyring.WithAlgorithms(keyring.RS256, keyring.ES256, keyring.RS256))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	count := func() map[string]int {
		keys, err := store.ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]int{}
		for _, key := range keys {
			m[key.Algorithm+" "+string(key.State)]++
		}
		return m
	}
	want := map[string]int{"RS256 active": 1, "RS256 next": 1, "ES256 active": 1, "ES256 next": 1}
	if got := count(); !maps.Equal(got, want) {
		t.Fatalf("after Ensure: %v", got)
	}
	es, err := k.Active(ctx, keyring.ES256)
	if err != nil || es.Algorithm != keyring.ES256 {
		t.Fatalf("active ES256 key: %+v %v", es, err)
	}
	if err := k.Rotate(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	want = map[string]int{"RS256 active": 1, "RS256 next": 1, "RS256 retired": 1, "ES256 active": 1, "ES256 next": 1, "ES256 retired": 1}
	if got := count(); !maps.Equal(got, want) {
		t.Fatalf("after Rotate: %v", got)
	}
	if _, err := keyring.New(store, secret, keyring.WithAlgorithms("HS256")); err == nil {
		t.Fatal("a symmetric algorithm was accepted")
	}
}

// Replicas starting together on an empty database, or all running the
// rotation schedule, end with one family of keys, rotated once.
func TestConcurrentReplicas(t *testing.T) {
	ctx := context.Background()
	store := testbackend.Postgres(t)
	replicas := make([]*keyring.Keyring, 4)
	for i := range replicas {
		replicas[i] = newKeyring(t, store, secret)
	}
	states := func() map[storage.KeyState]int {
		keys, err := store.ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[storage.KeyState]int{}
		for _, k := range keys {
			m[k.State]++
		}
		return m
	}
	var wg sync.WaitGroup
	for _, k := range replicas {
		wg.Go(func() {
			if err := k.Ensure(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := states(); got[storage.KeyActive] != 1 || got[storage.KeyNext] != 1 {
		t.Fatalf("after concurrent Ensure: %v", got)
	}

	// Age the keys past the rotation interval; then the schedule fires on
	// every replica at once: exactly one rotates.
	keys, err := store.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		err := store.UpdateKey(ctx, k.ID, func(cur storage.SigningKey) (storage.SigningKey, error) {
			cur.CreatedAt = cur.CreatedAt.Add(-2 * time.Hour)
			return cur, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var rotations atomic.Int32
	for _, k := range replicas {
		wg.Go(func() {
			rotated, err := k.RotateIfOlder(ctx, time.Hour, time.Hour)
			if err != nil {
				t.Error(err)
			}
			if rotated {
				rotations.Add(1)
			}
		})
	}
	wg.Wait()
	if got := states(); rotations.Load() != 1 || got[storage.KeyActive] != 1 || got[storage.KeyNext] != 1 || got[storage.KeyRetired] != 1 {
		t.Fatalf("after a scheduled rotation on every replica: %d rotations, %v", rotations.Load(), got)
	}
	if rotated, err := replicas[0].RotateIfOlder(ctx, time.Hour, time.Hour); err != nil || rotated {
		t.Fatalf("young keys were rotated: %v %v", rotated, err)
	}
}
