package oauth

import (
	"context"
	"testing"
	"time"

	"github.com/ory/fosite/token/jwt"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/passwords"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// Client authentication on the hot path: a secret already verified once.
func BenchmarkClientSecretCompareCached(b *testing.B) {
	h, err := passwords.New(passwords.Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1})
	if err != nil {
		b.Fatal(err)
	}
	sh := newSecretHasher(h)
	secret := []byte("bench-client-secret-0123456789")
	hash, err := sh.Hash(context.Background(), secret)
	if err != nil {
		b.Fatal(err)
	}
	if err := sh.Compare(context.Background(), hash, secret); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := sh.Compare(context.Background(), hash, secret); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Minting an access token: claims, header and one signature with the
// keyring's active key, for each algorithm access tokens can be signed with.
func BenchmarkMintAccessToken(b *testing.B) {
	store := testbackend.SQLite(b)
	keys, err := keyring.New(store, []byte("bench-system-secret-0123456789-abcdefghij"), keyring.WithAlgorithms(keyring.RS256, keyring.ES256))
	if err != nil {
		b.Fatal(err)
	}
	if err := keys.Ensure(context.Background()); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	claims := (&jwt.JWTClaims{
		Subject: "user", Issuer: "http://127.0.0.1", Audience: []string{"client"}, JTI: "0123456789abcdef",
		IssuedAt: now, ExpiresAt: now.Add(time.Hour), Scope: []string{"openid", "profile"},
	}).ToMapClaims()
	header := &jwt.Headers{Extra: map[string]any{"typ": "at+jwt"}}
	for _, alg := range []string{keyring.RS256, keyring.ES256} {
		b.Run(alg, func(b *testing.B) {
			s := signer{keys: keys, alg: alg}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := s.Generate(context.Background(), claims, header); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
