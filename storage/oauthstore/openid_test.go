package oauthstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// The OpenID request of a code is stored under a hash of the code: a copy
// of the database holds no code that could be redeemed. A request stored
// under the code itself (by the previous release, during an upgrade) is
// still found and deleted.
func TestOpenIDSessionKeyedByHash(t *testing.T) {
	ctx := context.Background()
	for name, open := range map[string]func(testing.TB) storage.Store{
		"sqlite": testbackend.SQLite, "postgres+redis": testbackend.PostgresRedis,
	} {
		t.Run(name, func(t *testing.T) {
			backend := open(t)
			s, client := withClient(t, backend)
			now := time.Now()
			request := func() *fosite.Request {
				r := fosite.NewRequest()
				r.Client = client
				r.Session = newTestSession()
				r.Session.SetExpiresAt(fosite.AuthorizeCode, now.Add(time.Minute))
				return r
			}
			const code = "ory_ac_the-code-itself.its-signature"
			if err := s.CreateOpenIDConnectSession(ctx, code, request()); err != nil {
				t.Fatal(err)
			}
			if _, err := backend.GetToken(ctx, storage.KindOpenIDSession, code); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("the code is a key in the database: %v", err)
			}
			if _, err := s.GetOpenIDConnectSession(ctx, code, request()); err != nil {
				t.Fatalf("get by code: %v", err)
			}
			if err := s.DeleteOpenIDConnectSession(ctx, code); err != nil {
				t.Fatal(err)
			}
			if _, err := s.GetOpenIDConnectSession(ctx, code, request()); !errors.Is(err, fosite.ErrNotFound) {
				t.Fatalf("after delete: %v", err)
			}

			// As the previous release stored it.
			const legacy = "ory_ac_stored-by-the-previous-release.sig"
			if err := s.create(ctx, storage.KindOpenIDSession, legacy, request()); err != nil {
				t.Fatal(err)
			}
			if _, err := s.GetOpenIDConnectSession(ctx, legacy, request()); err != nil {
				t.Fatalf("a request stored under the code: %v", err)
			}
			if err := s.DeleteOpenIDConnectSession(ctx, legacy); err != nil {
				t.Fatal(err)
			}
			if _, err := backend.GetToken(ctx, storage.KindOpenIDSession, legacy); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("the legacy record after delete: %v", err)
			}
		})
	}
}
