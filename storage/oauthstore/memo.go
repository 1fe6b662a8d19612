package oauthstore

import (
	"context"
	"sync"

	"github.com/tollgate/tollgate/storage"
)

// A token request reads its authorization code twice (fosite's handler
// checks the code, then reads it again to issue the tokens); a memo in the
// request's context lets the second read reuse the first. Single use does
// not rest on these reads: the conditional update that marks the code used
// lets one redemption through (InvalidateAuthorizeCodeSession).
type memoKey struct{}

type memo struct {
	mu    sync.Mutex
	codes map[string]storage.Token
}

// WithMemo returns ctx with a memo for the reads of one token request.
func WithMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, memoKey{}, &memo{codes: map[string]storage.Token{}})
}

// getToken reads an artifact, an active code from the request's memo when
// it was read already.
func (s *Store) getToken(ctx context.Context, kind storage.TokenKind, signature string) (storage.Token, error) {
	m, _ := ctx.Value(memoKey{}).(*memo)
	if m == nil || kind != storage.KindAuthorizeCode {
		return s.store.GetToken(ctx, kind, signature)
	}
	m.mu.Lock()
	t, ok := m.codes[signature]
	m.mu.Unlock()
	if ok {
		return t, nil
	}
	t, err := s.store.GetToken(ctx, kind, signature)
	if err == nil && t.Active {
		m.mu.Lock()
		m.codes[signature] = t
		m.mu.Unlock()
	}
	return t, err
}
