package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/redisstore"
	"github.com/tollgate/tollgate/storage/sqlstore"
	"github.com/tollgate/tollgate/storage/storagetest"
	"github.com/tollgate/tollgate/storage/testbackend"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return testbackend.PostgresRedis(t) })
}

// fixture is a redisstore over a fresh PostgreSQL schema, with its prefix
// and client at hand so that tests can tamper with Redis.
type fixture struct {
	store  *redisstore.Store
	sql    *sqlstore.Store
	client *redis.Client
	prefix string
}

func newFixture(t *testing.T, client *redis.Client) fixture {
	t.Helper()
	sql, err := sqlstore.Open(t.Context(), testbackend.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	prefix := "tollgate-test:" + hex.EncodeToString(b) + ":"
	f := fixture{store: redisstore.New(client, sql, prefix), sql: sql, client: client, prefix: prefix}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		testbackend.DeleteKeys(ctx, client, prefix)
		f.store.Close()
	})
	return f
}

func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(testbackend.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	return redis.NewClient(opts)
}

func jti(t *testing.T) string {
	b := make([]byte, 8)
	rand.Read(b)
	return t.Name() + "-" + hex.EncodeToString(b)
}

func wantRevoked(t *testing.T, s storage.RevocationList, id string, want bool) {
	t.Helper()
	got, err := s.IsRevoked(t.Context(), id)
	if err != nil {
		t.Fatalf("IsRevoked(%s): %v", id, err)
	}
	if got != want {
		t.Fatalf("IsRevoked(%s) = %v, want %v", id, got, want)
	}
}

