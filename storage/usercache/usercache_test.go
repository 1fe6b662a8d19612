package usercache

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
	"github.com/tollgate/tollgate/storage/ttlcache"
)

// backends runs fn on SQLite and on PostgreSQL.
func backends(t *testing.T, fn func(t *testing.T, open func(testing.TB) storage.Store)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, testbackend.SQLite) })
	t.Run("postgres", func(t *testing.T) { fn(t, testbackend.Postgres) })
}

// backend is a store whose user reads can fail or be interleaved with
// other calls.
type backend struct {
	storage.Store
	fail      error  // returned by GetUser when set
	afterRead func() // runs after GetUser has read the row
}

func (b *backend) GetUser(ctx context.Context, id string) (storage.User, error) {
	if b.fail != nil {
		return storage.User{}, b.fail
	}
	u, err := b.Store.GetUser(ctx, id)
	if b.afterRead != nil {
		b.afterRead()
	}
	return u, err
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

// setup stores Ada and wraps the store with a cache on a fake clock.
func setup(t *testing.T, open func(testing.TB) storage.Store) (*Store, *backend, *fakeClock) {
	t.Helper()
	b := &backend{Store: open(t)}
	now := time.Now().UTC().Truncate(time.Second)
	if err := b.CreateUser(context.Background(), storage.User{
		ID: "ada", Email: "ada@example.com", Name: "Ada", PasswordHash: "$argon2id$secret",
		CreatedAt: now, UpdatedAt: now,
	}); err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: now}
	s := Wrap(b)
	s.users = ttlcache.New[storage.User](clock.Now, maxUsers)
	return s, b, clock
}

func rename(name string) func(storage.User) (storage.User, error) {
	return func(u storage.User) (storage.User, error) {
		u.Name = name
		return u, nil
	}
}

func wantName(t *testing.T, s *Store, want string) {
	t.Helper()
	u, err := s.CachedUser(context.Background(), "ada")
	if err != nil || u.Name != want {
		t.Fatalf("CachedUser: %q, %v; want %q", u.Name, err, want)
	}
}

// A change made elsewhere (here: straight to the backend, as another
// replica would) shows once TTL has passed, not before.
func TestChangeElsewhereShowsWithinTTL(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		s, b, clock := setup(t, open)
		ctx := context.Background()
		u, err := s.CachedUser(ctx, "ada")
		if err != nil || u.Name != "Ada" {
			t.Fatalf("first read: %+v %v", u, err)
		}
		if u.PasswordHash != "" {
			t.Error("the cached user carries the password hash")
		}
		if err := b.Store.UpdateUser(ctx, "ada", rename("Ada King")); err != nil {
			t.Fatal(err)
		}
		clock.t = clock.t.Add(TTL - time.Millisecond)
		wantName(t, s, "Ada")
		clock.t = clock.t.Add(time.Millisecond)
		wantName(t, s, "Ada King")
	})
}

// A change made through the Store shows on the next read.
func TestChangeThroughStoreShowsAtOnce(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		s, _, _ := setup(t, open)
		ctx := context.Background()
		wantName(t, s, "Ada")
		if err := s.UpdateUser(ctx, "ada", rename("Ada King")); err != nil {
			t.Fatal(err)
		}
		wantName(t, s, "Ada King")
		if err := s.DeleteUser(ctx, "ada"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CachedUser(ctx, "ada"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("CachedUser after delete: %v, want ErrNotFound", err)
		}
	})
}

// A read that saw the row before a write, and finishes after it, does not
// leave the old row in the cache.
func TestReadRacingWriteIsNotCached(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		s, b, _ := setup(t, open)
		ctx := context.Background()
		b.afterRead = func() {
			b.afterRead = nil
			if err := s.UpdateUser(ctx, "ada", rename("Ada King")); err != nil {
				t.Error(err)
			}
		}
		wantName(t, s, "Ada") // read before the write landed
		wantName(t, s, "Ada King")
	})
}

// Inside a transaction the change is forgotten at commit: a read between
// the write and the commit sees (and may cache) the old row. PostgreSQL
// only: SQLite has one connection, so that read would wait for the commit.
func TestTransactionForgetsAtCommit(t *testing.T) {
	s, _, _ := setup(t, testbackend.Postgres)
	ctx := context.Background()
	tx, err := s.BeginTx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateUser(tx, "ada", rename("Ada King")); err != nil {
		t.Fatal(err)
	}
	wantName(t, s, "Ada")
	if err := s.Commit(tx); err != nil {
		t.Fatal(err)
	}
	wantName(t, s, "Ada King")
}

// A storage failure is an error, never cached; a user read before it is
// served until TTL has passed, then the failure shows.
func TestStorageFailure(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		s, b, clock := setup(t, open)
		ctx := context.Background()
		outage := errors.New("connection refused")
		b.fail = outage
		if _, err := s.CachedUser(ctx, "ada"); !errors.Is(err, outage) {
			t.Fatalf("CachedUser during an outage: %v", err)
		}
		b.fail = nil
		wantName(t, s, "Ada")
		b.fail = outage
		wantName(t, s, "Ada")
		clock.t = clock.t.Add(TTL)
		if _, err := s.CachedUser(ctx, "ada"); !errors.Is(err, outage) {
			t.Fatalf("CachedUser during an outage, past TTL: %v", err)
		}
	})
}
