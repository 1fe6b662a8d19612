package storagetest

import (
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/storage"
)

func attempts(t *testing.T, s storage.Store, key string) storage.Attempts {
	t.Helper()
	a, err := s.Attempts(t.Context(), key)
	mustNil(t, "attempts", err)
	if len(a) != 1 {
		t.Fatalf("attempts of one key: %d answers", len(a))
	}
	return a[0]
}

// Several keys are read at once, each count in its place.
func testThrottleMany(t *testing.T, s storage.Store) {
	ctx := t.Context()
	one, two, none := unique("acct"), unique("ip"), unique("acct")
	for range 2 {
		_, err := s.RecordFailure(ctx, two, time.Hour)
		mustNil(t, "record failure", err)
	}
	_, err := s.RecordFailure(ctx, one, time.Hour)
	mustNil(t, "record failure", err)
	got, err := s.Attempts(ctx, two, none, one, two)
	mustNil(t, "attempts of several keys", err)
	var failures []int
	for _, a := range got {
		failures = append(failures, a.Failures)
	}
	equal(t, "failures per key", failures, []int{2, 0, 1, 2})
	if got[0].LastFailure.IsZero() || !got[1].LastFailure.IsZero() {
		t.Fatalf("last failures: %+v", got)
	}
	got, err = s.Attempts(ctx)
	mustNil(t, "attempts of no key", err)
	if len(got) != 0 {
		t.Fatalf("attempts of no key: %+v", got)
	}
}

// Failures add up, in parallel too, and a success forgets them.
func testThrottle(t *testing.T, s storage.Store) {
	ctx := t.Context()
	key, other := unique("acct"), unique("acct")
	if a := attempts(t, s, key); a.Failures != 0 {
		t.Fatalf("fresh key has %d failures", a.Failures)
	}
	before := time.Now().Add(-time.Second)
	for i := 1; i <= 3; i++ {
		a, err := s.RecordFailure(ctx, key, time.Hour)
		mustNil(t, "record failure", err)
		if a.Failures != i {
			t.Fatalf("failure %d counted as %d", i, a.Failures)
		}
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := s.RecordFailure(ctx, key, time.Hour); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	a := attempts(t, s, key)
	if a.Failures != 23 || a.LastFailure.Before(before) {
		t.Fatalf("after 23 failures: %+v", a)
	}
	if attempts(t, s, other).Failures != 0 {
		t.Fatal("failures leaked to another key")
	}
	mustNil(t, "reset", s.ResetAttempts(ctx, key))
	if a := attempts(t, s, key); a.Failures != 0 {
		t.Fatalf("after reset: %+v", a)
	}
}

// A count is forgotten once its forget period passes without failures.
func testThrottleForgets(t *testing.T, s storage.Store) {
	ctx := t.Context()
	key := unique("ip")
	for range 2 {
		_, err := s.RecordFailure(ctx, key, 300*time.Millisecond)
		mustNil(t, "record failure", err)
	}
	time.Sleep(400 * time.Millisecond)
	if a := attempts(t, s, key); a.Failures != 0 {
		t.Fatalf("an expired count still reads %+v", a)
	}
	a, err := s.RecordFailure(ctx, key, time.Hour)
	mustNil(t, "record after expiry", err)
	if a.Failures != 1 {
		t.Fatalf("a new count after expiry starts at %d", a.Failures)
	}
}
