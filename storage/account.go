package storage

import (
	"context"
	"fmt"
	"time"
)

// AccountStore is what the self-service account pages need beyond the
// session and token stores: a user's sessions, and ending all but one of
// them.
type AccountStore interface {
	// ListUserSessions returns the user's live (unexpired) sessions,
	// newest first; none is not an error.
	ListUserSessions(ctx context.Context, userID string) ([]Session, error)
	// DeleteUserSessionsExcept removes every session of the user but keep
	// (which may be empty, to keep none), and reports how many it removed.
	DeleteUserSessionsExcept(ctx context.Context, userID, keep string) (int, error)
	// DeleteSubjectTokensExcept deletes the tokens of the kind issued to
	// subject, except those of the grant keepRequestID (empty keeps none),
	// and returns what it deleted.
	DeleteSubjectTokensExcept(ctx context.Context, kind TokenKind, subject, keepRequestID string) ([]Token, error)
}

// OthersRevoker is what SignOutOthers needs of a store.
type OthersRevoker interface {
	DeleteUserSessionsExcept(ctx context.Context, userID, keep string) (int, error)
	DeleteSubjectTokensExcept(ctx context.Context, kind TokenKind, subject, keepRequestID string) ([]Token, error)
	Revoke(ctx context.Context, jti string, expiresAt time.Time) error
}

// SignOutOthers is SignOutEverywhere but for the session and the grant the
// user is acting from (either may be empty): after a password change, a
// thief who knew the old password keeps nothing, and the user stays signed
// in where they are.
func SignOutOthers(ctx context.Context, s OthersRevoker, userID, keepSession, keepGrant string) error {
	if _, err := s.DeleteUserSessionsExcept(ctx, userID, keepSession); err != nil {
		return fmt.Errorf("end other sessions: %w", err)
	}
	return revokeGrants(ctx, s, func(kind TokenKind) ([]Token, error) {
		return s.DeleteSubjectTokensExcept(ctx, kind, userID, keepGrant)
	})
}
