package sqlstore

import (
	"context"

	"github.com/tollgate/tollgate/storage"
)

// ListUserConsents returns the user's consents in client ID order.
func (s *Store) ListUserConsents(ctx context.Context, userID string) ([]storage.Consent, error) {
	var rows []consentRow
	err := s.db(ctx).Where("user_id = ?", userID).Order("client_id").Find(&rows).Error
	if err != nil {
		return nil, wrap(err, "list consents of user %q", userID)
	}
	out := make([]storage.Consent, len(rows))
	for i, r := range rows {
		out[i] = storage.Consent{
			UserID: r.UserID, ClientID: r.ClientID, Scopes: r.Scopes,
			CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time,
		}
	}
	return out, nil
}

// DeleteUserClientTokens deletes the artifacts of the kind issued to the
// subject through the client and returns them.
func (s *Store) DeleteUserClientTokens(ctx context.Context, kind storage.TokenKind, subject, clientID string) ([]storage.Token, error) {
	var rows []tokenRow
	err := s.db(ctx).Raw(`DELETE FROM tokens WHERE kind = ? AND subject = ? AND client_id = ? RETURNING `+tokenColumns,
		string(kind), subject, clientID).Find(&rows).Error
	if err != nil {
		return nil, wrap(err, "delete %s of subject %q for client %q", kind, subject, clientID)
	}
	return tokens(rows), nil
}
