package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/sqlstore"
	"github.com/tollgate/tollgate/storage/storagetest"
	"github.com/tollgate/tollgate/storage/testbackend"
)

func TestSQLite(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return testbackend.SQLite(t) })
}

func TestPostgres(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return testbackend.Postgres(t) })
}

// dialects yields the DSN of an empty database on each backend.
var dialects = []struct {
	name  string
	empty func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "sub", "dir", "t.db") }},
	{"postgres", func(t *testing.T) string { return testbackend.EmptyPostgresURL(t) }},
}

func open(t *testing.T, dsn string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestMigrate(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := t.Context()
			s := open(t, d.empty(t))
			want := fmt.Sprintf(`database schema is at version 0, this binary needs %d: run "tollgate migrate up"`,
				sqlstore.SchemaVersion())
			if err := s.CheckSchema(ctx); err == nil || err.Error() != want {
				t.Fatalf("CheckSchema before migrating = %v, want %q", err, want)
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("migrate: %v", err)
			}
			if err := s.CheckSchema(ctx); err != nil {
				t.Fatalf("CheckSchema after migrating: %v", err)
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("migrate again: %v", err)
			}
			v, err := s.Version(ctx)
			if err != nil || v != sqlstore.SchemaVersion() {
				t.Fatalf("Version = %d, %v; want %d", v, err, sqlstore.SchemaVersion())
			}
			// The migrated schema works.
			if err := s.CreateClient(ctx, storage.Client{ID: "c"}); err != nil {
				t.Fatalf("create client on the migrated schema: %v", err)
			}
		})
	}
}

// TestMigrateConcurrently starts several migrators at once, each with its
// own pool as separate processes would have: all succeed, and each migration
// is applied once.
func TestMigrateConcurrently(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			dsn := d.empty(t)
			stores := make([]*sqlstore.Store, 5)
			for i := range stores {
				stores[i] = open(t, dsn)
			}
			errs := make([]error, len(stores))
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i, s := range stores {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					errs[i] = s.Migrate(t.Context())
				}()
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("migrator %d: %v", i, err)
				}
			}
			if n := countMigrations(t, d.name, dsn); n != len(sqlstore.Versions()) {
				t.Fatalf("schema_migrations has %d rows, want %d", n, len(sqlstore.Versions()))
			}
		})
	}
}

func countMigrations(t *testing.T, dialect, dsn string) int {
	t.Helper()
	const q = "SELECT count(*) FROM schema_migrations"
	var n int
	if dialect == "sqlite" {
		db, err := sql.Open("sqlite", strings.TrimPrefix(dsn, "sqlite:"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.QueryRowContext(t.Context(), q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(t.Context(), q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOpenRejectsUnknownURL(t *testing.T) {
	for _, dsn := range []string{"mysql://u:p@h/db", "sqlite:", "file.db"} {
		if s, err := sqlstore.Open(t.Context(), dsn); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", dsn)
		}
	}
}

// backends yields a fresh migrated store on each dialect.
var backends = []struct {
	name string
	open func(t testing.TB) storage.Store
}{
	{"sqlite", testbackend.SQLite},
	{"postgres", testbackend.Postgres},
}

// Deleting a user deletes what hangs off it; a session or consent for a
// missing user or client is refused with ErrNotFound.
func TestReferences(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			s := b.open(t)
			now := time.Now().UTC()
			must(t, s.CreateUser(ctx, storage.User{ID: "u", Email: "u@example.com"}))
			must(t, s.CreateClient(ctx, storage.Client{ID: "c"}))
			must(t, s.CreateSession(ctx, storage.Session{ID: "s", UserID: "u", ExpiresAt: now.Add(time.Hour)}))
			must(t, s.SaveConsent(ctx, storage.Consent{UserID: "u", ClientID: "c", Scopes: []string{"openid"}}))

			err := s.CreateSession(ctx, storage.Session{ID: "s2", UserID: "nobody", ExpiresAt: now.Add(time.Hour)})
			if !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("session for a missing user: %v, want ErrNotFound", err)
			}
			err = s.SaveConsent(ctx, storage.Consent{UserID: "u", ClientID: "no-such-client"})
			if !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("consent for a missing client: %v, want ErrNotFound", err)
			}

			must(t, s.DeleteUser(ctx, "u"))
			if _, err := s.GetSession(ctx, "s"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("session of a deleted user: %v, want ErrNotFound", err)
			}
			if _, err := s.GetConsent(ctx, "u", "c"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("consent of a deleted user: %v, want ErrNotFound", err)
			}
		})
	}
}

