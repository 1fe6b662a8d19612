// Package config defines Tollgate's configuration: its defaults, how a YAML
// file and TOLLGATE_* environment variables fill it, and its validation.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tollgate/tollgate/passwords"
)

// Config is the file format of Tollgate's configuration. Every key can also be
// set by an environment variable, which wins over the file.
type Config struct {
	// Issuer is the public base URL; it is the iss of every token.
	Issuer string `yaml:"issuer" env:"TOLLGATE_ISSUER"`
	// Listen is the address the HTTP server binds.
	Listen string `yaml:"listen" env:"TOLLGATE_LISTEN"`
	// DataDir holds the embedded SQLite database and the generated secret.
	DataDir string `yaml:"data_dir" env:"TOLLGATE_DATA_DIR"`
	// DatabaseURL is postgres://… or sqlite:PATH.
	DatabaseURL string `yaml:"database_url" env:"TOLLGATE_DATABASE_URL"`
	// PicturesURL is the bucket of uploaded profile pictures
	// (gocloud.dev/blob): file:///dir, s3://bucket?region=…, mem://.
	// Default: the directory pictures under data_dir.
	PicturesURL string `yaml:"pictures_url" env:"TOLLGATE_PICTURES_URL"`
	// RedisURL is optional; without it revocation lives in the SQL database.
	RedisURL string `yaml:"redis_url" env:"TOLLGATE_REDIS_URL"`
	// Secret is the system secret: token HMACs and key encryption derive from it.
	Secret string `yaml:"secret" env:"TOLLGATE_SECRET"`
	// MetricsListen, when set, serves /metrics on this address instead of
	// the public one.
	MetricsListen string `yaml:"metrics_listen" env:"TOLLGATE_METRICS_LISTEN"`
	// ShutdownDelay is how long serve keeps answering after SIGTERM with
	// /readyz already 503, so load balancers stop sending traffic first.
	ShutdownDelay Duration `yaml:"shutdown_delay" env:"TOLLGATE_SHUTDOWN_DELAY"`
	// ShutdownTimeout bounds how long requests in flight may take to finish
	// once serve stops accepting new ones.
	ShutdownTimeout Duration `yaml:"shutdown_timeout" env:"TOLLGATE_SHUTDOWN_TIMEOUT"`
	// KeyRotationInterval is how often the signing keys rotate; 0 rotates
	// them only on demand (tollgate keys rotate).
	KeyRotationInterval Duration `yaml:"key_rotation_interval" env:"TOLLGATE_KEY_ROTATION_INTERVAL"`
	// KeyPublishDelay is how long a next signing key is published in JWKS
	// before a rotation may make it sign; rotating sooner is refused.
	KeyPublishDelay Duration `yaml:"key_publish_delay" env:"TOLLGATE_KEY_PUBLISH_DELAY"`
	// ClockSkewLeeway is how far in the future a token's iat or nbf may be
	// (another replica's clock running ahead); exp gets no leeway.
	ClockSkewLeeway Duration `yaml:"clock_skew_leeway" env:"TOLLGATE_CLOCK_SKEW_LEEWAY"`
	// TrustedProxies are the networks whose X-Forwarded-For is believed
	// for the client address (throttling, logs). Empty: none.
	TrustedProxies CIDRList `yaml:"trusted_proxies" env:"TOLLGATE_TRUSTED_PROXIES"`
	// JanitorInterval is how often expired codes, tokens, sessions and
	// revocations are purged; 0 turns the janitor off.
	JanitorInterval Duration `yaml:"janitor_interval" env:"TOLLGATE_JANITOR_INTERVAL"`
	// AuditRetention is how long audit events are kept; the janitor
	// deletes older ones. 0 keeps them forever.
	AuditRetention Duration `yaml:"audit_retention" env:"TOLLGATE_AUDIT_RETENTION"`
	// OTLPEndpoint, when set, sends traces there over OTLP/HTTP (as do
	// OpenTelemetry's standard OTEL_EXPORTER_OTLP_* variables).
	OTLPEndpoint string `yaml:"otlp_endpoint" env:"TOLLGATE_OTLP_ENDPOINT"`
	// AdminToken is a bootstrap bearer token for the admin API, for use
	// before any client has the tollgate:admin scope. Optional.
	AdminToken string `yaml:"admin_token" env:"TOLLGATE_ADMIN_TOKEN"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level" env:"TOLLGATE_LOG_LEVEL"`

	AccessTokenLifetime  Duration `yaml:"access_token_lifetime" env:"TOLLGATE_ACCESS_TOKEN_LIFETIME"`
	IDTokenLifetime      Duration `yaml:"id_token_lifetime" env:"TOLLGATE_ID_TOKEN_LIFETIME"`
	RefreshTokenLifetime Duration `yaml:"refresh_token_lifetime" env:"TOLLGATE_REFRESH_TOKEN_LIFETIME"`
	CodeLifetime         Duration `yaml:"code_lifetime" env:"TOLLGATE_CODE_LIFETIME"`
	// AccessTokenSigningAlg is RS256 (every JWT library accepts it) or
	// ES256 (much cheaper to sign). ID tokens are always RS256.
	AccessTokenSigningAlg string   `yaml:"access_token_signing_alg" env:"TOLLGATE_ACCESS_TOKEN_SIGNING_ALG"`
	SessionLifetime       Duration `yaml:"session_lifetime" env:"TOLLGATE_SESSION_LIFETIME"`

	// SignupEnabled offers the sign-up page; RequireVerifiedEmail refuses
	// sign-in until the address is confirmed.
	SignupEnabled        bool `yaml:"signup_enabled" env:"TOLLGATE_SIGNUP_ENABLED"`
	RequireVerifiedEmail bool `yaml:"require_verified_email" env:"TOLLGATE_REQUIRE_VERIFIED_EMAIL"`
	// MFARequired makes every user give a second factor at sign-in, and
	// enroll one first if they have none.
	MFARequired bool `yaml:"mfa_required" env:"TOLLGATE_MFA_REQUIRED"`

	// SMTP delivery of email. Without smtp_host, the embedded default
	// writes messages to files under data_dir/mail.
	SMTPHost     string `yaml:"smtp_host" env:"TOLLGATE_SMTP_HOST"`
	SMTPPort     int    `yaml:"smtp_port" env:"TOLLGATE_SMTP_PORT"`
	SMTPUsername string `yaml:"smtp_username" env:"TOLLGATE_SMTP_USERNAME"`
	SMTPPassword string `yaml:"smtp_password" env:"TOLLGATE_SMTP_PASSWORD"`
	SMTPFrom     string `yaml:"smtp_from" env:"TOLLGATE_SMTP_FROM"`
	SMTPTLS      string `yaml:"smtp_tls" env:"TOLLGATE_SMTP_TLS"`

	// Password policy for new passwords (NIST SP 800-63B defaults).
	PasswordMinLength     int  `yaml:"password_min_length" env:"TOLLGATE_PASSWORD_MIN_LENGTH"`
	PasswordMinStrength   int  `yaml:"password_min_strength" env:"TOLLGATE_PASSWORD_MIN_STRENGTH"`
	PasswordRequireUpper  bool `yaml:"password_require_upper" env:"TOLLGATE_PASSWORD_REQUIRE_UPPER"`
	PasswordRequireLower  bool `yaml:"password_require_lower" env:"TOLLGATE_PASSWORD_REQUIRE_LOWER"`
	PasswordRequireDigit  bool `yaml:"password_require_digit" env:"TOLLGATE_PASSWORD_REQUIRE_DIGIT"`
	PasswordRequireSymbol bool `yaml:"password_require_symbol" env:"TOLLGATE_PASSWORD_REQUIRE_SYMBOL"`

	// Argon2 parameters for password hashes (RFC 9106; OWASP minimum m=19 MiB, t=2, p=1).
	Argon2MemoryKiB   uint32 `yaml:"argon2_memory_kib" env:"TOLLGATE_ARGON2_MEMORY_KIB"`
	Argon2Iterations  uint32 `yaml:"argon2_iterations" env:"TOLLGATE_ARGON2_ITERATIONS"`
	Argon2Parallelism uint8  `yaml:"argon2_parallelism" env:"TOLLGATE_ARGON2_PARALLELISM"`

	// Upstreams are the OpenID Providers users may sign in with
	// (federation, see upstreams.go); file only.
	Upstreams []Upstream `yaml:"upstreams"`
	// Registration is dynamic client registration (RFC 7591/7592).
	Registration Registration `yaml:"registration"`
}

