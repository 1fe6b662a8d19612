package server_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/server"
	"github.com/tollgate/tollgate/storage/sqlstore"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// TestUpgradeKeepsLiveGrants: for every schema version an earlier release
// may have left (every version in the migrations list but the last), a
// database at that version holds live grants: a client, a user, a browser
// session with a remembered consent, an unredeemed authorization code, an
// access token and a refresh token. It is migrated to the latest schema and
// served by this release, which must honour all of them: the code is
// exchanged, the refresh token refreshes, the access token introspects as
// active, and the browser signs in again without a password. Meanwhile a
// replica of the old release, still running during the rollout, registers
// a client on the new schema writing only the columns it knew, and that
// client works.
//
// The grants are written as this release writes them, then copied into the
// old schema keeping only the columns that version had: what an earlier
// release wrote differs from that only in columns it did not have.
func TestUpgradeKeepsLiveGrants(t *testing.T) {
	versions := sqlstore.Versions()
	for _, d := range []struct {
		name        string
		fresh       func(t *testing.T) string // a DSN of an empty database
		placeholder func(i int) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "tollgate.db") }, func(int) string { return "?" }},
		{"postgres", func(t *testing.T) string { return testbackend.EmptyPostgresURL(t) }, func(i int) string { return fmt.Sprintf("$%d", i) }},
	} {
		for _, from := range versions[:len(versions)-1] {
			t.Run(fmt.Sprintf("%s/from_version_%d", d.name, from), func(t *testing.T) {
				ctx := context.Background()
				// The grants, made by this release on the latest schema.
				current := openAt(t, d.fresh(t), sqlstore.SchemaVersion())
				e := newEnvWith(t, d.name, current, keyring.RS256)
				cfg := e.oauthConfig(confidentialID, confidentialKey)
				b := newBrowser(t)
				first := newAuthRequest(cfg)
				tok, err := cfg.Exchange(ctx, e.fullLogin(b, first).Get("code"), oauth2.VerifierOption(first.verifier))
				if err != nil {
					t.Fatal(err)
				}
				pending := newAuthRequest(cfg)
				code := callback(t, b.get(pending.url), e.issuer).Get("code") // the session signs it in
				e.server.Close()

				// The same grants in a database at the old version.
				old := openAt(t, d.fresh(t), from)
				copyRows(t, current, old, d.placeholder)
				oldDB, err := old.SQLDB()
				if err != nil {
					t.Fatal(err)
				}
				oldClientColumns, err := columns(ctx, oldDB, "clients")
				if err != nil {
					t.Fatal(err)
				}
				if err := old.Migrate(ctx); err != nil {
					t.Fatalf("migrate from %d: %v", from, err)
				}
				// A replica of the old release, still running, registers a
				// client on the new schema, writing only the columns it knows.
				writeAsOldRelease(t, current, old, "clients", oldClientColumns, "id", confidentialID, "old-release-app", d.placeholder)

				// This release serves the upgraded database, at the same
				// address (the issuer of the grants).
				serveAt(t, e.server.Listener.Addr().String(), e.issuer, old)
				exchanged, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(pending.verifier))
				if err != nil {
					t.Fatalf("the code issued before the upgrade: %v", err)
				}
				if e.introspect(exchanged.AccessToken)["active"] != true {
					t.Fatal("a token from the code issued before the upgrade is not active")
				}
				if e.introspect(tok.AccessToken)["active"] != true {
					t.Fatal("the access token issued before the upgrade is not active")
				}
				refreshed, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
				if err != nil || refreshed.AccessToken == tok.AccessToken {
					t.Fatalf("the refresh token issued before the upgrade: %v", err)
				}
				oldApp := clientcredentials.Config{ClientID: "old-release-app", ClientSecret: confidentialKey, TokenURL: e.issuer + "/token", Scopes: []string{"api:read"}}
				if _, err := oldApp.Token(ctx); err != nil {
					t.Fatalf("a client the old release wrote on the new schema: %v", err)
				}
				again := newAuthRequest(cfg)
				p := b.get(again.url)
				if p.url.Host != "rp.example" {
					t.Fatalf("the browser session from before the upgrade did not sign in: %d at %s", p.status, p.url)
				}
				callback(t, p, e.issuer)
			})
		}
	}
}

