// Package keyring manages the asymmetric keys that sign Tollgate's tokens:
// generation, encryption at rest, rotation with overlap, and the public JWKS.
// Keys live in the database so that every replica signs and verifies with the
// same set.
package keyring

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tollgate/tollgate/storage"
)

// refreshEvery bounds how long a replica may sign with a key another replica
// has rotated away (issue: replicas pick up a rotation within a minute).
const refreshEvery = 30 * time.Second

// Store is what the keyring needs from storage.
type Store interface {
	storage.KeyStore
	storage.Transactor
}

// Key is a decrypted signing key.
type Key struct {
	ID        string
	Algorithm string
	State     storage.KeyState
	Private   crypto.Signer
	CreatedAt time.Time
	RetiresAt time.Time
}

// Public returns the key's public JWK.
func (k Key) Public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.Private.Public(), KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"}
}

// Signing algorithms a keyring can hold keys for.
const (
	RS256 = "RS256" // RSA 2048, OpenID Connect's mandatory algorithm
	ES256 = "ES256" // ECDSA P-256: signs an order of magnitude faster
)

// Keyring loads, caches and rotates signing keys. It keeps one family of
// keys (next, active, retired) per algorithm it is configured with.
type Keyring struct {
	store  Store
	sealer *Sealer
	now    func() time.Time
	algs   []string

	mu       sync.Mutex
	keys     []Key
	loadedAt time.Time
}

// Option configures a keyring.
type Option func(*Keyring)

// WithAlgorithms sets the algorithms to keep keys for (default RS256 only).
func WithAlgorithms(algs ...string) Option {
	return func(r *Keyring) { r.algs = algs }
}

// New returns a keyring over store whose private keys are encrypted under a
// key derived from the system secret.
func New(store Store, systemSecret []byte, opts ...Option) (*Keyring, error) {
	sealer, err := NewSealer(systemSecret, "tollgate signing-key encryption v1")
	if err != nil {
		return nil, err
	}
	r := &Keyring{store: store, sealer: sealer, now: time.Now, algs: []string{RS256}}
	for _, opt := range opts {
		opt(r)
	}
	// Naming an algorithm twice must not make two families of it.
	var unique []string
	for _, alg := range r.algs {
		if !slices.Contains(unique, alg) {
			unique = append(unique, alg)
		}
	}
	r.algs = unique
	for _, alg := range r.algs {
		if alg != RS256 && alg != ES256 {
			return nil, fmt.Errorf("keyring: unsupported algorithm %q (want RS256 or ES256)", alg)
		}
	}
	return r, nil
}

// Ensure creates the first active key and its successor when the store has
// none, and drops retired keys whose tokens have all expired.
func (r *Keyring) Ensure(ctx context.Context) error {
	return r.locked(ctx, func(ctx context.Context, keys []storage.SigningKey) error {
		return r.ensure(ctx, keys)
	})
}

