package sqlstore

import (
	"context"
	"time"

	"github.com/tollgate/tollgate/storage"
)

type throttleRow struct {
	Key         string  `gorm:"column:key;primaryKey"`
	Failures    int     `gorm:"column:failures"`
	LastFailure utcTime `gorm:"column:last_failure"`
	ExpiresAt   utcTime `gorm:"column:expires_at"`
}

func (throttleRow) TableName() string { return "throttles" }

// RecordFailure counts a failure in one statement, so parallel attempts all
// count; a count whose forget period ran out starts again at one.
func (s *Store) RecordFailure(ctx context.Context, key string, forget time.Duration) (storage.Attempts, error) {
	now := time.Now()
	var row throttleRow
	err := s.db(ctx).Raw(`INSERT INTO throttles (key, failures, last_failure, expires_at) VALUES (?, 1, ?, ?)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN throttles.expires_at <= excluded.last_failure THEN 1 ELSE throttles.failures + 1 END,
			last_failure = excluded.last_failure,
			expires_at = excluded.expires_at
		RETURNING key, failures, last_failure, expires_at`,
		key, utc(now), utc(now.Add(forget))).Find(&row).Error
	if err != nil {
		return storage.Attempts{}, wrap(err, "record failure")
	}
	return storage.Attempts{Failures: row.Failures, LastFailure: row.LastFailure.Time}, nil
}

// Attempts returns the live count under each key, in one query.
func (s *Store) Attempts(ctx context.Context, keys ...string) ([]storage.Attempts, error) {
	out := make([]storage.Attempts, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	var rows []throttleRow
	if err := s.db(ctx).Where("key IN ? AND expires_at > ?", keys, utc(time.Now())).Find(&rows).Error; err != nil {
		return nil, wrap(err, "read failures")
	}
	byKey := make(map[string]storage.Attempts, len(rows))
	for _, row := range rows {
		byKey[row.Key] = storage.Attempts{Failures: row.Failures, LastFailure: row.LastFailure.Time}
	}
	for i, k := range keys {
		out[i] = byKey[k]
	}
	return out, nil
}

// ResetAttempts forgets key's failures.
func (s *Store) ResetAttempts(ctx context.Context, key string) error {
	return wrap(s.db(ctx).Where("key = ?", key).Delete(&throttleRow{}).Error, "reset failures")
}

// DeleteExpiredAttempts removes up to limit forgotten counts.
func (s *Store) DeleteExpiredAttempts(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.deleteExpired(ctx, "throttles", "key", before, limit)
}
