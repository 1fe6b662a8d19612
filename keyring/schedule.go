package keyring

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"
)

// checkEvery is how often a replica checks whether the keys are due: well
// under the minute within which replicas must pick up a rotation.
const checkEvery = time.Minute

// RunSchedule rotates the keys whenever the last rotation is older than
// interval, until ctx ends. Every replica runs it; RotateIfOlder makes sure
// one rotation happens per interval. A zero interval disables it.
func (r *Keyring) RunSchedule(ctx context.Context, interval, retain time.Duration, log *slog.Logger) {
	if interval <= 0 {
		return
	}
	// Spread replicas over the check period.
	wait := rand.N(checkEvery)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = checkEvery
		rotated, err := r.RotateIfOlder(ctx, interval, retain)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("scheduled key rotation failed", "err", err)
		case rotated:
			log.Info("signing keys rotated on schedule", "interval", interval)
		}
	}
}
