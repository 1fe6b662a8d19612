package storagetest

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/storage"
)

// redeemers is how many concurrent redemptions race for one code.
const redeemers = 50

func newToken(kind storage.TokenKind, sig, requestID, subject string) storage.Token {
	n := now()
	return storage.Token{
		Kind: kind, Signature: sig, RequestID: requestID, ClientID: "client-t",
		Subject: subject, JTI: unique("jti"), Active: true,
		ExpiresAt: n.Add(time.Hour), Data: []byte(`{"form":"x"}` + "\x00\xfe"), CreatedAt: n,
	}
}

func tokenKey(t storage.Token) string { return string(t.Kind) + "/" + t.Signature }

func testTokenCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	code := newToken(storage.KindAuthorizeCode, "sig-1", "req-1", "user-1")
	code.JTI = ""
	// The same signature under another kind is another record.
	pkce := newToken(storage.KindPKCE, "sig-1", "req-1", "user-1")
	pkce.Data, pkce.JTI, pkce.Subject = nil, "", ""

	_, err := s.GetToken(ctx, code.Kind, code.Signature)
	mustIs(t, "get before create", err, storage.ErrNotFound)
	mustNil(t, "create code", s.CreateToken(ctx, code))
	mustNil(t, "create pkce with the same signature", s.CreateToken(ctx, pkce))
	mustIs(t, "create duplicate", s.CreateToken(ctx, code), storage.ErrAlreadyExists)

	got, err := s.GetToken(ctx, code.Kind, code.Signature)
	mustNil(t, "get code", err)
	equal(t, "get code", got, code)
	got, err = s.GetToken(ctx, pkce.Kind, pkce.Signature)
	mustNil(t, "get pkce", err)
	equal(t, "get pkce", got, pkce)
	_, err = s.GetToken(ctx, storage.KindAccessToken, code.Signature)
	mustIs(t, "get under another kind", err, storage.ErrNotFound)

	mustNil(t, "delete code", s.DeleteToken(ctx, code.Kind, code.Signature))
	_, err = s.GetToken(ctx, code.Kind, code.Signature)
	mustIs(t, "get deleted", err, storage.ErrNotFound)
	mustIs(t, "delete again", s.DeleteToken(ctx, code.Kind, code.Signature), storage.ErrNotFound)
	_, err = s.GetToken(ctx, pkce.Kind, pkce.Signature)
	mustNil(t, "get pkce after deleting the code", err)
}

