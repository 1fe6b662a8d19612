// Package throttle slows guessing down: failed attempts (passwords, codes,
// reset requests) are counted under keys such as an account or a client
// address; the first few are free, then each failure doubles the wait
// before the next attempt is even checked, up to a lockout of MaxWait.
// The counts live in the store (Redis, or the SQL database), so every
// replica sees every attempt.
package throttle

import (
	"context"
	"time"

	"github.com/tollgate/tollgate/storage"
)

const (
	// MaxWait is the longest wait: a temporary lockout.
	MaxWait = 15 * time.Minute
	// Forget is how long after its last failure a count is forgotten.
	Forget = time.Hour
)

// Counter is one count of failures and how many of them are free.
type Counter struct {
	Key  string
	Free int
}

// Backoff is how long after the last of n failures the next attempt must
// wait, when free of them cost nothing.
func Backoff(n, free int) time.Duration {
	if n < free {
		return 0
	}
	shift := n - free
	if shift >= 20 {
		return MaxWait
	}
	return min(time.Second<<shift, MaxWait)
}

// Wait reports the longest wait that any of the counters imposes now. A
// failure recorded by a replica whose clock runs ahead never makes the
// wait longer than the back-off itself.
func Wait(ctx context.Context, store storage.Throttle, counters ...Counter) (time.Duration, error) {
	wait, _, err := Check(ctx, store, counters...)
	return wait, err
}

// Check is Wait that also returns how many failures each counter holds,
// in the order of counters.
func Check(ctx context.Context, store storage.Throttle, counters ...Counter) (time.Duration, []int, error) {
	keys := make([]string, len(counters))
	for i, c := range counters {
		keys[i] = c.Key
	}
	attempts, err := store.Attempts(ctx, keys...)
	if err != nil {
		return 0, nil, err
	}
	var wait time.Duration
	failures := make([]int, len(counters))
	for i, c := range counters {
		a := attempts[i]
		failures[i] = a.Failures
		b := Backoff(a.Failures, c.Free)
		if until := min(time.Until(a.LastFailure.Add(b)), b); until > wait {
			wait = until
		}
	}
	return wait, failures, nil
}

// Fail counts one failure under each key. Every attempt counts, however
// many run in parallel: the store adds atomically.
func Fail(ctx context.Context, store storage.Throttle, keys ...string) error {
	for _, key := range keys {
		if _, err := store.RecordFailure(ctx, key, Forget); err != nil {
			return err
		}
	}
	return nil
}
