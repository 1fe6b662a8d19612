package oauthstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
	"github.com/tollgate/tollgate/storage/ttlcache"
)

// A registration change made behind the cache's back (another replica, the
// CLI) is seen within ClientCacheTTL, and a deleted client stops working.
func TestClientCacheExpires(t *testing.T) {
	ctx := context.Background()
	backend := testbackend.SQLite(t)
	now := time.Now()
	if err := backend.CreateClient(ctx, storage.Client{ID: "app", Name: "Old", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	s := New(backend)
	clock := now
	s.clients = ttlcache.New[storage.Client](func() time.Time { return clock }, maxCached)
	name := func() string {
		t.Helper()
		c, err := s.GetClient(ctx, "app")
		if err != nil {
			t.Fatal(err)
		}
		return c.(Client).Name
	}
	if got := name(); got != "Old" {
		t.Fatalf("name %q", got)
	}
	err := backend.UpdateClient(ctx, "app", func(c storage.Client) (storage.Client, error) { c.Name = "New"; return c, nil })
	if err != nil {
		t.Fatal(err)
	}
	if got := name(); got != "Old" {
		t.Fatalf("within the TTL the cached registration is used, got %q", got)
	}
	clock = clock.Add(ClientCacheTTL)
	if got := name(); got != "New" {
		t.Fatalf("after the TTL: %q, want the new registration", got)
	}
	if err := backend.DeleteClient(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(ClientCacheTTL)
	if _, err := s.GetClient(ctx, "app"); !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("deleted client: %v", err)
	}
	// Unknown clients are not cached, so they cannot fill the cache.
	if _, err := s.GetClient(ctx, "nope"); !errors.Is(err, fosite.ErrNotFound) || s.clients.Len() != 0 {
		t.Fatalf("unknown client: %v, %d cached", err, s.clients.Len())
	}
}
