package storage

import (
	"context"
	"time"
)

// Identity links a local user to an account at an upstream OpenID
// Provider. It is keyed by the upstream's issuer and subject, never by
// email: an address can change hands, a subject cannot.
type Identity struct {
	ID       string
	UserID   string
	Upstream string // the configured upstream's id, such as "google"
	Issuer   string // the upstream's iss
	Subject  string // the upstream's sub
	Email    string // the address the upstream gave, for display only
	// CreatedAt is when the identity was linked; LastUsedAt when it last
	// signed in.
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// IdentityStore holds the links between local users and upstream accounts.
type IdentityStore interface {
	// CreateIdentity links an upstream account; ErrAlreadyExists if the
	// (issuer, subject) pair or the ID is taken, ErrNotFound if the user
	// does not exist.
	CreateIdentity(ctx context.Context, i Identity) error
	// GetIdentity finds the identity of an upstream account.
	GetIdentity(ctx context.Context, issuer, subject string) (Identity, error)
	// ListUserIdentities returns a user's identities, oldest first.
	ListUserIdentities(ctx context.Context, userID string) ([]Identity, error)
	// TouchIdentity records a sign-in with the identity.
	TouchIdentity(ctx context.Context, id string, at time.Time) error
	// DeleteIdentity unlinks one of the user's identities; ErrNotFound if
	// the user has no identity with that ID.
	DeleteIdentity(ctx context.Context, userID, id string) error
}
