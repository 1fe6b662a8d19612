package storagetest

import (
	"testing"
	"time"

	"github.com/tollgate/tollgate/storage"
)

func newKey(id string, state storage.KeyState, created time.Time) storage.SigningKey {
	return storage.SigningKey{
		ID: id, Algorithm: "RS256", State: state,
		PrivateKey: []byte("sealed:" + id + "\x00\xff"),
		PublicJWK:  []byte(`{"kty":"RSA","kid":"` + id + `"}`),
		CreatedAt:  created,
	}
}

func testKeyCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	base := now().Add(-time.Hour)
	// Created out of order: the list must come back oldest first, and by
	// kid where two keys share a creation time.
	k3 := newKey("kid-3", storage.KeyNext, base.Add(2*time.Minute))
	k1 := newKey("kid-1", storage.KeyRetired, base)
	k1.RetiresAt = base.Add(2 * time.Hour)
	k2b := newKey("kid-2b", storage.KeyActive, base.Add(time.Minute))
	k2a := newKey("kid-2a", storage.KeyRetired, base.Add(time.Minute))
	k2a.Algorithm = "ES256"

	keys, err := s.ListKeys(ctx)
	mustNil(t, "list empty", err)
	equal(t, "list empty", keys, nil)
	for _, k := range []storage.SigningKey{k3, k1, k2b, k2a} {
		mustNil(t, "create "+k.ID, s.CreateKey(ctx, k))
	}
	mustIs(t, "create duplicate", s.CreateKey(ctx, newKey("kid-1", storage.KeyNext, now())), storage.ErrAlreadyExists)

	keys, err = s.ListKeys(ctx)
	mustNil(t, "list", err)
	equal(t, "list", keys, []storage.SigningKey{k1, k2a, k2b, k3})

	mustNil(t, "delete", s.DeleteKey(ctx, k2a.ID))
	mustIs(t, "delete again", s.DeleteKey(ctx, k2a.ID), storage.ErrNotFound)
	keys, err = s.ListKeys(ctx)
	mustNil(t, "list after delete", err)
	equal(t, "list after delete", keys, []storage.SigningKey{k1, k2b, k3})
}

func testKeyUpdate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	k := newKey("kid-u", storage.KeyActive, now())
	mustNil(t, "create", s.CreateKey(ctx, k))

	want := k
	want.State, want.RetiresAt = storage.KeyRetired, now().Add(time.Hour)
	err := s.UpdateKey(ctx, k.ID, func(old storage.SigningKey) (storage.SigningKey, error) {
		equal(t, "closure input", old, k)
		old.State, old.RetiresAt = want.State, want.RetiresAt
		return old, nil
	})
	mustNil(t, "update", err)
	keys, err := s.ListKeys(ctx)
	mustNil(t, "list", err)
	equal(t, "list after update", keys, []storage.SigningKey{want})

	err = s.UpdateKey(ctx, k.ID, func(old storage.SigningKey) (storage.SigningKey, error) {
		old.State = storage.KeyActive
		return old, errAbort
	})
	mustIs(t, "update with failing closure", err, errAbort)
	keys, err = s.ListKeys(ctx)
	mustNil(t, "list", err)
	equal(t, "list after aborted update", keys, []storage.SigningKey{want})

	err = s.UpdateKey(ctx, "no-such-kid", func(old storage.SigningKey) (storage.SigningKey, error) {
		t.Error("update missing: the closure was called")
		return old, nil
	})
	mustIs(t, "update missing", err, storage.ErrNotFound)
}