// openAt opens the database at dsn and migrates it to version.
func openAt(t *testing.T, dsn string, version int) *sqlstore.Store {
	t.Helper()
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.MigrateTo(ctx, version); err != nil {
		t.Fatalf("migrate to %d: %v", version, err)
	}
	return s
}

// copyRows copies every row of every table dst has from src, in the
// columns dst has. Tables are copied each in a transaction, retried until
// the tables they reference are in.
func copyRows(t *testing.T, src, dst *sqlstore.Store, placeholder func(i int) string) {
	t.Helper()
	ctx := context.Background()
	from, err := src.SQLDB()
	if err != nil {
		t.Fatal(err)
	}
	to, err := dst.SQLDB()
	if err != nil {
		t.Fatal(err)
	}
	pending := tables(t, to)
	for pass := 0; len(pending) > 0; pass++ {
		var failed []string
		var lastErr error
		for _, table := range pending {
			if err := copyTable(ctx, from, to, table, placeholder); err != nil {
				failed, lastErr = append(failed, table), err
			}
		}
		if len(failed) == len(pending) {
			t.Fatalf("cannot copy %v: %v", failed, lastErr)
		}
		pending = failed
	}
}

func tables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if isPostgres(db) {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		if name != "schema_migrations" {
			out = append(out, name)
		}
	}
	return out
}

func isPostgres(db *sql.DB) bool {
	var v string
	return db.QueryRow(`SELECT version()`).Scan(&v) == nil && strings.Contains(v, "PostgreSQL")
}

func columns(ctx context.Context, db *sql.DB, table string) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT * FROM `+table+` WHERE 1 = 0`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return rows.Columns()
}

func copyTable(ctx context.Context, from, to *sql.DB, table string, placeholder func(int) string) error {
	want, err := columns(ctx, to, table)
	if err != nil {
		return err
	}
	have, err := columns(ctx, from, table)
	if err != nil {
		return err
	}
	var cols []string
	for _, c := range want {
		for _, h := range have {
			if c == h {
				cols = append(cols, c)
			}
		}
	}
	rows, err := from.QueryContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+table)
	if err != nil {
		return err
	}
	defer rows.Close()
	marks := make([]string, len(cols))
	for i := range marks {
		marks[i] = placeholder(i + 1)
	}
	insert := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES (` + strings.Join(marks, ", ") + `)`
	tx, err := to.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, insert, vals...); err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return tx.Commit()
}

// writeAsOldRelease inserts into dst a copy of src's row of table whose key
// column is from, under the key to, in the given columns only: as a replica
// of the release that knew only those columns would write it.
func writeAsOldRelease(t *testing.T, src, dst *sqlstore.Store, table string, cols []string, key, from, to string, placeholder func(int) string) {
	t.Helper()
	ctx := context.Background()
	srcDB, err := src.SQLDB()
	if err != nil {
		t.Fatal(err)
	}
	dstDB, err := dst.SQLDB()
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	marks := make([]string, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
		marks[i] = placeholder(i + 1)
	}
	row := srcDB.QueryRowContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+table+` WHERE `+key+` = `+placeholder(1), from)
	if err := row.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	for i, c := range cols {
		if c == key {
			vals[i] = to
		}
	}
	insert := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES (` + strings.Join(marks, ", ") + `)`
	if _, err := dstDB.ExecContext(ctx, insert, vals...); err != nil {
		t.Fatalf("the old release's insert into %s fails on the new schema: %v", table, err)
	}
}

// serveAt serves store at addr as issuer, as this release would.
func serveAt(t *testing.T, addr, issuer string, store *sqlstore.Store) {
	t.Helper()
	var l net.Listener
	var err error
	for range 50 { // the closed server's port is free again in a moment
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen on %s again: %v", addr, err)
	}
	keys, err := keyring.New(store, replicaSecret)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{
		Issuer: issuer, AccessTokenLifetime: time.Hour, IDTokenLifetime: time.Hour,
		RefreshTokenLifetime: 24 * time.Hour, CodeLifetime: time.Minute, SessionLifetime: time.Hour,
		Secret: replicaSecret, AdminToken: adminToken, Passwords: newHasher(t),
		Logger: slog.New(slog.DiscardHandler),
	}, store, keys)
	if err != nil {
		t.Fatal(err)
	}
	ts := &httptest.Server{Listener: l, Config: &http.Server{Handler: srv}}
	ts.Start()
	t.Cleanup(ts.Close)
}
