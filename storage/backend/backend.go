// Package backend opens the storage that the configuration names: a SQL
// database, and optionally Redis in front of it for the revocation list.
package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/redisstore"
	"github.com/tollgate/tollgate/storage/sqlstore"
)

// RedisPrefix starts every key Tollgate writes to Redis. Replicas of one
// deployment share it; two deployments on one Redis need separate databases
// (redis://host/N).
const RedisPrefix = "tollgate:"

// pingTimeout bounds the reachability checks at start-up.
const pingTimeout = 10 * time.Second

// Open opens the SQL database at databaseURL and, when redisURL is set, Redis
// in front of it for revocation. It does not migrate; it fails with a clear
// error when the schema is behind (see sqlstore.CheckSchema).
func Open(ctx context.Context, databaseURL, redisURL string, with ...Option) (storage.Store, error) {
	var o options
	for _, opt := range with {
		opt(&o)
	}
	sql, err := openSQL(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	if o.tracer != nil {
		if err := sql.Trace(o.tracer); err != nil {
			sql.Close()
			return nil, err
		}
	}
	if err := sql.CheckSchema(ctx); err != nil {
		sql.Close()
		return nil, err
	}
	if redisURL == "" {
		return sql, nil
	}
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		sql.Close()
		return nil, fmt.Errorf("redis_url %s: %w", RedactURL(redisURL), scrub(err, redisURL))
	}
	client := redis.NewClient(opts)
	if o.tracer != nil {
		// Commands without their arguments: those are token IDs.
		if err := redisotel.InstrumentTracing(client, redisotel.WithTracerProvider(o.tracer), redisotel.WithDBStatement(false)); err != nil {
			client.Close()
			sql.Close()
			return nil, fmt.Errorf("trace redis: %w", err)
		}
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		client.Close()
		sql.Close()
		return nil, fmt.Errorf("redis_url %s: Redis does not answer: %w", RedactURL(redisURL), scrub(err, redisURL))
	}
	if err := redisstore.CheckEviction(pctx, client); err != nil {
		client.Close()
		sql.Close()
		return nil, fmt.Errorf("redis_url %s: %w", RedactURL(redisURL), scrub(err, redisURL))
	}
	return redisstore.New(client, sql, RedisPrefix, redisstore.WithLogger(o.logger)), nil
}

// Option configures Open.
type Option func(*options)

type options struct {
	tracer trace.TracerProvider
	logger *slog.Logger
}

// Logging logs what the stores do on their own that an operator must know.
func Logging(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// Tracing records a span for every database query and Redis command.
func Tracing(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracer = tp }
}

// Migrate applies pending migrations to the SQL database at databaseURL.
func Migrate(ctx context.Context, databaseURL string) error {
	sql, err := openSQL(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer sql.Close()
	if err := sql.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate database_url %s: %w", RedactURL(databaseURL), scrub(err, databaseURL))
	}
	return nil
}

func openSQL(ctx context.Context, databaseURL string) (*sqlstore.Store, error) {
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	s, err := sqlstore.Open(pctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("database_url %s: %w", RedactURL(databaseURL), scrub(err, databaseURL))
	}
	return s, nil
}

// RedactURL returns rawURL with the password of its userinfo replaced, for
// error messages and logs. Anything it cannot parse is replaced whole.
func RedactURL(rawURL string) string {
	if strings.HasPrefix(rawURL, "sqlite:") {
		return rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// scrub removes the URL's password from a driver's error message, in case
// the driver quoted it (escaped or not). The result no longer wraps err when
// it had to cut.
func scrub(err error, rawURL string) error {
	u, perr := url.Parse(rawURL)
	if perr != nil {
		return errors.New("(error withheld: it may quote the unparsable URL)")
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" {
		return err
	}
	_, escaped, _ := strings.Cut(u.User.String(), ":")
	msg := err.Error()
	if !strings.Contains(msg, pw) && !strings.Contains(msg, escaped) {
		return err
	}
	msg = strings.ReplaceAll(msg, escaped, "xxxxx")
	return errors.New(strings.ReplaceAll(msg, pw, "xxxxx"))
}
