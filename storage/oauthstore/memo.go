package oauthstore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tollgate/tollgate/storage"
)

// A request to the token or the authorization endpoint makes several
// storage calls through fosite, one at a time, each a round trip. A unit,
// carried in the request's context, gathers them into fewer:
//
//   - A token request for a code reads the code, its PKCE challenge and its
//     OpenID request (the last keyed by the code itself) in one query, and
//     fosite's second read of the code is served from what was read.
//   - The PKCE challenge and OpenID request that fosite deletes go in one
//     statement, in the transaction that marks the code used; or, when the
//     request fails before that (a wrong code_verifier), when it ends, so a
//     failed attempt still consumes the challenge, as in fosite.
//   - Artifacts created together (a code with its PKCE challenge and OpenID
//     request; an access token with its refresh token) are inserted in one
//     statement: at Commit of the transaction they were created in, or at
//     Finish.
//   - In fosite's transaction of a token request, marking the code or
//     refresh token used, deleting what the code carried and inserting the
//     new tokens wait for Commit, which sends them as one redemption
//     (storage.Redemption): on PostgreSQL one statement, where the
//     transaction took five round trips.
//
// Single use does not rest on these reads: the conditional update that marks
// a code or a refresh token used lets exactly one request through.
type unitKey struct{}

type unit struct {
	mu      sync.Mutex
	code    string // the authorization code of a token request, if any
	fetched bool   // the code and what it carries were read together

	read    map[storage.TokenKey]*storage.Token // read in this request; nil: absent
	dropped map[storage.TokenKey]bool           // deleted by fosite in this request
	purged  map[storage.TokenKey]bool           // deleted from storage
	queued  []storage.Token                     // created, not yet written

	inTx    bool               // in fosite's transaction, until Commit or Rollback
	use     *storage.TokenKey  // the code or refresh token Commit marks used
	deletes []storage.TokenKey // what Commit deletes with it
}

// WithUnit returns ctx with a unit for one request. code is the
// authorization code of a token request (grant_type=authorization_code),
// empty otherwise.
func WithUnit(ctx context.Context, code string) context.Context {
	return context.WithValue(ctx, unitKey{}, &unit{
		code: code, read: map[storage.TokenKey]*storage.Token{},
		dropped: map[storage.TokenKey]bool{}, purged: map[storage.TokenKey]bool{},
	})
}

func unitOf(ctx context.Context) *unit {
	u, _ := ctx.Value(unitKey{}).(*unit)
	return u
}

// Finish writes what the unit in ctx still holds: artifacts created outside
// a transaction, and deletions that no code invalidation carried. A request
// must call it before it answers with what it created.
func (s *Store) Finish(ctx context.Context) error {
	u := unitOf(ctx)
	if u == nil {
		return nil
	}
	if err := s.flushQueued(ctx); err != nil {
		return mapErr("create tokens", err)
	}
	u.mu.Lock()
	deletes := u.unpurged(nil)
	u.mu.Unlock()
	return mapErr("delete tokens", s.store.DeleteTokens(ctx, deletes))
}

// unpurged marks purged, and returns, what fosite dropped and the extra keys
// that are still in storage. u.mu is held.
func (u *unit) unpurged(extra []storage.TokenKey) []storage.TokenKey {
	var keys []storage.TokenKey
	for k := range u.dropped {
		if t, ok := u.read[k]; ok && t == nil {
			u.purged[k] = true // known absent: nothing to delete
		}
		if !u.purged[k] {
			keys = append(keys, k)
			u.purged[k] = true
		}
	}
	for _, k := range extra {
		if t, ok := u.read[k]; ok && t != nil && !u.purged[k] {
			keys = append(keys, k)
			u.purged[k] = true
		}
	}
	return keys
}

// getToken reads an artifact, from the request's unit when it was read, or
// created, already.
func (s *Store) getToken(ctx context.Context, kind storage.TokenKind, signature string) (storage.Token, error) {
	u := unitOf(ctx)
	if u == nil {
		return s.store.GetToken(ctx, kind, signature)
	}
	key := storage.TokenKey{Kind: kind, Signature: signature}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.dropped[key] {
		return storage.Token{}, fmt.Errorf("get %s: %w", kind, storage.ErrNotFound)
	}
	for _, t := range u.queued {
		if t.Kind == kind && t.Signature == signature {
			return t, nil
		}
	}
	if kind == storage.KindAuthorizeCode && u.code != "" && !u.fetched {
		u.fetched = true
		if err := u.fetchCode(ctx, s.store, signature); err != nil {
			return storage.Token{}, err
		}
	}
	if t, ok := u.read[key]; ok {
		if t == nil {
			return storage.Token{}, fmt.Errorf("get %s: %w", kind, storage.ErrNotFound)
		}
		return *t, nil
	}
	t, err := s.store.GetToken(ctx, kind, signature)
	switch {
	case err == nil:
		u.read[key] = &t
	case errors.Is(err, storage.ErrNotFound):
		u.read[key] = nil
	}
	return t, err
}