// testTokenBatches covers the several-at-once calls the token and
// authorization endpoints use to save round trips.
func testTokenBatches(t *testing.T, s storage.Store) {
	ctx := t.Context()
	sig := unique("sig")
	code := newToken(storage.KindAuthorizeCode, sig, "req-b", "user-b")
	pkce := newToken(storage.KindPKCE, sig, "req-b", "user-b")
	oidc := newToken(storage.KindOpenIDSession, unique("oidc"), "req-b", "user-b")
	key := func(t storage.Token) storage.TokenKey { return storage.TokenKey{Kind: t.Kind, Signature: t.Signature} }
	missing := storage.TokenKey{Kind: storage.KindAccessToken, Signature: sig}

	mustNil(t, "create none", s.CreateTokens(ctx, nil))
	mustNil(t, "create three", s.CreateTokens(ctx, []storage.Token{code, pkce, oidc}))
	got, err := s.GetTokens(ctx, []storage.TokenKey{key(code), missing, key(pkce), key(oidc)})
	mustNil(t, "get three and a missing one", err)
	sort.Slice(got, func(i, j int) bool { return tokenKey(got[i]) < tokenKey(got[j]) })
	equal(t, "get three and a missing one", got, []storage.Token{code, oidc, pkce})
	got, err = s.GetTokens(ctx, nil)
	mustNil(t, "get none", err)
	if len(got) != 0 {
		t.Fatalf("get none: got %d tokens", len(got))
	}

	other := newToken(storage.KindAccessToken, unique("sig"), "req-b", "user-b")
	mustIs(t, "create with a taken key", s.CreateTokens(ctx, []storage.Token{other, code}), storage.ErrAlreadyExists)

	mustNil(t, "delete two and a missing one", s.DeleteTokens(ctx, []storage.TokenKey{key(pkce), missing, key(oidc)}))
	mustNil(t, "delete again", s.DeleteTokens(ctx, []storage.TokenKey{key(pkce)}))
	mustNil(t, "delete none", s.DeleteTokens(ctx, nil))
	got, err = s.GetTokens(ctx, []storage.TokenKey{key(code), key(pkce), key(oidc)})
	mustNil(t, "get after delete", err)
	equal(t, "get after delete", got, []storage.Token{code})

	// Replacing stores a new artifact, then overwrites it whole.
	pending := newToken(storage.KindAccessToken, unique("sig"), "req-r", "user-r")
	mustNil(t, "replace absent", s.ReplaceToken(ctx, pending))
	got, err = s.GetTokens(ctx, []storage.TokenKey{key(pending)})
	mustNil(t, "get replaced", err)
	equal(t, "replace absent", got, []storage.Token{pending})
	changed := pending
	changed.Data, changed.Active, changed.ExpiresAt = []byte(`{"step":2}`), false, pending.ExpiresAt.Add(time.Minute)
	mustNil(t, "replace present", s.ReplaceToken(ctx, changed))
	one, err := s.GetToken(ctx, changed.Kind, changed.Signature)
	mustNil(t, "get after replace", err)
	equal(t, "replace present", one, changed)

	// In a transaction that rolls back, nothing of a batch stays.
	tx, err := s.BeginTx(ctx)
	mustNil(t, "begin", err)
	batch := []storage.Token{newToken(storage.KindAccessToken, unique("sig"), "req-tx", "user-b"), newToken(storage.KindRefreshToken, unique("sig"), "req-tx", "user-b")}
	mustNil(t, "create in transaction", s.CreateTokens(tx, batch))
	mustNil(t, "rollback", s.Rollback(tx))
	got, err = s.GetTokens(ctx, []storage.TokenKey{key(batch[0]), key(batch[1])})
	mustNil(t, "get after rollback", err)
	if len(got) != 0 {
		t.Fatalf("after rollback: %d of the batch stored", len(got))
	}
}

func testTokenDeactivate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	code := newToken(storage.KindAuthorizeCode, "sig-d", "req-d", "user-1")
	mustNil(t, "create", s.CreateToken(ctx, code))

	mustNil(t, "deactivate", s.DeactivateToken(ctx, code.Kind, code.Signature))
	got, err := s.GetToken(ctx, code.Kind, code.Signature)
	mustNil(t, "get inactive", err)
	want := code
	want.Active = false
	equal(t, "get inactive", got, want)

	mustIs(t, "deactivate again", s.DeactivateToken(ctx, code.Kind, code.Signature), storage.ErrInactive)
	mustIs(t, "deactivate missing", s.DeactivateToken(ctx, code.Kind, "no-such-sig"), storage.ErrNotFound)
	mustIs(t, "deactivate under another kind", s.DeactivateToken(ctx, storage.KindRefreshToken, code.Signature), storage.ErrNotFound)

	// A token created inactive is inactive.
	used := newToken(storage.KindRefreshToken, "sig-used", "req-d", "user-1")
	used.Active = false
	mustNil(t, "create inactive", s.CreateToken(ctx, used))
	mustIs(t, "deactivate created inactive", s.DeactivateToken(ctx, used.Kind, used.Signature), storage.ErrInactive)
}

func testTokenConcurrentRedemption(t *testing.T, s storage.Store) {
	raceRedemptions(t, s, func(ctx context.Context, sig string) error {
		return s.DeactivateToken(ctx, storage.KindAuthorizeCode, sig)
	})
}

