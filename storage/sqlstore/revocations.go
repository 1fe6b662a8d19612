package sqlstore

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/tollgate/tollgate/storage"
)

// Revoke records a revoked access token's ID until the token expires. It is
// idempotent; revoking again never shortens an existing revocation.
func (s *Store) Revoke(ctx context.Context, jti string, expiresAt time.Time) error {
	err := s.guarded(ctx, func(db *gorm.DB) error {
		return db.Exec(`INSERT INTO revocations (jti, expires_at) VALUES (?, ?)
			ON CONFLICT (jti) DO UPDATE SET expires_at = CASE
				WHEN excluded.expires_at > revocations.expires_at THEN excluded.expires_at
				ELSE revocations.expires_at END`,
			jti, utc(expiresAt)).Error
	})
	return wrap(err, "revoke access token")
}

// IsRevoked reports whether the token ID is revoked and its token not yet
// expired.
func (s *Store) IsRevoked(ctx context.Context, jti string) (bool, error) {
	var n int64
	err := s.db(ctx).Model(&revocationRow{}).
		Where("jti = ? AND expires_at > ?", jti, utc(time.Now())).Count(&n).Error
	if err != nil {
		return false, wrap(err, "check revocation")
	}
	return n > 0, nil
}

// ListRevocations returns the revocations whose token expires after
// notExpiredAt.
func (s *Store) ListRevocations(ctx context.Context, notExpiredAt time.Time) ([]storage.Revocation, error) {
	var rows []revocationRow
	err := s.db(ctx).Where("expires_at > ?", utc(notExpiredAt)).Order("expires_at, jti").Find(&rows).Error
	if err != nil {
		return nil, wrap(err, "list revocations")
	}
	out := make([]storage.Revocation, len(rows))
	for i, r := range rows {
		out[i] = storage.Revocation{JTI: r.JTI, ExpiresAt: r.ExpiresAt.Time}
	}
	return out, nil
}

// DeleteExpiredRevocations removes up to limit revocations of tokens that
// expired before t: an expired token is refused on its own.
func (s *Store) DeleteExpiredRevocations(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.deleteExpired(ctx, "revocations", "jti", before, limit)
}
