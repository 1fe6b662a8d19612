package storagetest

import (
	"testing"
	"time"

	"github.com/tollgate/tollgate/storage"
)

func newIdentity(id, userID, issuer, subject string) storage.Identity {
	n := now()
	return storage.Identity{
		ID: id, UserID: userID, Upstream: "google", Issuer: issuer, Subject: subject,
		Email: subject + "@example.com", CreatedAt: n, LastUsedAt: n,
	}
}

func testIdentity(t *testing.T, s storage.Store) {
	ctx := t.Context()
	u1, u2 := unique("user-i"), unique("user-j")
	mustNil(t, "create user", s.CreateUser(ctx, newUser(u1, u1+"@example.com")))
	mustNil(t, "create user 2", s.CreateUser(ctx, newUser(u2, u2+"@example.com")))
	a := newIdentity(unique("id-a"), u1, "https://accounts.google.com", "1001")
	b := newIdentity(unique("id-b"), u1, "https://idp.example", "1001")
	b.CreatedAt = a.CreatedAt.Add(time.Second)
	c := newIdentity(unique("id-c"), u2, "https://accounts.google.com", "2002")

	_, err := s.GetIdentity(ctx, a.Issuer, a.Subject)
	mustIs(t, "get before create", err, storage.ErrNotFound)
	for _, i := range []storage.Identity{a, b, c} {
		mustNil(t, "create "+i.ID, s.CreateIdentity(ctx, i))
	}
	// The same upstream account cannot be linked twice, to anyone.
	dup := newIdentity(unique("id-dup"), u2, a.Issuer, a.Subject)
	mustIs(t, "create same issuer and subject", s.CreateIdentity(ctx, dup), storage.ErrAlreadyExists)
	mustIs(t, "create for a missing user", s.CreateIdentity(ctx, newIdentity(unique("id-x"), "nobody", "https://x.example", "1")), storage.ErrNotFound)

	got, err := s.GetIdentity(ctx, a.Issuer, a.Subject)
	mustNil(t, "get a", err)
	equal(t, "get a", got, a)
	_, err = s.GetIdentity(ctx, b.Issuer, "2002")
	mustIs(t, "get another subject at the issuer", err, storage.ErrNotFound)

	list, err := s.ListUserIdentities(ctx, u1)
	mustNil(t, "list", err)
	equal(t, "list", list, []storage.Identity{a, b})

	later := now().Add(time.Minute)
	mustNil(t, "touch", s.TouchIdentity(ctx, a.ID, later))
	got, err = s.GetIdentity(ctx, a.Issuer, a.Subject)
	mustNil(t, "get touched", err)
	a.LastUsedAt = later
	equal(t, "get touched", got, a)

	mustIs(t, "delete another user's identity", s.DeleteIdentity(ctx, u2, a.ID), storage.ErrNotFound)
	mustNil(t, "delete a", s.DeleteIdentity(ctx, u1, a.ID))
	mustIs(t, "delete a again", s.DeleteIdentity(ctx, u1, a.ID), storage.ErrNotFound)
	list, err = s.ListUserIdentities(ctx, u1)
	mustNil(t, "list after delete", err)
	equal(t, "list after delete", list, []storage.Identity{b})

	// Deleting the user deletes its identities.
	mustNil(t, "delete user 2", s.DeleteUser(ctx, u2))
	_, err = s.GetIdentity(ctx, c.Issuer, c.Subject)
	mustIs(t, "get identity of a deleted user", err, storage.ErrNotFound)
}
