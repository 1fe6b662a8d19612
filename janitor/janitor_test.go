package janitor_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/tollgate/tollgate/janitor"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// A sweep removes, in batches, what expired more than Grace ago, and keeps
// the rest: live records and recently expired ones (reuse detection).
func TestSweep(t *testing.T) {
	for name, open := range map[string]func(testing.TB) storage.Store{
		"sqlite": testbackend.SQLite, "postgres+redis": testbackend.PostgresRedis,
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store := open(t)
			now := time.Now().UTC().Truncate(time.Millisecond)
			long := now.Add(-janitor.Grace - time.Minute)
			recent := now.Add(-time.Minute)
			if err := store.CreateUser(ctx, storage.User{ID: "u1", Email: "u1@example.com", CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			token := func(sig string, exp time.Time) {
				t.Helper()
				err := store.CreateToken(ctx, storage.Token{Kind: storage.KindRefreshToken, Signature: sig, RequestID: "r-" + sig,
					ClientID: "c", Subject: "u1", Active: false, ExpiresAt: exp, CreatedAt: now})
				if err != nil {
					t.Fatal(err)
				}
			}
			for _, sig := range []string{"a", "b", "c", "d", "e"} {
				token("old-"+sig, long)
			}
			token("recent", recent)
			token("live", now.Add(time.Hour))
			for i, exp := range []time.Time{long, long, recent, now.Add(time.Hour)} {
				err := store.CreateSession(ctx, storage.Session{ID: "s" + string(rune('0'+i)), UserID: "u1", AuthTime: now, ExpiresAt: exp, CreatedAt: now})
				if err != nil {
					t.Fatal(err)
				}
			}
			for _, jti := range []string{"j-old-1", "j-old-2"} {
				if err := store.Revoke(ctx, jti, long); err != nil {
					t.Fatal(err)
				}
			}
			if err := store.Revoke(ctx, "j-live", now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}

			j := &janitor.Janitor{Store: store, Batch: 2, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }}
			res, err := j.Sweep(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if res != (janitor.Result{Tokens: 5, Sessions: 2, Revocations: 2}) {
				t.Fatalf("sweep removed %+v", res)
			}
			for _, sig := range []string{"recent", "live"} {
				if _, err := store.GetToken(ctx, storage.KindRefreshToken, sig); err != nil {
					t.Fatalf("token %s: %v", sig, err)
				}
			}
			if _, err := store.GetToken(ctx, storage.KindRefreshToken, "old-a"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("old token: %v", err)
			}
			if revoked, err := store.IsRevoked(ctx, "j-live"); err != nil || !revoked {
				t.Fatalf("live revocation: %v %v", revoked, err)
			}
			if res, err := j.Sweep(ctx); err != nil || res != (janitor.Result{}) {
				t.Fatalf("second sweep: %+v %v", res, err)
			}
		})
	}
}

// A storage failure is reported, not swallowed.
func TestSweepReportsFailures(t *testing.T) {
	store := testbackend.SQLite(t)
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	j := &janitor.Janitor{Store: store, Logger: slog.New(slog.DiscardHandler)}
	if _, err := j.Sweep(context.Background()); err == nil {
		t.Fatal("a sweep of a closed store succeeded")
	}
}

// Forgotten failed-attempt counts are purged; live ones stay.
func TestSweepAttempts(t *testing.T) {
	ctx := context.Background()
	store := testbackend.SQLite(t)
	for key, forget := range map[string]time.Duration{"acct:old": time.Millisecond, "acct:live": 3 * time.Hour} {
		if _, err := store.RecordFailure(ctx, key, forget); err != nil {
			t.Fatal(err)
		}
	}
	later := time.Now().Add(2 * time.Hour)
	j := &janitor.Janitor{Store: store, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return later }}
	res, err := j.Sweep(ctx)
	if err != nil || res.Attempts != 1 {
		t.Fatalf("sweep: %+v %v", res, err)
	}
	if a, err := store.Attempts(ctx, "acct:live"); err != nil || a[0].Failures != 1 {
		t.Fatalf("live count: %+v %v", a, err)
	}
}

// Audit events older than the retention are purged in batches; newer ones
// stay, and a zero retention keeps everything.
func TestSweepAuditEvents(t *testing.T) {
	for name, open := range map[string]func(testing.TB) storage.Store{
		"sqlite": testbackend.SQLite, "postgres+redis": testbackend.PostgresRedis,
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store := open(t)
			now := time.Now().UTC().Truncate(time.Millisecond)
			const retention = 90 * 24 * time.Hour
			for i, age := range []time.Duration{retention + time.Hour, retention + 2*time.Hour, retention + 3*time.Hour, retention - time.Hour, time.Minute} {
				err := store.AppendAuditEvents(ctx, storage.AuditEvent{ID: fmt.Sprintf("ev-%d", i), Time: now.Add(-age),
					Type: "signin.succeeded", Actor: "anonymous", Outcome: "success"})
				if err != nil {
					t.Fatal(err)
				}
			}
			keep := &janitor.Janitor{Store: store, Batch: 2, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }}
			if res, err := keep.Sweep(ctx); err != nil || res.AuditEvents != 0 {
				t.Fatalf("sweep without retention: %+v %v", res, err)
			}
			j := &janitor.Janitor{Store: store, Batch: 2, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }, AuditRetention: retention}
			res, err := j.Sweep(ctx)
			if err != nil || res != (janitor.Result{AuditEvents: 3}) {
				t.Fatalf("sweep: %+v %v", res, err)
			}
			left, err := store.QueryAuditEvents(ctx, storage.AuditQuery{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(left) != 2 || left[0].ID != "ev-4" || left[1].ID != "ev-3" {
				t.Fatalf("left after the purge: %+v", left)
			}
		})
	}
}
