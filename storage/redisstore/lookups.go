package redisstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// maxFlights is how many lookup batches may be in flight to Redis at once.
// A lookup that finds them all busy waits for the next batch instead of
// taking a connection of its own. One makes the largest batches: in an A/B
// run of the benchmark's introspection and userinfo loads at 16 to 128
// clients, it served more calls than two at most levels.
const maxFlights = 1

// maxBatch caps the keys of one MGET, so that a burst of checks cannot make
// one command that holds Redis up; the rest wait for the next batch.
const maxBatch = 1024

// lookups coalesces concurrent revocation checks into one MGET of the marker
// and every queued jti. Under load, one round trip answers many checks: one
// write and one read on the socket, for this process and for Redis, instead
// of one each per check. A lone check is sent at once; a check that arrives
// while a round trip is in flight waits for it to land, at most one round
// trip more.
//
// A check is only ever sent in a batch that leaves after the check began, so
// a revocation that completed before a check started is always seen by it.
type lookups struct {
	rdb    redis.UniversalClient
	marker string

	mu      sync.Mutex
	queue   []*lookup // waiting for the next batch
	flights int       // batches in flight
}

// lookup is one check and, once done is closed, its answer.
type lookup struct {
	ctx     context.Context
	key     string
	done    chan struct{}
	revoked bool
	marker  string
	err     error
}

// get reports whether key exists and the marker's value, in a batch with
// whatever other checks are waiting.
func (l *lookups) get(ctx context.Context, key string) (revoked bool, marker string, err error) {
	c := &lookup{ctx: ctx, key: key, done: make(chan struct{})}
	l.mu.Lock()
	l.queue = append(l.queue, c)
	batch := l.take()
	l.mu.Unlock()
	if batch != nil {
		l.fly(batch)
	}
	select {
	case <-c.done:
		return c.revoked, c.marker, c.err
	case <-ctx.Done():
		return false, "", ctx.Err()
	}
}

// take returns the queue as the next batch if a flight is free. l.mu must be
// held.
func (l *lookups) take() []*lookup {
	if len(l.queue) == 0 || l.flights >= maxFlights {
		return nil
	}
	l.flights++
	n := min(len(l.queue), maxBatch)
	batch := l.queue[:n:n]
	l.queue = l.queue[n:]
	if len(l.queue) == 0 {
		l.queue = nil
	}
	return batch
}

// fly sends batch, answers its checks, and then sends the checks that queued
// meanwhile from a new goroutine, so that no caller waits for others' batches.
func (l *lookups) fly(batch []*lookup) {
	defer l.land()
	vals, err := l.mget(batch)
	var marker string
	if err == nil {
		marker, _ = vals[0].(string)
	}
	for i, c := range batch {
		if err != nil {
			c.err = err
		} else {
			c.revoked, c.marker = vals[i+1] != nil, marker
		}
		close(c.done)
	}
}

// mget reads the marker and batch's keys. A panic in the client becomes an
// error for the batch: a flight that never lands would leave every later
// check waiting for it.
func (l *lookups) mget(batch []*lookup) (vals []any, err error) {
	defer func() {
		if v := recover(); v != nil {
			vals, err = nil, fmt.Errorf("redis MGET panicked: %v", v)
		}
	}()
	// The batch carries its first check's context values (its trace) but not
	// its cancellation: the other checks share the batch.
	ctx := context.WithoutCancel(batch[0].ctx)
	keys := make([]string, 0, len(batch)+1)
	keys = append(keys, l.marker)
	for _, c := range batch {
		keys = append(keys, c.key)
	}
	vals, err = l.rdb.MGet(ctx, keys...).Result()
	if err == nil && len(vals) != len(keys) {
		err = fmt.Errorf("redis MGET: %d values, want %d", len(vals), len(keys))
	}
	return vals, err
}

// land ends a flight and sends the next batch if checks are waiting.
func (l *lookups) land() {
	l.mu.Lock()
	l.flights--
	next := l.take()
	l.mu.Unlock()
	if next != nil {
		go l.fly(next)
	}
}
