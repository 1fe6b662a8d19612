// Package keyring manages the asymmetric keys that sign Tollgate's tokens:
// generation, encryption at rest, rotation with overlap, and the public JWKS.
// Keys live in the database so that every replica signs and verifies with the
// same set.
package keyring

import (
	"cmp"
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

// DefaultCachePeriod is how long a replica serves its cached keys before
// reading them again: it bounds how long a replica may sign with a key another
// replica has rotated away, and how stale its JWKS may be (replicas pick up a
// rotation within a minute).
const DefaultCachePeriod = 30 * time.Second

// DefaultPublishDelay is how long a next key must have been published before
// it may sign: longer than the replicas' cache period plus the max-age of the
// JWKS response (300 s), so that every replica's JWKS, and every HTTP cache in
// front of it, has the key before the first token it signs.
const DefaultPublishDelay = 6 * time.Minute

// ErrRotationTooSoon is returned (wrapped in a *TooSoonError) by Rotate when
// the next key has not been published for the publish delay yet.
var ErrRotationTooSoon = errors.New("keyring: rotation too soon")

// TooSoonError says how long to wait before the next key may sign.
type TooSoonError struct {
	KID  string
	Wait time.Duration
}

func (e *TooSoonError) Error() string {
	return fmt.Sprintf("keyring: the next key %s was published less than the publish delay ago: rotate again in %s",
		e.KID, e.Wait.Round(time.Second))
}

// Is makes errors.Is(err, ErrRotationTooSoon) hold.
func (e *TooSoonError) Is(target error) bool { return target == ErrRotationTooSoon }

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
	store        Store
	sealer       *Sealer
	now          func() time.Time
	algs         []string
	cachePeriod  time.Duration
	publishDelay time.Duration

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

// WithClock sets the clock the keyring reads (default time.Now): key ages,
// retirement and cache expiry follow it.
func WithClock(now func() time.Time) Option {
	return func(r *Keyring) { r.now = now }
}

// WithCachePeriod sets how long keys are cached (default DefaultCachePeriod).
func WithCachePeriod(d time.Duration) Option {
	return func(r *Keyring) { r.cachePeriod = d }
}

// WithPublishDelay sets how long a next key must have been published before
// a rotation may make it sign (default DefaultPublishDelay). It must exceed
// the cache period of every replica.
func WithPublishDelay(d time.Duration) Option {
	return func(r *Keyring) { r.publishDelay = d }
}

// New returns a keyring over store whose private keys are encrypted under a
// key derived from the system secret.
func New(store Store, systemSecret []byte, opts ...Option) (*Keyring, error) {
	sealer, err := NewSealer(systemSecret, "tollgate signing-key encryption v1")
	if err != nil {
		return nil, err
	}
	r := &Keyring{
		store: store, sealer: sealer, now: time.Now, algs: []string{RS256},
		cachePeriod: DefaultCachePeriod, publishDelay: DefaultPublishDelay,
	}
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
	if r.cachePeriod < 0 || r.publishDelay < 0 {
		return nil, errors.New("keyring: negative cache period or publish delay")
	}
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
	return r.ensureStates(ctx, storage.KeyActive, storage.KeyNext)
}

// EnsureActive creates only the active keys the store lacks: what a server
// needs before it can answer. A new deployment's first start then waits
// for one RSA key, not two; Ensure adds the successor once serving, and it
// counts as published from then (see checkPublished).
func (r *Keyring) EnsureActive(ctx context.Context) error {
	return r.ensureStates(ctx, storage.KeyActive)
}

// slot is one key a family needs.
type slot struct {
	alg   string
	state storage.KeyState
}

// ensureStates makes the keys that look missing before it takes the key
// lock: a search for RSA primes takes tens to hundreds of milliseconds,
// and holding the lock that long (on SQLite, the database's write lock)
// would stall every other writer, readiness checks included.
func (r *Keyring) ensureStates(ctx context.Context, states ...storage.KeyState) error {
	keys, err := r.store.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	made, err := generateAll(r.missing(keys, states))
	if err != nil {
		return err
	}
	return r.locked(ctx, func(ctx context.Context, keys []storage.SigningKey) error {
		return r.ensure(ctx, keys, made, states...)
	})
}

// missing returns the slots of states that keys leave empty.
func (r *Keyring) missing(keys []storage.SigningKey, states []storage.KeyState) []slot {
	have := map[slot]bool{}
	for _, k := range keys {
		if k.State == storage.KeyRetired {
			continue
		}
		have[slot{k.Algorithm, k.State}] = true
	}
	var todo []slot
	for _, alg := range r.algs {
		for _, state := range states {
			if !have[slot{alg, state}] {
				todo = append(todo, slot{alg, state})
			}
		}
	}
	return todo
}

// generateAll makes a key for each slot. A new deployment needs two RSA
// keys, each a search for primes; the cores search side by side.
func generateAll(slots []slot) (map[slot]crypto.Signer, error) {
	privs := make([]crypto.Signer, len(slots))
	errs := make([]error, len(slots))
	var wg sync.WaitGroup
	for i, sl := range slots {
		wg.Go(func() { privs[i], errs[i] = generate(sl.alg) })
	}
	wg.Wait()
	made := map[slot]crypto.Signer{}
	for i, sl := range slots {
		if errs[i] != nil {
			return nil, errs[i]
		}
		made[sl] = privs[i]
	}
	return made, nil
}

// ensure, under the key lock, drops expired retired keys and fills the
// empty slots of states, with the keys in made where it has them.
func (r *Keyring) ensure(ctx context.Context, keys []storage.SigningKey, made map[slot]crypto.Signer, states ...storage.KeyState) error {
	var live []storage.SigningKey
	for _, k := range keys {
		if k.State == storage.KeyRetired && !k.RetiresAt.After(r.now()) {
			if err := r.store.DeleteKey(ctx, k.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("delete expired key %s: %w", k.ID, err)
			}
			continue
		}
		live = append(live, k)
	}
	todo := r.missing(live, states)
	var unmade []slot
	for _, sl := range todo {
		if made[sl] == nil {
			unmade = append(unmade, sl)
		}
	}
	more, err := generateAll(unmade)
	if err != nil {
		return err
	}
	// A family created here gets one timestamp for both keys: they appear
	// together in every JWKS, so the next key counts as published as long
	// as the active one (see rotate).
	now := r.now().UTC().Truncate(time.Microsecond)
	for _, sl := range todo {
		priv := cmp.Or(made[sl], more[sl])
		if err := r.create(ctx, sl.alg, sl.state, priv, now); err != nil {
			return err
		}
	}
	return nil
}

// Rotate retires the active key (kept published for retain, the longest life
// of a token it signed, plus the cache period, during which other replicas
// may still sign with it), promotes the published next key, and publishes a
// new next key. Because the promoted key has been in JWKS for the publish
// delay, every replica and verifier can know it before the first token it
// signs reaches them; a rotation sooner than that fails with a
// *TooSoonError (ErrRotationTooSoon) and changes nothing.
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
		err := r.rotate(ctx, keys, retain)
		if errors.Is(err, ErrRotationTooSoon) {
			return nil // an admin just rotated: the schedule waits for the next check
		}
		rotated = err == nil
		return err
	})
	return rotated, err
}

