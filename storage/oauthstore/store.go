// Package oauthstore implements fosite's storage interfaces once, over the
// backend-neutral storage.Store. It is the only place where storage meets
// fosite.
package oauthstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	fositestorage "github.com/ory/fosite/storage"

	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/ttlcache"
)

// UnavailableError marks a failure of the storage backend itself (as opposed
// to a missing or used record), which endpoints answer with 503.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string { return "storage unavailable: " + e.Err.Error() }
func (e *UnavailableError) Unwrap() error { return e.Err }

// Store implements the fosite storage interfaces Tollgate composes.
type Store struct {
	store   storage.Store
	clients *ttlcache.Cache[storage.Client]
	tokens  *ttlcache.Cache[cachedToken] // access tokens, by signature
}

var (
	_ fosite.ClientManager               = (*Store)(nil)
	_ oauth2.CoreStorage                 = (*Store)(nil)
	_ oauth2.TokenRevocationStorage      = (*Store)(nil)
	_ openid.OpenIDConnectRequestStorage = (*Store)(nil)
	_ pkce.PKCERequestStorage            = (*Store)(nil)
	_ fositestorage.Transactional        = (*Store)(nil)
)

// New returns the adapter over store.
func New(store storage.Store) *Store {
	return &Store{store: store, clients: ttlcache.New[storage.Client](time.Now, maxCached), tokens: ttlcache.New[cachedToken](time.Now, maxCached)}
}

// mapErr turns storage errors into the errors fosite expects.
func mapErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotFound):
		return fosite.ErrNotFound
	case errors.Is(err, storage.ErrInactive):
		return fosite.ErrInactiveToken
	default:
		return &UnavailableError{Err: fmt.Errorf("%s: %w", op, err)}
	}
}

// mapUseErr is mapErr for marking a code or refresh token used: a code
// already used is fosite's ErrInvalidatedAuthorizeCode.
func mapUseErr(op string, kind storage.TokenKind, err error) error {
	if kind == storage.KindAuthorizeCode && errors.Is(err, storage.ErrInactive) {
		return fosite.ErrInvalidatedAuthorizeCode
	}
	return mapErr(op, err)
}

// ForgetClient drops a cached registration after this process changed it,
// so the change (a new secret, say) holds here at once.
func (s *Store) ForgetClient(id string) { s.clients.Forget(id) }

// GetClient loads a client registration, from the cache when it was read
// less than ClientCacheTTL ago.
func (s *Store) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	if c, ok := s.clients.Get(id); ok {
		return Client{c}, nil
	}
	c, err := s.store.GetClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		s.clients.Forget(id)
	}
	if err != nil {
		return nil, mapErr("get client", err)
	}
	s.clients.Put(c.ID, c, ClientCacheTTL)
	return Client{c}, nil
}

// ClientAssertionJWTValid reports an error when the JWT ID was seen already.
func (s *Store) ClientAssertionJWTValid(ctx context.Context, jti string) error {
	t, err := s.store.GetToken(ctx, storage.KindClientAssertion, jti)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil
	case err != nil:
		return mapErr("check client assertion", err)
	case t.ExpiresAt.After(time.Now()):
		return fosite.ErrJTIKnown
	}
	return nil
}

// SetClientAssertionJWT records a client assertion's JWT ID until it expires.
func (s *Store) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	err := s.store.CreateToken(ctx, storage.Token{
		Kind: storage.KindClientAssertion, Signature: jti, Active: true,
		ExpiresAt: exp.UTC(), CreatedAt: time.Now().UTC(),
	})
	if errors.Is(err, storage.ErrAlreadyExists) {
		return fosite.ErrJTIKnown
	}
	return mapErr("record client assertion", err)
}

func (s *Store) create(ctx context.Context, kind storage.TokenKind, signature string, r fosite.Requester) error {
	t, err := encodeToken(kind, signature, r)
	if err != nil {
		return err
	}
	return mapErr("create "+string(kind), s.createToken(ctx, t))
}

// get loads an artifact; inactive ones are returned together with ErrInactive.
func (s *Store) get(ctx context.Context, kind storage.TokenKind, signature string, session fosite.Session) (*fosite.Request, storage.Token, error) {
	t, err := s.getToken(ctx, kind, signature)
	if err != nil {
		return nil, t, mapErr("get "+string(kind), err)
	}
	r, err := s.decodeToken(ctx, t, session)
	if err != nil {
		return nil, t, err
	}
	if !t.Active {
		return r, t, storage.ErrInactive
	}
	return r, t, nil
}

// delete is idempotent: fosite deletes PKCE and OpenID sessions before the
// code is invalidated, so concurrent redemptions race to delete them and the
// losers must not fail with a server error.
func (s *Store) delete(ctx context.Context, kind storage.TokenKind, signature string) error {
	err := s.store.DeleteToken(ctx, kind, signature)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	return mapErr("delete "+string(kind), err)
}

