package keyring_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// fakeClock is a clock the test moves by hand, shared by replicas.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func replica(t *testing.T, store keyring.Store, clock *fakeClock, opts ...keyring.Option) *keyring.Keyring {
	t.Helper()
	k, err := keyring.New(store, secret, append([]keyring.Option{keyring.WithClock(clock.Now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The first next key was published with the first active key and may sign
// at once; every later one only after the publish delay, and a rotation
// sooner than that changes nothing.
func TestRotationWaitsForThePublishDelay(t *testing.T) {
	ctx := context.Background()
	store := testbackend.SQLite(t)
	clock := &fakeClock{t: time.Now()}
	k := replica(t, store, clock, keyring.WithPublishDelay(5*time.Minute))
	if err := k.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if err := k.Rotate(ctx, time.Hour); err != nil {
		t.Fatalf("first rotation: %v", err)
	}
	before, err := store.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(4 * time.Minute)
	err = k.Rotate(ctx, time.Hour)
	var tooSoon *keyring.TooSoonError
	if !errors.Is(err, keyring.ErrRotationTooSoon) || !errors.As(err, &tooSoon) || tooSoon.Wait <= 59*time.Second || tooSoon.Wait > time.Minute+time.Second {
		t.Fatalf("rotation 4 minutes after the last: %v", err)
	}
	after, err := store.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("a refused rotation changed the keys: %d then %d", len(before), len(after))
	}
	// The schedule does not fail over it either: it waits.
	if rotated, err := k.RotateIfOlder(ctx, time.Second, time.Hour); err != nil || rotated {
		t.Fatalf("scheduled rotation inside the publish delay: %v %v", rotated, err)
	}
	clock.Advance(time.Minute + time.Second)
	if err := k.Rotate(ctx, time.Hour); err != nil {
		t.Fatalf("rotation after the publish delay: %v", err)
	}
	if _, err := keyring.New(store, secret, keyring.WithPublishDelay(-time.Second)); err == nil {
		t.Fatal("a negative publish delay was accepted")
	}
}

// A replica signs with its cached key for up to its cache period after
// another replica rotated; the retired key stays published until the last
// token it signed then has expired.
func TestRetiredKeyOutlivesStaleReplicas(t *testing.T) {
	ctx := context.Background()
	store := testbackend.SQLite(t)
	clock := &fakeClock{t: time.Now()}
	const cache, lifetime = 30 * time.Second, time.Hour
	a := replica(t, store, clock, keyring.WithCachePeriod(cache))
	b := replica(t, store, clock, keyring.WithCachePeriod(cache))
	if err := a.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	old, err := b.Active(ctx, keyring.RS256) // b caches the keys now
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Rotate(ctx, lifetime); err != nil {
		t.Fatal(err)
	}
	clock.Advance(cache - time.Second)
	stale, err := b.Active(ctx, keyring.RS256)
	if err != nil || stale.ID != old.ID {
		t.Fatalf("b signs with %s (%v) just before its cache expires, want the old key %s", stale.ID, err, old.ID)
	}
	// A token b signs now lives until now+lifetime: until then, verifiers
	// must find its key.
	clock.Advance(lifetime - time.Second)
	set, err := a.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var published bool
	for _, k := range set.Keys {
		published = published || k.KeyID == old.ID
	}
	if !published {
		t.Fatalf("key %s left JWKS while a token it signed is still live", old.ID)
	}
	clock.Advance(2 * time.Second)
	if err := a.Ensure(ctx); err != nil { // drops expired keys
		t.Fatal(err)
	}
	if _, err := a.Lookup(ctx, old.ID); err == nil {
		t.Fatal("the retired key is still published after its last token expired")
	}
}

// The database itself refuses a second active or next key of an algorithm,
// whatever a buggy or old replica tries.
func TestOneActiveKeyPerAlgorithm(t *testing.T) {
	for _, b := range []struct {
		name string
		open func(testing.TB) storage.Store
	}{{"sqlite", testbackend.SQLite}, {"postgres", testbackend.Postgres}} {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			store := b.open(t)
			k := newKeyring(t, store, secret)
			if err := k.Ensure(ctx); err != nil {
				t.Fatal(err)
			}
			for _, state := range []storage.KeyState{storage.KeyActive, storage.KeyNext} {
				err := store.CreateKey(ctx, storage.SigningKey{
					ID: "dup-" + string(state), Algorithm: keyring.RS256, State: state,
					PrivateKey: []byte("x"), PublicJWK: []byte("{}"), CreatedAt: time.Now().UTC(),
				})
				if err == nil {
					t.Errorf("a second %s RS256 key was stored", state)
				}
			}
			// Another algorithm has a family of its own.
			err := store.CreateKey(ctx, storage.SigningKey{
				ID: "es", Algorithm: keyring.ES256, State: storage.KeyActive,
				PrivateKey: []byte("x"), PublicJWK: []byte("{}"), CreatedAt: time.Now().UTC(),
			})
			if err != nil {
				t.Fatalf("an active ES256 key beside the RS256 one: %v", err)
			}
		})
	}
}
