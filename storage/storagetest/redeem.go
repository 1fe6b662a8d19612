package storagetest

import (
	"context"
	"sort"
	"testing"

	"github.com/tollgate/tollgate/storage"
)

func keyOf(t storage.Token) storage.TokenKey {
	return storage.TokenKey{Kind: t.Kind, Signature: t.Signature}
}

// present returns which of ts are stored, as "kind/signature", sorted.
func present(t *testing.T, s storage.Store, ts ...storage.Token) []string {
	t.Helper()
	keys := make([]storage.TokenKey, len(ts))
	for i, tok := range ts {
		keys[i] = keyOf(tok)
	}
	got, err := s.GetTokens(t.Context(), keys)
	mustNil(t, "get tokens", err)
	names := []string{}
	for _, g := range got {
		names = append(names, tokenKey(g))
	}
	sort.Strings(names)
	return names
}

// redemption is a code exchange: the code used up, its PKCE challenge
// deleted, an access and a refresh token issued.
type redemption struct {
	code, pkce, access, refresh storage.Token
}

func newRedemption(t *testing.T, s storage.Store) redemption {
	sig := unique("sig-redeem")
	r := redemption{
		code:    newToken(storage.KindAuthorizeCode, sig, "req-redeem", "user-r"),
		pkce:    newToken(storage.KindPKCE, sig, "req-redeem", "user-r"),
		access:  newToken(storage.KindAccessToken, unique("at"), "req-redeem", "user-r"),
		refresh: newToken(storage.KindRefreshToken, unique("rt"), "req-redeem", "user-r"),
	}
	mustNil(t, "create code and challenge", s.CreateTokens(t.Context(), []storage.Token{r.code, r.pkce}))
	return r
}

func (r redemption) request() storage.Redemption {
	use := keyOf(r.code)
	return storage.Redemption{Use: &use, Delete: []storage.TokenKey{keyOf(r.pkce)}, Create: []storage.Token{r.access, r.refresh}}
}

// untouched checks that a failed redemption changed nothing.
func (r redemption) untouched(t *testing.T, s storage.Store, what string) {
	t.Helper()
	equal(t, what+": stored", present(t, s, r.code, r.pkce, r.access, r.refresh), present(t, s, r.code, r.pkce))
	code, err := s.GetToken(t.Context(), r.code.Kind, r.code.Signature)
	mustNil(t, what+": get code", err)
	if !code.Active {
		t.Fatalf("%s: the code was used up", what)
	}
}

func testTokenRedeem(t *testing.T, s storage.Store) {
	ctx := t.Context()

	r := newRedemption(t, s)
	mustNil(t, "redeem", s.RedeemTokens(ctx, r.request()))
	code, err := s.GetToken(ctx, r.code.Kind, r.code.Signature)
	mustNil(t, "get used code", err)
	if code.Active {
		t.Fatal("redeemed code is still active")
	}
	equal(t, "after redeeming", present(t, s, r.code, r.pkce, r.access, r.refresh),
		present(t, s, r.code, r.access, r.refresh))
	got, err := s.GetToken(ctx, r.access.Kind, r.access.Signature)
	mustNil(t, "get issued access token", err)
	equal(t, "issued access token", got, r.access)

	// A second redemption of the code fails and issues nothing.
	again := r
	again.access = newToken(storage.KindAccessToken, unique("at"), "req-redeem", "user-r")
	again.refresh = newToken(storage.KindRefreshToken, unique("rt"), "req-redeem", "user-r")
	mustIs(t, "redeem again", s.RedeemTokens(ctx, again.request()), storage.ErrInactive)
	equal(t, "after redeeming again", present(t, s, again.access, again.refresh), []string{})

	// An unknown code fails as not found.
	missing := newRedemption(t, s)
	missing.code.Signature = unique("no-such-code")
	mustIs(t, "redeem unknown", s.RedeemTokens(ctx, missing.request()), storage.ErrNotFound)
	equal(t, "after redeeming unknown", present(t, s, missing.pkce, missing.access, missing.refresh), present(t, s, missing.pkce))

	// A taken key fails the whole redemption.
	taken := newRedemption(t, s)
	taken.refresh = r.refresh
	mustIs(t, "redeem with a taken key", s.RedeemTokens(ctx, taken.request()), storage.ErrAlreadyExists)
	taken.refresh = newToken(storage.KindRefreshToken, unique("rt"), "req-redeem", "user-r")
	taken.untouched(t, s, "redeem with a taken key")

	// Without a token to use up, the rest applies unconditionally.
	plain := newRedemption(t, s)
	req := plain.request()
	req.Use = nil
	mustNil(t, "redeem nothing", s.RedeemTokens(ctx, req))
	equal(t, "after a plain redemption", present(t, s, plain.code, plain.pkce, plain.access, plain.refresh),
		present(t, s, plain.code, plain.access, plain.refresh))
	mustNil(t, "redeem an empty request", s.RedeemTokens(ctx, storage.Redemption{}))
}

