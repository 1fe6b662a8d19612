package login

import (
	"context"
	"net/http"
	"time"

	"github.com/tollgate/tollgate/server/clientip"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/throttle"
)

// Password guessing is slowed per account and per client address (see
// package throttle for the back-off).
const (
	freeAccountFailures = 5
	freeAddressFailures = 50 // many people can share one address
)

func accountKey(email string) string    { return "password:account:" + email }
func addressKey(r *http.Request) string { return "password:address:" + clientip.Of(r) }

// lockedFor reports how long the account or the address must still wait.
// The email need not belong to an account, so the answer reveals nothing.
func (h *Handler) lockedFor(ctx context.Context, r *http.Request, email string) (PasswordGate, error) {
	return PasswordWait(ctx, h.Store, r, email)
}

// recordFailure counts a failed password against the account and the
// address. Every attempt counts, however many run in parallel.
func (h *Handler) recordFailure(ctx context.Context, r *http.Request, email string) error {
	return RecordPasswordFailure(ctx, h.Store, r, email)
}

func (h *Handler) waitFor(ctx context.Context, counters ...throttle.Counter) (time.Duration, error) {
	return waitFor(ctx, h.Store, counters...)
}

func (h *Handler) countFailure(ctx context.Context, keys ...string) error {
	return countFailure(ctx, h.Store, keys...)
}

// PasswordGate is the throttle's answer to a password attempt, read before
// the password is checked.
type PasswordGate struct {
	Wait            time.Duration // how long the attempt must still wait; 0: go ahead
	accountFailures int
}

// PasswordWait reads the throttle for a password attempt for email from r.
// Every page that checks a password (the login page, linking an upstream
// identity to an account) shares these counters.
func PasswordWait(ctx context.Context, store storage.Throttle, r *http.Request, email string) (PasswordGate, error) {
	wait, failures, err := throttle.Check(ctx, store, throttle.Counter{Key: accountKey(email), Free: freeAccountFailures}, throttle.Counter{Key: addressKey(r), Free: freeAddressFailures})
	if err != nil {
		return PasswordGate{}, err
	}
	return PasswordGate{Wait: wait, accountFailures: failures[0]}, nil
}

// RecordPasswordFailure counts a wrong password against the account and
// the address. Every attempt counts, however many run in parallel.
func RecordPasswordFailure(ctx context.Context, store storage.Throttle, r *http.Request, email string) error {
	return countFailure(ctx, store, accountKey(email), addressKey(r))
}

// ResetPasswordFailures forgets the account's failures after a right
// password. When the account had none as the attempt began (gate), which
// is nearly every sign-in, it writes nothing; a failure recorded meanwhile
// by a parallel guess then stays counted.
func ResetPasswordFailures(ctx context.Context, store storage.Throttle, email string, gate PasswordGate) error {
	if gate.accountFailures == 0 {
		return nil
	}
	return store.ResetAttempts(ctx, accountKey(email))
}

// waitFor reports the longest wait that any of the counters imposes.
func waitFor(ctx context.Context, store storage.Throttle, counters ...throttle.Counter) (time.Duration, error) {
	return throttle.Wait(ctx, store, counters...)
}

// countFailure adds one failure to each counter.
func countFailure(ctx context.Context, store storage.Throttle, keys ...string) error {
	return throttle.Fail(ctx, store, keys...)
}
