package storage

import (
	"context"
	"fmt"
	"time"
)

// SignOutEverywhere ends every browser session of the user and every grant
// issued to them: codes and refresh tokens are deleted, and the IDs of live
// access tokens go on the revocation list, which introspection, userinfo
// and every replica consult. A password reset, a disabled or deleted
// account, and an admin's "sign out everywhere" all come through here.
func SignOutEverywhere(ctx context.Context, s AccountRevoker, userID string) error {
	if err := s.DeleteUserSessions(ctx, userID); err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	return revokeGrants(ctx, s, func(kind TokenKind) ([]Token, error) {
		return s.DeleteSubjectTokens(ctx, kind, userID)
	})
}

// AccountRevoker is what SignOutEverywhere needs of a store.
type AccountRevoker interface {
	DeleteUserSessions(ctx context.Context, userID string) error
	DeleteSubjectTokens(ctx context.Context, kind TokenKind, subject string) ([]Token, error)
	Revoke(ctx context.Context, jti string, expiresAt time.Time) error
}

// revokeGrants deletes the codes, refresh tokens and access tokens that
// del finds, kind by kind, and puts the IDs of the access tokens still live
// on the revocation list.
func revokeGrants(ctx context.Context, s interface {
	Revoke(ctx context.Context, jti string, expiresAt time.Time) error
}, del func(kind TokenKind) ([]Token, error)) error {
	now := time.Now()
	for _, kind := range []TokenKind{KindRefreshToken, KindAuthorizeCode, KindAccessToken} {
		tokens, err := del(kind)
		if err != nil {
			return fmt.Errorf("revoke %s: %w", kind, err)
		}
		for _, t := range tokens {
			if t.JTI != "" && t.ExpiresAt.After(now) {
				if err := s.Revoke(ctx, t.JTI, t.ExpiresAt); err != nil {
					return fmt.Errorf("revoke access token: %w", err)
				}
			}
		}
	}
	return nil
}
