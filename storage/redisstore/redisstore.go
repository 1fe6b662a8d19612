// Package redisstore puts Redis in front of a SQL store's revocation list, so
// that checking an access token's jti costs one Redis round trip. Everything
// else goes to the SQL store, which stays the record of truth.
//
// Redis is trusted to answer "not revoked" only while a marker key says that
// it holds every revocation in SQL. The marker is set after Redis is seeded
// from SQL; when it is missing (Redis restarted, was flushed, or lost a
// write), IsRevoked answers from SQL and re-seeds. So a revoked token never
// reads as active because of Redis: at worst a check costs a SQL query.
//
// Redis must not evict keys on its own: run it with maxmemory-policy
// noeviction (or without maxmemory). Each seeding checks this (CheckEviction)
// and leaves Redis unused if it may evict. The marker expires every few minutes,
// which re-seeds Redis and bounds the harm of a restart from an old snapshot
// or a failover that lost recent writes but kept the marker.
package redisstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/storage"
)

const (
	// markerSeeded is the marker's value once Redis holds every revocation.
	markerSeeded = "1"
	// markerStale makes every replica distrust Redis until it is re-seeded.
	markerStale = "stale"
	// markerSeeding (plus a nonce) claims the seeding, so that replicas do
	// not all seed at once; the claim expires if its holder dies.
	markerSeeding = "seeding:"
	seedClaimTTL  = 30 * time.Second
	// seededTTL makes Redis re-seed periodically (see the package comment).
	seededTTL = 10 * time.Minute
	// seedBatch is how many keys one pipeline writes while seeding.
	seedBatch = 500
	// backoff is how long Redis is bypassed after it failed.
	backoff = time.Second
	// evictionBackoff is how long Redis is bypassed after it was found to
	// evict keys (see CheckEviction), before it is checked again.
	evictionBackoff = time.Minute
)

// claimSeed takes the seeding claim unless Redis is seeded or another
// replica holds the claim.
var claimSeed = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[3] or (v and string.sub(v, 1, string.len(ARGV[4])) == ARGV[4]) then
	return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// finishSeed marks Redis seeded if the claim is still ours: a revocation
// that failed to reach Redis meanwhile replaced it with markerStale.
var finishSeed = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
	return 1
