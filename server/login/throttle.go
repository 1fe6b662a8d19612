package login

import (
	"context"
	"net/http"
	"time"

	"github.com/tollgate/tollgate/server/clientip"
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

func accountKey(email string) string { return "password:account:" + email }
func addressKey(r *http.Request) string {
	return "password:address:" + clientip.Of(r)
}

// lockedFor reports how long the account or the address must still wait.
// The email need not belong to an account, so the answer reveals nothing.
func (h *Handler) lockedFor(ctx context.Context, r *http.Request, email string) (time.Duration, error) {
	var wait time.Duration
	for _, k := range []struct {
		key  string
		free int
	}{{accountKey(email), freeAccountFailures}, {addressKey(r), freeAddressFailures}} {
		a, err := h.Store.Attempts(ctx, k.key)
		if err != nil {
			return 0, err
		}
		if until := time.Until(a.LastFailure.Add(backoff(a.Failures, k.free))); until > wait {
			wait = until
		}
	}
	return wait, nil
}

// recordFailure counts a failed password against the account and the
// address. Every attempt counts, however many run in parallel.
func (h *Handler) recordFailure(ctx context.Context, r *http.Request, email string) error {
	for _, key := range []string{accountKey(email), addressKey(r)} {
		if _, err := h.Store.RecordFailure(ctx, key, forgetFailures); err != nil {
			return err
		}
	}
	return nil
}
