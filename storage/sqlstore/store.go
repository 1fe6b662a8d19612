// Package sqlstore implements storage.Store with gorm on PostgreSQL
// (postgres:// URLs) and on an embedded SQLite file (sqlite:PATH, pure Go, no
// cgo). The schema is created by versioned migrations (see Migrate), never by
// gorm's AutoMigrate, so that old versions stay fixed.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/glebarez/sqlite"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"github.com/tollgate/tollgate/storage"
)

// Store is a storage.Store over a SQL database.
type Store struct {
	gdb      *gorm.DB
	postgres bool         // false: SQLite
	tracer   trace.Tracer // a no-op until Trace
}

var _ storage.Store = (*Store)(nil)

// Open connects to the database named by dsn: postgres://… or postgresql://…
// for PostgreSQL, sqlite:PATH for a SQLite file (its directory is created).
// It does not migrate; see Migrate and CheckSchema.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg := &gorm.Config{
		// Never log SQL: its values include token signatures and hashes.
		Logger:                 logger.Discard.LogMode(logger.Silent),
		TranslateError:         true,
		SkipDefaultTransaction: true,
	}
	var (
		s   = &Store{tracer: noop.Tracer{}}
		err error
	)
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s.postgres = true
		s.gdb, err = gorm.Open(postgres.New(postgres.Config{DSN: dsn}), cfg)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
	case strings.HasPrefix(dsn, "sqlite:"):
		path, err := sqlitePath(dsn)
		if err != nil {
			return nil, err
		}
		s.gdb, err = gorm.Open(sqlite.Open(sqliteDSN(path)), cfg)
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
	default:
		return nil, errors.New("unsupported database URL: want postgres://… or sqlite:PATH")
	}
	db, err := s.gdb.DB()
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if s.postgres {
		// As many idle connections as open ones: under load, a smaller idle
		// pool closes connections only to open new ones a moment later, and
		// each PostgreSQL connection costs a backend process.
		db.SetMaxOpenConns(25)
		db.SetMaxIdleConns(25)
		db.SetConnMaxLifetime(30 * time.Minute)
		db.SetConnMaxIdleTime(5 * time.Minute)
	} else {
		// One connection serializes writers. Every call made with a
		// transaction's context uses that transaction, so this cannot
		// deadlock as long as nothing inside a transaction calls the store
		// with a context that lacks it.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
	}
	if err := s.Ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// sqlitePath extracts the file path from sqlite:PATH (sqlite://PATH and
// sqlite:///abs/PATH are accepted too) and creates its directory.
func sqlitePath(dsn string) (string, error) {
	path := strings.TrimPrefix(dsn, "sqlite:")
	path = strings.TrimPrefix(path, "//")
	if path == "" {
		return "", errors.New("sqlite database URL has no path: want sqlite:PATH")
	}
	if strings.ContainsRune(path, '?') {
		return "", fmt.Errorf("sqlite path %q: query parameters are not supported", path)
	}
	if path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return "", fmt.Errorf("create database directory: %w", err)
		}
	}
	return path, nil
}

