package oauthstore

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// countingStore counts the token calls that reach storage, each a round
// trip to the database.
type countingStore struct {
	storage.Store
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingStore) count(name string) {
	c.mu.Lock()
	c.calls[name]++
	c.mu.Unlock()
}

func (c *countingStore) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls := maps.Clone(c.calls)
	clear(c.calls)
	return calls
}

func (c *countingStore) CreateToken(ctx context.Context, t storage.Token) error {
	c.count("CreateToken")
	return c.Store.CreateToken(ctx, t)
}

func (c *countingStore) CreateTokens(ctx context.Context, ts []storage.Token) error {
	if len(ts) > 0 {
		c.count("CreateTokens")
	}
	return c.Store.CreateTokens(ctx, ts)
}

func (c *countingStore) GetToken(ctx context.Context, kind storage.TokenKind, sig string) (storage.Token, error) {
	c.count("GetToken")
	return c.Store.GetToken(ctx, kind, sig)
}

func (c *countingStore) GetTokens(ctx context.Context, keys []storage.TokenKey) ([]storage.Token, error) {
	c.count("GetTokens")
	return c.Store.GetTokens(ctx, keys)
}

func (c *countingStore) DeleteToken(ctx context.Context, kind storage.TokenKind, sig string) error {
	c.count("DeleteToken")
	return c.Store.DeleteToken(ctx, kind, sig)
}

func (c *countingStore) DeleteTokens(ctx context.Context, keys []storage.TokenKey) error {
	if len(keys) > 0 {
		c.count("DeleteTokens")
	}
	return c.Store.DeleteTokens(ctx, keys)
}

func (c *countingStore) DeactivateToken(ctx context.Context, kind storage.TokenKind, sig string) error {
	c.count("DeactivateToken")
	return c.Store.DeactivateToken(ctx, kind, sig)
}

func (c *countingStore) RedeemAndCommit(ctx context.Context, r storage.Redemption) error {
	c.count("RedeemAndCommit")
	return c.Store.RedeemAndCommit(ctx, r)
}

func (c *countingStore) Commit(ctx context.Context) error {
	c.count("Commit")
	return c.Store.Commit(ctx)
}

// unitFixture is a store over SQLite with a client and a code issued the
// way fosite issues one: the code, its PKCE challenge and its OpenID
// request, in one authorization request.
type unitFixture struct {
	backend *countingStore
	s       *Store
	req     *fosite.Request
}

const (
	unitCode    = "the-code.its-signature"
	unitCodeSig = "its-signature"
)

