package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate/tollgate/storage/testbackend"
)

// The revocation check every introspection and userinfo call makes.
func BenchmarkIsRevoked(b *testing.B) {
	store := testbackend.PostgresRedis(b)
	ctx := context.Background()
	if err := store.Revoke(ctx, "revoked-jti", time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	if _, err := store.IsRevoked(ctx, "warm-up"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			revoked, err := store.IsRevoked(ctx, "live-jti")
			if err != nil || revoked {
				b.Fatalf("IsRevoked = %v, %v", revoked, err)
			}
		}
	})
}