// sqliteDSN sets the pragmas every connection needs: WAL so readers do not
// block the writer, a busy timeout for other processes (tollgate migrate
// while serve runs), foreign keys, and BEGIN IMMEDIATE so that a transaction
// takes the write lock up front instead of failing to upgrade later.
func sqliteDSN(path string) string {
	return path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

type txKey struct{}

var errTxDone = errors.New("transaction already committed")

// lazyTx is a transaction that begins at its first statement. A unit of
// work whose writes end up as one statement (a token redemption on
// PostgreSQL, see RedeemTokens) then runs it on its own, without the BEGIN
// and COMMIT round trips.
type lazyTx struct {
	mu   sync.Mutex
	tx   *gorm.DB // nil until the first statement
	done bool     // ended by RedeemAndCommit before it began
}

// begin returns the transaction, beginning it on gdb if need be. A failed
// BEGIN leaves the error on the handle: every statement, and Commit, fails.
func (lt *lazyTx) begin(ctx context.Context, gdb *gorm.DB) *gorm.DB {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	switch {
	case lt.tx != nil:
	case lt.done:
		lt.tx = gdb.Session(&gorm.Session{NewDB: true, Context: ctx})
		_ = lt.tx.AddError(errTxDone)
	default:
		lt.tx = gdb.WithContext(ctx).Begin()
	}
	return lt.tx
}

// db returns the handle for a call: the transaction carried by ctx, if any.
func (s *Store) db(ctx context.Context) *gorm.DB {
	if lt, ok := ctx.Value(txKey{}).(*lazyTx); ok {
		return lt.begin(ctx, s.gdb).WithContext(ctx)
	}
	return s.gdb.WithContext(ctx)
}

func inTx(ctx context.Context) bool {
	_, ok := ctx.Value(txKey{}).(*lazyTx)
	return ok
}

// BeginTx starts a transaction; calls made with the returned context join
// it. The database sees it begin with the first of them.
func (s *Store) BeginTx(ctx context.Context) (context.Context, error) {
	if inTx(ctx) {
		return ctx, errors.New("begin transaction: a transaction is already in progress")
	}
	return context.WithValue(ctx, txKey{}, &lazyTx{}), nil
}

// Commit commits the transaction carried by ctx.
func (s *Store) Commit(ctx context.Context) error {
	return end(ctx, "commit", (*gorm.DB).Commit)
}

// end commits or rolls back the transaction carried by ctx; one in which
// nothing ran has nothing to end.
func end(ctx context.Context, op string, fn func(*gorm.DB) *gorm.DB) error {
	lt, ok := ctx.Value(txKey{}).(*lazyTx)
	if !ok {
		return fmt.Errorf("%s: no transaction in context", op)
	}
	lt.mu.Lock()
	defer lt.mu.Unlock()
	switch {
	case lt.done:
		return fmt.Errorf("%s: %w", op, errTxDone)
	case lt.tx == nil:
		return nil
	}
	if err := fn(lt.tx).Error; err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// RedeemAndCommit ends the transaction in ctx with r (see RedeemTokens).
// When nothing else ran in it, r runs as one statement of its own, without
// the round trips of BEGIN and COMMIT (on SQLite, in a transaction of its
// own). On error the transaction is rolled back.
func (s *Store) RedeemAndCommit(ctx context.Context, r storage.Redemption) error {
	lt, ok := ctx.Value(txKey{}).(*lazyTx)
	if !ok {
		return errors.New("commit: no transaction in context")
	}
	lt.mu.Lock()
	alone := lt.tx == nil && !lt.done
	if alone {
		lt.done = true
	}
	lt.mu.Unlock()
	if alone {
		return s.RedeemTokens(context.WithValue(ctx, txKey{}, nil), r)
	}
	if err := s.RedeemTokens(ctx, r); err != nil {
		_ = s.Rollback(ctx)
		return err
	}
	return s.Commit(ctx)
}

// Rollback aborts the transaction carried by ctx.
func (s *Store) Rollback(ctx context.Context) error {
	return end(ctx, "rollback", (*gorm.DB).Rollback)
}

// atomic runs fn in a transaction: the caller's if ctx carries one, else a
// new one. An error from fn rolls back and is returned unchanged.
func (s *Store) atomic(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if inTx(ctx) {
		return fn(s.db(ctx))
	}
	return s.gdb.WithContext(ctx).Transaction(fn)
}

// guarded runs one statement that may fail with a constraint violation. In
// a transaction it runs under a savepoint, because on PostgreSQL a failed
// statement aborts the whole transaction, and a caller that gets
// ErrAlreadyExists must be able to carry on.
func (s *Store) guarded(ctx context.Context, fn func(db *gorm.DB) error) error {
	if inTx(ctx) {
		return s.db(ctx).Transaction(fn)
	}
	return fn(s.db(ctx))
}

// forUpdate locks the rows a read-modify-write selects (PostgreSQL; SQLite
// has a single writer already).
func (s *Store) forUpdate(db *gorm.DB) *gorm.DB {
	if s.postgres {
		return db.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return db
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	db, err := s.gdb.DB()
	if err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// SQLDB returns the connection pool, for its statistics.
func (s *Store) SQLDB() (*sql.DB, error) { return s.gdb.DB() }

// Close closes the connection pool.
func (s *Store) Close() error {
	db, err := s.gdb.DB()
	if err != nil {
		return err
	}
	return db.Close()
}

// sentinel maps the driver's constraint and not-found errors to the storage
// sentinels. Only the sentinel is kept for those: a driver's message may
// quote the offending values (a signature, a hash, an email).
func sentinel(err error) error {
	switch {
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return storage.ErrAlreadyExists
	case errors.Is(err, gorm.ErrRecordNotFound):
		return storage.ErrNotFound
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		// The record refers to one that does not exist.
		return storage.ErrNotFound
	}
	return err
}

// translate maps a driver error to gorm's (a taken key to
// gorm.ErrDuplicatedKey, …), as gorm does for the statements it builds
// itself but not for raw ones or for those sent around it.
func (s *Store) translate(err error) error {
	if t, ok := s.gdb.Dialector.(gorm.ErrorTranslator); ok && err != nil {
		return t.Translate(err)
	}
	return err
}

// wrap returns err, mapped to a sentinel where one applies, with context.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, sentinel(err))...)
}

// affected turns a write that matched no row into ErrNotFound.
func affected(res *gorm.DB) error {
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return storage.ErrNotFound
	}
	return nil
}
