package redisstore_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/storage/redisstore"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// evictingRedis is a Redis of the test's own, configured with the memory
// settings given, and a client for it.
func evictingRedis(t *testing.T, maxmemory, policy string) *redis.Client {
	t.Helper()
	server := testbackend.StartRedis(t)
	server.ConfigSet("maxmemory", maxmemory)
	server.ConfigSet("maxmemory-policy", policy)
	opts, err := redis.ParseURL(server.URL())
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	return client
}

func TestCheckEviction(t *testing.T) {
	for _, c := range []struct {
		maxmemory, policy string
		ok                bool
	}{
		{"64mb", "noeviction", true},
		{"0", "allkeys-lru", true}, // no limit: nothing is ever evicted
		{"64mb", "allkeys-lru", false},
		{"64mb", "volatile-ttl", false}, // every revocation key has a TTL
	} {
		err := redisstore.CheckEviction(t.Context(), evictingRedis(t, c.maxmemory, c.policy))
		if c.ok && err != nil {
			t.Errorf("maxmemory %s, policy %s: %v", c.maxmemory, c.policy, err)
		}
		if !c.ok && (err == nil || !strings.Contains(err.Error(), "noeviction")) {
			t.Errorf("maxmemory %s, policy %s: err = %v, want one that asks for noeviction", c.maxmemory, c.policy, err)
		}
	}
}

// A store over a Redis that may evict never trusts it: revocations are
// answered from SQL, and Redis is not seeded.
func TestEvictingRedisNotTrusted(t *testing.T) {
	ctx := t.Context()
	client := evictingRedis(t, "64mb", "allkeys-lru")
	f := newFixture(t, client)
	var logs bytes.Buffer // the checks, and so the seeding, run on this goroutine
	f.store = redisstore.New(client, f.sql, f.prefix, redisstore.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	revoked := jti(t)
	if err := f.sql.Revoke(ctx, revoked, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		wantRevoked(t, f.store, revoked, true)
		wantRevoked(t, f.store, jti(t), false)
	}
	if v, _ := client.Get(ctx, f.prefix+"revocations:seeded").Result(); v == "1" {
		t.Fatal("Redis was marked seeded although it may evict keys")
	}
	if exists(t, f, "revoked:"+revoked) {
		t.Fatal("a revocation was copied to a Redis that may evict it")
	}
	if !strings.Contains(logs.String(), "noeviction") {
		t.Fatalf("the operator was not told: logs = %q", logs.String())
	}
}
