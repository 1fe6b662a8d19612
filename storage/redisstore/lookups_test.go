package redisstore_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/storage/redisstore"
)

// holdMGETs counts MGETs and the keys each reads. Once armed, it holds the
// first MGETs until released, and fails every MGET if told to.
type holdMGETs struct {
	armed   atomic.Bool
	held    int32 // how many MGETs to hold once armed
	fail    bool
	entered chan struct{}
	release chan struct{}

	mgets atomic.Int32 // counted once armed
	mu    sync.Mutex
	keys  []int // keys per MGET, in order
}

func newHold(held int, fail bool) *holdMGETs {
	return &holdMGETs{held: int32(held), fail: fail, entered: make(chan struct{}), release: make(chan struct{})}
}

func (h *holdMGETs) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *holdMGETs) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() != "mget" || !h.armed.Load() {
			return next(ctx, cmd)
		}
		n := h.mgets.Add(1)
		h.mu.Lock()
		h.keys = append(h.keys, len(cmd.Args())-1)
		h.mu.Unlock()
		if n <= h.held {
			h.entered <- struct{}{}
			<-h.release
		}
		if h.fail {
			err := errors.New("injected failure")
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

func (h *holdMGETs) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// checkTogether revokes every third of n tokens in SQL and Redis, holds the
// store's flights to Redis busy, queues n checks behind them, and then lets
// them all go. Each check must get its own token's answer.
func checkTogether(t *testing.T, hook *holdMGETs, n int) {
	ctx := t.Context()
	client := redisClient(t)
	client.AddHook(hook)
	f := newFixture(t, client)
	wantRevoked(t, f.store, jti(t), false) // seeds Redis
	ids := make([]string, n)
	for i := range ids {
		ids[i] = jti(t)
		if i%3 == 0 {
			if err := f.store.Revoke(ctx, ids[i], time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}

	hook.armed.Store(true)
	var wg sync.WaitGroup
	check := func(id string, want bool) {
		defer wg.Done()
		wantRevoked(t, f.store, id, want)
	}
	for range hook.held {
		wg.Add(1)
		go check(jti(t), false)
		<-hook.entered
	}
	for i, id := range ids {
		wg.Add(1)
		go check(id, i%3 == 0)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.store.QueuedChecks() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d checks queued, want %d", f.store.QueuedChecks(), n)
		}
		time.Sleep(time.Millisecond)
	}
	close(hook.release)
	wg.Wait()
}

// Checks that arrive while every flight to Redis is busy go together, in one
// MGET, and each gets its own answer.
func TestChecksShareARoundTrip(t *testing.T) {
	const n = 20
	hook := newHold(redisstore.MaxFlights, false)
	checkTogether(t, hook, n)
	if got := hook.mgets.Load(); got != redisstore.MaxFlights+1 {
		t.Fatalf("%d checks made %d MGETs, want %d", redisstore.MaxFlights+n, got, redisstore.MaxFlights+1)
	}
	if last := hook.keys[len(hook.keys)-1]; last != n+1 {
		t.Fatalf("the shared MGET read %d keys, want %d (the marker and each check's)", last, n+1)
	}
}

// A burst of checks larger than a batch goes out in batches of MaxBatch.
func TestBurstSplitsIntoBatches(t *testing.T) {
	n := redisstore.MaxBatch + 10
	hook := newHold(1, false)
	checkTogether(t, hook, n)
	want := []int{2, redisstore.MaxBatch + 1, 11} // marker + keys
	if len(hook.keys) != len(want) || hook.keys[1] != want[1] || hook.keys[2] != want[2] {
		t.Fatalf("keys per MGET = %v, want %v", hook.keys, want)
	}
}

// When the shared MGET fails, every check in it answers from SQL: a revoked
// token never reads as active because Redis failed.
func TestSharedRoundTripFails(t *testing.T) {
	checkTogether(t, newHold(redisstore.MaxFlights, true), 20)
}

// A check whose caller gives up while it waits for a round trip returns at
// once; the round trips in flight still answer the others.
func TestCheckCallerGivesUp(t *testing.T) {
	hook := newHold(redisstore.MaxFlights, false)
	client := redisClient(t)
	client.AddHook(hook)
	f := newFixture(t, client)
	wantRevoked(t, f.store, jti(t), false) // seeds Redis
	hook.armed.Store(true)

	patient := make(chan error, redisstore.MaxFlights)
	for range redisstore.MaxFlights {
		go func() {
			_, err := f.store.IsRevoked(t.Context(), jti(t))
			patient <- err
		}()
		<-hook.entered
	}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := f.store.IsRevoked(ctx, jti(t)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled check: err = %v, want context.Canceled", err)
	}
	close(hook.release)
	for range redisstore.MaxFlights {
		if err := <-patient; err != nil {
			t.Fatalf("a check in flight: %v", err)
		}
	}
}

// panicOnce makes the first MGET after it is armed panic.
type panicOnce struct{ armed, fired atomic.Bool }

func (h *panicOnce) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *panicOnce) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "mget" && h.armed.Load() && h.fired.CompareAndSwap(false, true) {
			panic("injected")
		}
		return next(ctx, cmd)
	}
}

func (h *panicOnce) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A panic in the Redis client fails its round trip's checks, which answer
// from SQL, and the round trips after it still go out: a round trip that
// never ended would leave every later check waiting.
func TestPanickingRoundTrip(t *testing.T) {
	ctx := t.Context()
	hook := &panicOnce{}
	client := redisClient(t)
	client.AddHook(hook)
	f := newFixture(t, client)
	wantRevoked(t, f.store, jti(t), false) // seeds Redis
	revoked := jti(t)
	if err := f.store.Revoke(ctx, revoked, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	hook.armed.Store(true)
	wantRevoked(t, f.store, revoked, true)
	if !hook.fired.Load() {
		t.Fatal("the check did not go to Redis")
	}
	// Once Redis is trusted again (after the backoff), a revocation that
	// only Redis holds must show: the check went to Redis and came back.
	time.Sleep(1100 * time.Millisecond)
	onlyRedis := jti(t)
	if err := client.Set(ctx, f.prefix+"revoked:"+onlyRedis, "1", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		wantRevoked(t, f.store, onlyRedis, true)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a check after the panic never returned")
	}
}
