package login

import (
	"context"
	"net/http"
	"time"

	"github.com/tollgate/tollgate/storage"
)

// PasswordWait reports how long a password attempt for email from r must
// still wait. Every page that checks a password (the login page, linking
// an upstream identity to an account) shares these counters.
func PasswordWait(ctx context.Context, store storage.Throttle, r *http.Request, email string) (time.Duration, error) {
	var wait time.Duration
	for _, k := range []struct {
		key  string
		free int
	}{{accountKey(email), freeAccountFailures}, {addressKey(r), freeAddressFailures}} {
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

// RecordPasswordFailure counts a wrong password against the account and
// the address.
func RecordPasswordFailure(ctx context.Context, store storage.Throttle, r *http.Request, email string) error {
	for _, key := range []string{accountKey(email), addressKey(r)} {
		if _, err := store.RecordFailure(ctx, key, forgetFailures); err != nil {
			return err
		}
	}
	return nil
}

// ResetPasswordFailures forgets the account's failures after a right
// password.
func ResetPasswordFailures(ctx context.Context, store storage.Throttle, email string) error {
	return store.ResetAttempts(ctx, accountKey(email))
}
