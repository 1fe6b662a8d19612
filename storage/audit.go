package storage

import (
	"context"
	"time"
)

// AuditEvent is one entry of the audit log: who did what to whom, from
// where, and how it ended. It never holds a secret: no password, code,
// token, cookie or hash.
type AuditEvent struct {
	ID        string // unique; orders events of the same instant
	Time      time.Time
	Type      string // "signin.failed", "admin.user.disabled", …
	Actor     string // "user:ID", "client:ID", "admin_token", "anonymous"
	UserID    string // the user the event is about, if any
	ClientID  string // the client involved, if any
	IP        string
	UserAgent string
	RequestID string
	Outcome   string // "success" or "failure"
	Reason    string // why it failed: "bad_password", "throttled", …
	Details   map[string]string
}

// AuditCursor is the position after which a query continues: the last
// event of the previous page.
type AuditCursor struct {
	Time time.Time
	ID   string
}

// AuditQuery selects events; empty fields do not filter. Results come
// newest first.
type AuditQuery struct {
	UserID   string
	ClientID string
	Type     string    // exact, or a prefix when it ends in ".*" ("admin.*")
	Since    time.Time // inclusive; zero: no lower bound
	Until    time.Time // exclusive; zero: no upper bound
	After    *AuditCursor
	Limit    int // at most this many events (required, positive)
}

// AuditStore keeps the audit log.
type AuditStore interface {
	// AppendAuditEvents stores events (in one statement where the backend
	// can); ErrAlreadyExists if an ID is taken.
	AppendAuditEvents(ctx context.Context, events ...AuditEvent) error
	// QueryAuditEvents returns up to q.Limit events matching q, newest
	// first, strictly after q.After in that order.
	QueryAuditEvents(ctx context.Context, q AuditQuery) ([]AuditEvent, error)
	// DeleteAuditEventsBefore removes up to limit events older than t, and
	// reports how many it removed.
	DeleteAuditEventsBefore(ctx context.Context, before time.Time, limit int) (int, error)
}

// UserActivityStore lists what an admin may want to see, and end, of a
// user's: browser sessions and remembered consents.
type UserActivityStore interface {
	// ListUserSessions returns the user's live sessions, newest first.
	ListUserSessions(ctx context.Context, userID string) ([]Session, error)
	// ListUserConsents returns the user's consents in client ID order.
	ListUserConsents(ctx context.Context, userID string) ([]Consent, error)
	// DeleteUserClientTokens deletes the tokens of the kind issued to the
	// subject through the client, and returns them.
	DeleteUserClientTokens(ctx context.Context, kind TokenKind, subject, clientID string) ([]Token, error)
}

// ClientGrantRevoker is what RevokeClientGrants needs of a store.
type ClientGrantRevoker interface {
	DeleteConsent(ctx context.Context, userID, clientID string) error
	DeleteUserClientTokens(ctx context.Context, kind TokenKind, subject, clientID string) ([]Token, error)
	Revoke(ctx context.Context, jti string, expiresAt time.Time) error
}

// RevokeClientGrants forgets the user's consent for the client and ends
// every grant the client holds for the user: codes and refresh tokens are
// deleted, and live access tokens go on the revocation list. It returns
// ErrNotFound (after revoking the tokens) when there was no consent.
func RevokeClientGrants(ctx context.Context, s ClientGrantRevoker, userID, clientID string) error {
	err := revokeGrants(ctx, s, func(kind TokenKind) ([]Token, error) {
		return s.DeleteUserClientTokens(ctx, kind, userID, clientID)
	})
	if err != nil {
		return err
	}
	return s.DeleteConsent(ctx, userID, clientID)
}
