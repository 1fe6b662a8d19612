package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/passwords"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/backend"
	"github.com/tollgate/tollgate/storage/redisstore"
)

// app holds what every command shares: the process's streams and the
// configuration flags.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	environ        []string

	configPath string
	flags      []configFlag

	// endpoint and token send the clients, users and keys commands to a server's
	// admin API instead of the local database.
	endpoint, token string
	output          string
}

// configFlag is a command-line flag that overrides one configuration key.
type configFlag struct {
	name, env, usage string
	value            string
}

// bindConfigFlags adds the flags every command takes: --config and the keys
// people most often set by hand. The rest come from the file or environment.
func (a *app) bindConfigFlags(root *cobra.Command) {
	pf := root.PersistentFlags()
	pf.StringVar(&a.configPath, "config", "", "YAML configuration file")
	pf.StringVar(&a.endpoint, "endpoint", "", "manage a remote server through its admin API at this issuer URL (clients, users, keys; or TOLLGATE_ENDPOINT)")
	// No default shown: help output must never print a token.
	pf.StringVar(&a.token, "token", "", "bearer token for --endpoint: an access token with tollgate:admin, or the admin_token (or TOLLGATE_TOKEN)")
	pf.StringVar(&a.output, "output", outputJSON, "output format: json or table")
	a.flags = []configFlag{
		{name: "issuer", env: "TOLLGATE_ISSUER", usage: "public base URL, the iss of every token"},
		{name: "listen", env: "TOLLGATE_LISTEN", usage: "address to listen on (default :8080, or the issuer's port)"},
		{name: "data-dir", env: "TOLLGATE_DATA_DIR", usage: "directory of the embedded database and generated secret"},
		{name: "database-url", env: "TOLLGATE_DATABASE_URL", usage: "postgres://… or sqlite:PATH"},
		{name: "redis-url", env: "TOLLGATE_REDIS_URL", usage: "redis://… for the revocation list (optional)"},
	}
	for i := range a.flags {
		f := &a.flags[i]
		pf.StringVar(&f.value, f.name, "", f.usage)
	}
}

// envValue returns the value of key in environ, or "".
func envValue(environ []string, key string) string {
	for i := len(environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(environ[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// loadConfig reads defaults, file, environment and flags, in rising
// precedence. Every error is a usage error: nothing has been touched yet.
func (a *app) loadConfig(cmd *cobra.Command) (config.Config, error) {
	environ := append([]string(nil), a.environ...)
	for _, f := range a.flags {
		if cmd.Flags().Changed(f.name) {
			environ = append(environ, f.env+"="+f.value)
		}
	}
	cfg, err := config.Load(a.configPath, environ)
	if err != nil {
		return config.Config{}, usageError{err}
	}
	return cfg, nil
}

func (a *app) logger(cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	return slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: level}))
}

// secretFile is where the embedded default keeps its generated secret.
const secretFile = "secret"

// systemSecret returns the configured secret or, on the embedded default
// only, the one kept in the data directory, generating it on first use.
// A shared database needs the same secret on every replica, so there it must
// be configured.
func (a *app) systemSecret(cfg config.Config, log *slog.Logger) ([]byte, error) {
	if cfg.Secret != "" {
		return []byte(cfg.Secret), nil
	}
	if !cfg.EmbeddedDatabase() {
		return nil, usagef("secret is required with a PostgreSQL database_url (set TOLLGATE_SECRET to at least 32 random characters, the same on every replica)")
	}
	path := filepath.Join(cfg.DataDir, secretFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		s := strings.TrimSpace(string(b))
		if len(s) < 32 {
			return nil, fmt.Errorf("secret file %s holds fewer than 32 characters", path)
		}
		return []byte(s), nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read secret: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("generate secret: %w", err)
	}
	s := base64.RawURLEncoding.EncodeToString(raw)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	// O_EXCL: two processes starting at once must not each write their own.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return a.systemSecret(cfg, log)
	}
	if err != nil {
		return nil, fmt.Errorf("write secret: %w", err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write secret: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write secret: %w", err)
	}
	log.Warn("generated a system secret for the embedded database; set TOLLGATE_SECRET in production", "path", path)
	return []byte(s), nil
}

// env is an opened deployment: configuration, storage and keys.
type env struct {
	cfg    config.Config
	log    *slog.Logger
	secret []byte
	store  storage.Store
	keys   *keyring.Keyring
	hasher *passwords.Hasher
}

func (e *env) Close() error { return e.store.Close() }

// open loads the configuration and opens storage, migrating the embedded
// default (a newcomer never has to). A shared database is migrated only by
// `tollgate migrate up`, so a new binary cannot change it by surprise.
func (a *app) open(cmd *cobra.Command, with ...backend.Option) (*env, error) {
	cfg, err := a.loadConfig(cmd)
	if err != nil {
		return nil, err
	}
	log := a.logger(cfg)
	hasher, err := passwords.New(passwords.Params{
		MemoryKiB: cfg.Argon2MemoryKiB, Iterations: cfg.Argon2Iterations, Parallelism: cfg.Argon2Parallelism,
	})
	if err != nil {
		return nil, usageError{err}
	}
	secret, err := a.systemSecret(cfg, log)
	if err != nil {
		return nil, err
	}
	ctx := cmd.Context()
	if cfg.EmbeddedDatabase() {
		if err := backend.Migrate(ctx, cfg.DatabaseURL); err != nil {
			return nil, err
		}
	}
	if cfg.RedisURL != "" {
		// go-redis has one logger per process; this is the process's.
		redis.SetLogger(redisstore.ClientLog(log))
	}
	store, err := backend.Open(ctx, cfg.DatabaseURL, cfg.RedisURL, append(with, backend.Logging(log))...)
	if err != nil {
		return nil, err
	}
	keys, err := keyring.New(store, secret, keyring.WithAlgorithms(cfg.SigningAlgorithms()...),
		keyring.WithPublishDelay(time.Duration(cfg.KeyPublishDelay)))
	if err != nil {
		store.Close()
		return nil, err
	}
	return &env{cfg: cfg, log: log, secret: secret, store: store, keys: keys, hasher: hasher}, nil
}

// withEnv runs fn on an opened deployment and closes it afterwards.
func (a *app) withEnv(fn func(ctx context.Context, e *env, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if a.endpoint != "" || envValue(a.environ, "TOLLGATE_ENDPOINT") != "" {
			return usagef("%s works on the local database only; the admin API does not serve it yet", cmd.CommandPath())
		}
		e, err := a.open(cmd)
		if err != nil {
			return err
		}
		defer e.Close()
		return fn(cmd.Context(), e, args)
	}
}
