// Package janitor removes what has expired: codes, tokens, pending sign-in
// requests, browser sessions and revocation records, and audit events past
// their retention. Every replica may run
// one; they share the work without coordinating, because each batch is a
// bounded DELETE of rows that are dead anyway.
package janitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Store is what the janitor cleans.
type Store interface {
	DeleteExpiredTokens(ctx context.Context, before time.Time, limit int) (int, error)
	DeleteExpiredSessions(ctx context.Context, before time.Time, limit int) (int, error)
	DeleteExpiredRevocations(ctx context.Context, before time.Time, limit int) (int, error)
	DeleteExpiredAttempts(ctx context.Context, before time.Time, limit int) (int, error)
	DeleteAuditEventsBefore(ctx context.Context, before time.Time, limit int) (int, error)
}

// Grace is how long a record outlives its expiry: a replayed code or
// refresh token is still recognized as a replay for this long, and replicas
// whose clocks differ by less never disagree about what is expired.
const Grace = time.Hour

// DefaultBatch bounds each DELETE.
const DefaultBatch = 1000

// Janitor sweeps a store. The zero Interval disables Run.
type Janitor struct {
	Store    Store
	Interval time.Duration
	Batch    int
	Logger   *slog.Logger
	Now      func() time.Time // for tests; time.Now when nil
	// AuditRetention is how long audit events are kept; 0 keeps them.
	AuditRetention time.Duration
}

// Result counts what one sweep removed.
type Result struct {
	Tokens, Sessions, Revocations, Attempts, AuditEvents int
}

// Sweep removes every record that expired more than Grace ago, batch after
// batch, and reports how many of each kind it removed.
func (j *Janitor) Sweep(ctx context.Context) (Result, error) {
	now := time.Now
	if j.Now != nil {
		now = j.Now
	}
	before := now().Add(-Grace)
	batch := j.Batch
	if batch <= 0 {
		batch = DefaultBatch
	}
	var res Result
	var errs []error
	type purge struct {
		name   string
		del    func(context.Context, time.Time, int) (int, error)
		count  *int
		before time.Time
	}
	purges := []purge{
		{"tokens", j.Store.DeleteExpiredTokens, &res.Tokens, before},
		{"sessions", j.Store.DeleteExpiredSessions, &res.Sessions, before},
		{"revocations", j.Store.DeleteExpiredRevocations, &res.Revocations, before},
		{"failed attempt counts", j.Store.DeleteExpiredAttempts, &res.Attempts, before},
	}
	if j.AuditRetention > 0 {
		purges = append(purges, purge{"audit events", j.Store.DeleteAuditEventsBefore, &res.AuditEvents, now().Add(-j.AuditRetention)})
	}
	for _, kind := range purges {
		for {
			n, err := kind.del(ctx, kind.before, batch)
			*kind.count += n
			if err != nil {
				errs = append(errs, fmt.Errorf("purge expired %s: %w", kind.name, err))
				break
			}
			if n < batch || ctx.Err() != nil {
				break
			}
		}
	}
	return res, errors.Join(errs...)
}

// Run sweeps every Interval until ctx ends. The first sweep waits a random
// part of the interval, so replicas started together do not sweep together.
func (j *Janitor) Run(ctx context.Context) {
	if j.Interval <= 0 {
		return
	}
	wait := rand.N(j.Interval)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = j.Interval
		res, err := j.Sweep(ctx)
		if err != nil && ctx.Err() == nil {
			j.Logger.Warn("janitor: sweep failed", "err", err)
		}
		if res != (Result{}) {
			j.Logger.Info("janitor: purged expired records", "tokens", res.Tokens, "sessions", res.Sessions, "revocations", res.Revocations, "attempt_counts", res.Attempts, "audit_events", res.AuditEvents)
		}
	}
}
