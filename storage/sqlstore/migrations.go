package sqlstore

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// A migration moves the schema one version up. Its DDL is written out for
// each dialect and never changes once released: fix a mistake with a new
// migration.
type migration struct {
	version  int
	name     string
	postgres []string
	sqlite   []string
}

// migrations is the ordered history of the schema. Append only.
var migrations = []migration{
	{
		version: 1,
		name:    "initial schema",
		postgres: []string{
			`CREATE TABLE clients (
				id TEXT PRIMARY KEY,
				secret_hash TEXT NOT NULL,
				name TEXT NOT NULL,
				redirect_uris TEXT NOT NULL,
				post_logout_redirect_uris TEXT NOT NULL,
				grant_types TEXT NOT NULL,
				response_types TEXT NOT NULL,
				scopes TEXT NOT NULL,
				audience TEXT NOT NULL,
				public BOOLEAN NOT NULL,
				skip_consent BOOLEAN NOT NULL,
				created_at TIMESTAMPTZ NOT NULL,
				updated_at TIMESTAMPTZ NOT NULL
			)`,
			`CREATE TABLE users (
				id TEXT PRIMARY KEY,
				email TEXT UNIQUE,
				email_verified BOOLEAN NOT NULL,
				name TEXT NOT NULL,
				picture TEXT NOT NULL,
				password_hash TEXT NOT NULL,
				disabled BOOLEAN NOT NULL,
				created_at TIMESTAMPTZ NOT NULL,
				updated_at TIMESTAMPTZ NOT NULL
			)`,
			`CREATE TABLE sessions (
				id TEXT PRIMARY KEY,
				user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
				auth_time TIMESTAMPTZ NOT NULL,
				amr TEXT NOT NULL,
				expires_at TIMESTAMPTZ NOT NULL,
				created_at TIMESTAMPTZ NOT NULL
			)`,
			`CREATE INDEX sessions_user_id ON sessions (user_id)`,
			`CREATE INDEX sessions_expires_at ON sessions (expires_at)`,
			`CREATE TABLE consents (
				user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
				client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
				scopes TEXT NOT NULL,
				created_at TIMESTAMPTZ NOT NULL,
				updated_at TIMESTAMPTZ NOT NULL,
				PRIMARY KEY (user_id, client_id)
			)`,
			`CREATE INDEX consents_client_id ON consents (client_id)`,
			`CREATE TABLE signing_keys (
				id TEXT PRIMARY KEY,
				algorithm TEXT NOT NULL,
				state TEXT NOT NULL,
				private_key BYTEA NOT NULL,
				public_jwk BYTEA NOT NULL,
				created_at TIMESTAMPTZ NOT NULL,
				retires_at TIMESTAMPTZ
			)`,
			`CREATE TABLE tokens (
				kind TEXT NOT NULL,
				signature TEXT NOT NULL,
				request_id TEXT NOT NULL,
				client_id TEXT NOT NULL,
				subject TEXT NOT NULL,
				jti TEXT NOT NULL,
				active BOOLEAN NOT NULL,
				expires_at TIMESTAMPTZ NOT NULL,
				data BYTEA,
				created_at TIMESTAMPTZ NOT NULL,
				PRIMARY KEY (kind, signature)
			)`,
			`CREATE INDEX tokens_kind_request_id ON tokens (kind, request_id)`,
			`CREATE INDEX tokens_kind_subject ON tokens (kind, subject)`,
			`CREATE INDEX tokens_expires_at ON tokens (expires_at)`,
			`CREATE TABLE revocations (
				jti TEXT PRIMARY KEY,
				expires_at TIMESTAMPTZ NOT NULL
			)`,
			`CREATE INDEX revocations_expires_at ON revocations (expires_at)`,
		},
		sqlite: []string{
			`CREATE TABLE clients (
				id TEXT PRIMARY KEY,
				secret_hash TEXT NOT NULL,
				name TEXT NOT NULL,
				redirect_uris TEXT NOT NULL,
				post_logout_redirect_uris TEXT NOT NULL,
				grant_types TEXT NOT NULL,
				response_types TEXT NOT NULL,
				scopes TEXT NOT NULL,
				audience TEXT NOT NULL,
				public BOOLEAN NOT NULL,
				skip_consent BOOLEAN NOT NULL,
				created_at DATETIME NOT NULL,
				updated_at DATETIME NOT NULL
			)`,
			`CREATE TABLE users (
				id TEXT PRIMARY KEY,
				email TEXT UNIQUE,
				email_verified BOOLEAN NOT NULL,
				name TEXT NOT NULL,
				picture TEXT NOT NULL,
				password_hash TEXT NOT NULL,
				disabled BOOLEAN NOT NULL,
				created_at DATETIME NOT NULL,
				updated_at DATETIME NOT NULL
			)`,
			`CREATE TABLE sessions (
				id TEXT PRIMARY KEY,
				user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
				auth_time DATETIME NOT NULL,
				amr TEXT NOT NULL,
				expires_at DATETIME NOT NULL,
				created_at DATETIME NOT NULL
			)`,
			`CREATE INDEX sessions_user_id ON sessions (user_id)`,
			`CREATE INDEX sessions_expires_at ON sessions (expires_at)`,
			`CREATE TABLE consents (
				user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
				client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
				scopes TEXT NOT NULL,
				created_at DATETIME NOT NULL,
				updated_at DATETIME NOT NULL,
				PRIMARY KEY (user_id, client_id)
			)`,
			`CREATE INDEX consents_client_id ON consents (client_id)`,
			`CREATE TABLE signing_keys (
				id TEXT PRIMARY KEY,
				algorithm TEXT NOT NULL,
				state TEXT NOT NULL,
				private_key BLOB NOT NULL,
				public_jwk BLOB NOT NULL,
				created_at DATETIME NOT NULL,
				retires_at DATETIME
			)`,
			`CREATE TABLE tokens (
				kind TEXT NOT NULL,
				signature TEXT NOT NULL,
				request_id TEXT NOT NULL,
				client_id TEXT NOT NULL,
				subject TEXT NOT NULL,
				jti TEXT NOT NULL,
				active BOOLEAN NOT NULL,
				expires_at DATETIME NOT NULL,
				data BLOB,
				created_at DATETIME NOT NULL,
				PRIMARY KEY (kind, signature)
			)`,
			`CREATE INDEX tokens_kind_request_id ON tokens (kind, request_id)`,
			`CREATE INDEX tokens_kind_subject ON tokens (kind, subject)`,
			`CREATE INDEX tokens_expires_at ON tokens (expires_at)`,
			`CREATE TABLE revocations (
				jti TEXT PRIMARY KEY,
				expires_at DATETIME NOT NULL
			)`,
			`CREATE INDEX revocations_expires_at ON revocations (expires_at)`,
		},
	},
	{
		version: 2,
		name:    "failed attempt counters",
		postgres: []string{
			`CREATE TABLE throttles (
				key TEXT PRIMARY KEY,
				failures INTEGER NOT NULL,
				last_failure TIMESTAMPTZ NOT NULL,
				expires_at TIMESTAMPTZ NOT NULL
			)`,
			`CREATE INDEX throttles_expires_at ON throttles (expires_at)`,
		},
		sqlite: []string{
			`CREATE TABLE throttles (
				key TEXT PRIMARY KEY,
				failures INTEGER NOT NULL,
				last_failure DATETIME NOT NULL,
				expires_at DATETIME NOT NULL
			)`,
			`CREATE INDEX throttles_expires_at ON throttles (expires_at)`,
		},
	},
	{
		// The default lets replicas of the previous release, which do not
		// write the column, keep creating clients during a rollout.
		version:  3,
		name:     "client web origins",
		postgres: []string{`ALTER TABLE clients ADD COLUMN web_origins TEXT NOT NULL DEFAULT '[]'`},
		sqlite:   []string{`ALTER TABLE clients ADD COLUMN web_origins TEXT NOT NULL DEFAULT '[]'`},
	},
	{
		// Second factors: TOTP secrets (sealed) and recovery codes (hashed).
		// The client column's default keeps the previous release working.
		version: 4,
		name:    "multi-factor authentication",
		postgres: []string{
			`CREATE TABLE mfa (
				user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
				sealed_secret BYTEA NOT NULL,
				confirmed BOOLEAN NOT NULL,
				last_step BIGINT NOT NULL,
				created_at TIMESTAMPTZ NOT NULL,
				updated_at TIMESTAMPTZ NOT NULL
			)`,
			`CREATE TABLE recovery_codes (
				user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
				code_hash TEXT NOT NULL,
				used_at TIMESTAMPTZ,
				created_at TIMESTAMPTZ NOT NULL,
				PRIMARY KEY (user_id, code_hash)
			)`,
			`ALTER TABLE clients ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT FALSE`,
		},
		sqlite: []string{
			`CREATE TABLE mfa (
				user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
				sealed_secret BLOB NOT NULL,
				confirmed BOOLEAN NOT NULL,
				last_step INTEGER NOT NULL,
				created_at DATETIME NOT NULL,
				updated_at DATETIME NOT NULL
			)`,
			`CREATE TABLE recovery_codes (
				user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
				code_hash TEXT NOT NULL,
				used_at DATETIME,
				created_at DATETIME NOT NULL,
				PRIMARY KEY (user_id, code_hash)
			)`,
			`ALTER TABLE clients ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT 0`,
		},
	},
	{
		// Federation: upstream accounts linked to local users, keyed by the
		// upstream's (issuer, subject).
		version: 5,
		name:    "upstream identities",
		postgres: []string{
			`CREATE TABLE identities (
				id TEXT PRIMARY KEY,
				user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
				upstream TEXT NOT NULL,
				issuer TEXT NOT NULL,
				subject TEXT NOT NULL,
				email TEXT NOT NULL,
				created_at TIMESTAMPTZ NOT NULL,
				last_used_at TIMESTAMPTZ NOT NULL,
				UNIQUE (issuer, subject)
			)`,
			`CREATE INDEX identities_user_id ON identities (user_id)`,
		},
		sqlite: []string{
			`CREATE TABLE identities (
				id TEXT PRIMARY KEY,
				user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
				upstream TEXT NOT NULL,
				issuer TEXT NOT NULL,
				subject TEXT NOT NULL,
				email TEXT NOT NULL,
				created_at DATETIME NOT NULL,
				last_used_at DATETIME NOT NULL,
				UNIQUE (issuer, subject)
			)`,
			`CREATE INDEX identities_user_id ON identities (user_id)`,
		},
	},
	{
		// Queried newest first, by user, client or type within a time
		// range; purged oldest first by the janitor.
		version: 6,
		name:    "audit log",
		postgres: []string{
			`CREATE TABLE audit_events (
				id TEXT PRIMARY KEY,
				occurred_at TIMESTAMPTZ NOT NULL,
				type TEXT NOT NULL,
				actor TEXT NOT NULL,
				user_id TEXT NOT NULL,
				client_id TEXT NOT NULL,
				ip TEXT NOT NULL,
				user_agent TEXT NOT NULL,
				request_id TEXT NOT NULL,
				outcome TEXT NOT NULL,
				reason TEXT NOT NULL,
				details TEXT NOT NULL
			)`,
			`CREATE INDEX audit_events_occurred_at ON audit_events (occurred_at, id)`,
			`CREATE INDEX audit_events_user_id ON audit_events (user_id, occurred_at)`,
			`CREATE INDEX audit_events_client_id ON audit_events (client_id, occurred_at)`,
			`CREATE INDEX audit_events_type ON audit_events (type, occurred_at)`,
		},
		sqlite: []string{
			`CREATE TABLE audit_events (
				id TEXT PRIMARY KEY,
				occurred_at DATETIME NOT NULL,
				type TEXT NOT NULL,
				actor TEXT NOT NULL,
				user_id TEXT NOT NULL,
				client_id TEXT NOT NULL,
				ip TEXT NOT NULL,
				user_agent TEXT NOT NULL,
				request_id TEXT NOT NULL,
				outcome TEXT NOT NULL,
				reason TEXT NOT NULL,
				details TEXT NOT NULL
			)`,
			`CREATE INDEX audit_events_occurred_at ON audit_events (occurred_at, id)`,
			`CREATE INDEX audit_events_user_id ON audit_events (user_id, occurred_at)`,
			`CREATE INDEX audit_events_client_id ON audit_events (client_id, occurred_at)`,
			`CREATE INDEX audit_events_type ON audit_events (type, occurred_at)`,
		},
	},
	{
		// Defaults again keep the previous release writing users and
		// sessions during a rollout. Preferences are a JSON object in text,
		// kept byte for byte on both databases.
		version: 7,
		name:    "account preferences and session user agents",
		postgres: []string{
			`ALTER TABLE users ADD COLUMN preferences TEXT NOT NULL DEFAULT '{}'`,
			`ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT ''`,
		},
		sqlite: []string{
			`ALTER TABLE users ADD COLUMN preferences TEXT NOT NULL DEFAULT '{}'`,
			`ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT ''`,
		},
	},
	{
		// Expand-only: the previous release neither reads nor writes these
		// columns, and the defaults cover its inserts.
		version: 8,
		name:    "dynamic client registration tokens and user roles",
		postgres: []string{
			`ALTER TABLE clients ADD COLUMN registration_token_hash TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE users ADD COLUMN roles TEXT NOT NULL DEFAULT '[]'`,
		},
		sqlite: []string{
			`ALTER TABLE clients ADD COLUMN registration_token_hash TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE users ADD COLUMN roles TEXT NOT NULL DEFAULT '[]'`,
		},
	},
	{
		// The keyring already serializes key changes; the database now
		// refuses outright a second active (or next) key of an algorithm.
		version: 9,
		name:    "one active and one next signing key per algorithm",
		postgres: []string{
			`CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (algorithm) WHERE state = 'active'`,
			`CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (algorithm) WHERE state = 'next'`,
		},
		sqlite: []string{
			`CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (algorithm) WHERE state = 'active'`,
			`CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (algorithm) WHERE state = 'next'`,
		},
	},
}

