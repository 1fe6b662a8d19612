package oauth

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/token/jwt"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

func testSigner(tb testing.TB, now *time.Time) signer {
	tb.Helper()
	keys, err := keyring.New(testbackend.SQLite(tb), []byte("test-system-secret-0123456789-abcdefghijkl"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := keys.Ensure(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return signer{keys: keys, alg: keyring.RS256, clock: clock{now: func() time.Time { return *now }, leeway: time.Minute}}
}

// A remembered verification does not outlive the token: exp is judged on
// every call, and a token that does not verify is never remembered.
func TestVerifierJudgesExpiryEveryTime(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	s := testSigner(t, &now)
	v := newVerifier(s)
	token, _, err := s.Generate(ctx, (&jwt.JWTClaims{
		Subject: "c", Issuer: "http://issuer", JTI: "j1", IssuedAt: now, ExpiresAt: now.Add(10 * time.Second),
	}).ToMapClaims(), &jwt.Headers{Extra: map[string]any{"typ": "at+jwt"}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, claims, err := v.verify(ctx, token); err != nil || claims["jti"] != "j1" {
			t.Fatalf("verify: %v %v", claims, err)
		}
	}
	now = now.Add(11 * time.Second)
	if _, _, err := v.verify(ctx, token); err == nil {
		t.Fatal("an expired token verified from the cache")
	}
	if _, _, err := v.verify(ctx, token[:len(token)-4]+"AAAA"); err == nil {
		t.Fatal("a bad signature verified")
	}
	if len(v.tokens) != 1 {
		t.Fatalf("%d tokens remembered, want only the good one", len(v.tokens))
	}
}

// Introspection and userinfo see the same token again and again.
func BenchmarkVerifyAccessTokenCached(b *testing.B) {
	ctx := context.Background()
	now := time.Now()
	s := testSigner(b, &now)
	s.clock.now = nil
	v := newVerifier(s)
	token, _, err := s.Generate(ctx, (&jwt.JWTClaims{
		Subject: "c", Issuer: "http://issuer", JTI: "j1", IssuedAt: now, ExpiresAt: now.Add(time.Hour),
	}).ToMapClaims(), &jwt.Headers{Extra: map[string]any{"typ": "at+jwt"}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := v.verify(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The uncached cost: one RS256 verification and the JSON of the token.
func BenchmarkVerifyAccessTokenUncached(b *testing.B) {
	ctx := context.Background()
	now := time.Now()
	s := testSigner(b, &now)
	s.clock.now = nil
	token, _, err := s.Generate(ctx, (&jwt.JWTClaims{
		Subject: "c", Issuer: "http://issuer", JTI: "j1", IssuedAt: now, ExpiresAt: now.Add(time.Hour),
	}).ToMapClaims(), &jwt.Headers{Extra: map[string]any{"typ": "at+jwt"}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Decode(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Clone copies everything deepcopy would: a change to the clone never shows
// in the original.
func TestSessionCloneIsDeep(t *testing.T) {
	h := &Handler{Issuer: "http://issuer"}
	s := h.newSession(storage.User{ID: "u1", Email: "a@b.c", Name: "Ada", UpdatedAt: time.Now()},
		storage.Session{AuthTime: time.Now(), AMR: []string{"pwd"}}, time.Now(), []string{"openid", "profile", "email"})
	s.AccessClaims.JTI, s.AccessClaims.Scope = "j1", []string{"openid"}
	s.AccessClaims.Extra["client_id"] = "app"
	s.Claims.Extra["nested"] = map[string]any{"list": []any{"a"}}
	s.SetExpiresAt(fosite.AccessToken, time.Now().Add(time.Hour))
	before, _ := json.Marshal(s)
	c := s.Clone().(*Session)
	if got, _ := json.Marshal(c); string(got) != string(before) {
		t.Fatalf("clone differs:\n%s\n%s", got, before)
	}
	c.Subject, c.Username = "other", "other"
	c.Claims.AuthenticationMethodsReferences[0] = "otp"
	c.Claims.Extra["name"] = "Eve"
	c.Claims.Extra["nested"].(map[string]any)["list"].([]any)[0] = "b"
	c.Headers.Extra = map[string]any{"x": 1}
	c.AccessClaims.Scope[0] = "admin"
	c.AccessClaims.Extra["client_id"] = "evil"
	c.SetExpiresAt(fosite.AccessToken, time.Time{})
	if after, _ := json.Marshal(s); string(after) != string(before) {
		t.Fatalf("changing the clone changed the original:\n%s\n%s", after, before)
	}
}
