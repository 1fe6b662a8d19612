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
	now := time.Now()
	for _, kind := range []TokenKind{KindRefreshToken, KindAuthorizeCode, KindAccessToken} {
		tokens, err := s.DeleteSubjectTokens(ctx, kind, userID)
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

// AccountRevoker is what SignOutEverywhere needs of a store.
type AccountRevoker interface {
	DeleteUserSessions(ctx context.Context, userID string) error
	DeleteSubjectTokens(ctx context.Context, kind TokenKind, subject string) ([]Token, error)
	Revoke(ctx context.Context, jti string, expiresAt time.Time) error
}
