package login

import (
	"context"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// resetCounter counts the writes that forget a throttle count.
type resetCounter struct {
	storage.Throttle
	resets atomic.Int32
}

func (c *resetCounter) ResetAttempts(ctx context.Context, key string) error {
	c.resets.Add(1)
	return c.Throttle.ResetAttempts(ctx, key)
}

// A right password forgets the account's earlier failures, and costs no
// write when there were none.
func TestResetPasswordFailures(t *testing.T) {
	ctx := context.Background()
	store := &resetCounter{Throttle: testbackend.SQLite(t)}
	r := httptest.NewRequest("POST", "/login", nil)
	const email = "ada@example.com"

	gate, err := PasswordWait(ctx, store, r, email)
	if err != nil {
		t.Fatal(err)
	}
	if err := ResetPasswordFailures(ctx, store, email, gate); err != nil {
		t.Fatal(err)
	}
	if n := store.resets.Load(); n != 0 {
		t.Fatalf("%d writes to forget no failures", n)
	}

	if err := RecordPasswordFailure(ctx, store, r, email); err != nil {
		t.Fatal(err)
	}
	if gate, err = PasswordWait(ctx, store, r, email); err != nil {
		t.Fatal(err)
	}
	if err := ResetPasswordFailures(ctx, store, email, gate); err != nil {
		t.Fatal(err)
	}
	a, err := store.Attempts(ctx, accountKey(email))
	if err != nil {
		t.Fatal(err)
	}
	if a[0].Failures != 0 || store.resets.Load() != 1 {
		t.Fatalf("after a right password: %d failures left, %d resets; want 0 and 1", a[0].Failures, store.resets.Load())
	}
}
