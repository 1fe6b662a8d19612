// Package authflow keeps an authorization request pending while the user
// signs in and consents at the hosted pages, so that the request resumes
// exactly as the client sent it.
package authflow

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/tollgate/tollgate/storage"
)

// kind is the token-table kind that holds pending requests.
const kind storage.TokenKind = "authorize_request"

// ErrNotFound: the handle is unknown or the request has expired.
var ErrNotFound = errors.New("authflow: no such pending request")

// Pending is an authorization request waiting for the user.
type Pending struct {
	Query     url.Values `json:"query"` // the request's parameters, as sent
	ClientID  string     `json:"client_id"`
	Scopes    []string   `json:"scopes"`
	CreatedAt time.Time  `json:"created_at"` // when the client sent the request
	// SessionID is the browser session that signed in for this request; the
	// request resumes only in that session.
	SessionID string `json:"session_id,omitempty"`
	LoggedIn  bool   `json:"logged_in,omitempty"`
	Consented bool   `json:"consented,omitempty"`
	// Denied: the user refused consent; the client gets access_denied.
	Denied bool `json:"denied,omitempty"`
}

// Store keeps pending requests in the token table, keyed by a hash of the
// handle that travels in URLs.
type Store struct {
	tokens storage.TokenStore
	ttl    time.Duration
}

// New returns a store whose requests expire after ttl.
func New(tokens storage.TokenStore, ttl time.Duration) *Store {
	return &Store{tokens: tokens, ttl: ttl}
}

// Create stores p and returns its handle.
func (s *Store) Create(ctx context.Context, p Pending) (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("authflow: random: %w", err)
	}
	handle := base64.RawURLEncoding.EncodeToString(b)
	return handle, s.put(ctx, handle, p)
}

// Get loads the pending request of handle.
func (s *Store) Get(ctx context.Context, handle string) (Pending, error) {
	if handle == "" {
		return Pending{}, ErrNotFound
	}
	t, err := s.tokens.GetToken(ctx, kind, hashHandle(handle))
	if errors.Is(err, storage.ErrNotFound) || (err == nil && !t.ExpiresAt.After(time.Now())) {
		return Pending{}, ErrNotFound
	}
	if err != nil {
		return Pending{}, fmt.Errorf("authflow: load: %w", err)
	}
	var p Pending
	if err := json.Unmarshal(t.Data, &p); err != nil {
		return Pending{}, fmt.Errorf("authflow: decode: %w", err)
	}
	return p, nil
}

// Update replaces the pending request of handle, in one statement: a page
// reading it meanwhile finds the old or the new one, never none.
func (s *Store) Update(ctx context.Context, handle string, p Pending) error {
	t, err := s.token(handle, p)
	if err != nil {
		return err
	}
	if err := s.tokens.ReplaceToken(ctx, t); err != nil {
		return fmt.Errorf("authflow: store: %w", err)
	}
	return nil
}

// Delete forgets the pending request of handle.
func (s *Store) Delete(ctx context.Context, handle string) error {
	err := s.tokens.DeleteToken(ctx, kind, hashHandle(handle))
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("authflow: delete: %w", err)
	}
	return nil
}

func (s *Store) put(ctx context.Context, handle string, p Pending) error {
	t, err := s.token(handle, p)
	if err != nil {
		return err
	}
	if err := s.tokens.CreateToken(ctx, t); err != nil {
		return fmt.Errorf("authflow: store: %w", err)
	}
	return nil
}

// token is the stored form of p under handle.
func (s *Store) token(handle string, p Pending) (storage.Token, error) {
	data, err := json.Marshal(p)
	if err != nil {
		return storage.Token{}, fmt.Errorf("authflow: encode: %w", err)
	}
	return storage.Token{
		Kind: kind, Signature: hashHandle(handle), ClientID: p.ClientID, Active: true,
		ExpiresAt: p.CreatedAt.Add(s.ttl).UTC(), Data: data, CreatedAt: time.Now().UTC(),
	}, nil
}

func hashHandle(handle string) string {
	sum := sha256.Sum256([]byte(handle))
	return hex.EncodeToString(sum[:])
}
