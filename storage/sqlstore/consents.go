package sqlstore

import (
	"context"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/tollgate/tollgate/storage"
)

// SaveConsent creates or replaces the user's consent for the client;
// ErrNotFound if the user or the client does not exist.
func (s *Store) SaveConsent(ctx context.Context, c storage.Consent) error {
	row := consentRow{
		UserID: c.UserID, ClientID: c.ClientID, Scopes: c.Scopes,
		CreatedAt: utc(c.CreatedAt), UpdatedAt: utc(c.UpdatedAt),
	}
	err := s.guarded(ctx, func(db *gorm.DB) error {
		return db.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "user_id"}, {Name: "client_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"scopes", "created_at", "updated_at"}),
		}).Create(&row).Error
	})
	return wrap(err, "save consent of user %q for client %q", c.UserID, c.ClientID)
}

// GetConsent loads the user's consent for the client.
func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (storage.Consent, error) {
	var row consentRow
	err := s.db(ctx).Where("user_id = ? AND client_id = ?", userID, clientID).Take(&row).Error
	if err != nil {
		return storage.Consent{}, wrap(err, "get consent of user %q for client %q", userID, clientID)
	}
	return storage.Consent{
		UserID: row.UserID, ClientID: row.ClientID, Scopes: row.Scopes,
		CreatedAt: row.CreatedAt.Time, UpdatedAt: row.UpdatedAt.Time,
	}, nil
}

// DeleteConsent removes the user's consent for the client; ErrNotFound if
// there is none.
func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	res := s.db(ctx).Where("user_id = ? AND client_id = ?", userID, clientID).Delete(&consentRow{})
	return wrap(affected(res), "delete consent of user %q for client %q", userID, clientID)
}
