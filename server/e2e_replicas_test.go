package server_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/passwords"
	"github.com/tollgate/tollgate/server"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/sqlstore"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// replicaSecret is every replica's system secret (as newEnvWith's).
var replicaSecret = []byte("test-system-secret-0123456789-abcdefghijkl")

// replicaSetup configures replica i: its keyring options and its server
// configuration.
type replicaSetup func(i int) ([]keyring.Option, func(*server.Config))

// startReplicas starts n Tollgate servers on one fresh PostgreSQL database,
// as n stateless replicas behind a load balancer are: one issuer (the first
// replica's URL), but each its own connection pool, keyring and caches. The
// test clients and user are stored once. Each replica comes back as an env
// whose issuer is the replica's own URL, for the helpers that call it.
func startReplicas(t *testing.T, n int, setup replicaSetup) []*env {
	t.Helper()
	ctx := context.Background()
	dsn := testbackend.PostgresURL(t)
	listeners := make([]*httptest.Server, n)
	for i := range listeners {
		listeners[i] = httptest.NewUnstartedServer(nil)
	}
	issuer := "http://" + listeners[0].Listener.Addr().String()
	hasher := newHasher(t)
	envs := make([]*env, n)
	for i := range n {
		store, err := sqlstore.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		var keyOpts []keyring.Option
		var cfgOpt func(*server.Config)
		if setup != nil {
			keyOpts, cfgOpt = setup(i)
		}
		keys, err := keyring.New(store, replicaSecret, append([]keyring.Option{keyring.WithAlgorithms(keyring.RS256)}, keyOpts...)...)
		if err != nil {
			t.Fatal(err)
		}
		if err := keys.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		logs := &strings.Builder{}
		cfg := server.Config{
			Issuer: issuer, AccessTokenLifetime: time.Hour, IDTokenLifetime: time.Hour,
			RefreshTokenLifetime: 24 * time.Hour, CodeLifetime: time.Minute, SessionLifetime: time.Hour,
			Secret: replicaSecret, AdminToken: adminToken, AccessTokenAlgorithm: keyring.RS256,
			Passwords: hasher, Logger: slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, nil)),
		}
		if cfgOpt != nil {
			cfgOpt(&cfg)
		}
		srv, err := server.New(cfg, store, keys)
		if err != nil {
			t.Fatal(err)
		}
		ts := listeners[i]
		ts.Config.Handler = srv
		ts.Start()
		t.Cleanup(ts.Close)
		envs[i] = &env{t: t, issuer: ts.URL, store: store, keys: keys, server: ts, logs: logs, backend: "postgres"}
	}
	envs[0].user = seedClientsAndUser(t, envs[0].store, hasher)
	for _, e := range envs[1:] {
		e.user = envs[0].user
	}
	return envs
}

func newHasher(t *testing.T) *passwords.Hasher {
	t.Helper()
	h, err := passwords.New(fastArgon)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// seedClientsAndUser stores the clients and the user every test server
// starts with: a confidential web app, a public single-page app, and Ada.
func seedClientsAndUser(t *testing.T, store storage.Store, hasher *passwords.Hasher) storage.User {
	t.Helper()
	ctx := context.Background()
	secretHash, err := hasher.Hash(confidentialKey)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, c := range []storage.Client{
		{
			ID: confidentialID, SecretHash: secretHash, Name: "Web App",
			RedirectURIs: []string{callbackURL}, PostLogoutRedirectURIs: []string{postLogoutURL},
			GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials"},
			Scopes:     []string{"openid", "profile", "email", "offline_access", "api:read"},
			WebOrigins: []string{webappOrigin},
			CreatedAt:  now, UpdatedAt: now,
		},
		{
			ID: publicID, Name: "Single Page App", Public: true, SkipConsent: true,
			RedirectURIs: []string{callbackURL}, WebOrigins: []string{spaOrigin},
			GrantTypes: []string{"authorization_code", "refresh_token"},
			Scopes:     []string{"openid", "profile", "email", "offline_access"},
			CreatedAt:  now, UpdatedAt: now,
		},
	} {
		if err := store.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	pwHash, err := hasher.Hash(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	user := storage.User{
		ID: "3f1c1b9e-1111-4a4a-9c9c-000000000001", Email: testEmail, EmailVerified: true,
		Name: "Ada Lovelace", PasswordHash: pwHash, CreatedAt: now, UpdatedAt: now,
	}
	if err := store.CreateUser(ctx, user); err != nil {
		t.Fatal(err)
	}
	return user
}