// Registration configures dynamic client registration at /oauth2/register.
type Registration struct {
	// Enabled turns the endpoint on; it is off by default.
	Enabled bool `yaml:"enabled" env:"TOLLGATE_REGISTRATION_ENABLED"`
	// InitialAccessToken is the bearer token a registration must carry.
	// Empty while Enabled means open registration: anyone may register.
	InitialAccessToken string `yaml:"initial_access_token" env:"TOLLGATE_REGISTRATION_INITIAL_ACCESS_TOKEN"`
}

// Duration is a time.Duration written as "1h", "30m", "720h".
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("want a duration such as 1h or 15m: %w", err)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as Go does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Issuer:                "http://localhost:8080",
		DataDir:               "./data",
		LogLevel:              "info",
		AccessTokenLifetime:   Duration(time.Hour),
		IDTokenLifetime:       Duration(time.Hour),
		RefreshTokenLifetime:  Duration(30 * 24 * time.Hour),
		CodeLifetime:          Duration(time.Minute),
		AccessTokenSigningAlg: "RS256",
		JanitorInterval:       Duration(10 * time.Minute),
		AuditRetention:        Duration(90 * 24 * time.Hour),
		KeyRotationInterval:   Duration(30 * 24 * time.Hour),
		KeyPublishDelay:       Duration(6 * time.Minute),
		ClockSkewLeeway:       Duration(time.Minute),
		ShutdownTimeout:       Duration(15 * time.Second),
		SessionLifetime:       Duration(24 * time.Hour),
		SignupEnabled:         true,
		RequireVerifiedEmail:  true,
		PasswordMinLength:     8,
		PasswordMinStrength:   3,
		Argon2MemoryKiB:       19 * 1024,
		Argon2Iterations:      2,
		Argon2Parallelism:     1,
	}
}

