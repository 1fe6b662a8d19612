package sqlstore

import (
	"context"
	"time"

	"github.com/tollgate/tollgate/storage"
)

// ListUserSessions returns the user's unexpired sessions, newest first.
func (s *Store) ListUserSessions(ctx context.Context, userID string) ([]storage.Session, error) {
	var rows []sessionRow
	err := s.db(ctx).Where("user_id = ? AND expires_at > ?", userID, utc(time.Now())).
		Order("created_at DESC, id").Find(&rows).Error
	if err != nil {
		return nil, wrap(err, "list sessions of user %q", userID)
	}
	out := make([]storage.Session, len(rows))
	for i, r := range rows {
		out[i] = r.session()
	}
	return out, nil
}

// DeleteUserSessionsExcept removes the user's sessions but keep, in one
// statement, so a session started meanwhile cannot slip through.
func (s *Store) DeleteUserSessionsExcept(ctx context.Context, userID, keep string) (int, error) {
	res := s.db(ctx).Where("user_id = ? AND id <> ?", userID, keep).Delete(&sessionRow{})
	if res.Error != nil {
		return 0, wrap(res.Error, "delete other sessions of user %q", userID)
	}
	return int(res.RowsAffected), nil
}

// DeleteSubjectTokensExcept deletes the subject's tokens of the kind but
// those of the grant keepRequestID, and returns what it deleted.
func (s *Store) DeleteSubjectTokensExcept(ctx context.Context, kind storage.TokenKind, subject, keepRequestID string) ([]storage.Token, error) {
	var rows []tokenRow
	err := s.db(ctx).Raw(`DELETE FROM tokens WHERE kind = ? AND subject = ? AND request_id <> ? RETURNING `+tokenColumns,
		string(kind), subject, keepRequestID).Find(&rows).Error
	if err != nil {
		return nil, wrap(err, "delete %s of subject %q", kind, subject)
	}
	return tokens(rows), nil
}
