package storagetest

import (
	"testing"

	"github.com/tollgate/tollgate/storage"
)

// testRegistrationToken: a dynamically registered client keeps the hash of
// its registration access token through reads, lists and updates.
func testRegistrationToken(t *testing.T, s storage.Store) {
	ctx := t.Context()
	c := newClient(unique("dcr"))
	c.RegistrationTokenHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	mustNil(t, "create", s.CreateClient(ctx, c))
	got, err := s.GetClient(ctx, c.ID)
	mustNil(t, "get", err)
	equal(t, "get", got, c)

	mustNil(t, "update", s.UpdateClient(ctx, c.ID, func(cur storage.Client) (storage.Client, error) {
		cur.RegistrationTokenHash = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
		return cur, nil
	}))
	got, err = s.GetClient(ctx, c.ID)
	mustNil(t, "get after update", err)
	if got.RegistrationTokenHash != "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752" {
		t.Fatalf("registration token hash after update = %q", got.RegistrationTokenHash)
	}

	plain := newClient(unique("plain"))
	mustNil(t, "create plain", s.CreateClient(ctx, plain))
	got, err = s.GetClient(ctx, plain.ID)
	mustNil(t, "get plain", err)
	if got.RegistrationTokenHash != "" {
		t.Fatalf("a client created without a registration token has %q", got.RegistrationTokenHash)
	}
}

// testUserRoles: roles survive a round trip and an update, and a user
// created without any has none.
func testUserRoles(t *testing.T, s storage.Store) {
	ctx := t.Context()
	admin := newUser(unique("admin"), unique("admin")+"@example.com")
	admin.Roles = []string{"admin"}
	plain := newUser(unique("user"), unique("user")+"@example.com")
	mustNil(t, "create admin", s.CreateUser(ctx, admin))
	mustNil(t, "create user", s.CreateUser(ctx, plain))

	got, err := s.GetUser(ctx, admin.ID)
	mustNil(t, "get admin", err)
	equal(t, "get admin", got, admin)
	got, err = s.GetUser(ctx, plain.ID)
	mustNil(t, "get user", err)
	if len(got.Roles) != 0 {
		t.Fatalf("user created without roles has %v", got.Roles)
	}

	mustNil(t, "grant", s.UpdateUser(ctx, plain.ID, func(u storage.User) (storage.User, error) {
		u.Roles = append(u.Roles, "admin")
		return u, nil
	}))
	mustNil(t, "revoke", s.UpdateUser(ctx, admin.ID, func(u storage.User) (storage.User, error) {
		u.Roles = nil
		return u, nil
	}))
	list, err := s.SearchUsers(ctx, storage.UserQuery{Limit: 100})
	mustNil(t, "list", err)
	roles := map[string][]string{}
	for _, u := range list {
		roles[u.ID] = u.Roles
	}
	if len(roles[admin.ID]) != 0 || len(roles[plain.ID]) != 1 || roles[plain.ID][0] != "admin" {
		t.Fatalf("roles after update: admin %v, user %v", roles[admin.ID], roles[plain.ID])
	}
}
