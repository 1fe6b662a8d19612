package storagetest

import (
	"testing"
	"time"

	"github.com/tollgate/tollgate/storage"
)

func isRevoked(t *testing.T, s storage.Store, jti string, want bool) {
	t.Helper()
	got, err := s.IsRevoked(t.Context(), jti)
	mustNil(t, "is revoked", err)
	if got != want {
		t.Fatalf("IsRevoked(%s) = %v, want %v", jti, got, want)
	}
}

func testRevocation(t *testing.T, s storage.Store) {
	ctx := t.Context()
	jti, other := unique("jti"), unique("jti")
	isRevoked(t, s, jti, false)
	mustNil(t, "revoke", s.Revoke(ctx, jti, now().Add(time.Hour)))
	isRevoked(t, s, jti, true)
	isRevoked(t, s, other, false)
	mustNil(t, "revoke again", s.Revoke(ctx, jti, now().Add(time.Hour)))
	isRevoked(t, s, jti, true)
	mustNil(t, "revoke another", s.Revoke(ctx, other, now().Add(time.Hour)))
	isRevoked(t, s, other, true)
}

func testRevocationExpired(t *testing.T, s storage.Store) {
	ctx := t.Context()
	past, soon := unique("jti"), unique("jti")
	mustNil(t, "revoke an expired token", s.Revoke(ctx, past, now().Add(-time.Minute)))
	isRevoked(t, s, past, false)

	expiresAt := now().Add(1500 * time.Millisecond)
	mustNil(t, "revoke a token about to expire", s.Revoke(ctx, soon, expiresAt))
	isRevoked(t, s, soon, true)
	time.Sleep(time.Until(expiresAt) + 100*time.Millisecond)
	isRevoked(t, s, soon, false)
}

func testListRevocations(t *testing.T, s storage.Store) {
	ctx := t.Context()
	at := now()
	short := storage.Revocation{JTI: unique("jti"), ExpiresAt: at.Add(time.Minute)}
	long := storage.Revocation{JTI: unique("jti"), ExpiresAt: at.Add(2 * time.Hour)}
	gone := storage.Revocation{JTI: unique("jti"), ExpiresAt: at.Add(-time.Minute)}
	for _, r := range []storage.Revocation{long, gone, short} {
		mustNil(t, "revoke "+r.JTI, s.Revoke(ctx, r.JTI, r.ExpiresAt))
	}
	mustNil(t, "revoke again", s.Revoke(ctx, short.JTI, short.ExpiresAt))

	list, err := s.ListRevocations(ctx, at)
	mustNil(t, "list", err)
	equal(t, "list now", byID(list, jtiOf), byID([]storage.Revocation{short, long}, jtiOf))
	list, err = s.ListRevocations(ctx, at.Add(time.Hour))
	mustNil(t, "list in an hour", err)
	equal(t, "list in an hour", list, []storage.Revocation{long})
	list, err = s.ListRevocations(ctx, at.Add(3*time.Hour))
	mustNil(t, "list in three hours", err)
	equal(t, "list in three hours", list, nil)
}

func jtiOf(r storage.Revocation) string { return r.JTI }
