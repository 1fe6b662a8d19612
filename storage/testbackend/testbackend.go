// Package testbackend gives tests of any package a fresh, migrated store on
// SQLite, PostgreSQL, or PostgreSQL with Redis in front.
//
// PostgreSQL comes from TOLLGATE_TEST_POSTGRES (default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable); each store gets
// its own schema, dropped at cleanup. Redis comes from TOLLGATE_TEST_REDIS
// (default redis://127.0.0.1:6379/0); PostgresRedis gives each store its own
// key prefix, deleted at cleanup. A server that does not answer skips the
// test, or fails it when CI=true.
//
// Servers started with backend.Open (PostgresURL and RedisURL) use the fixed
// prefix backend.RedisPrefix in the shared Redis database: such tests must
// use unique token IDs (random jti values do).
package testbackend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/backend"
	"github.com/tollgate/tollgate/storage/redisstore"
	"github.com/tollgate/tollgate/storage/sqlstore"
)

const (
	defaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	defaultRedis    = "redis://127.0.0.1:6379/0"
	timeout         = 10 * time.Second
)

// SQLite returns a migrated store on a SQLite file in a temporary directory.
func SQLite(t testing.TB) storage.Store {
	t.Helper()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "tollgate.db")
	s := open(t, dsn)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return s
}

// Postgres returns a migrated store on a fresh PostgreSQL schema.
func Postgres(t testing.TB) storage.Store {
	t.Helper()
	return open(t, PostgresURL(t))
}

// PostgresRedis returns Postgres with the revocation list in Redis under a
// key prefix of its own.
func PostgresRedis(t testing.TB) storage.Store {
	t.Helper()
	opts, err := redis.ParseURL(RedisURL(t))
	if err != nil {
		t.Fatalf("parse TOLLGATE_TEST_REDIS: %v", err)
	}
	dsn := PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	sql, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	client := redis.NewClient(opts)
	prefix := "tollgate-test:" + randomHex(t) + ":"
	s := redisstore.New(client, sql, prefix)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		// A client of its own: the test may have closed the store's.
		cleaner := redis.NewClient(opts)
		defer cleaner.Close()
		if err := DeleteKeys(ctx, cleaner, prefix); err != nil {
			t.Errorf("delete redis keys %s*: %v", prefix, err)
		}
		s.Close()
	})
	return s
}

// DeleteKeys deletes every key that starts with prefix.
func DeleteKeys(ctx context.Context, client redis.UniversalClient, prefix string) error {
	iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	return client.Del(ctx, keys...).Err()
}

// PostgresURL returns the DSN of a fresh, migrated PostgreSQL schema, which is
// dropped at cleanup.
func PostgresURL(t testing.TB) string {
	t.Helper()
	dsn := EmptyPostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate postgres: %v", err)
	}
	return dsn
}

// EmptyPostgresURL returns the DSN of a fresh, empty PostgreSQL schema (for
// migration tests), which is dropped at cleanup.
func EmptyPostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TOLLGATE_TEST_POSTGRES")
	if base == "" {
		base = defaultPostgres
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		unreachable(t, "PostgreSQL at %s does not answer (set TOLLGATE_TEST_POSTGRES): %v",
			backend.RedactURL(base), err)
	}
	defer conn.Close(context.Background())

	schema := "tollgate_test_" + randomHex(t)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() { dropSchema(t, base, schema) })

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse TOLLGATE_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema) // pgx passes it on as a run-time parameter
	u.RawQuery = q.Encode()
	return u.String()
}

func dropSchema(t testing.TB, base, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Errorf("drop schema %s: %v", schema, err)
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
		t.Errorf("drop schema %s: %v", schema, err)
	}
}

// RedisURL returns the URL of the test Redis, after checking that it answers.
func RedisURL(t testing.TB) string {
	t.Helper()
	raw := os.Getenv("TOLLGATE_TEST_REDIS")
	if raw == "" {
		raw = defaultRedis
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatalf("parse TOLLGATE_TEST_REDIS %s: %v", backend.RedactURL(raw), err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		unreachable(t, "Redis at %s does not answer (set TOLLGATE_TEST_REDIS): %v",
			backend.RedactURL(raw), err)
	}
	return raw
}

func open(t testing.TB, dsn string) *sqlstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", backend.RedactURL(dsn), err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// unreachable skips the test, or fails it under CI, where every backend must
// run.
func unreachable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: not skipping)")
	}
	t.Skip(msg + " (skipping; CI=true makes this fail)")
}

func randomHex(t testing.TB) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