// Load reads the defaults, then the YAML file at path (if path is not empty),
// then the environment, and validates the result.
func Load(path string, environ []string) (Config, error) {
	cfg := Default()
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config file: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		// An empty file decodes to io.EOF: it simply sets nothing.
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return Config{}, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	if err := applyEnv(&cfg, environ); err != nil {
		return Config{}, err
	}
	cfg.fillDerived()
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// fillDerived sets the defaults that depend on other keys.
func (c *Config) fillDerived() {
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	if c.Listen == "" {
		port := "8080"
		if u, err := url.Parse(c.Issuer); err == nil && u.Port() != "" {
			port = u.Port()
		}
		c.Listen = ":" + port
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite:" + filepath.Join(c.DataDir, "tollgate.db")
	}
	if c.PicturesURL == "" {
		c.PicturesURL = defaultPicturesURL(c.DataDir)
	}
	c.fillUpstreams()
}

// EmbeddedDatabase reports whether the configuration runs on a SQLite file.
func (c Config) EmbeddedDatabase() bool { return strings.HasPrefix(c.DatabaseURL, "sqlite:") }

// Validate reports every invalid key at once, each naming the key, the value
// and what is expected.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, value any, want string) {
		errs = append(errs, fmt.Errorf("%s=%q: %s", key, fmt.Sprint(value), want))
	}
	if u, err := url.Parse(c.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		bad("issuer", c.Issuer, "want an absolute http(s) URL without query or fragment")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", c.Listen, "want host:port, such as :8080")
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			bad("metrics_listen", c.MetricsListen, "want host:port, such as 127.0.0.1:9090")
		}
	}
	switch {
	case strings.HasPrefix(c.DatabaseURL, "postgres://"), strings.HasPrefix(c.DatabaseURL, "postgresql://"):
	case strings.HasPrefix(c.DatabaseURL, "sqlite:") && len(c.DatabaseURL) > len("sqlite:"):
	default:
		bad("database_url", redact(c.DatabaseURL), "want postgres://… or sqlite:PATH")
	}
	if u, err := url.Parse(c.PicturesURL); err != nil || (u.Scheme != "file" && u.Scheme != "s3" && u.Scheme != "mem") {
		bad("pictures_url", redact(c.PicturesURL), "want file:///dir, s3://bucket?region=… or mem://")
	}
	if c.OTLPEndpoint != "" {
		if u, err := url.Parse(c.OTLPEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("otlp_endpoint", redact(c.OTLPEndpoint), "want an http(s) URL such as http://collector:4318")
		}
	}
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			bad("redis_url", redact(c.RedisURL), "want redis://host:port/db or rediss://…")
		}
	}
	if c.Secret != "" && len(c.Secret) < 32 {
		bad("secret", "(hidden)", "want at least 32 characters")
	}
	if c.ShutdownDelay < 0 {
		bad("shutdown_delay", time.Duration(c.ShutdownDelay), "want a duration ≥ 0")
	}
	if c.ShutdownTimeout <= 0 {
		bad("shutdown_timeout", time.Duration(c.ShutdownTimeout), "want a positive duration")
	}
	if c.KeyRotationInterval < 0 {
		bad("key_rotation_interval", time.Duration(c.KeyRotationInterval), "want a duration ≥ 0 (0 rotates only on demand)")
	}
	if c.JanitorInterval < 0 {
		bad("janitor_interval", time.Duration(c.JanitorInterval), "want a duration ≥ 0 (0 turns the janitor off)")
	}
	if c.AuditRetention != 0 && c.AuditRetention < Duration(time.Hour) {
		bad("audit_retention", time.Duration(c.AuditRetention), "want 0 (keep forever) or at least 1h")
	}
	if c.AdminToken != "" && len(c.AdminToken) < 32 {
		bad("admin_token", "(hidden)", "want at least 32 characters")
	}
	if t := c.Registration.InitialAccessToken; t != "" && len(t) < 32 {
		bad("registration.initial_access_token", "(hidden)", "want at least 32 characters")
	}
	if c.AccessTokenSigningAlg != "RS256" && c.AccessTokenSigningAlg != "ES256" {
		bad("access_token_signing_alg", c.AccessTokenSigningAlg, "want RS256 or ES256")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", c.LogLevel, "want debug, info, warn or error")
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"access_token_lifetime", c.AccessTokenLifetime},
		{"id_token_lifetime", c.IDTokenLifetime},
		{"refresh_token_lifetime", c.RefreshTokenLifetime},
		{"code_lifetime", c.CodeLifetime},
		{"session_lifetime", c.SessionLifetime},
	} {
		if d.v <= 0 {
			bad(d.key, time.Duration(d.v), "want a positive duration")
		}
	}
	switch c.SMTPTLS {
	case "", "starttls", "tls", "none":
	default:
		bad("smtp_tls", c.SMTPTLS, "want starttls, tls or none")
	}
	if c.SMTPPort < 0 || c.SMTPPort > 65535 {
		bad("smtp_port", c.SMTPPort, "want a port number")
	}
	if c.PasswordMinLength < 8 || c.PasswordMinLength > 128 {
		bad("password_min_length", c.PasswordMinLength, "want 8 to 128 (NIST SP 800-63B: at least 8)")
	}
	if c.PasswordMinStrength < 0 || c.PasswordMinStrength > 4 {
		bad("password_min_strength", c.PasswordMinStrength, "want a zxcvbn score from 0 to 4")
	}
	if c.Argon2MemoryKiB < 19*1024 {
		bad("argon2_memory_kib", c.Argon2MemoryKiB, "want at least 19456 (19 MiB)")
	}
	if c.Argon2Iterations < 2 {
		bad("argon2_iterations", c.Argon2Iterations, "want at least 2")
	}
	if c.Argon2Parallelism < 1 {
		bad("argon2_parallelism", c.Argon2Parallelism, "want at least 1")
	}
	c.validateUpstreams(bad)
	errs = append(errs, c.validateOps()...)
	return errors.Join(errs...)
}

// redact hides the password of a URL quoted in an error message; a value
// that does not even parse is not quoted at all.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// SigningAlgorithms lists the algorithms Tollgate keeps signing keys for:
// RS256 for ID tokens, and the access tokens' algorithm.
func (c Config) SigningAlgorithms() []string {
	if c.AccessTokenSigningAlg == "" || c.AccessTokenSigningAlg == "RS256" {
		return []string{"RS256"}
	}
	return []string{"RS256", c.AccessTokenSigningAlg}
}

// PasswordPolicy is the policy new passwords must pass.
func (c Config) PasswordPolicy() passwords.Policy {
	return passwords.Policy{
		MinLength: c.PasswordMinLength, MaxLength: 128, MinStrength: c.PasswordMinStrength,
		RequireUpper: c.PasswordRequireUpper, RequireLower: c.PasswordRequireLower,
		RequireDigit: c.PasswordRequireDigit, RequireSymbol: c.PasswordRequireSymbol,
	}
}