func testTokenConcurrentRedemptionInTx(t *testing.T, s storage.Store) {
	raceRedemptions(t, s, func(ctx context.Context, sig string) error {
		tx, err := s.BeginTx(ctx)
		if err != nil {
			return err
		}
		if _, err := s.GetToken(tx, storage.KindAuthorizeCode, sig); err != nil {
			s.Rollback(tx)
			return err
		}
		if err := s.DeactivateToken(tx, storage.KindAuthorizeCode, sig); err != nil {
			s.Rollback(tx)
			return err
		}
		return s.Commit(tx)
	})
}

// raceRedemptions redeems one code from many goroutines at once: exactly
// one must win, and every other must lose with ErrInactive.
func raceRedemptions(t *testing.T, s storage.Store, redeem func(ctx context.Context, sig string) error) {
	ctx := t.Context()
	code := newToken(storage.KindAuthorizeCode, unique("sig-race"), "req-race", "user-1")
	mustNil(t, "create", s.CreateToken(ctx, code))

	errs := make([]error, redeemers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range redeemers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = redeem(ctx, code.Signature)
		}()
	}
	close(start)
	wg.Wait()

	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, storage.ErrInactive):
			t.Errorf("redemption %d: got %v, want nil or ErrInactive", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent redemptions succeeded, want exactly 1", won, redeemers)
	}
	got, err := s.GetToken(ctx, code.Kind, code.Signature)
	mustNil(t, "get after the race", err)
	if got.Active {
		t.Fatal("the code is still active after the race")
	}
}

func testDeactivateGrant(t *testing.T, s storage.Store) {
	ctx := t.Context()
	r1 := newToken(storage.KindRefreshToken, "rt-1", "grant-a", "user-1")
	r2 := newToken(storage.KindRefreshToken, "rt-2", "grant-a", "user-1")
	rOther := newToken(storage.KindRefreshToken, "rt-3", "grant-b", "user-1")
	atSame := newToken(storage.KindAccessToken, "at-1", "grant-a", "user-1")
	for _, tok := range []storage.Token{r1, r2, rOther, atSame} {
		mustNil(t, "create "+tokenKey(tok), s.CreateToken(ctx, tok))
	}
	mustNil(t, "deactivate r1", s.DeactivateToken(ctx, r1.Kind, r1.Signature))

	mustNil(t, "deactivate grant", s.DeactivateGrant(ctx, storage.KindRefreshToken, "grant-a"))
	for _, c := range []struct {
		tok    storage.Token
		active bool
	}{{r1, false}, {r2, false}, {rOther, true}, {atSame, true}} {
		got, err := s.GetToken(ctx, c.tok.Kind, c.tok.Signature)
		mustNil(t, "get "+tokenKey(c.tok), err)
		want := c.tok
		want.Active = c.active
		equal(t, "after deactivating the grant, "+tokenKey(c.tok), got, want)
	}
	mustNil(t, "deactivate the grant again", s.DeactivateGrant(ctx, storage.KindRefreshToken, "grant-a"))
	mustNil(t, "deactivate an unknown grant", s.DeactivateGrant(ctx, storage.KindRefreshToken, "no-such-grant"))
}

func testDeleteGrant(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a1 := newToken(storage.KindAccessToken, "at-1", "grant-a", "user-1")
	a2 := newToken(storage.KindAccessToken, "at-2", "grant-a", "user-1")
	a2.Active = false
	aOther := newToken(storage.KindAccessToken, "at-3", "grant-b", "user-1")
	rSame := newToken(storage.KindRefreshToken, "rt-1", "grant-a", "user-1")
	for _, tok := range []storage.Token{a1, a2, aOther, rSame} {
		mustNil(t, "create "+tokenKey(tok), s.CreateToken(ctx, tok))
	}

	deleted, err := s.DeleteGrant(ctx, storage.KindAccessToken, "grant-a")
	mustNil(t, "delete grant", err)
	equal(t, "deleted", sortTokens(deleted), sortTokens([]storage.Token{a1, a2}))
	for _, tok := range []storage.Token{a1, a2} {
		_, err := s.GetToken(ctx, tok.Kind, tok.Signature)
		mustIs(t, "get deleted "+tokenKey(tok), err, storage.ErrNotFound)
	}
	for _, tok := range []storage.Token{aOther, rSame} {
		got, err := s.GetToken(ctx, tok.Kind, tok.Signature)
		mustNil(t, "get kept "+tokenKey(tok), err)
		equal(t, "get kept "+tokenKey(tok), got, tok)
	}
	deleted, err = s.DeleteGrant(ctx, storage.KindAccessToken, "grant-a")
	mustNil(t, "delete the grant again", err)
	if len(deleted) != 0 {
		t.Fatalf("deleting the grant again returned %d tokens, want 0", len(deleted))
	}
}

