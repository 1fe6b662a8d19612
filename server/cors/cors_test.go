package cors

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tollgate/tollgate/storage"
)

// clients is a ClientStore over a map; it counts the lists it answers.
type clients struct {
	storage.ClientStore
	byID  map[string]storage.Client
	lists int
	down  bool
}

func (c *clients) ListClients(context.Context) ([]storage.Client, error) {
	if c.down {
		return nil, errors.New("database down")
	}
	c.lists++
	var out []storage.Client
	for _, cl := range c.byID {
		out = append(out, cl)
	}
	return out, nil
}

func (c *clients) GetClient(_ context.Context, id string) (storage.Client, error) {
	cl, ok := c.byID[id]
	if !ok {
		return cl, storage.ErrNotFound
	}
	return cl, nil
}

// TestRegisteredIsCachedBriefly: the set of every origin is read once per
// cacheTTL, and a new registration shows after it.
func TestRegisteredIsCachedBriefly(t *testing.T) {
	store := &clients{byID: map[string]storage.Client{"a": {ID: "a", WebOrigins: []string{"https://a.example"}}}}
	o := New(store)
	now := time.Now()
	o.now = func() time.Time { return now }
	ctx := t.Context()
	for range 3 {
		if ok, err := o.Registered(ctx, "https://a.example"); !ok || err != nil {
			t.Fatalf("Registered(a) = %v, %v", ok, err)
		}
	}
	store.byID["b"] = storage.Client{ID: "b", WebOrigins: []string{"https://b.example"}}
	if ok, _ := o.Registered(ctx, "https://b.example"); ok {
		t.Fatal("a registration showed before the cache expired")
	}
	now = now.Add(cacheTTL)
	if ok, _ := o.Registered(ctx, "https://b.example"); !ok {
		t.Fatal("a new registration did not show after the cache expired")
	}
	if store.lists != 2 {
		t.Fatalf("listed clients %d times, want 2", store.lists)
	}
	if ok, err := o.OfClient(ctx, "nobody", "https://a.example"); ok || err != nil {
		t.Fatalf("OfClient(unknown client) = %v, %v", ok, err)
	}
}

// TestPreflightWhenStorageFails: a preflight that cannot be decided is a
// 503, never an allowance.
func TestPreflightWhenStorageFails(t *testing.T) {
	o := New(&clients{down: true})
	req := httptest.NewRequest(http.MethodOptions, "/token", nil)
	req.Header.Set("Origin", "https://a.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	rec := httptest.NewRecorder()
	o.AnyClient(http.NotFoundHandler()).ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("status %d, headers %v", rec.Code, rec.Header())
	}
}