end
return 0
`)

// Store is a storage.Store whose revocation list is cached in Redis.
type Store struct {
	storage.Store
	rdb     redis.UniversalClient
	prefix  string
	lookups *lookups
	logger  *slog.Logger

	seeding sync.Mutex // one seeding at a time in this process
	// unsynced counts revocations that reached SQL but not Redis and that
	// have not yet been answered by making the marker stale.
	unsynced atomic.Int64
	// bypassUntil (Unix nanoseconds) skips Redis for a while after an error,
	// so an unreachable Redis does not add a timeout to every check.
	bypassUntil atomic.Int64
	closeOnce   sync.Once
	closeErr    error
}

// New returns sql with its revocation list cached in client under keys that
// start with prefix. It does no I/O: the first IsRevoked seeds Redis.
func New(client redis.UniversalClient, sql storage.Store, prefix string, opts ...Option) *Store {
	s := &Store{Store: sql, rdb: client, prefix: prefix, logger: slog.New(slog.DiscardHandler)}
	s.lookups = &lookups{rdb: client, marker: s.markerKey()}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// Option configures New.
type Option func(*Store)

// WithLogger logs what the store does on its own that an operator must
// know: finding that Redis may evict keys, and so leaving it unused.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) {
		if l != nil {
			s.logger = l
		}
	}
}

func (s *Store) revokedKey(jti string) string { return s.prefix + "revoked:" + jti }
func (s *Store) markerKey() string            { return s.prefix + "revocations:seeded" }

// Revoke records the revocation in SQL, then in Redis. A Redis failure is not
// the caller's: SQL has the record, and the marker is made stale so that no
// replica trusts Redis until it is re-seeded.
func (s *Store) Revoke(ctx context.Context, jti string, expiresAt time.Time) error {
	if err := s.Store.Revoke(ctx, jti, expiresAt); err != nil {
		return err
	}
	ttl := time.Until(expiresAt)
	if ttl <= 0 {
		return nil
	}
	if s.bypassed() {
		s.unsynced.Add(1)
		return nil
	}
	if err := s.rdb.Set(ctx, s.revokedKey(jti), "1", ttl).Err(); err != nil {
		s.failed()
		s.unsynced.Add(1)
		s.resync(ctx)
	}
	return nil
}

// IsRevoked answers from Redis while it is seeded, else from SQL (and then
// seeds Redis). It never reports a revoked token as not revoked because of
// Redis.
func (s *Store) IsRevoked(ctx context.Context, jti string) (bool, error) {
	if !s.bypassed() && s.resync(ctx) {
		revoked, marker, err := s.lookup(ctx, jti)
		if err == nil {
			if revoked {
				return true, nil
			}
			if marker == markerSeeded {
				return false, nil
			}
		}
		revokedSQL, errSQL := s.Store.IsRevoked(ctx, jti)
		if err == nil && errSQL == nil && !isSeeding(marker) {
			s.seed(ctx)
		}
		return revokedSQL, errSQL
	}
	return s.Store.IsRevoked(ctx, jti)
}

// lookup reads the jti's key and the marker in one round trip, shared with
// the checks made at the same time (see lookups): it runs on every
// introspection and userinfo call.
func (s *Store) lookup(ctx context.Context, jti string) (revoked bool, marker string, err error) {
	revoked, marker, err = s.lookups.get(ctx, s.revokedKey(jti))
	if err != nil && ctx.Err() == nil {
		s.failed()
	}
	return revoked, marker, err
}

func isSeeding(marker string) bool {
	return len(marker) >= len(markerSeeding) && marker[:len(markerSeeding)] == markerSeeding
}

// resync makes the marker stale if revocations are missing from Redis, and
// reports whether Redis may be used.
func (s *Store) resync(ctx context.Context) bool {
	n := s.unsynced.Load()
	if n == 0 {
		return true
	}
	if err := s.rdb.Set(ctx, s.markerKey(), markerStale, 0).Err(); err != nil {
		s.failed()
		return false
	}
	s.unsynced.CompareAndSwap(n, 0)
	return true
}

// seed copies the unexpired revocations from SQL to Redis and then sets the
// marker, unless a revocation failed to reach Redis meanwhile. Only one seed
// runs at a time in a process, and replicas take a claim in Redis; callers
// that find a seed under way answer from SQL.
func (s *Store) seed(ctx context.Context) {
	if !s.seeding.TryLock() {
		return
	}
	defer s.seeding.Unlock()

	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return
	}
	claim := markerSeeding + hex.EncodeToString(nonce)
	ok, err := claimSeed.Run(ctx, s.rdb, []string{s.markerKey()},
		claim, seedClaimTTL.Milliseconds(), markerSeeded, markerSeeding).Int()
	if err != nil {
		s.failed()
		return
	}
	if ok != 1 {
		return
	}
	if err := CheckEviction(ctx, s.rdb); err != nil {
		// Leave the claim to expire: until Redis is fixed, checks answer
		// from SQL.
		s.logger.ErrorContext(ctx, "revocation checks bypass Redis and answer from the SQL database", "err", err)
		s.bypassUntil.Store(time.Now().Add(evictionBackoff).UnixNano())
		return
	}
	revs, err := s.Store.ListRevocations(ctx, time.Now())
	if err != nil {
		return
	}
	for start := 0; start < len(revs); start += seedBatch {
		pipe := s.rdb.Pipeline()
		for _, r := range revs[start:min(start+seedBatch, len(revs))] {
			if ttl := time.Until(r.ExpiresAt); ttl > 0 {
				pipe.Set(ctx, s.revokedKey(r.JTI), "1", ttl)
			}
		}
		if _, err := pipe.Exec(ctx); err != nil {
			s.failed()
			return
		}
	}
	err = finishSeed.Run(ctx, s.rdb, []string{s.markerKey()},
		claim, markerSeeded, strconv.FormatInt(seededTTL.Milliseconds(), 10)).Err()
	if err != nil {
		s.failed()
	}
}

// ListRevocations reads from SQL, the record of truth.
func (s *Store) ListRevocations(ctx context.Context, notExpiredAt time.Time) ([]storage.Revocation, error) {
	return s.Store.ListRevocations(ctx, notExpiredAt)
}

func (s *Store) bypassed() bool { return time.Now().UnixNano() < s.bypassUntil.Load() }
func (s *Store) failed()        { s.bypassUntil.Store(time.Now().Add(backoff).UnixNano()) }

// Ping reports whether both SQL and Redis answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.Store.Ping(ctx); err != nil {
		return err
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}

// SQLDB returns the SQL store's connection pool, for its statistics.
func (s *Store) SQLDB() (*sql.DB, error) {
	pooled, ok := s.Store.(interface{ SQLDB() (*sql.DB, error) })
	if !ok {
		return nil, errors.New("redisstore: the SQL store has no connection pool")
	}
	return pooled.SQLDB()
}

// RedisPoolStats returns the Redis client's connection pool statistics.
func (s *Store) RedisPoolStats() *redis.PoolStats { return s.rdb.PoolStats() }

// Close closes the Redis client and the SQL store. Closing twice is harmless.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = errors.Join(s.rdb.Close(), s.Store.Close())
	})
	return s.closeErr
}
