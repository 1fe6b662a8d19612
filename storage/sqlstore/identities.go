package sqlstore

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/tollgate/tollgate/storage"
)

type identityRow struct {
	ID         string  `gorm:"column:id;primaryKey"`
	UserID     string  `gorm:"column:user_id"`
	Upstream   string  `gorm:"column:upstream"`
	Issuer     string  `gorm:"column:issuer"`
	Subject    string  `gorm:"column:subject"`
	Email      string  `gorm:"column:email"`
	CreatedAt  utcTime `gorm:"column:created_at;autoCreateTime:false"`
	LastUsedAt utcTime `gorm:"column:last_used_at;autoUpdateTime:false"`
}

func (identityRow) TableName() string { return "identities" }

func (r identityRow) identity() storage.Identity {
	return storage.Identity{
		ID: r.ID, UserID: r.UserID, Upstream: r.Upstream, Issuer: r.Issuer, Subject: r.Subject,
		Email: r.Email, CreatedAt: r.CreatedAt.Time, LastUsedAt: r.LastUsedAt.Time,
	}
}

// CreateIdentity links an upstream account to a user.
func (s *Store) CreateIdentity(ctx context.Context, i storage.Identity) error {
	row := identityRow{
		ID: i.ID, UserID: i.UserID, Upstream: i.Upstream, Issuer: i.Issuer, Subject: i.Subject,
		Email: i.Email, CreatedAt: utc(i.CreatedAt), LastUsedAt: utc(i.LastUsedAt),
	}
	err := s.guarded(ctx, func(db *gorm.DB) error { return db.Create(&row).Error })
	return wrap(err, "create identity %q of user %q", i.ID, i.UserID)
}

// GetIdentity finds the identity of an upstream account.
func (s *Store) GetIdentity(ctx context.Context, issuer, subject string) (storage.Identity, error) {
	var row identityRow
	if err := s.db(ctx).Where("issuer = ? AND subject = ?", issuer, subject).Take(&row).Error; err != nil {
		return storage.Identity{}, wrap(err, "get identity at %q", issuer)
	}
	return row.identity(), nil
}

// ListUserIdentities returns a user's identities, oldest first.
func (s *Store) ListUserIdentities(ctx context.Context, userID string) ([]storage.Identity, error) {
	var rows []identityRow
	if err := s.db(ctx).Where("user_id = ?", userID).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, wrap(err, "list identities of user %q", userID)
	}
	out := make([]storage.Identity, len(rows))
	for i, r := range rows {
		out[i] = r.identity()
	}
	return out, nil
}

// TouchIdentity records a sign-in with the identity.
func (s *Store) TouchIdentity(ctx context.Context, id string, at time.Time) error {
	res := s.db(ctx).Model(&identityRow{}).Where("id = ?", id).Update("last_used_at", utc(at))
	return wrap(affected(res), "touch identity %q", id)
}

// DeleteIdentity unlinks one of the user's identities.
func (s *Store) DeleteIdentity(ctx context.Context, userID, id string) error {
	res := s.db(ctx).Where("id = ? AND user_id = ?", id, userID).Delete(&identityRow{})
	return wrap(affected(res), "delete identity %q of user %q", id, userID)
}