// codeKeys are the artifacts of a code: the code and its PKCE challenge by
// the code's signature, its OpenID request by a hash of the code (and, as a
// release before this one stored it, by the code itself).
func (u *unit) codeKeys(signature string) []storage.TokenKey {
	return []storage.TokenKey{
		{Kind: storage.KindAuthorizeCode, Signature: signature},
		{Kind: storage.KindPKCE, Signature: signature},
		{Kind: storage.KindOpenIDSession, Signature: openIDKey(u.code)},
		{Kind: storage.KindOpenIDSession, Signature: u.code},
	}
}

// fetchCode reads a code and what it carries in one query. u.mu is held.
func (u *unit) fetchCode(ctx context.Context, store storage.TokenStore, signature string) error {
	keys := u.codeKeys(signature)
	found, err := store.GetTokens(ctx, keys)
	if err != nil {
		return fmt.Errorf("get authorization code: %w", err)
	}
	for _, k := range keys {
		u.read[k] = nil
	}
	for i := range found {
		t := found[i]
		u.read[storage.TokenKey{Kind: t.Kind, Signature: t.Signature}] = &t
	}
	return nil
}

// createToken queues an artifact when ctx has a unit, else writes it.
func (s *Store) createToken(ctx context.Context, t storage.Token) error {
	u := unitOf(ctx)
	if u == nil {
		return s.store.CreateToken(ctx, t)
	}
	u.mu.Lock()
	u.queued = append(u.queued, t)
	u.mu.Unlock()
	return nil
}

// drop deletes an artifact; with a unit, the deletion waits for the code's
// invalidation or Finish, and later reads in the request see it gone.
func (s *Store) drop(ctx context.Context, kind storage.TokenKind, signature string) error {
	u := unitOf(ctx)
	if u == nil {
		return s.delete(ctx, kind, signature)
	}
	u.mu.Lock()
	u.dropped[storage.TokenKey{Kind: kind, Signature: signature}] = true
	u.mu.Unlock()
	return nil
}

// consumeCode deletes, in the transaction that marked the code used, the
// PKCE challenge and OpenID request that go with it. What fosite reads of
// them later in the request is served from the unit.
func (s *Store) consumeCode(ctx context.Context, signature string) error {
	u := unitOf(ctx)
	if u == nil || u.code == "" {
		return nil
	}
	u.mu.Lock()
	keys := u.unpurged(u.codeKeys(signature)[1:])
	u.mu.Unlock()
	return mapErr("delete what the code carried", s.store.DeleteTokens(ctx, keys))
}

// flushQueued writes the artifacts created in the transaction of ctx, just
// before it commits.
func (s *Store) flushQueued(ctx context.Context) error {
	u := unitOf(ctx)
	if u == nil {
		return nil
	}
	u.mu.Lock()
	queued := u.queued
	u.queued = nil
	u.mu.Unlock()
	return s.store.CreateTokens(ctx, queued)
}

// forgetTx drops what the unit holds for a transaction that rolls back, and
// reports whether the transaction was still open.
func (s *Store) forgetTx(ctx context.Context) (open bool) {
	u := unitOf(ctx)
	if u == nil {
		return true
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	open = u.inTx
	u.queued, u.use, u.deletes, u.inTx = nil, nil, nil, false
	return open
}

// startTx marks the unit in ctx as in a transaction.
func (s *Store) startTx(ctx context.Context) {
	if u := unitOf(ctx); u != nil {
		u.mu.Lock()
		u.inTx = true
		u.mu.Unlock()
	}
}

// deferUse records, in a transaction of a request with a unit, that Commit
// marks key used and deletes with it what fosite dropped and, for the
// request's code, what the code carried. It reports false when the caller
// must write now instead.
func (s *Store) deferUse(ctx context.Context, key storage.TokenKey) bool {
	u := unitOf(ctx)
	if u == nil {
		return false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.inTx || u.use != nil {
		return false
	}
	var carried []storage.TokenKey
	if key.Kind == storage.KindAuthorizeCode && u.code != "" {
		carried = u.codeKeys(key.Signature)[1:]
	}
	u.use = &key
	u.deletes = append(u.deletes, u.unpurged(carried)...)
	return true
}

// redemption takes what the unit in ctx holds for Commit; ok is false when
// ctx has no unit in a transaction.
func (s *Store) redemption(ctx context.Context) (r storage.Redemption, ok bool) {
	u := unitOf(ctx)
	if u == nil {
		return r, false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.inTx {
		return r, false
	}
	r = storage.Redemption{Use: u.use, Delete: u.deletes, Create: u.queued}
	u.inTx, u.use, u.deletes, u.queued = false, nil, nil, nil
	return r, true
}
