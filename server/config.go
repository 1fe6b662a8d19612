package server

import (
	"cmp"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/mailer"
	"github.com/tollgate/tollgate/passwords"
	"github.com/tollgate/tollgate/server/upstream"
)

// Config is the runtime configuration of the HTTP server: plain values that
// tests build directly, derived once from the file format in package config.
type Config struct {
	Issuer               string
	AccessTokenLifetime  time.Duration
	IDTokenLifetime      time.Duration
	RefreshTokenLifetime time.Duration
	CodeLifetime         time.Duration
	SessionLifetime      time.Duration
	// Secret is the system secret (at least 32 bytes); token HMACs and cookie
	// keys are derived from it.
	Secret    []byte
	Passwords *passwords.Hasher
	Logger    *slog.Logger
	// Mailer delivers account email; without one, sign-up is off.
	Mailer mailer.Sender
	// SignupEnabled offers the sign-up page (and prompt=create).
	SignupEnabled bool
	// RequireVerifiedEmail refuses sign-in until the address is confirmed.
	RequireVerifiedEmail bool
	// PasswordPolicy judges new passwords.
	PasswordPolicy passwords.Policy
	// Tracer receives a span per request; nil traces nothing.
	Tracer trace.TracerProvider
	// AccessTokenAlgorithm signs access tokens: RS256 (default) or ES256.
	AccessTokenAlgorithm string
	// AdminToken, when set, is a bootstrap bearer token for the admin API.
	AdminToken string
	// MFARequired makes every user give a second factor (see package mfa).
	MFARequired bool
	// SeparateMetrics keeps /metrics off the public router; the caller
	// serves MetricsHandler on an address of its own.
	SeparateMetrics bool
	// Upstreams are the OpenID Providers users may sign in with.
	Upstreams []upstream.Config
	// RegistrationEnabled serves dynamic client registration (RFC 7591)
	// at /oauth2/register; RegistrationToken, when set, is the initial
	// access token it requires (empty: open registration).
	RegistrationEnabled bool
	RegistrationToken   string
	// TrustedProxies are the networks whose X-Forwarded-For names the
	// client address (throttling, logs); empty trusts none.
	TrustedProxies []netip.Prefix
	// ClockSkewLeeway is how far in the future a token's iat or nbf may be
	// (0: oauth.DefaultClockLeeway; negative: none). exp gets none.
	ClockSkewLeeway time.Duration
	// PicturesURL is the gocloud.dev/blob bucket of uploaded profile
	// pictures (file:///dir?create_dir=1, s3://bucket?region=…, mem://);
	// empty keeps them in memory.
	PicturesURL string
	// Now is the server's clock for token times, browser sessions and the
	// account page (nil: time.Now); tests give replicas skewed clocks, or
	// move a server's clock forward, with it.
	Now func() time.Time
}

// FromConfig derives the runtime configuration from the file format.
func FromConfig(c config.Config, secret []byte, hasher *passwords.Hasher, logger *slog.Logger) Config {
	return Config{
		Issuer:               strings.TrimRight(c.Issuer, "/"),
		AccessTokenLifetime:  time.Duration(c.AccessTokenLifetime),
		IDTokenLifetime:      time.Duration(c.IDTokenLifetime),
		RefreshTokenLifetime: time.Duration(c.RefreshTokenLifetime),
		CodeLifetime:         time.Duration(c.CodeLifetime),
		SessionLifetime:      time.Duration(c.SessionLifetime),
		Secret:               secret,
		Passwords:            hasher,
		Logger:               logger,
		SeparateMetrics:      c.MetricsListen != "",
		AdminToken:           c.AdminToken,
		SignupEnabled:        c.SignupEnabled,
		RequireVerifiedEmail: c.RequireVerifiedEmail,
		PasswordPolicy:       c.PasswordPolicy(),
		AccessTokenAlgorithm: c.AccessTokenSigningAlg,
		MFARequired:          c.MFARequired,
		Upstreams:            upstreams(c.Upstreams),
		RegistrationEnabled:  c.Registration.Enabled,
		RegistrationToken:    c.Registration.InitialAccessToken,
		TrustedProxies:       c.TrustedProxies,
		ClockSkewLeeway:      cmp.Or(time.Duration(c.ClockSkewLeeway), -1), // 0 in the file means none
		PicturesURL:          c.PicturesURL,
	}
}

// upstreams converts the configured upstreams (presets already applied).
func upstreams(in []config.Upstream) []upstream.Config {
	var out []upstream.Config
	for _, u := range in {
		out = append(out, upstream.Config{
			ID: u.ID, Name: u.Name, Issuer: u.Issuer, ClientID: u.ClientID, ClientSecret: u.ClientSecret,
			Scopes: u.Scopes, Claims: u.Claims, TrustedEmail: u.TrustedEmail,
		})
	}
	return out
}
