package oauthstore

import "time"

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
