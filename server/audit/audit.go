// Package audit records security events: each one is stored in the audit
// log (storage.AuditStore) and written as one structured log line. Handlers
// call Record once per event:
//
//	h.Audit.Record(ctx, r, audit.Event{Type: audit.SignInFailed, UserID: u.ID, Reason: "bad_password"})
//
// The request supplies the address, user agent and request ID; the actor
// comes from the context (WithActor, set by the admin API for its callers),
// else from the event's user or client.
//
// Events are stored before the request answers, except token.issued: the
// token endpoint is the hot path (client_credentials), so those events wait
// in a small buffer written in batches, at the latest FlushInterval after
// the first of them, when BatchSize are waiting, before every audit query
// on this replica, and on shutdown (Close). A crash loses at most that
// buffer from the database; every event is in the log already.
package audit

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tollgate/tollgate/server/clientip"
	"github.com/tollgate/tollgate/server/logctx"
	"github.com/tollgate/tollgate/storage"
)

// Event types. Other packages may define their own ("mfa.enabled"): a type
// is a dotted name, lower case.
const (
	SignInSucceeded         = "signin.succeeded"
	SignInFailed            = "signin.failed"
	SignedUp                = "user.signed_up"
	EmailVerified           = "email.verified"
	PasswordResetRequested  = "password_reset.requested"
	PasswordResetCompleted  = "password_reset.completed"
	ConsentGranted          = "consent.granted"
	ConsentDenied           = "consent.denied"
	TokenIssued             = "token.issued"
	TokenRevoked            = "token.revoked"
	RefreshTokenReused      = "token.refresh_reused"
	LoggedOut               = "session.logged_out"
	AdminClientCreated      = "admin.client.created"
	AdminClientUpdated      = "admin.client.updated"
	AdminClientDeleted      = "admin.client.deleted"
	AdminClientSecret       = "admin.client.secret_rotated"
	AdminUserCreated        = "admin.user.created"
	AdminUserUpdated        = "admin.user.updated"
	AdminUserDisabled       = "admin.user.disabled"
	AdminUserEnabled        = "admin.user.enabled"
	AdminUserDeleted        = "admin.user.deleted"
	AdminUserSignedOut      = "admin.user.signed_out"
	AdminUserSessionEnded   = "admin.user.session_ended"
	AdminUserConsentRevoked = "admin.user.consent_revoked"
	AdminUserPasswordReset  = "admin.user.password_reset_sent"
	AdminKeysRotated        = "admin.keys.rotated"
)

// Outcomes.
const (
	Success = "success"
	Failure = "failure"
)

// Event is what a handler knows about an event; Record adds the rest.
type Event struct {
	Type     string
	Actor    string // optional; see the package documentation
	UserID   string
	ClientID string
	Outcome  string // Success when empty and Reason is empty, else Failure
	Reason   string
	// Details are small, non-secret facts: "grant_type", "scope",
	// "fields". Keys that name a secret are dropped.
	Details map[string]string
}

// Buffering of token.issued events.
const (
	BatchSize     = 200
	FlushInterval = time.Second
	// maxBuffered bounds the buffer while the database refuses writes.
	maxBuffered = 10 * BatchSize
)

// Recorder stores and logs events. A nil Recorder records nothing, so
// handlers built without one (in tests) need no checks.
type Recorder struct {
	store  storage.AuditStore
	logger *slog.Logger
	now    func() time.Time
	// Count, when set, is told the type, outcome and reason of every
	// event (for metrics: MFA changes, lockouts and the rest).
	Count func(typ, outcome, reason string)

	mu      sync.Mutex
	pending []storage.AuditEvent
	timer   *time.Timer
	closed  bool
}

// New returns a recorder writing to store and logger.
func New(store storage.AuditStore, logger *slog.Logger) *Recorder {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Recorder{store: store, logger: logger, now: time.Now}
}

type actorKey struct{}

// WithActor returns ctx naming who acts in requests served with it.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// Actor returns the actor ctx carries, or "".
func Actor(ctx context.Context) string {
	a, _ := ctx.Value(actorKey{}).(string)
	return a
}

// secretWords, found anywhere in a detail key (in any case), name something
// never to be recorded. A loop of substring tests: a regular expression was
// 2% of the CPU of a client_credentials token, which records an event.
var secretWords = []string{"pass", "secret", "token", "code", "cookie", "hash", "otp", "credential", "key"}

func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// allowedKeys are detail keys that look secret but are not.
var allowedKeys = map[string]bool{"grant_type": true, "token_type_hint": true, "key_ids": true}