// withClient registers the client "app" in backend and returns the store
// over it and the client as fosite sees it.
func withClient(t testing.TB, backend storage.Store) (*Store, fosite.Client) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	if err := backend.CreateClient(ctx, storage.Client{ID: "app", Name: "App", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	s := New(backend)
	client, err := s.GetClient(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	return s, client
}

func newUnitFixture(t *testing.T) *unitFixture {
	ctx := context.Background()
	backend := &countingStore{Store: testbackend.SQLite(t), calls: map[string]int{}}
	s, client := withClient(t, backend)
	now := time.Now()
	sess := newTestSession()
	sess.SetExpiresAt(fosite.AuthorizeCode, now.Add(time.Minute))
	req := &fosite.Request{ID: "grant-1", RequestedAt: now, Client: client, Session: sess,
		Form: map[string][]string{"code_challenge": {"challenge"}, "nonce": {"nonce-1"}}}

	authorize := WithUnit(ctx, "")
	for _, create := range []func() error{
		func() error { return s.CreateAuthorizeCodeSession(authorize, unitCodeSig, req) },
		func() error { return s.CreatePKCERequestSession(authorize, unitCodeSig, req) },
		func() error { return s.CreateOpenIDConnectSession(authorize, unitCode, req) },
	} {
		if err := create(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := backend.GetToken(ctx, storage.KindAuthorizeCode, unitCodeSig); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the code was written before the unit finished: %v", err)
	}
	backend.reset()
	if err := s.Finish(authorize); err != nil {
		t.Fatal(err)
	}
	if calls := backend.reset(); !maps.Equal(calls, map[string]int{"CreateTokens": 1}) {
		t.Fatalf("issuing a code: storage calls %v, want one insert", calls)
	}
	return &unitFixture{backend: backend, s: s, req: req}
}

// left returns the kinds of the code's artifacts still stored.
func (f *unitFixture) left(t *testing.T) []storage.TokenKind {
	t.Helper()
	var kinds []storage.TokenKind
	for _, k := range []storage.TokenKey{
		{Kind: storage.KindAuthorizeCode, Signature: unitCodeSig},
		{Kind: storage.KindPKCE, Signature: unitCodeSig},
		{Kind: storage.KindOpenIDSession, Signature: openIDKey(unitCode)},
	} {
		_, err := f.backend.Store.GetToken(context.Background(), k.Kind, k.Signature)
		if err == nil {
			kinds = append(kinds, k.Kind)
		} else if !errors.Is(err, storage.ErrNotFound) {
			t.Fatal(err)
		}
	}
	return kinds
}

// A code exchange, in the order of fosite's calls, takes one read and one
// redemption (on PostgreSQL, one statement); the code is used, and nothing
// it carried stays behind.
func TestUnitCodeExchange(t *testing.T) {
	f := newUnitFixture(t)
	s := f.s
	ctx := WithUnit(context.Background(), unitCode)
	steps := []func(ctx context.Context) (context.Context, error){
		func(ctx context.Context) (context.Context, error) {
			_, err := s.GetAuthorizeCodeSession(ctx, unitCodeSig, newTestSession())
			return ctx, err
		},
		func(ctx context.Context) (context.Context, error) {
			r, err := s.GetPKCERequestSession(ctx, unitCodeSig, newTestSession())
			if err == nil && r.GetRequestForm().Get("code_challenge") != "challenge" {
				err = errors.New("wrong PKCE request")
			}
			return ctx, err
		},
		func(ctx context.Context) (context.Context, error) {
			return ctx, s.DeletePKCERequestSession(ctx, unitCodeSig)
		},
		func(ctx context.Context) (context.Context, error) { return s.BeginTX(ctx) },
		func(ctx context.Context) (context.Context, error) {
			_, err := s.GetAuthorizeCodeSession(ctx, unitCodeSig, newTestSession())
			return ctx, err
		},
		func(ctx context.Context) (context.Context, error) {
			return ctx, s.InvalidateAuthorizeCodeSession(ctx, unitCodeSig)
		},
		func(ctx context.Context) (context.Context, error) {
			return ctx, s.CreateAccessTokenSession(ctx, "access-sig", f.req)
		},
		func(ctx context.Context) (context.Context, error) {
			return ctx, s.CreateRefreshTokenSession(ctx, "refresh-sig", "access-sig", f.req)
		},
		func(ctx context.Context) (context.Context, error) { return ctx, s.Commit(ctx) },
		func(ctx context.Context) (context.Context, error) {
			r, err := s.GetOpenIDConnectSession(ctx, unitCode, f.req)
			if err == nil && r.GetRequestForm().Get("nonce") != "nonce-1" {
				err = errors.New("wrong OpenID request")
			}
			return ctx, err
		},
		func(ctx context.Context) (context.Context, error) {
			return ctx, s.DeleteOpenIDConnectSession(ctx, unitCode)
		},
		func(ctx context.Context) (context.Context, error) { return ctx, s.Finish(ctx) },
	}
	for i, step := range steps {
		var err error
		if ctx, err = step(ctx); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := map[string]int{"GetTokens": 1, "RedeemAndCommit": 1}
	if calls := f.backend.reset(); !maps.Equal(calls, want) {
		t.Fatalf("storage calls %v, want %v", calls, want)
	}
	if left := f.left(t); !slices.Equal(left, []storage.TokenKind{storage.KindAuthorizeCode}) {
		t.Fatalf("left after the exchange: %v, want only the used code", left)
	}
	for _, k := range []storage.TokenKey{{Kind: storage.KindAccessToken, Signature: "access-sig"}, {Kind: storage.KindRefreshToken, Signature: "refresh-sig"}} {
		if _, err := f.backend.Store.GetToken(context.Background(), k.Kind, k.Signature); err != nil {
			t.Fatalf("%s not stored: %v", k.Kind, err)
		}
	}
	if _, err := s.GetAuthorizeCodeSession(WithUnit(context.Background(), unitCode), unitCodeSig, newTestSession()); !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
		t.Fatalf("the code after its exchange: %v", err)
	}
}

// A request that fails after fosite deleted the PKCE challenge (a wrong
// code_verifier) still consumes it: the code cannot be redeemed later.
func TestUnitFailedVerifierConsumesChallenge(t *testing.T) {
	f := newUnitFixture(t)
	ctx := WithUnit(context.Background(), unitCode)
	if _, err := f.s.GetPKCERequestSession(ctx, unitCodeSig, newTestSession()); err != nil {
		t.Fatal(err)
	}
	if err := f.s.DeletePKCERequestSession(ctx, unitCodeSig); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if left := f.left(t); slices.Contains(left, storage.KindPKCE) {
		t.Fatalf("left after a failed exchange: %v; the PKCE challenge must be gone", left)
	}
	if _, err := f.s.GetPKCERequestSession(WithUnit(context.Background(), unitCode), unitCodeSig, newTestSession()); !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("PKCE challenge after a failed exchange: %v", err)
	}
}

// What a transaction created and then rolled back is never written.
func TestUnitRollbackWritesNothing(t *testing.T) {
	f := newUnitFixture(t)
	ctx, err := f.s.BeginTX(WithUnit(context.Background(), ""))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.s.CreateAccessTokenSession(ctx, "access-rolled-back", f.req); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.backend.Store.GetToken(context.Background(), storage.KindAccessToken, "access-rolled-back"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a rolled-back access token: %v", err)
	}
}

// Of two exchanges of one code that both read it, the one that commits
// second fails at Commit with the code already used, and issues nothing.
func TestUnitLostRaceFailsAtCommit(t *testing.T) {
	f := newUnitFixture(t)
	s := f.s
	exchange := func(ctx context.Context, access string) (context.Context, error) {
		ctx, err := s.BeginTX(ctx)
		if err != nil {
			return ctx, err
		}
		if err := s.InvalidateAuthorizeCodeSession(ctx, unitCodeSig); err != nil {
			return ctx, err
		}
		if err := s.CreateAccessTokenSession(ctx, access, f.req); err != nil {
			return ctx, err
		}
		return ctx, s.Commit(ctx)
	}
	first, second := WithUnit(context.Background(), unitCode), WithUnit(context.Background(), unitCode)
	for _, ctx := range []context.Context{first, second} {
		if _, err := s.GetAuthorizeCodeSession(ctx, unitCodeSig, newTestSession()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := exchange(first, "access-first"); err != nil {
		t.Fatalf("first exchange: %v", err)
	}
	ctx, err := exchange(second, "access-second")
	if !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
		t.Fatalf("second exchange: %v, want the code already used", err)
	}
	if err := s.Rollback(ctx); err != nil {
		t.Fatalf("fosite's rollback after the failed commit: %v", err)
	}
	if _, err := f.backend.Store.GetToken(context.Background(), storage.KindAccessToken, "access-second"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the losing exchange's access token: %v", err)
	}
}