func exists(t *testing.T, f fixture, key string) bool {
	t.Helper()
	n, err := f.client.Exists(t.Context(), f.prefix+key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// Redis is seeded on the first check and then answers alone; what it holds
// expires with the token.
func TestSeedAndFastPath(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, redisClient(t))
	revoked, other := jti(t), jti(t)
	// Revoked before Redis was ever seeded: the seed must bring it over.
	if err := f.sql.Revoke(ctx, revoked, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if exists(t, f, "revocations:seeded") {
		t.Fatal("New wrote to Redis")
	}
	wantRevoked(t, f.store, other, false)
	if !exists(t, f, "revocations:seeded") {
		t.Fatal("the first check did not seed Redis")
	}
	if !exists(t, f, "revoked:"+revoked) {
		t.Fatal("the seed did not copy the revocation to Redis")
	}
	ttl, err := f.client.PTTL(ctx, f.prefix+"revoked:"+revoked).Result()
	if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("seeded key TTL = %v, %v; want about an hour", ttl, err)
	}

	// From now on Redis answers: a revocation only Redis knows shows, and
	// one only SQL knows does not (which proves SQL was not asked).
	onlyRedis, onlySQL := jti(t), jti(t)
	if err := f.client.Set(ctx, f.prefix+"revoked:"+onlyRedis, "1", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if err := f.sql.Revoke(ctx, onlySQL, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantRevoked(t, f.store, onlyRedis, true)
	wantRevoked(t, f.store, onlySQL, false)

	// Revoke writes both.
	fresh := jti(t)
	if err := f.store.Revoke(ctx, fresh, time.Now().Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !exists(t, f, "revoked:"+fresh) {
		t.Fatal("Revoke did not write Redis")
	}
	wantRevoked(t, f.sql, fresh, true)
	wantRevoked(t, f.store, fresh, true)
}

// A flush of Redis (every key of the prefix deleted) must not make a revoked
// token look active.
func TestRevokedSurvivesFlush(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, redisClient(t))
	revoked, other := jti(t), jti(t)
	if err := f.store.Revoke(ctx, revoked, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantRevoked(t, f.store, revoked, true)
	wantRevoked(t, f.store, other, false)
	if !exists(t, f, "revocations:seeded") {
		t.Fatal("Redis was not seeded")
	}

	if err := testbackend.DeleteKeys(ctx, f.client, f.prefix); err != nil {
		t.Fatal(err)
	}
	wantRevoked(t, f.store, revoked, true)
	wantRevoked(t, f.store, other, false)
	// The check re-seeded Redis.
	if !exists(t, f, "revoked:"+revoked) || !exists(t, f, "revocations:seeded") {
		t.Fatal("Redis was not re-seeded after the flush")
	}
	wantRevoked(t, f.store, revoked, true)
}

// With Redis unreachable, checks answer from SQL and Revoke still succeeds.
func TestRedisUnreachable(t *testing.T) {
	ctx := t.Context()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there any more
	down := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	f := newFixture(t, down)

	revokedBefore, revokedNow, never := jti(t), jti(t), jti(t)
	if err := f.sql.Revoke(ctx, revokedBefore, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Revoke(ctx, revokedNow, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Revoke with Redis down: %v", err)
	}
	for range 3 {
		wantRevoked(t, f.store, revokedBefore, true)
		wantRevoked(t, f.store, revokedNow, true)
		wantRevoked(t, f.store, never, false)
	}
	if err := f.store.Ping(ctx); err == nil {
		t.Fatal("Ping succeeded with Redis down")
	}
	list, err := f.store.ListRevocations(ctx, time.Now())
	if err != nil || len(list) != 2 {
		t.Fatalf("ListRevocations = %v, %v; want the 2 revocations from SQL", list, err)
	}
}

// failRevokedWrites makes every write of a revoked:* key fail, as if Redis
// dropped the connection at that moment, and lets other commands through.
type failRevokedWrites struct{}

func (failRevokedWrites) DialHook(next redis.DialHook) redis.DialHook { return next }

func (failRevokedWrites) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if args := cmd.Args(); cmd.Name() == "set" && len(args) > 1 && strings.Contains(fmt.Sprint(args[1]), ":revoked:") {
			err := errors.New("injected failure")
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

func (failRevokedWrites) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A revocation that reached SQL but not Redis must not read as active on any
// replica: the store makes the marker stale, so every replica distrusts
// Redis until it is re-seeded.
func TestRevocationMissedByRedis(t *testing.T) {
	ctx := t.Context()
	client := redisClient(t)
	f := newFixture(t, client)
	wantRevoked(t, f.store, jti(t), false) // seeds Redis
	if v, _ := client.Get(ctx, f.prefix+"revocations:seeded").Result(); v != "1" {
		t.Fatalf("marker after the first check = %q, want \"1\"", v)
	}

	// Another replica, whose write of the revoked key fails.
	flaky := redis.NewClient(client.Options())
	flaky.AddHook(failRevokedWrites{})
	t.Cleanup(func() { flaky.Close() })
	replica := redisstore.New(flaky, f.sql, f.prefix)
	missed := jti(t)
	if err := replica.Revoke(ctx, missed, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Revoke with a failing Redis write: %v", err)
	}
	if exists(t, f, "revoked:"+missed) {
		t.Fatal("the injected failure did not prevent the write")
	}
	if v, _ := client.Get(ctx, f.prefix+"revocations:seeded").Result(); v != "stale" {
		t.Fatalf("marker after a missed write = %q, want \"stale\"", v)
	}

	// The healthy replica, which had trusted Redis, answers from SQL and
	// re-seeds.
	wantRevoked(t, f.store, missed, true)
	if !exists(t, f, "revoked:"+missed) {
		t.Fatal("the stale marker did not cause a re-seed")
	}
	if v, _ := client.Get(ctx, f.prefix+"revocations:seeded").Result(); v != "1" {
		t.Fatalf("marker after the re-seed = %q, want \"1\"", v)
	}
	wantRevoked(t, f.store, missed, true)
	wantRevoked(t, replica, missed, true)
}

// A seed claimed by another replica is left to it: checks answer from SQL
// and do not seed meanwhile.
func TestSeedClaimedElsewhere(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, redisClient(t))
	revoked := jti(t)
	if err := f.sql.Revoke(ctx, revoked, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := f.client.Set(ctx, f.prefix+"revocations:seeded", "seeding:other", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	wantRevoked(t, f.store, revoked, true)
	wantRevoked(t, f.store, jti(t), false)
	if exists(t, f, "revoked:"+revoked) {
		t.Fatal("seeded although another replica holds the claim")
	}
}

func TestCloseTwice(t *testing.T) {
	f := newFixture(t, redisClient(t))
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

// Under concurrent checks (which share round trips to Redis), each check gets
// its own token's answer, and a token revoked through one store is refused
// by the next check on another store, as by a second replica.
func TestConcurrentChecks(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, redisClient(t))
	other := redisstore.New(redisClient(t), f.sql, f.prefix)
	wantRevoked(t, f.store, jti(t), false) // seeds Redis

	const workers, rounds = 16, 30
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				id := jti(t)
				if got, err := other.IsRevoked(ctx, id); err != nil || got {
					t.Errorf("IsRevoked(%s) before revocation = %v, %v", id, got, err)
					return
				}
				if err := f.store.Revoke(ctx, id, time.Now().Add(time.Hour)); err != nil {
					t.Error(err)
					return
				}
				if got, err := other.IsRevoked(ctx, id); err != nil || !got {
					t.Errorf("IsRevoked(%s) after revocation = %v, %v", id, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
