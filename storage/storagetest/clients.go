package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/tollgate/tollgate/storage"
)

var errAbort = errors.New("storagetest: update aborted")

func newClient(id string) storage.Client {
	n := now()
	return storage.Client{
		ID:                     id,
		SecretHash:             "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		Name:                   "Client " + id,
		RedirectURIs:           []string{"https://app.example/callback", "https://app.example/cb2"},
		PostLogoutRedirectURIs: []string{"https://app.example/bye"},
		GrantTypes:             []string{"authorization_code", "refresh_token"},
		ResponseTypes:          []string{"code"},
		Scopes:                 []string{"openid", "profile", "email"},
		Audience:               []string{"https://api.example"},
		WebOrigins:             []string{"https://app.example", "http://localhost:5173"},
		SkipConsent:            true,
		CreatedAt:              n,
		UpdatedAt:              n.Add(time.Second),
	}
}

func testClientCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a := newClient("client-a")
	b := newClient("client-b")
	b.SecretHash, b.Public, b.SkipConsent = "", true, false
	b.RequireMFA = true // round-trips (migration 4)
	b.PostLogoutRedirectURIs, b.Audience, b.WebOrigins = nil, nil, nil

	_, err := s.GetClient(ctx, a.ID)
	mustIs(t, "get before create", err, storage.ErrNotFound)
	mustNil(t, "create a", s.CreateClient(ctx, a))
	mustNil(t, "create b", s.CreateClient(ctx, b))

	dup := newClient(a.ID)
	dup.Name = "impostor"
	mustIs(t, "create duplicate", s.CreateClient(ctx, dup), storage.ErrAlreadyExists)

	got, err := s.GetClient(ctx, a.ID)
	mustNil(t, "get a", err)
	equal(t, "get a", got, a)
	got, err = s.GetClient(ctx, b.ID)
	mustNil(t, "get b", err)
	equal(t, "get b", got, b)

	list, err := s.ListClients(ctx)
	mustNil(t, "list", err)
	equal(t, "list", byID(list, func(c storage.Client) string { return c.ID }), map[string]storage.Client{a.ID: a, b.ID: b})

	mustNil(t, "delete a", s.DeleteClient(ctx, a.ID))
	_, err = s.GetClient(ctx, a.ID)
	mustIs(t, "get deleted", err, storage.ErrNotFound)
	mustIs(t, "delete again", s.DeleteClient(ctx, a.ID), storage.ErrNotFound)
	list, err = s.ListClients(ctx)
	mustNil(t, "list after delete", err)
	equal(t, "list after delete", list, []storage.Client{b})
}

func testClientUpdate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	c := newClient("client-u")
	mustNil(t, "create", s.CreateClient(ctx, c))

	want := c
	want.Name = "Renamed"
	want.RedirectURIs = []string{"https://new.example/cb"}
	want.WebOrigins = []string{"https://new.example"}
	want.Public, want.SecretHash = true, ""
	want.UpdatedAt = now().Add(3 * time.Second)
	err := s.UpdateClient(ctx, c.ID, func(old storage.Client) (storage.Client, error) {
		equal(t, "closure input", old, c)
		old.Name, old.RedirectURIs, old.WebOrigins = want.Name, want.RedirectURIs, want.WebOrigins
		old.Public, old.SecretHash, old.UpdatedAt = want.Public, want.SecretHash, want.UpdatedAt
		return old, nil
	})
	mustNil(t, "update", err)
	got, err := s.GetClient(ctx, c.ID)
	mustNil(t, "get updated", err)
	equal(t, "get updated", got, want)

	err = s.UpdateClient(ctx, c.ID, func(old storage.Client) (storage.Client, error) {
		old.Name = "must not be written"
		return old, errAbort
	})
	mustIs(t, "update with failing closure", err, errAbort)
	got, err = s.GetClient(ctx, c.ID)
	mustNil(t, "get after aborted update", err)
	equal(t, "get after aborted update", got, want)

	called := false
	err = s.UpdateClient(ctx, "no-such-client", func(old storage.Client) (storage.Client, error) {
		called = true
		return old, nil
	})
	mustIs(t, "update missing", err, storage.ErrNotFound)
	if called {
		t.Fatal("update missing: the closure was called")
	}
}

func newUser(id, email string) storage.User {
	n := now()
	return storage.User{
		ID: id, Email: email, EmailVerified: true, Name: "User " + id,
		Picture:      "https://img.example/" + id + ".png",
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$" + id,
		CreatedAt:    n, UpdatedAt: n,
	}
}

func testUserCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a := newUser("user-a", "ada@example.com")
	b := newUser("user-b", "bob@example.com")
	b.EmailVerified, b.PasswordHash, b.Disabled, b.Picture = false, "", true, ""

	_, err := s.GetUser(ctx, a.ID)
	mustIs(t, "get before create", err, storage.ErrNotFound)
	mustNil(t, "create a", s.CreateUser(ctx, a))
	mustNil(t, "create b", s.CreateUser(ctx, b))
	mustIs(t, "create duplicate id", s.CreateUser(ctx, newUser(a.ID, "other@example.com")), storage.ErrAlreadyExists)

	got, err := s.GetUser(ctx, a.ID)
	mustNil(t, "get a", err)
	equal(t, "get a", got, a)
	got, err = s.GetUser(ctx, b.ID)
	mustNil(t, "get b", err)
	equal(t, "get b", got, b)

	list, err := s.SearchUsers(ctx, storage.UserQuery{Limit: 100})
	mustNil(t, "list", err)
	equal(t, "list", byID(list, func(u storage.User) string { return u.ID }), map[string]storage.User{a.ID: a, b.ID: b})

	mustNil(t, "delete a", s.DeleteUser(ctx, a.ID))
	_, err = s.GetUser(ctx, a.ID)
	mustIs(t, "get deleted", err, storage.ErrNotFound)
	_, err = s.GetUserByEmail(ctx, a.Email)
	mustIs(t, "get deleted by email", err, storage.ErrNotFound)
	mustIs(t, "delete again", s.DeleteUser(ctx, a.ID), storage.ErrNotFound)
	mustNil(t, "reuse a deleted user's email", s.CreateUser(ctx, newUser("user-c", a.Email)))
}

func testUserEmail(t *testing.T, s storage.Store) {
	ctx := t.Context()
	u := newUser("user-e", "Ada.Lovelace@Example.COM")
	mustNil(t, "create", s.CreateUser(ctx, u))

	got, err := s.GetUser(ctx, u.ID)
	mustNil(t, "get", err)
	if got.Email != "ada.lovelace@example.com" {
		t.Fatalf("stored email = %q, want it lower-cased", got.Email)
	}
	for _, e := range []string{"ada.lovelace@example.com", "ADA.LOVELACE@EXAMPLE.COM", "Ada.Lovelace@Example.COM"} {
		got, err := s.GetUserByEmail(ctx, e)
		mustNil(t, "get by "+e, err)
		if got.ID != u.ID {
			t.Fatalf("get by %s: got user %q, want %q", e, got.ID, u.ID)
		}
	}
	_, err = s.GetUserByEmail(ctx, "ada@example.com")
	mustIs(t, "get by unknown email", err, storage.ErrNotFound)
	_, err = s.GetUserByEmail(ctx, "")
	mustIs(t, "get by empty email", err, storage.ErrNotFound)

	mustIs(t, "create with the same email in other case",
		s.CreateUser(ctx, newUser("user-f", "ADA.LOVELACE@example.com")), storage.ErrAlreadyExists)
	_, err = s.GetUser(ctx, "user-f")
	mustIs(t, "get the refused user", err, storage.ErrNotFound)

	// Accounts from an upstream that shares no address have none.
	mustNil(t, "create without email", s.CreateUser(ctx, newUser("user-g", "")))
	mustNil(t, "create another without email", s.CreateUser(ctx, newUser("user-h", "")))
}

func testUserUpdate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	u := newUser("user-u", "old@example.com")
	other := newUser("user-o", "taken@example.com")
	mustNil(t, "create", s.CreateUser(ctx, u))
	mustNil(t, "create other", s.CreateUser(ctx, other))

	want := u
	want.Email, want.Name, want.EmailVerified = "new@example.com", "New Name", false
	err := s.UpdateUser(ctx, u.ID, func(old storage.User) (storage.User, error) {
		equal(t, "closure input", old, u)
		old.Email, old.Name, old.EmailVerified = "New@Example.com", want.Name, want.EmailVerified
		return old, nil
	})
	mustNil(t, "update", err)
	got, err := s.GetUser(ctx, u.ID)
	mustNil(t, "get updated", err)
	equal(t, "get updated", got, want)
	got, err = s.GetUserByEmail(ctx, "NEW@example.com")
	mustNil(t, "get by new email", err)
	equal(t, "get by new email", got, want)
	_, err = s.GetUserByEmail(ctx, u.Email)
	mustIs(t, "get by old email", err, storage.ErrNotFound)

	err = s.UpdateUser(ctx, u.ID, func(old storage.User) (storage.User, error) {
		old.Email, old.Name = "Taken@Example.com", "must not be written"
		return old, nil
	})
	mustIs(t, "update to a taken email", err, storage.ErrAlreadyExists)
	err = s.UpdateUser(ctx, u.ID, func(old storage.User) (storage.User, error) {
		old.Disabled = true
		return old, errAbort
	})
	mustIs(t, "update with failing closure", err, errAbort)
	got, err = s.GetUser(ctx, u.ID)
	mustNil(t, "get after refused updates", err)
	equal(t, "get after refused updates", got, want)

	err = s.UpdateUser(ctx, "no-such-user", func(old storage.User) (storage.User, error) {
		t.Error("update missing: the closure was called")
		return old, nil
	})
	mustIs(t, "update missing", err, storage.ErrNotFound)
}

// byID indexes a list, so that comparisons do not depend on its order.
func byID[T any](list []T, id func(T) string) map[string]T {
	m := make(map[string]T, len(list))
	for _, v := range list {
		m[id(v)] = v
	}
	return m
}
