package redisstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/storage/testbackend"
)

// The revocation check every introspection and userinfo call makes, by
// how many callers check at once. Checks that arrive while a round trip is
// in flight share the next one: one caller pays one round trip per check;
// two callers mostly take turns, each waiting for the other's round trip
// (the price of sharing at low concurrency); many callers share each round
// trip, so a check costs a fraction of one.
func BenchmarkIsRevoked(b *testing.B) {
	store := testbackend.PostgresRedis(b)
	ctx := context.Background()
	if err := store.Revoke(ctx, "revoked-jti", time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	if _, err := store.IsRevoked(ctx, "warm-up"); err != nil {
		b.Fatal(err)
	}
	for _, callers := range []int{1, 2, 64} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			b.ReportAllocs()
			next := make(chan struct{}, callers)
			var wg sync.WaitGroup
			var failed sync.Once
			for range callers {
				wg.Go(func() {
					for range next {
						revoked, err := store.IsRevoked(ctx, "live-jti")
						if err != nil || revoked {
							failed.Do(func() { b.Errorf("IsRevoked = %v, %v", revoked, err) })
						}
					}
				})
			}
			for b.Loop() {
				next <- struct{}{}
			}
			close(next)
			wg.Wait()
		})
	}
}
