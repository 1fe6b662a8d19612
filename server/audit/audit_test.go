package audit_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/server/logctx"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

func all(t *testing.T, s storage.Store) []storage.AuditEvent {
	t.Helper()
	events, err := s.QueryAuditEvents(context.Background(), storage.AuditQuery{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// Record fills in the request's address, user agent and request ID, the
// actor and the outcome, stores the event at once, and logs it as one line.
func TestRecord(t *testing.T) {
	store := testbackend.SQLite(t)
	var logs strings.Builder
	rec := audit.New(store, slog.New(logctx.Wrap(slog.NewJSONHandler(&logs, nil))))
	r := httptest.NewRequest("POST", "/login", nil)
	r.RemoteAddr = "198.51.100.7:51234"
	r.Header.Set("User-Agent", "probe/2.0")
	ctx := logctx.WithRequestID(context.Background(), "req-1")

	rec.Record(ctx, r, audit.Event{Type: audit.SignInFailed, UserID: "u1", Reason: "bad_password",
		Details: map[string]string{"password": "hunter2", "new_password_hash": "x", "client_secret": "s", "refresh_token": "t",
			"code": "c", "X-Api-KEY": "k", "Cookie": "session=1", "grant_type": "authorization_code", "empty": ""}})
	rec.Record(audit.WithActor(ctx, "admin_token"), r, audit.Event{Type: audit.AdminUserDisabled, UserID: "u1"})
	rec.Record(ctx, nil, audit.Event{Type: audit.TokenRevoked, ClientID: "c1"})
	rec.Record(ctx, nil, audit.Event{Type: "something.odd"})

	events := all(t, store)
	if len(events) != 4 {
		t.Fatalf("%d events stored", len(events))
	}
	byType := map[string]storage.AuditEvent{}
	for _, e := range events {
		byType[e.Type] = e
	}
	failed := byType[audit.SignInFailed]
	if failed.IP != "198.51.100.7" || failed.UserAgent != "probe/2.0" || failed.RequestID != "req-1" ||
		failed.Actor != "user:u1" || failed.Outcome != audit.Failure || failed.Reason != "bad_password" {
		t.Errorf("sign-in failure: %+v", failed)
	}
	if len(failed.Details) != 1 || failed.Details["grant_type"] != "authorization_code" {
		t.Errorf("details kept: %v", failed.Details)
	}
	if e := byType[audit.AdminUserDisabled]; e.Actor != "admin_token" || e.Outcome != audit.Success {
		t.Errorf("admin event: %+v", e)
	}
	if e := byType[audit.TokenRevoked]; e.Actor != "client:c1" || e.IP != "" {
		t.Errorf("client event: %+v", e)
	}
	if e := byType["something.odd"]; e.Actor != "anonymous" {
		t.Errorf("nobody's event: %+v", e)
	}
	for _, secret := range []string{"hunter2", `"s"`, `"t"`, `"k"`, "session=1"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds %s:\n%s", secret, logs.String())
		}
	}
	if n := strings.Count(logs.String(), `"msg":"audit"`); n != 4 {
		t.Errorf("%d audit log lines, want 4:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), `"request_id":"req-1"`) {
		t.Error("the audit log lines carry no request ID")
	}
}

// token.issued events wait in the buffer until a flush: the batch size, a
// Flush, or Close; after Close they are written one by one.
func TestTokenIssuedIsBatched(t *testing.T) {
	store := testbackend.SQLite(t)
	rec := audit.New(store, nil)
	ctx := context.Background()
	rec.Record(ctx, nil, audit.Event{Type: audit.TokenIssued, ClientID: "c"})
	rec.Record(ctx, nil, audit.Event{Type: audit.SignInSucceeded, UserID: "u"})
	if n := len(all(t, store)); n != 1 {
		t.Fatalf("%d events stored before the flush, want the sign-in only", n)
	}
	if err := rec.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(all(t, store)); n != 2 {
		t.Fatalf("%d events stored after the flush", n)
	}
	for range audit.BatchSize {
		rec.Record(ctx, nil, audit.Event{Type: audit.TokenIssued, ClientID: "c"})
	}
	if n := len(all(t, store)); n != 2+audit.BatchSize {
		t.Fatalf("a full batch was not written: %d events", n)
	}
	rec.Record(ctx, nil, audit.Event{Type: audit.TokenIssued, ClientID: "c"})
	if err := rec.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rec.Record(ctx, nil, audit.Event{Type: audit.TokenIssued, ClientID: "c"})
	if n := len(all(t, store)); n != 4+audit.BatchSize {
		t.Fatalf("after Close: %d events", n)
	}
}

// A nil recorder records nothing and does not fail.
func TestNilRecorder(t *testing.T) {
	var rec *audit.Recorder
	rec.Record(context.Background(), nil, audit.Event{Type: audit.SignInFailed})
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
