package sqlstore

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/tollgate/tollgate/storage"
)

// Session IDs are hashes of cookie values; like token signatures they stay
// out of error messages.

// CreateSession stores a browser session; ErrNotFound if its user does not
// exist.
func (s *Store) CreateSession(ctx context.Context, sess storage.Session) error {
	row := sessionToRow(sess)
	err := s.guarded(ctx, func(db *gorm.DB) error { return db.Create(&row).Error })
	return wrap(err, "create session for user %q", sess.UserID)
}

// GetSession loads a session; ErrNotFound if it is absent or expired.
func (s *Store) GetSession(ctx context.Context, id string) (storage.Session, error) {
	var row sessionRow
	err := s.db(ctx).Where("id = ? AND expires_at > ?", id, utc(time.Now())).Take(&row).Error
	if err != nil {
		return storage.Session{}, wrap(err, "get session")
	}
	return row.session(), nil
}

// DeleteSession removes a session; ErrNotFound if it is absent.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return wrap(affected(s.db(ctx).Where("id = ?", id).Delete(&sessionRow{})), "delete session")
}

// DeleteUserSessions removes every session of a user (none is not an error).
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) error {
	err := s.db(ctx).Where("user_id = ?", userID).Delete(&sessionRow{}).Error
	return wrap(err, "delete sessions of user %q", userID)
}

// DeleteExpiredSessions removes up to limit sessions that ended before t.
func (s *Store) DeleteExpiredSessions(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.deleteExpired(ctx, "sessions", "id", before, limit)
}