// CreateAuthorizeCodeSession stores an authorization code by signature.
func (s *Store) CreateAuthorizeCodeSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, storage.KindAuthorizeCode, signature, r)
}

// GetAuthorizeCodeSession returns the request of a code; for a used code it
// returns the request and fosite.ErrInvalidatedAuthorizeCode, so that fosite
// can revoke what the code issued (RFC 6749 §4.1.2).
func (s *Store) GetAuthorizeCodeSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	r, _, err := s.get(ctx, storage.KindAuthorizeCode, signature, session)
	if errors.Is(err, storage.ErrInactive) {
		return r, fosite.ErrInvalidatedAuthorizeCode
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// InvalidateAuthorizeCodeSession marks a code used. Of concurrent
// redemptions, only one passes this conditional update.
func (s *Store) InvalidateAuthorizeCodeSession(ctx context.Context, signature string) error {
	if s.deferUse(ctx, storage.TokenKey{Kind: storage.KindAuthorizeCode, Signature: signature}) {
		return nil // at Commit
	}
	err := s.store.DeactivateToken(ctx, storage.KindAuthorizeCode, signature)
	if err != nil {
		return mapUseErr("invalidate code", storage.KindAuthorizeCode, err)
	}
	return s.consumeCode(ctx, signature)
}

// CreateAccessTokenSession stores an access token by its JWT signature.
func (s *Store) CreateAccessTokenSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, storage.KindAccessToken, signature, r)
}

// GetAccessTokenSession returns the request of a live access token. A token
// whose ID is on the revocation list reads as not found. The record, and the
// request decoded from it, are cached for a minute (introspection and
// userinfo read it on every call); the client and the revocation list are
// read on every call (see decodeCached).
func (s *Store) GetAccessTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	c, ok := s.tokens.Get(signature)
	if ok && !c.serves(session) {
		ok = false
	}
	if !ok {
		t, err := s.store.GetToken(ctx, storage.KindAccessToken, signature)
		if err != nil {
			return nil, mapErr("get access token", err)
		}
		c = cachedToken{token: t}
	}
	t := c.token
	if !t.Active {
		return nil, fosite.ErrNotFound
	}
	r, decoded, err := s.decodeCached(ctx, c, session)
	if err != nil {
		return nil, err
	}
	// Only tokens with an ID can be checked against the revocation list,
	// so only those may be served from the cache.
	if !ok && t.JTI != "" {
		if decoded != nil {
			t.Data = nil
		}
		s.tokens.Put(signature, cachedToken{token: t, request: decoded}, min(tokenCacheTTL, time.Until(t.ExpiresAt)))
	}
	if t.JTI != "" {
		revoked, err := s.store.IsRevoked(ctx, t.JTI)
		if err != nil {
			return nil, mapErr("check revocation", err)
		}
		if revoked {
			return nil, fosite.ErrNotFound
		}
	}
	return r, nil
}

// DeleteAccessTokenSession revokes and deletes one access token.
func (s *Store) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	s.tokens.Forget(signature)
	t, err := s.store.GetToken(ctx, storage.KindAccessToken, signature)
	if err != nil {
		return mapErr("get access token", err)
	}
	if err := s.revoke(ctx, []storage.Token{t}); err != nil {
		return err
	}
	return s.delete(ctx, storage.KindAccessToken, signature)
}

// CreateRefreshTokenSession stores a refresh token by signature.
func (s *Store) CreateRefreshTokenSession(ctx context.Context, signature, _ string, r fosite.Requester) error {
	return s.create(ctx, storage.KindRefreshToken, signature, r)
}

// GetRefreshTokenSession returns the request of a refresh token; a rotated
// one comes with fosite.ErrInactiveToken, which makes fosite revoke the whole
// family (RFC 9700 §4.14.2).
func (s *Store) GetRefreshTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	r, _, err := s.get(ctx, storage.KindRefreshToken, signature, session)
	if errors.Is(err, storage.ErrInactive) {
		return r, fosite.ErrInactiveToken
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// DeleteRefreshTokenSession marks one refresh token unusable. It is kept, as
// inactive, so that a later use is still recognized as reuse.
func (s *Store) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	err := s.store.DeactivateToken(ctx, storage.KindRefreshToken, signature)
	if errors.Is(err, storage.ErrInactive) {
		return nil
	}
	return mapErr("deactivate refresh token", err)
}

// RotateRefreshToken retires the refresh token being used. Of concurrent
// uses of one token only one passes; the others get fosite.ErrInactiveToken.
func (s *Store) RotateRefreshToken(ctx context.Context, _ string, signature string) error {
	if s.deferUse(ctx, storage.TokenKey{Kind: storage.KindRefreshToken, Signature: signature}) {
		return nil // at Commit
	}
	return mapErr("rotate refresh token", s.store.DeactivateToken(ctx, storage.KindRefreshToken, signature))
}

