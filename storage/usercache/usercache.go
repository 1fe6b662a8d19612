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
	users *cache
}

// Wrap returns s with a user cache of its own. Every write to users must
// go through the returned Store for the cache to see it at once.
func Wrap(s storage.Store) *Store {
	return &Store{Store: s, users: newCache(time.Now)}
}

// CachedUser returns the user as read at most TTL ago. A user read from the
// store is cached without its password hash: the copy is for profile
// claims, never for checking a password. Storage failures are returned and
// never cached; within TTL a cached user is served even while the database
// is down. Callers must not modify the slices of the returned user.
func (s *Store) CachedUser(ctx context.Context, id string) (storage.User, error) {
	if u, ok := s.users.get(id); ok {
		return u, nil
	}
	gen := s.users.generation()
	u, err := s.Store.GetUser(ctx, id)
	if err != nil {
		return storage.User{}, err
	}
	u.PasswordHash = ""
	s.users.put(id, u, gen)
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
			s.users.forget(id)
		}
	}
	return err
}

// changed forgets the user now and, inside a transaction, again at commit:
// until then a read outside the transaction still sees the old row, and
// may cache it.
func (s *Store) changed(ctx context.Context, id string) {
	s.users.forget(id)
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

// cache maps user IDs to users that expire. Every forget advances a
// generation, and a read that started before a forget is not stored: it
// may hold the row as it was before the write.
type cache struct {
	now func() time.Time

	mu      sync.RWMutex
	gen     uint64
	entries map[string]entry
}

type entry struct {
	user    storage.User
	expires time.Time
}

func newCache(now func() time.Time) *cache {
	return &cache{now: now, entries: make(map[string]entry)}
}

func (c *cache) get(id string) (storage.User, bool) {
	c.mu.RLock()
	e, ok := c.entries[id]
	c.mu.RUnlock()
	if !ok || !c.now().Before(e.expires) {
		return storage.User{}, false
	}
	return e.user, true
}

// generation is the count of forgets so far; pass it to put.
func (c *cache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// put stores u unless a user was forgotten since gen was taken.
func (c *cache) put(id string, u storage.User, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.entries) >= maxUsers {
		clear(c.entries)
	}
	c.entries[id] = entry{user: u, expires: c.now().Add(TTL)}
}

func (c *cache) forget(id string) {
	c.mu.Lock()
	c.gen++
	delete(c.entries, id)
	c.mu.Unlock()
}