// testTokenRedeemInTx: a redemption in a transaction is undone by its
// rollback; RedeemAndCommit commits it, whether or not other statements ran
// in the transaction before it, and applies nothing when it fails.
func testTokenRedeemInTx(t *testing.T, s storage.Store) {
	ctx := t.Context()
	r := newRedemption(t, s)
	tx, err := s.BeginTx(ctx)
	mustNil(t, "begin", err)
	mustNil(t, "redeem in the transaction", s.RedeemTokens(tx, r.request()))
	mustNil(t, "rollback", s.Rollback(tx))
	r.untouched(t, s, "rolled back")

	for _, first := range []bool{false, true} {
		r := newRedemption(t, s)
		tx, err := s.BeginTx(ctx)
		mustNil(t, "begin", err)
		if first {
			mustNil(t, "write in the transaction", s.DeleteTokens(tx, []storage.TokenKey{keyOf(r.pkce)}))
		}
		mustNil(t, "redeem and commit", s.RedeemAndCommit(tx, r.request()))
		equal(t, "committed", present(t, s, r.pkce, r.access, r.refresh), present(t, s, r.access, r.refresh))
		if err := s.Commit(tx); err == nil {
			t.Fatal("a transaction ended by RedeemAndCommit committed again")
		}

		// A failed redemption rolls back what ran before it.
		failed := newRedemption(t, s)
		tx, err = s.BeginTx(ctx)
		mustNil(t, "begin", err)
		if first {
			mustNil(t, "write in the transaction", s.DeleteTokens(tx, []storage.TokenKey{keyOf(failed.pkce)}))
		}
		failed.refresh = r.refresh
		mustIs(t, "redeem a taken key and commit", s.RedeemAndCommit(tx, failed.request()), storage.ErrAlreadyExists)
		failed.refresh = newToken(storage.KindRefreshToken, unique("rt"), "req-redeem", "user-r")
		failed.untouched(t, s, "failed redemption")
	}
}

// testTokenConcurrentRedeem: of concurrent redemptions of one code exactly
// one issues its tokens.
func testTokenConcurrentRedeem(t *testing.T, s storage.Store) {
	var issued [redeemers]storage.Token
	next := make(chan int, redeemers)
	for i := range redeemers {
		issued[i] = newToken(storage.KindAccessToken, unique("at-race"), "req-race", "user-1")
		next <- i
	}
	raceRedemptions(t, s, func(ctx context.Context, sig string) error {
		use := storage.TokenKey{Kind: storage.KindAuthorizeCode, Signature: sig}
		return s.RedeemTokens(ctx, storage.Redemption{Use: &use, Create: []storage.Token{issued[<-next]}})
	})
	if got := present(t, s, issued[:]...); len(got) != 1 {
		t.Fatalf("%d concurrent redemptions issued tokens, want 1", len(got))
	}
}