// RevokeRefreshToken deactivates every refresh token of the grant.
func (s *Store) RevokeRefreshToken(ctx context.Context, requestID string) error {
	return mapErr("revoke refresh tokens", s.store.DeactivateGrant(ctx, storage.KindRefreshToken, requestID))
}

// RevokeAccessToken revokes every access token of the grant: their IDs go on
// the revocation list (which resource servers and introspection consult) and
// the records are deleted.
func (s *Store) RevokeAccessToken(ctx context.Context, requestID string) error {
	tokens, err := s.store.DeleteGrant(ctx, storage.KindAccessToken, requestID)
	if err != nil {
		return mapErr("revoke access tokens", err)
	}
	return s.revoke(ctx, tokens)
}

func (s *Store) revoke(ctx context.Context, tokens []storage.Token) error {
	for _, t := range tokens {
		if t.JTI == "" || !t.ExpiresAt.After(time.Now()) {
			continue
		}
		if err := s.store.Revoke(ctx, t.JTI, t.ExpiresAt); err != nil {
			return mapErr("record revocation", err)
		}
	}
	return nil
}

// CreatePKCERequestSession stores the PKCE challenge of a code.
func (s *Store) CreatePKCERequestSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, storage.KindPKCE, signature, r)
}

// GetPKCERequestSession loads the PKCE challenge of a code. fosite reads
// only its form and client, so its session, the bulk of the record, is
// not decoded (the code's own read fills the caller's session).
func (s *Store) GetPKCERequestSession(ctx context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	r, _, err := s.get(ctx, storage.KindPKCE, signature, nil)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// DeletePKCERequestSession removes the PKCE challenge of a redeemed code.
func (s *Store) DeletePKCERequestSession(ctx context.Context, signature string) error {
	return s.drop(ctx, storage.KindPKCE, signature)
}

// fosite keys the OpenID request of a code by the code itself, not by its
// signature as it does the code and its PKCE challenge; openIDKey hashes
// it, so that no usable code sits in the database in clear.
func openIDKey(code string) string {
	sum := sha256.Sum256([]byte(code))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// CreateOpenIDConnectSession stores the OpenID request of a code.
func (s *Store) CreateOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) error {
	return s.create(ctx, storage.KindOpenIDSession, openIDKey(code), r)
}

// GetOpenIDConnectSession loads the OpenID request of a code. A request
// stored under the code itself, by a replica of a release before this one
// during an upgrade, is still found (codes live a minute or so).
func (s *Store) GetOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) (fosite.Requester, error) {
	req, _, err := s.get(ctx, storage.KindOpenIDSession, openIDKey(code), r.GetSession())
	if errors.Is(err, fosite.ErrNotFound) {
		req, _, err = s.get(ctx, storage.KindOpenIDSession, code, r.GetSession())
	}
	if err != nil {
		return nil, err
	}
	return req, nil
}

// DeleteOpenIDConnectSession removes the OpenID request of a code, under
// either key.
func (s *Store) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	if err := s.drop(ctx, storage.KindOpenIDSession, openIDKey(code)); err != nil {
		return err
	}
	return s.drop(ctx, storage.KindOpenIDSession, code)
}

// BeginTX starts a transaction that the following calls with ctx join.
// Artifacts the request created before it are written first, outside it.
func (s *Store) BeginTX(ctx context.Context) (context.Context, error) {
	if err := s.flushQueued(ctx); err != nil {
		return ctx, mapErr("create tokens", err)
	}
	ctx, err := s.store.BeginTx(ctx)
	if err != nil {
		return ctx, &UnavailableError{Err: err}
	}
	s.startTx(ctx)
	return ctx, nil
}

// Commit writes what the transaction in ctx holds back (the code or
// refresh token used, what goes with it, the tokens issued) as one
// redemption, and commits.
func (s *Store) Commit(ctx context.Context) error {
	r, ok := s.redemption(ctx)
	if !ok {
		return s.commit(ctx)
	}
	err := s.store.RedeemAndCommit(ctx, r)
	if err != nil && r.Use != nil {
		return mapUseErr("redeem", r.Use.Kind, err)
	}
	return mapErr("redeem", err)
}

// commit ends a transaction without a unit.
func (s *Store) commit(ctx context.Context) error {
	if err := s.flushQueued(ctx); err != nil {
		_ = s.store.Rollback(ctx)
		return mapErr("create tokens", err)
	}
	if err := s.store.Commit(ctx); err != nil {
		return &UnavailableError{Err: err}
	}
	return nil
}

// Rollback aborts the transaction in ctx and what was created in it. After
// a failed Commit, which ended the transaction already, it does nothing.
func (s *Store) Rollback(ctx context.Context) error {
	if !s.forgetTx(ctx) {
		return nil
	}
	return s.store.Rollback(ctx)
}