func (r *Keyring) rotate(ctx context.Context, keys []storage.SigningKey, retain time.Duration) error {
	if err := r.ensure(ctx, keys, nil, storage.KeyActive, storage.KeyNext); err != nil {
		return err
	}
	keys, err := r.store.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	now := r.now()
	if err := r.checkPublished(keys, now); err != nil {
		return err
	}
	// Retire first, then promote: at no point are two keys of a family
	// active (the database refuses that, see migration 9).
	for _, step := range []struct{ from, to storage.KeyState }{
		{storage.KeyActive, storage.KeyRetired},
		{storage.KeyNext, storage.KeyActive},
	} {
		for _, k := range keys {
			if k.State != step.from {
				continue
			}
			err := r.store.UpdateKey(ctx, k.ID, func(cur storage.SigningKey) (storage.SigningKey, error) {
				cur.State = step.to
				if step.to == storage.KeyRetired {
					cur.RetiresAt = now.Add(retain + r.cachePeriod).UTC()
				}
				return cur, nil
			})
			if err != nil {
				return fmt.Errorf("rotate key %s: %w", k.ID, err)
			}
		}
	}
	// The new next key must look younger than every key before it, even
	// to a replica whose clock runs behind the one that made them: the
	// publish delay is measured from this stamp.
	stamp := now.UTC().Truncate(time.Microsecond) // as precise as databases store it
	for _, k := range keys {
		if !k.CreatedAt.Before(stamp) {
			stamp = k.CreatedAt.Add(time.Microsecond).UTC()
		}
	}
	for _, alg := range r.algs {
		priv, err := generate(alg)
		if err != nil {
			return err
		}
		if err := r.create(ctx, alg, storage.KeyNext, priv, stamp); err != nil {
			return err
		}
	}
	return nil
}

// checkPublished refuses a rotation while a next key has been published for
// less than the publish delay: a replica whose cache predates it, or a
// verifier that fetched such a replica's JWKS, would not know the key it is
// about to sign with. A next key created together with its active key (the
// first family) has been in every JWKS ever served, and may sign at once.
func (r *Keyring) checkPublished(keys []storage.SigningKey, now time.Time) error {
	active := map[string]time.Time{}
	for _, k := range keys {
		if k.State == storage.KeyActive {
			active[k.Algorithm] = k.CreatedAt
		}
	}
	for _, k := range keys {
		if k.State != storage.KeyNext {
			continue
		}
		if a, ok := active[k.Algorithm]; ok && !k.CreatedAt.After(a) {
			continue
		}
		if wait := k.CreatedAt.Add(r.publishDelay).Sub(now); wait > 0 {
			return &TooSoonError{KID: k.ID, Wait: wait}
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

// Keys returns the decrypted, unexpired keys, cached for the cache period.
func (r *Keyring) Keys(ctx context.Context) ([]Key, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys != nil && r.now().Sub(r.loadedAt) < r.cachePeriod {
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

// generate makes the private key of a new signing key.
func generate(alg string) (crypto.Signer, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	return priv, nil
}

// create stores priv as a new signing key, sealed.
func (r *Keyring) create(ctx context.Context, alg string, state storage.KeyState, priv crypto.Signer, createdAt time.Time) error {
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
		PrivateKey: sealed, PublicJWK: pubJSON, CreatedAt: createdAt,
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
