package oauthstore

import (
	"context"
	"time"
)

// IsRevoked reports whether an access token's jti is on the revocation
// list, for tokens that have no stored record (stateless client_credentials
// tokens). Storage failures come back as *UnavailableError.
func (s *Store) IsRevoked(ctx context.Context, jti string) (bool, error) {
	revoked, err := s.store.IsRevoked(ctx, jti)
	if err != nil {
		return false, mapErr("check revocation", err)
	}
	return revoked, nil
}

// RevokeJTI puts an access token's jti on the revocation list until the
// token expires, for tokens that have no stored record.
func (s *Store) RevokeJTI(ctx context.Context, jti string, expiresAt time.Time) error {
	if !expiresAt.After(time.Now()) {
		return nil
	}
	return mapErr("record revocation", s.store.Revoke(ctx, jti, expiresAt.UTC()))
}
