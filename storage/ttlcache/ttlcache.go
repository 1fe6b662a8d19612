// Package ttlcache is the small per-replica cache behind the client, access
// token and user caches: a bounded map whose entries expire, and which
// refuses to store a value read before a change it was told of.
package ttlcache

import (
	"sync"
	"time"
)

// Cache maps keys to values that expire. It is emptied when it reaches its
// bound, so that unknown keys cannot make it grow without end.
type Cache[V any] struct {
	now func() time.Time
	max int

	mu      sync.RWMutex
	gen     uint64 // forgets so far
	entries map[string]entry[V]
}

type entry[V any] struct {
	value   V
	expires time.Time
}

// New returns a cache of at most max entries, on the clock now.
func New[V any](now func() time.Time, max int) *Cache[V] {
	return &Cache[V]{now: now, max: max, entries: make(map[string]entry[V])}
}

// Get returns the value of key, if it has not expired.
func (c *Cache[V]) Get(key string) (V, bool) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || !c.now().Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.value, true
}

// Generation is the count of forgets so far. Take it before reading the
// value to put, and pass it to PutSince.
func (c *Cache[V]) Generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// Put stores v under key for ttl.
func (c *Cache[V]) Put(key string, v V, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.put(key, v, ttl)
}

// PutSince stores v unless an entry was forgotten since gen was taken: the
// read that produced v may then hold a row as it was before the write.
func (c *Cache[V]) PutSince(key string, v V, ttl time.Duration, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.put(key, v, ttl)
	}
}

func (c *Cache[V]) put(key string, v V, ttl time.Duration) {
	if len(c.entries) >= c.max {
		clear(c.entries)
	}
	c.entries[key] = entry[V]{value: v, expires: c.now().Add(ttl)}
}

// Forget drops the entry of a key that changed or no longer exists.
func (c *Cache[V]) Forget(key string) {
	c.mu.Lock()
	c.gen++
	delete(c.entries, key)
	c.mu.Unlock()
}

// Len is the number of entries, expired ones included.
func (c *Cache[V]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
