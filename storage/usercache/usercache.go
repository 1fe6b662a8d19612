// Package usercache keeps, per replica, the users that the UserInfo
// endpoint reads on every call, so that a call costs no database round
// trip.
//
// Store wraps the storage.Store a server writes through: a user it updates
// or deletes is forgotten at once (at commit, inside a transaction), so a
// change made through this replica shows on its next read. A change made
// elsewhere (another replica, the CLI) shows within TTL. Disabling,
// deleting or signing a user out everywhere also revokes their tokens,
// which every replica checks on every call, so those take effect at once
// everywhere regardless of this cache.
package usercache

import (
	"context"
	"sync"
	"time"

	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/ttlcache"
)

// TTL is how long a replica serves a user it has read; the same bound as
// the client cache (oauthstore.ClientCacheTTL).
const TTL = 5 * time.Second

// maxUsers bounds the cache; it is emptied when full. Only users that
// exist are cached, so unknown IDs cannot fill it.
const maxUsers = 10000

// Store is a storage.Store whose user writes forget the cached user, and
// whose CachedUser reads through the cache.
type Store struct {
	storage.Store
	users *ttlcache.Cache[storage.User]
}

// Wrap returns s with a user cache of its own. Every write to users must
// go through the returned Store for the cache to see it at once.
func Wrap(s storage.Store) *Store {
	return &Store{Store: s, users: ttlcache.New[storage.User](time.Now, maxUsers)}
}

// CachedUser returns the user as read at most TTL ago. A user read from the
// store is cached without its password hash: the copy is for profile
// claims, never for checking a password. Storage failures are returned and
// never cached; within TTL a cached user is served even while the database
// is down. Callers must not modify the slices of the returned user.
func (s *Store) CachedUser(ctx context.Context, id string) (storage.User, error) {
	if u, ok := s.users.Get(id); ok {
		return u, nil
	}
	// A user forgotten while this read is under way may be read as it was
	// before the write; PutSince then keeps it out of the cache.
	gen := s.users.Generation()
	u, err := s.Store.GetUser(ctx, id)
	if err != nil {
		return storage.User{}, err
	}
	u.PasswordHash = ""
	s.users.PutSince(id, u, TTL, gen)
	return u, nil
}

// UpdateUser updates the user and forgets the cached copy.
func (s *Store) UpdateUser(ctx context.Context, id string, update func(storage.User) (storage.User, error)) error {
	err := s.Store.UpdateUser(ctx, id, update)
	s.changed(ctx, id)
	return err
}

// DeleteUser deletes the user and forgets the cached copy.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	err := s.Store.DeleteUser(ctx, id)
	s.changed(ctx, id)
	return err
}

// BeginTx starts a transaction that remembers the users written in it, so
// that Commit forgets them once the change is visible to other reads.
func (s *Store) BeginTx(ctx context.Context) (context.Context, error) {
	tx, err := s.Store.BeginTx(ctx)
	if err != nil {
		return tx, err
	}
	return context.WithValue(tx, pendingKey{}, &pending{}), nil
}

// Commit commits and forgets the users written in the transaction. It
// forgets them even when the commit fails, as its outcome may be unknown.
func (s *Store) Commit(ctx context.Context) error {
	err := s.Store.Commit(ctx)
	if p, ok := ctx.Value(pendingKey{}).(*pending); ok {
		for _, id := range p.take() {
			s.users.Forget(id)
		}
	}
	return err
}

// changed forgets the user now and, inside a transaction, again at commit:
// until then a read outside the transaction still sees the old row, and
// may cache it.
func (s *Store) changed(ctx context.Context, id string) {
	s.users.Forget(id)
	if p, ok := ctx.Value(pendingKey{}).(*pending); ok {
		p.add(id)
	}
}

type pendingKey struct{}

// pending is the users written in one transaction.
type pending struct {
	mu  sync.Mutex
	ids []string
}

func (p *pending) add(id string) {
	p.mu.Lock()
	p.ids = append(p.ids, id)
	p.mu.Unlock()
}

func (p *pending) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := p.ids
	p.ids = nil
	return ids
}
