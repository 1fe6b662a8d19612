package redisstore

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/storage"
)

// recordFailure increments a key's failures, stamps the last one and
// (re)sets how long the count is kept, in one atomic step.
var recordFailure = redis.NewScript(`
local n = redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('HSET', KEYS[1], 'last', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n`)

func (s *Store) throttleKey(key string) string { return s.prefix + "attempts:" + key }

// RecordFailure counts in Redis; while Redis is unavailable the SQL
// database counts instead, so throttling never stops.
func (s *Store) RecordFailure(ctx context.Context, key string, forget time.Duration) (storage.Attempts, error) {
	if !s.bypassed() {
		now := time.Now()
		n, err := recordFailure.Run(ctx, s.rdb, []string{s.throttleKey(key)}, now.UnixNano(), forget.Milliseconds()).Int()
		if err == nil {
			return storage.Attempts{Failures: n, LastFailure: now}, nil
		}
		s.failed()
	}
	return s.Store.RecordFailure(ctx, key, forget)
}

// Attempts reads the counts from Redis (one pipeline), or from SQL while
// Redis is unavailable. Counts made in SQL during an outage are added, so
// failures recorded there are not forgotten when Redis returns.
func (s *Store) Attempts(ctx context.Context, keys ...string) ([]storage.Attempts, error) {
	out, err := s.Store.Attempts(ctx, keys...)
	if err != nil || s.bypassed() || len(keys) == 0 {
		return out, err
	}
	cmds := make([]*redis.SliceCmd, len(keys))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, key := range keys {
			cmds[i] = p.HMGet(ctx, s.throttleKey(key), "failures", "last")
		}
		return nil
	})
	if err != nil {
		s.failed()
		return out, nil
	}
	for i, cmd := range cmds {
		vals := cmd.Val()
		if v, ok := vals[0].(string); ok {
			n, _ := strconv.Atoi(v)
			out[i].Failures += n
		}
		if v, ok := vals[1].(string); ok {
			ns, _ := strconv.ParseInt(v, 10, 64)
			if last := time.Unix(0, ns); last.After(out[i].LastFailure) {
				out[i].LastFailure = last
			}
		}
	}
	return out, nil
}

// ResetAttempts forgets the count in both places.
func (s *Store) ResetAttempts(ctx context.Context, key string) error {
	if err := s.Store.ResetAttempts(ctx, key); err != nil {
		return err
	}
	if !s.bypassed() {
		if err := s.rdb.Del(ctx, s.throttleKey(key)).Err(); err != nil {
			s.failed()
		}
	}
	return nil
}
