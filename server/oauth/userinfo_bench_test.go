package oauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/tollgate/tollgate/cputime"
	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/oauthstore"
	"github.com/tollgate/tollgate/storage/testbackend"
	"github.com/tollgate/tollgate/storage/usercache"
)

// BenchmarkUserinfo serves userinfo for one stored access token on
// PostgreSQL with Redis, as a replica under load does: the token's verification and
// record are cached after the first call, and so is the user; the
// revocation check is not.
// cpu-ns/op is the CPU of the whole process (handler and database client)
// per call; the database server's own CPU is not in it.
func BenchmarkUserinfo(b *testing.B) {
	ctx := context.Background()
	store := testbackend.PostgresRedis(b)
	h, token := userinfoFixture(b, store)
	b.ReportAllocs()
	b.ResetTimer()
	reportCPU := cputime.ReportPerOp(b)
	for b.Loop() {
		r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/userinfo", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.userinfo(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("userinfo: %d %s", w.Code, w.Body)
		}
	}
	reportCPU()
}

// userinfoFixture wires a Handler over store as server.New does, and
// issues an access token with the openid and profile scopes to a user.
func userinfoFixture(b *testing.B, store storage.Store) (*Handler, string) {
	ctx := context.Background()
	const issuer = "http://issuer.example"
	keys, err := keyring.New(store, []byte("bench-system-secret-0123456789-abcdefghij"))
	if err != nil {
		b.Fatal(err)
	}
	if err := keys.Ensure(ctx); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	if err := store.CreateClient(ctx, storage.Client{
		ID: "rp", Name: "RP", RedirectURIs: []string{"https://rp.example/cb"},
		GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid", "profile"}, CreatedAt: now, UpdatedAt: now,
	}); err != nil {
		b.Fatal(err)
	}
	user := storage.User{ID: "u1", Email: "ada@example.com", Name: "Ada", CreatedAt: now, UpdatedAt: now}
	if err := store.CreateUser(ctx, user); err != nil {
		b.Fatal(err)
	}
	tokens := oauthstore.New(store)
	provider, _, err := NewProvider(ProviderConfig{
		Issuer: issuer, AccessTokenLifetime: time.Hour, IDTokenLifetime: time.Hour,
		RefreshTokenLifetime: time.Hour, CodeLifetime: time.Minute,
		Secret: []byte("bench-system-secret-0123456789-abcdefghij"),
	}, tokens, keys)
	if err != nil {
		b.Fatal(err)
	}
	client, err := tokens.GetClient(ctx, "rp")
	if err != nil {
		b.Fatal(err)
	}
	sess := NewSession()
	sess.Subject = user.ID
	sess.SetExpiresAt(fosite.AccessToken, now.Add(time.Hour))
	req := fosite.NewAccessRequest(sess)
	req.Client = client
	req.GrantScope("openid")
	req.GrantScope("profile")
	strategy := accessTokenStrategy{DefaultJWTStrategy: &oauth2.DefaultJWTStrategy{
		Signer: signer{keys: keys, alg: keyring.RS256},
		Config: &fosite.Config{AccessTokenIssuer: issuer},
	}}
	token, signature, err := strategy.GenerateAccessToken(ctx, req)
	if err != nil {
		b.Fatal(err)
	}
	if err := tokens.CreateAccessTokenSession(ctx, signature, req); err != nil {
		b.Fatal(err)
	}
	users := usercache.Wrap(store)
	return &Handler{Issuer: issuer, Provider: provider, Store: users, Users: users}, token
}
