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

// Purging expired revocations never un-revokes a live token.
func testDeleteExpiredRevocations(t *testing.T, s storage.Store) {
	ctx := t.Context()
	live := unique("jti")
	mustNil(t, "revoke live", s.Revoke(ctx, live, now().Add(time.Hour)))
	for i := range 3 {
		mustNil(t, "revoke expired", s.Revoke(ctx, unique("jti"), now().Add(-time.Duration(i+1)*time.Minute)))
	}
	cutoff := now()
	total := 0
	for {
		n, err := s.DeleteExpiredRevocations(ctx, cutoff, 2)
		mustNil(t, "delete expired revocations", err)
		if n > 2 {
			t.Fatalf("deleted %d in a batch of 2", n)
		}
		total += n
		if n == 0 {
			break
		}
	}
	// Other sub-tests may share the backend, so at least ours went.
	if total < 3 {
		t.Fatalf("deleted %d expired revocations, want at least 3", total)
	}
	isRevoked(t, s, live, true)
	list, err := s.ListRevocations(ctx, cutoff.Add(-time.Hour))
	mustNil(t, "list", err)
	for _, r := range list {
		if r.ExpiresAt.Before(cutoff) {
			t.Fatalf("expired revocation %s survived the purge", r.JTI)
		}
	}
}
