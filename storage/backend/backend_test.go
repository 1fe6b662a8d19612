package backend_test

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/backend"
	"github.com/tollgate/tollgate/storage/redisstore"
	"github.com/tollgate/tollgate/storage/testbackend"
)

func TestOpenRefusesUnmigratedSchema(t *testing.T) {
	ctx := t.Context()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "data", "tollgate.db")
	_, err := backend.Open(ctx, dsn, "")
	if err == nil || !strings.Contains(err.Error(), `run "tollgate migrate up"`) {
		t.Fatalf("Open before migrating = %v, want an error asking to migrate", err)
	}
	if err := backend.Migrate(ctx, dsn); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	s, err := backend.Open(ctx, dsn, "")
	if err != nil {
		t.Fatalf("Open after migrating: %v", err)
	}
	defer s.Close()
	if err := s.CreateClient(ctx, storage.Client{ID: "c"}); err != nil {
		t.Fatal(err)
	}
}

func TestOpenPostgresRedis(t *testing.T) {
	ctx := t.Context()
	s, err := backend.Open(ctx, testbackend.PostgresURL(t), testbackend.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*redisstore.Store); !ok {
		t.Fatalf("Open with a redis URL returned %T, want *redisstore.Store", s)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	jti := "backend-test-" + time.Now().Format(time.RFC3339Nano) // unique in the shared prefix
	if err := s.Revoke(ctx, jti, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if revoked, err := s.IsRevoked(ctx, jti); err != nil || !revoked {
		t.Fatalf("IsRevoked = %v, %v; want true", revoked, err)
	}
}

func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestErrorsNameTheKeyAndHideThePassword(t *testing.T) {
	ctx := t.Context()
	const password = "hunter2-Sup3rSecret"
	dsn := testbackend.PostgresURL(t)

	_, err := backend.Open(ctx, dsn, "redis://user:"+password+"@"+closedPort(t)+"/0")
	if err == nil || !strings.Contains(err.Error(), "redis_url") {
		t.Fatalf("Open with Redis down = %v, want an error naming redis_url", err)
	}
	if strings.Contains(err.Error(), password) {
		t.Fatalf("error quotes the password: %v", err)
	}

	_, err = backend.Open(ctx, "postgres://tollgate:"+password+"@"+closedPort(t)+"/db?sslmode=disable&connect_timeout=2", "")
	if err == nil || !strings.Contains(err.Error(), "database_url") {
		t.Fatalf("Open with PostgreSQL down = %v, want an error naming database_url", err)
	}
	if strings.Contains(err.Error(), password) {
		t.Fatalf("error quotes the password: %v", err)
	}

	err = backend.Migrate(ctx, "postgres://tollgate:"+password+"@"+closedPort(t)+"/db?sslmode=disable&connect_timeout=2")
	if err == nil || strings.Contains(err.Error(), password) {
		t.Fatalf("Migrate with PostgreSQL down = %v, want an error without the password", err)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:secret@h:5432/db?sslmode=disable": "postgres://u:xxxxx@h:5432/db?sslmode=disable",
		"postgres://u@h/db":                             "postgres://u@h/db",
		"redis://:secret@h:6379/0":                      "redis://:xxxxx@h:6379/0",
		"sqlite:/var/lib/tollgate/tollgate.db":          "sqlite:/var/lib/tollgate/tollgate.db",
	} {
		if got := backend.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// A Redis that may evict keys is refused at start-up, with what to change.
func TestOpenRefusesEvictingRedis(t *testing.T) {
	ctx := t.Context()
	server := testbackend.StartRedis(t)
	server.ConfigSet("maxmemory", "64mb")
	server.ConfigSet("maxmemory-policy", "allkeys-lru")
	s, err := backend.Open(ctx, testbackend.PostgresURL(t), server.URL())
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a Redis with maxmemory-policy allkeys-lru")
	}
	if !strings.Contains(err.Error(), "noeviction") {
		t.Fatalf("error %q does not say what to change", err)
	}
}
