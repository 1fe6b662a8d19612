package throttle

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		n, free int
		want    time.Duration
	}{
		{0, 5, 0}, {4, 5, 0}, {5, 5, time.Second}, {6, 5, 2 * time.Second},
		{14, 5, 512 * time.Second}, {15, 5, MaxWait}, {100, 5, MaxWait},
	} {
		if got := Backoff(tc.n, tc.free); got != tc.want {
			t.Errorf("Backoff(%d, %d) = %v, want %v", tc.n, tc.free, got, tc.want)
		}
	}
}

func TestWaitAndFail(t *testing.T) {
	store := testbackend.SQLite(t)
	ctx := context.Background()
	acct, addr := Counter{"t:account:a", 2}, Counter{"t:address:x", 3}
	for i := range 2 {
		if wait, err := Wait(ctx, store, acct, addr); err != nil || wait != 0 {
			t.Fatalf("after %d failures: wait %v, %v; want none", i, wait, err)
		}
		if err := Fail(ctx, store, acct.Key, addr.Key); err != nil {
			t.Fatal(err)
		}
	}
	// The account's two free failures are spent: the third waits.
	wait, failures, err := Check(ctx, store, acct, addr)
	if err != nil || wait <= 0 || wait > time.Second {
		t.Fatalf("after the free failures: wait %v, %v; want up to 1s", wait, err)
	}
	if len(failures) != 2 || failures[0] != 2 || failures[1] != 2 {
		t.Fatalf("failures per counter: %v, want [2 2]", failures)
	}
}

// skewedStore reports failures recorded by a replica whose clock runs an
// hour ahead.
type skewedStore struct{ storage.Throttle }

func (s skewedStore) Attempts(ctx context.Context, keys ...string) ([]storage.Attempts, error) {
	out := make([]storage.Attempts, len(keys))
	for i := range out {
		out[i] = storage.Attempts{Failures: 100, LastFailure: time.Now().Add(time.Hour)}
	}
	return out, nil
}

func TestWaitNeverExceedsTheBackoff(t *testing.T) {
	wait, err := Wait(context.Background(), skewedStore{}, Counter{"k", 5})
	if err != nil || wait != MaxWait {
		t.Fatalf("wait %v, %v; want at most %v whatever the other replica's clock", wait, err, MaxWait)
	}
}
