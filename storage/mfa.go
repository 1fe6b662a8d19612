package storage

import (
	"context"
	"time"
)

// MFA is a user's second factor: a TOTP (RFC 6238) secret, sealed by the
// caller (the store never sees it in clear). An enrollment is pending until
// the user confirms it with a code; only a confirmed one is asked for at
// sign-in.
type MFA struct {
	UserID       string
	SealedSecret []byte
	Confirmed    bool
	// LastStep is the TOTP time step of the last code accepted: a code of
	// that step or an earlier one is a replay.
	LastStep  int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// MFAStore holds second factors and their single-use recovery codes, which
// are stored as hashes only.
type MFAStore interface {
	// SaveMFA creates or replaces the user's enrollment; ErrNotFound if the
	// user does not exist. Replacing it keeps the recovery codes.
	SaveMFA(ctx context.Context, m MFA) error
	// GetMFA returns the user's enrollment, pending or confirmed.
	GetMFA(ctx context.Context, userID string) (MFA, error)
	// UseTOTPStep records that a code of step was accepted for the user's
	// confirmed enrollment. It returns ErrInactive when a code of that step or
	// a later one was already accepted (a replay), so that of two concurrent
	// uses of one code exactly one succeeds; ErrNotFound without a confirmed
	// enrollment.
	UseTOTPStep(ctx context.Context, userID string, step int64) error
	// DeleteMFA removes the enrollment and every recovery code of the user
	// (none is not an error).
	DeleteMFA(ctx context.Context, userID string) error
	// ReplaceRecoveryCodes drops the user's recovery codes and stores hashes
	// in their place.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string) error
	// UseRecoveryCode spends the unused code with that hash; ErrNotFound when
	// the user has no such unused code.
	UseRecoveryCode(ctx context.Context, userID, hash string) error
	// CountRecoveryCodes returns how many unused codes the user has left.
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)
}
