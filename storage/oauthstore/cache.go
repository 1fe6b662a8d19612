package oauthstore

import (
	"sync"
	"time"
)

// ClientCacheTTL is how long a replica trusts a client registration it has
// read. Every token request reads its client once or twice, so the cache
// saves a database round trip per read; the price is that a change made
// elsewhere (another replica, the CLI) takes effect within this time.
const ClientCacheTTL = 5 * time.Second

// tokenCacheTTL bounds how long a replica reuses an access token's record
// for introspection and userinfo. Revocation is still checked on every use,
// against the shared revocation list, so caching never keeps a revoked
// token alive.
const tokenCacheTTL = time.Minute

// maxCached bounds each cache; it is cleared when full. Only records that
// exist are cached, so unknown keys cannot fill it.
const maxCached = 10000

// cache is a small map whose entries expire.
type cache[V any] struct {
	now func() time.Time

	mu      sync.RWMutex
	entries map[string]cached[V]
}

type cached[V any] struct {
	value   V
	expires time.Time
}

func newCache[V any]() *cache[V] {
	return &cache[V]{now: time.Now, entries: make(map[string]cached[V])}
}

func (c *cache[V]) get(key string) (V, bool) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || !c.now().Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.value, true
}

func (c *cache[V]) put(key string, v V, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCached {
		clear(c.entries)
	}
	c.entries[key] = cached[V]{value: v, expires: c.now().Add(ttl)}
}

// forget drops an entry that changed or no longer exists.
func (c *cache[V]) forget(key string) {
	c.mu.Lock()
	delete(c.entries, key)
	c.mu.Unlock()
}