func testDeleteSubjectTokens(t *testing.T, s storage.Store) {
	ctx := t.Context()
	r1 := newToken(storage.KindRefreshToken, "rt-1", "grant-a", "user-1")
	r2 := newToken(storage.KindRefreshToken, "rt-2", "grant-b", "user-1")
	rOther := newToken(storage.KindRefreshToken, "rt-3", "grant-c", "user-2")
	aSame := newToken(storage.KindAccessToken, "at-1", "grant-a", "user-1")
	for _, tok := range []storage.Token{r1, r2, rOther, aSame} {
		mustNil(t, "create "+tokenKey(tok), s.CreateToken(ctx, tok))
	}

	deleted, err := s.DeleteSubjectTokens(ctx, storage.KindRefreshToken, "user-1")
	mustNil(t, "delete subject tokens", err)
	equal(t, "deleted", sortTokens(deleted), sortTokens([]storage.Token{r1, r2}))
	for _, tok := range []storage.Token{r1, r2} {
		_, err := s.GetToken(ctx, tok.Kind, tok.Signature)
		mustIs(t, "get deleted "+tokenKey(tok), err, storage.ErrNotFound)
	}
	for _, tok := range []storage.Token{rOther, aSame} {
		got, err := s.GetToken(ctx, tok.Kind, tok.Signature)
		mustNil(t, "get kept "+tokenKey(tok), err)
		equal(t, "get kept "+tokenKey(tok), got, tok)
	}
}

func testDeleteExpiredTokens(t *testing.T, s storage.Store) {
	ctx := t.Context()
	var live []storage.Token
	for i, kind := range []storage.TokenKind{
		storage.KindAuthorizeCode, storage.KindAccessToken, storage.KindRefreshToken,
		storage.KindPKCE, storage.KindOpenIDSession,
	} {
		expired := newToken(kind, unique("expired"), "grant-e", "user-1")
		expired.ExpiresAt = now().Add(-time.Duration(i+1) * time.Minute)
		mustNil(t, "create expired", s.CreateToken(ctx, expired))
	}
	for _, kind := range []storage.TokenKind{storage.KindAccessToken, storage.KindClientAssertion} {
		tok := newToken(kind, unique("live"), "grant-e", "user-1")
		mustNil(t, "create live", s.CreateToken(ctx, tok))
		live = append(live, tok)
	}

	cutoff := now()
	for _, want := range []int{3, 2, 0} {
		n, err := s.DeleteExpiredTokens(ctx, cutoff, 3)
		mustNil(t, "delete expired", err)
		if n != want {
			t.Fatalf("delete expired (limit 3): deleted %d, want %d", n, want)
		}
	}
	for _, tok := range live {
		got, err := s.GetToken(ctx, tok.Kind, tok.Signature)
		mustNil(t, "get live "+tokenKey(tok), err)
		equal(t, "get live "+tokenKey(tok), got, tok)
	}
	// "Before" is the caller's cutoff, not the clock.
	n, err := s.DeleteExpiredTokens(ctx, now().Add(2*time.Hour), 10)
	mustNil(t, "delete with a later cutoff", err)
	if n != len(live) {
		t.Fatalf("delete with a later cutoff: deleted %d, want %d", n, len(live))
	}
}

func sortTokens(ts []storage.Token) []storage.Token {
	out := append([]storage.Token(nil), ts...)
	sort.Slice(out, func(i, j int) bool { return tokenKey(out[i]) < tokenKey(out[j]) })
	return out
}