// Record stores the event and logs it. r, when not nil, supplies the
// client's address, user agent and request ID. A failure to store is
// logged, with the event, at error level: the request goes on.
func (rec *Recorder) Record(ctx context.Context, r *http.Request, e Event) {
	if rec == nil {
		return
	}
	ev := rec.build(ctx, r, e)
	attrs := []any{"audit_id", ev.ID, "type", ev.Type, "actor", ev.Actor, "outcome", ev.Outcome}
	for _, kv := range []struct{ k, v string }{
		{"user_id", ev.UserID}, {"client_id", ev.ClientID}, {"reason", ev.Reason}, {"ip", ev.IP},
	} {
		if kv.v != "" {
			attrs = append(attrs, kv.k, kv.v)
		}
	}
	if len(ev.Details) > 0 {
		attrs = append(attrs, "details", ev.Details)
	}
	rec.logger.InfoContext(ctx, "audit", attrs...)
	if rec.Count != nil {
		rec.Count(ev.Type, ev.Outcome, ev.Reason)
	}

	if ev.Type == TokenIssued {
		rec.buffer(ev)
		return
	}
	if err := rec.store.AppendAuditEvents(context.WithoutCancel(ctx), ev); err != nil {
		rec.logger.ErrorContext(ctx, "audit event not stored", "audit_id", ev.ID, "type", ev.Type, "err", err)
	}
}

func (rec *Recorder) build(ctx context.Context, r *http.Request, e Event) storage.AuditEvent {
	ev := storage.AuditEvent{
		ID: uuid.Must(uuid.NewV7()).String(), Time: rec.now().UTC(), Type: e.Type,
		Actor: e.Actor, UserID: e.UserID, ClientID: e.ClientID, Outcome: e.Outcome, Reason: e.Reason,
		RequestID: logctx.RequestID(ctx),
	}
	if r != nil {
		ev.IP = clientip.Of(r)
		ev.UserAgent = truncate(r.UserAgent(), 256)
	}
	if ev.Actor == "" {
		ev.Actor = Actor(ctx)
	}
	switch {
	case ev.Actor != "":
	case ev.UserID != "":
		ev.Actor = "user:" + ev.UserID
	case ev.ClientID != "":
		ev.Actor = "client:" + ev.ClientID
	default:
		ev.Actor = "anonymous"
	}
	if ev.Outcome == "" {
		ev.Outcome = Success
		if ev.Reason != "" {
			ev.Outcome = Failure
		}
	}
	for k, v := range e.Details {
		if v == "" {
			continue
		}
		if secretKey(k) && !allowedKeys[k] {
			rec.logger.WarnContext(ctx, "audit: detail dropped, its name suggests a secret", "type", e.Type, "key", k)
			continue
		}
		if ev.Details == nil {
			ev.Details = map[string]string{}
		}
		ev.Details[k] = truncate(v, 512)
	}
	return ev
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// buffer queues a token.issued event for the next batch.
func (rec *Recorder) buffer(ev storage.AuditEvent) {
	rec.mu.Lock()
	if rec.closed {
		rec.mu.Unlock()
		rec.write([]storage.AuditEvent{ev})
		return
	}
	if len(rec.pending) >= maxBuffered {
		// The database has refused batches for a while: keep the newest.
		rec.logger.Error("audit: buffer full, oldest token.issued event dropped (it is in the log)", "audit_id", rec.pending[0].ID)
		rec.pending = rec.pending[1:]
	}
	rec.pending = append(rec.pending, ev)
	full := len(rec.pending) >= BatchSize
	if !full && rec.timer == nil {
		rec.timer = time.AfterFunc(FlushInterval, func() { _ = rec.Flush(context.Background()) })
	}
	rec.mu.Unlock()
	if full {
		_ = rec.Flush(context.Background())
	}
}

// Flush writes the buffered events now.
func (rec *Recorder) Flush(ctx context.Context) error {
	if rec == nil {
		return nil
	}
	rec.mu.Lock()
	batch := rec.pending
	rec.pending = nil
	if rec.timer != nil {
		rec.timer.Stop()
		rec.timer = nil
	}
	rec.mu.Unlock()
	return rec.write(batch)
}

func (rec *Recorder) write(batch []storage.AuditEvent) error {
	if len(batch) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := rec.store.AppendAuditEvents(ctx, batch...)
	if err != nil {
		rec.logger.Error("audit events not stored", "count", len(batch), "err", err)
	}
	return err
}

// Close writes what is buffered; events recorded afterwards are written
// one by one.
func (rec *Recorder) Close(ctx context.Context) error {
	if rec == nil {
		return nil
	}
	rec.mu.Lock()
	rec.closed = true
	rec.mu.Unlock()
	return rec.Flush(ctx)
}
