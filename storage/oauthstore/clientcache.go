package oauthstore

import (
	"sync"
	"time"

	"github.com/tollgate/tollgate/storage"
)

// ClientCacheTTL is how long a replica trusts a client registration it has
// read. Every token request reads its client once or twice, so the cache
// saves a database round trip per read; the price is that a change made
// elsewhere (another replica, the CLI) takes effect within this time.
const ClientCacheTTL = 5 * time.Second

// maxCachedClients bounds the cache; it is cleared when full. Only clients
// that exist are cached, so unknown IDs cannot fill it.
const maxCachedClients = 10000

type clientCache struct {
	now func() time.Time

	mu      sync.RWMutex
	entries map[string]cachedClient
}

type cachedClient struct {
	client  storage.Client
	expires time.Time
}

func newClientCache() *clientCache {
	return &clientCache{now: time.Now, entries: make(map[string]cachedClient)}
}

func (c *clientCache) get(id string) (storage.Client, bool) {
	c.mu.RLock()
	e, ok := c.entries[id]
	c.mu.RUnlock()
	if !ok || !c.now().Before(e.expires) {
		return storage.Client{}, false
	}
	return e.client, true
}

func (c *clientCache) put(cl storage.Client) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCachedClients {
		clear(c.entries)
	}
	c.entries[cl.ID] = cachedClient{client: cl, expires: c.now().Add(ClientCacheTTL)}
}

// forget drops a client that no longer exists.
func (c *clientCache) forget(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}
