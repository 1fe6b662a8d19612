package oauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"

	"github.com/ory/fosite"
	"golang.org/x/sync/singleflight"

	"github.com/tollgate/tollgate/passwords"
)

// maxVerified bounds the verified-secret cache.
const maxVerified = 10000

// secretHasher verifies client secrets, hashed with argon2id like passwords.
// A successful verification is remembered (by a SHA-256 of hash and secret,
// never the secret) so that a busy client pays the slow hash once per
// process, not on every token request.
type secretHasher struct {
	hasher *passwords.Hasher

	mu       sync.RWMutex
	verified map[[32]byte]struct{}
	// inflight joins concurrent first verifications of one secret, so a
	// client's burst of requests pays for one hash, not one each.
	inflight singleflight.Group
}

var _ fosite.Hasher = (*secretHasher)(nil)

func newSecretHasher(h *passwords.Hasher) *secretHasher {
	return &secretHasher{hasher: h, verified: make(map[[32]byte]struct{})}
}

func (h *secretHasher) Compare(_ context.Context, hash, secret []byte) error {
	key := sha256.Sum256(append(append(append([]byte{}, hash...), 0), secret...))
	h.mu.RLock()
	_, ok := h.verified[key]
	h.mu.RUnlock()
	if ok {
		return nil
	}
	_, err, _ := h.inflight.Do(string(key[:]), func() (any, error) {
		match, _, err := h.hasher.Verify(string(secret), string(hash))
		if err != nil || !match {
			return nil, errors.New("client secret does not match")
		}
		h.mu.Lock()
		if len(h.verified) >= maxVerified {
			clear(h.verified)
		}
		h.verified[key] = struct{}{}
		h.mu.Unlock()
		return nil, nil
	})
	return err
}

func (h *secretHasher) Hash(_ context.Context, secret []byte) ([]byte, error) {
	s, err := h.hasher.Hash(string(secret))
	return []byte(s), err
}