func (r *Keyring) ensure(ctx context.Context, keys []storage.SigningKey) error {
	have := map[string]map[storage.KeyState]bool{}
	for _, k := range keys {
		if k.State == storage.KeyRetired && !k.RetiresAt.After(r.now()) {
			if err := r.store.DeleteKey(ctx, k.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("delete expired key %s: %w", k.ID, err)
			}
			continue
		}
		if have[k.Algorithm] == nil {
			have[k.Algorithm] = map[storage.KeyState]bool{}
		}
		have[k.Algorithm][k.State] = true
	}
	for _, alg := range r.algs {
		for _, state := range []storage.KeyState{storage.KeyActive, storage.KeyNext} {
			if !have[alg][state] {
				if err := r.create(ctx, alg, state); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Rotate retires the active key (kept published for retain, the longest life
// of a token it signed), promotes the published next key, and publishes a new
// next key. Because the promoted key was already in JWKS, verifiers know it
// before the first token it signs reaches them.
func (r *Keyring) Rotate(ctx context.Context, retain time.Duration) error {
	return r.locked(ctx, func(ctx context.Context, keys []storage.SigningKey) error {
		return r.rotate(ctx, keys, retain)
	})
}

// RotateIfOlder rotates when the last rotation (the creation of the newest
// key, the published next one) was more than maxAge ago. Replicas may all
// call it on a schedule: the first one rotates, and the others, serialized
// behind it, find a fresh next key and do nothing.
func (r *Keyring) RotateIfOlder(ctx context.Context, maxAge, retain time.Duration) (rotated bool, err error) {
	err = r.locked(ctx, func(ctx context.Context, keys []storage.SigningKey) error {
		var newest time.Time
		for _, k := range keys {
			if k.CreatedAt.After(newest) {
				newest = k.CreatedAt
			}
		}
		if len(keys) > 0 && r.now().Sub(newest) <= maxAge {
			return nil
		}
		rotated = true
		return r.rotate(ctx, keys, retain)
	})
	return rotated, err
}

func (r *Keyring) rotate(ctx context.Context, keys []storage.SigningKey, retain time.Duration) error {
	if err := r.ensure(ctx, keys); err != nil {
		return err
	}
	keys, err := r.store.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	now := r.now()
	for _, k := range keys {
		var to storage.KeyState
		switch k.State {
		case storage.KeyActive:
			to = storage.KeyRetired
		case storage.KeyNext:
			to = storage.KeyActive
		default:
			continue
		}
		err := r.store.UpdateKey(ctx, k.ID, func(cur storage.SigningKey) (storage.SigningKey, error) {
			cur.State = to
			if to == storage.KeyRetired {
				cur.RetiresAt = now.Add(retain)
			}
			return cur, nil
		})
		if err != nil {
			return fmt.Errorf("rotate key %s: %w", k.ID, err)
		}
	}
	for _, alg := range r.algs {
		if err := r.create(ctx, alg, storage.KeyNext); err != nil {
			return err
		}
	}
	return nil
}

// locked runs fn in a transaction that holds the store's key lock, with the
// keys as they are once the lock is held, and drops the cache afterwards:
// two replicas never both create or rotate keys.
func (r *Keyring) locked(ctx context.Context, fn func(context.Context, []storage.SigningKey) error) error {
	err := r.inTx(ctx, func(ctx context.Context) error {
		if err := r.store.LockKeys(ctx); err != nil {
			return fmt.Errorf("lock keys: %w", err)
		}
		keys, err := r.store.ListKeys(ctx)
		if err != nil {
			return fmt.Errorf("list keys: %w", err)
		}
		return fn(ctx, keys)
	})
	if err != nil {
		return err
	}
	r.invalidate()
	return nil
}

// Active returns the key that signs new tokens with alg.
func (r *Keyring) Active(ctx context.Context, alg string) (Key, error) {
	keys, err := r.Keys(ctx)
	if err != nil {
		return Key{}, err
	}
	for _, k := range keys {
		if k.State == storage.KeyActive && k.Algorithm == alg {
			return k, nil
		}
	}
	return Key{}, fmt.Errorf("keyring: no active %s signing key", alg)
}

// Lookup returns the published key with the given kid, reloading once from
// the store when it is unknown (another replica may just have rotated).
func (r *Keyring) Lookup(ctx context.Context, kid string) (Key, error) {
	for attempt := 0; attempt < 2; attempt++ {
		keys, err := r.Keys(ctx)
		if err != nil {
			return Key{}, err
		}
		for _, k := range keys {
			if k.ID == kid {
				return k, nil
			}
		}
		if attempt == 0 && !r.reloadedWithin(time.Second) {
			r.invalidate()
			continue
		}
		break
	}
	return Key{}, fmt.Errorf("keyring: unknown key %q", kid)
}

// JWKS returns the public keys verifiers should trust: next, active and the
// retired keys whose tokens may still be live. Never private material.
func (r *Keyring) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	keys, err := r.Keys(ctx)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.Public())
	}
	return set, nil
}

// Keys returns the decrypted, unexpired keys, cached for refreshEvery.
func (r *Keyring) Keys(ctx context.Context) ([]Key, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys != nil && r.now().Sub(r.loadedAt) < refreshEvery {
		return r.keys, nil
	}
	stored, err := r.store.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keyring: list keys: %w", err)
	}
	keys := make([]Key, 0, len(stored))
	for _, s := range stored {
		if s.State == storage.KeyRetired && !s.RetiresAt.After(r.now()) {
			continue
		}
		k, err := r.decrypt(s)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	r.keys, r.loadedAt = keys, r.now()
	return keys, nil
}

func (r *Keyring) invalidate() {
	r.mu.Lock()
	r.keys = nil
	r.mu.Unlock()
}

func (r *Keyring) reloadedWithin(d time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.keys != nil && r.now().Sub(r.loadedAt) < d
}

func (r *Keyring) create(ctx context.Context, alg string, state storage.KeyState) error {
	var priv crypto.Signer
	var err error
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		return fmt.Errorf("generate %s key: %w", alg, err)
	}
	pub := jose.JSONWebKey{Key: priv.Public(), Algorithm: alg, Use: "sig"}
	thumb, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return fmt.Errorf("key thumbprint: %w", err)
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(thumb)[:16]
	pubJSON, err := json.Marshal(pub)
	if err != nil {
		return fmt.Errorf("marshal public key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("marshal private key: %w", err)
	}
	sealed, err := r.seal(der, pub.KeyID)
	if err != nil {
		return err
	}
	err = r.store.CreateKey(ctx, storage.SigningKey{
		ID: pub.KeyID, Algorithm: pub.Algorithm, State: state,
		PrivateKey: sealed, PublicJWK: pubJSON, CreatedAt: r.now().UTC(),
	})
	if err != nil {
		return fmt.Errorf("store key: %w", err)
	}
	return nil
}

// seal encrypts a private key, binding the ciphertext to its kid so that rows
// cannot be swapped.
func (r *Keyring) seal(plain []byte, kid string) ([]byte, error) {
	return r.sealer.Seal(plain, kid)
}

func (r *Keyring) decrypt(s storage.SigningKey) (Key, error) {
	der, err := r.sealer.Open(s.PrivateKey, s.ID)
	if err != nil {
		return Key{}, fmt.Errorf("keyring: key %s does not decrypt: was the system secret changed?", s.ID)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return Key{}, fmt.Errorf("keyring: key %s: %w", s.ID, err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return Key{}, fmt.Errorf("keyring: key %s is not a signing key", s.ID)
	}
	return Key{ID: s.ID, Algorithm: s.Algorithm, State: s.State, Private: signer, CreatedAt: s.CreatedAt, RetiresAt: s.RetiresAt}, nil
}

func (r *Keyring) inTx(ctx context.Context, fn func(context.Context) error) (err error) {
	txCtx, err := r.store.BeginTx(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(txCtx); err != nil {
		_ = r.store.Rollback(txCtx)
		return err
	}
	if err := r.store.Commit(txCtx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
