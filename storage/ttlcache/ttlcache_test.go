package ttlcache

import (
	"testing"
	"time"
)

func TestExpiryForgetAndStaleReads(t *testing.T) {
	clock := time.Unix(1_800_000_000, 0)
	c := New[string](func() time.Time { return clock }, 10)

	c.Put("a", "one", time.Second)
	if v, ok := c.Get("a"); !ok || v != "one" {
		t.Fatalf("fresh entry: %q %v", v, ok)
	}
	clock = clock.Add(time.Second)
	if _, ok := c.Get("a"); ok {
		t.Fatal("an entry is served at its expiry")
	}

	// A value read before a forget is not stored; one read after is.
	gen := c.Generation()
	c.Forget("b")
	c.PutSince("b", "stale", time.Minute, gen)
	if _, ok := c.Get("b"); ok {
		t.Fatal("a value read before a forget was cached")
	}
	c.PutSince("b", "fresh", time.Minute, c.Generation())
	if v, _ := c.Get("b"); v != "fresh" {
		t.Fatalf("after the forget: %q", v)
	}
}

func TestBound(t *testing.T) {
	c := New[int](time.Now, 3)
	for i, k := range []string{"a", "b", "c", "d"} {
		c.Put(k, i, time.Minute)
	}
	if n := c.Len(); n != 1 {
		t.Fatalf("a full cache is emptied before the next entry: %d entries", n)
	}
	if v, ok := c.Get("d"); !ok || v != 3 {
		t.Fatalf("the entry that found it full: %d %v", v, ok)
	}
}