// SchemaVersion is the schema version this binary needs.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

// Versions lists the schema versions, oldest first: the versions that the
// releases before this one may have left a database at.
func Versions() []int {
	v := make([]int, len(migrations))
	for i, m := range migrations {
		v[i] = m.version
	}
	return v
}

const (
	createMigrationsPostgres = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL
	)`
	createMigrationsSQLite = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at DATETIME NOT NULL
	)`
)

// Migrate applies the pending migrations, each in its own transaction.
// Concurrent migrators (replicas starting together, tollgate migrate run
// twice) are serialized: on PostgreSQL by an advisory lock held for each
// transaction and keyed by the schema, on SQLite by the write lock that
// BEGIN IMMEDIATE takes. Each transaction re-reads the version under the
// lock, so a migration is applied exactly once.
func (s *Store) Migrate(ctx context.Context) error {
	return s.MigrateTo(ctx, SchemaVersion())
}

// MigrateTo applies the pending migrations up to and including version (for
// upgrade tests, which build the schema of an earlier release).
func (s *Store) MigrateTo(ctx context.Context, version int) error {
	for {
		applied, err := s.migrateOne(ctx, version)
		if err != nil {
			return err
		}
		if applied == nil {
			return nil
		}
	}
}

// migrateOne applies the next pending migration and returns it, or nil
// when the schema is up to date.
func (s *Store) migrateOne(ctx context.Context, target int) (*migration, error) {
	var next *migration
	err := s.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		create := createMigrationsSQLite
		if s.postgres {
			create = createMigrationsPostgres
			lock := `SELECT pg_advisory_xact_lock(hashtext('tollgate.migrate.' || current_schema()))`
			if err := tx.Exec(lock).Error; err != nil {
				return fmt.Errorf("lock schema for migration: %w", err)
			}
		}
		if err := tx.Exec(create).Error; err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		version, err := currentVersion(tx)
		if err != nil {
			return err
		}
		for i := range migrations {
			if migrations[i].version > version && migrations[i].version <= target {
				next = &migrations[i]
				break
			}
		}
		if next == nil {
			return nil
		}
		stmts := next.sqlite
		if s.postgres {
			stmts = next.postgres
		}
		for _, stmt := range stmts {
			if err := tx.Exec(stmt).Error; err != nil {
				return fmt.Errorf("migration %d (%s): %w", next.version, next.name, err)
			}
		}
		err = tx.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			next.version, next.name, utc(time.Now())).Error
		if err != nil {
			return fmt.Errorf("record migration %d: %w", next.version, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return next, nil
}

func currentVersion(db *gorm.DB) (int, error) {
	var version int
	err := db.Raw(`SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&version).Error
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return version, nil
}

// Version returns the version of the schema in the database: 0 for an empty
// database.
func (s *Store) Version(ctx context.Context) (int, error) {
	db := s.gdb.WithContext(ctx)
	var exists bool
	var err error
	if s.postgres {
		err = db.Raw(`SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists).Error
	} else {
		var n int
		err = db.Raw(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n).Error
		exists = n > 0
	}
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	return currentVersion(db)
}

// CheckSchema returns an error when the database schema is behind this
// binary. A schema ahead of it is accepted, so that replicas of the previous
// release keep running while a new release rolls out; migrations must
// therefore keep the previous release working.
func (s *Store) CheckSchema(ctx context.Context) error {
	version, err := s.Version(ctx)
	if err != nil {
		return err
	}
	if want := SchemaVersion(); version < want {
		return fmt.Errorf("database schema is at version %d, this binary needs %d: run %q",
			version, want, "tollgate migrate up")
	}
	return nil
}
