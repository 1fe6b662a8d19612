package login

import (
	"context"
	"net/http"
	"time"

	"github.com/tollgate/tollgate/server/clientip"
	"github.com/tollgate/tollgate/storage"
)

// Password guessing is slowed per account and per client address: the
// first failures are free, then each one doubles the wait before the next
// attempt is even checked, up to a lockout of maxBackoff.
const (
	freeAccountFailures = 5
	freeAddressFailures = 50 // many people can share one address
	maxBackoff          = 15 * time.Minute
	forgetFailures      = time.Hour
)

// backoff is how long after the last of n failures the next attempt must wait.
func backoff(n, free int) time.Duration {
	if n < free {
		return 0
	}
	shift := n - free
	if shift >= 20 {
		return maxBackoff
	}
	return min(time.Second<<shift, maxBackoff)
}

func accountKey(email string) string    { return "password:account:" + email }
func addressKey(r *http.Request) string { return "password:address:" + clientip.Of(r) }

// throttled is one counter and how many failures it allows for free.
type throttled struct {
	key  string
	free int
}

// lockedFor reports how long the account or the address must still wait.
// The email need not belong to an account, so the answer reveals nothing.
func (h *Handler) lockedFor(ctx context.Context, r *http.Request, email string) (time.Duration, error) {
	return PasswordWait(ctx, h.Store, r, email)
}

// recordFailure counts a failed password against the account and the
// address. Every attempt counts, however many run in parallel.
func (h *Handler) recordFailure(ctx context.Context, r *http.Request, email string) error {
	return RecordPasswordFailure(ctx, h.Store, r, email)
}

func (h *Handler) waitFor(ctx context.Context, counters ...throttled) (time.Duration, error) {
	return waitFor(ctx, h.Store, counters...)
}

func (h *Handler) countFailure(ctx context.Context, keys ...string) error {
	return countFailure(ctx, h.Store, keys...)
}

// PasswordWait reports how long a password attempt for email from r must
// still wait. Every page that checks a password (the login page, linking
// an upstream identity to an account) shares these counters.
func PasswordWait(ctx context.Context, store storage.Throttle, r *http.Request, email string) (time.Duration, error) {
	return waitFor(ctx, store, throttled{accountKey(email), freeAccountFailures}, throttled{addressKey(r), freeAddressFailures})
}

// RecordPasswordFailure counts a wrong password against the account and
// the address. Every attempt counts, however many run in parallel.
func RecordPasswordFailure(ctx context.Context, store storage.Throttle, r *http.Request, email string) error {
	return countFailure(ctx, store, accountKey(email), addressKey(r))
}

// ResetPasswordFailures forgets the account's failures after a right
// password.
func ResetPasswordFailures(ctx context.Context, store storage.Throttle, email string) error {
	return store.ResetAttempts(ctx, accountKey(email))
}

// waitFor reports the longest wait that any of the counters imposes.
func waitFor(ctx context.Context, store storage.Throttle, counters ...throttled) (time.Duration, error) {
	var wait time.Duration
	for _, k := range counters {
		a, err := store.Attempts(ctx, k.key)
		if err != nil {
			return 0, err
		}
		if until := time.Until(a.LastFailure.Add(backoff(a.Failures, k.free))); until > wait {
			wait = until
		}
	}
	return wait, nil
}

// countFailure adds one failure to each counter.
func countFailure(ctx context.Context, store storage.Throttle, keys ...string) error {
	for _, key := range keys {
		if _, err := store.RecordFailure(ctx, key, forgetFailures); err != nil {
			return err
		}
	}
	return nil
}
