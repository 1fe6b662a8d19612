package redisstore

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// CheckEviction returns an error unless Redis keeps every key until it
// expires: maxmemory-policy noeviction, or no maxmemory. Under any other
// policy Redis may drop a revoked token's ID and keep the marker that says
// it holds every revocation, and the token would read as active.
func CheckEviction(ctx context.Context, rdb redis.UniversalClient) error {
	info, err := rdb.InfoMap(ctx, "memory").Result()
	if err != nil {
		return fmt.Errorf("read Redis's memory settings (INFO memory): %w", err)
	}
	memory := info["Memory"]
	policy, limit := memory["maxmemory_policy"], memory["maxmemory"]
	if policy == "" || limit == "" {
		return fmt.Errorf("INFO memory from Redis gives no maxmemory_policy or maxmemory")
	}
	if policy != "noeviction" && limit != "0" {
		return fmt.Errorf("Redis evicts keys (maxmemory-policy %s, maxmemory %s bytes): "+
			"Tollgate needs maxmemory-policy noeviction, or no maxmemory, or an evicted "+
			"revocation would let a revoked token through", policy, limit)
	}
	return nil
}