// Error messages never carry a token signature, a hash or an email address.
func TestErrorsDoNotLeakSecrets(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			s := b.open(t)
			const sig, hash, email = "SIGNATURE-abcdef", "$argon2id$HASH-123", "Secret.Person@example.com"
			tok := storage.Token{Kind: storage.KindRefreshToken, Signature: sig, Active: true, ExpiresAt: time.Now().Add(time.Hour)}
			must(t, s.CreateToken(ctx, tok))
			must(t, s.CreateUser(ctx, storage.User{ID: "u", Email: email, PasswordHash: hash}))
			must(t, s.CreateClient(ctx, storage.Client{ID: "c", SecretHash: hash}))
			errs := []error{
				s.CreateToken(ctx, tok),
				s.DeactivateToken(ctx, tok.Kind, sig+"-missing"),
				s.CreateUser(ctx, storage.User{ID: "u2", Email: email, PasswordHash: hash}),
				s.CreateClient(ctx, storage.Client{ID: "c", SecretHash: hash}),
			}
			must(t, s.DeactivateToken(ctx, tok.Kind, sig))
			errs = append(errs, s.DeactivateToken(ctx, tok.Kind, sig))
			_, err := s.GetToken(ctx, tok.Kind, sig+"-missing")
			errs = append(errs, err)
			_, err = s.GetUserByEmail(ctx, "missing."+email)
			errs = append(errs, err)
			for i, err := range errs {
				if err == nil {
					t.Fatalf("case %d: no error", i)
				}
				msg := strings.ToLower(err.Error())
				for _, secret := range []string{sig, hash, email} {
					if strings.Contains(msg, strings.ToLower(secret)) {
						t.Errorf("case %d: error %q quotes a secret", i, err)
					}
				}
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestClientWrittenByPreviousRelease inserts a client the way a replica of
// the release before web origins does, without the column, as happens
// during a rolling upgrade: the insert succeeds and reads back with none.
func TestClientWrittenByPreviousRelease(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			dsn := d.empty(t)
			s := open(t, dsn)
			must(t, s.Migrate(t.Context()))
			const insert = `INSERT INTO clients (id, secret_hash, name, redirect_uris, post_logout_redirect_uris,
				grant_types, response_types, scopes, audience, public, skip_consent, created_at, updated_at)
				VALUES ('old', '', 'Old', '[]', '[]', '[]', '[]', '[]', '[]', false, false, $1, $1)`
			now := time.Now().UTC()
			if d.name == "sqlite" {
				db, err := sql.Open("sqlite", strings.TrimPrefix(dsn, "sqlite:"))
				must(t, err)
				defer db.Close()
				_, err = db.ExecContext(t.Context(), insert, now.Format("2006-01-02 15:04:05.999999"))
				must(t, err)
			} else {
				conn, err := pgx.Connect(t.Context(), dsn)
				must(t, err)
				defer conn.Close(context.Background())
				_, err = conn.Exec(t.Context(), insert, now)
				must(t, err)
			}
			c, err := s.GetClient(t.Context(), "old")
			must(t, err)
			if c.WebOrigins != nil {
				t.Fatalf("WebOrigins = %q, want none", c.WebOrigins)
			}
		})
	}
}
