package storagetest

import (
	"testing"
	"time"

	"github.com/tollgate/tollgate/storage"
)

func newSession(id, userID string, expiresAt time.Time) storage.Session {
	n := now()
	return storage.Session{
		ID: id, UserID: userID, AuthTime: n.Add(-time.Minute),
		AMR: []string{"pwd", "otp"}, ExpiresAt: expiresAt, CreatedAt: n,
	}
}

func testSession(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustNil(t, "create user", s.CreateUser(ctx, newUser("user-s", "s@example.com")))
	mustNil(t, "create user 2", s.CreateUser(ctx, newUser("user-t", "t@example.com")))
	a := newSession("session-a", "user-s", now().Add(time.Hour))
	b := newSession("session-b", "user-s", now().Add(time.Hour))
	b.AMR = nil
	c := newSession("session-c", "user-t", now().Add(time.Hour))

	_, err := s.GetSession(ctx, a.ID)
	mustIs(t, "get before create", err, storage.ErrNotFound)
	for _, sess := range []storage.Session{a, b, c} {
		mustNil(t, "create "+sess.ID, s.CreateSession(ctx, sess))
	}
	mustIs(t, "create duplicate", s.CreateSession(ctx, a), storage.ErrAlreadyExists)
	got, err := s.GetSession(ctx, a.ID)
	mustNil(t, "get a", err)
	equal(t, "get a", got, a)
	got, err = s.GetSession(ctx, b.ID)
	mustNil(t, "get b", err)
	equal(t, "get b", got, b)

	mustNil(t, "delete a", s.DeleteSession(ctx, a.ID))
	_, err = s.GetSession(ctx, a.ID)
	mustIs(t, "get deleted", err, storage.ErrNotFound)
	mustIs(t, "delete again", s.DeleteSession(ctx, a.ID), storage.ErrNotFound)

	mustNil(t, "delete user-s sessions", s.DeleteUserSessions(ctx, "user-s"))
	_, err = s.GetSession(ctx, b.ID)
	mustIs(t, "get b after deleting the user's sessions", err, storage.ErrNotFound)
	got, err = s.GetSession(ctx, c.ID)
	mustNil(t, "get another user's session", err)
	equal(t, "get another user's session", got, c)
	mustNil(t, "delete sessions of a user without any", s.DeleteUserSessions(ctx, "user-s"))
}

func testSessionExpiry(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustNil(t, "create user", s.CreateUser(ctx, newUser("user-x", "x@example.com")))
	expired := newSession("session-expired", "user-x", now().Add(-time.Second))
	soon := newSession("session-soon", "user-x", now().Add(1500*time.Millisecond))
	mustNil(t, "create expired", s.CreateSession(ctx, expired))
	mustNil(t, "create soon", s.CreateSession(ctx, soon))

	_, err := s.GetSession(ctx, expired.ID)
	mustIs(t, "get expired", err, storage.ErrNotFound)
	got, err := s.GetSession(ctx, soon.ID)
	mustNil(t, "get before expiry", err)
	equal(t, "get before expiry", got, soon)
	time.Sleep(time.Until(soon.ExpiresAt) + 100*time.Millisecond)
	_, err = s.GetSession(ctx, soon.ID)
	mustIs(t, "get after expiry", err, storage.ErrNotFound)
}

func testConsent(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustNil(t, "create user", s.CreateUser(ctx, newUser("user-c", "c@example.com")))
	mustNil(t, "create client", s.CreateClient(ctx, newClient("client-c")))
	mustNil(t, "create client 2", s.CreateClient(ctx, newClient("client-d")))

	_, err := s.GetConsent(ctx, "user-c", "client-c")
	mustIs(t, "get before save", err, storage.ErrNotFound)

	first := storage.Consent{
		UserID: "user-c", ClientID: "client-c", Scopes: []string{"openid", "email"},
		CreatedAt: now(), UpdatedAt: now(),
	}
	mustNil(t, "save", s.SaveConsent(ctx, first))
	other := storage.Consent{UserID: "user-c", ClientID: "client-d", Scopes: []string{"openid"}, CreatedAt: now(), UpdatedAt: now()}
	mustNil(t, "save for another client", s.SaveConsent(ctx, other))
	got, err := s.GetConsent(ctx, "user-c", "client-c")
	mustNil(t, "get", err)
	equal(t, "get", got, first)

	second := first
	second.Scopes = []string{"openid", "email", "profile"}
	second.UpdatedAt = now().Add(time.Minute)
	mustNil(t, "save again", s.SaveConsent(ctx, second))
	got, err = s.GetConsent(ctx, "user-c", "client-c")
	mustNil(t, "get replaced", err)
	equal(t, "get replaced", got, second)

	mustNil(t, "delete", s.DeleteConsent(ctx, "user-c", "client-c"))
	_, err = s.GetConsent(ctx, "user-c", "client-c")
	mustIs(t, "get deleted", err, storage.ErrNotFound)
	mustIs(t, "delete again", s.DeleteConsent(ctx, "user-c", "client-c"), storage.ErrNotFound)
	got, err = s.GetConsent(ctx, "user-c", "client-d")
	mustNil(t, "get the other client's consent", err)
	equal(t, "get the other client's consent", got, other)
}

func testDeleteExpiredSessions(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustNil(t, "create user", s.CreateUser(ctx, newUser("user-x", "x@example.com")))
	for i := range 3 {
		mustNil(t, "create expired", s.CreateSession(ctx, newSession(unique("old"), "user-x", now().Add(-time.Duration(i+1)*time.Minute))))
	}
	live := newSession(unique("live"), "user-x", now().Add(time.Hour))
	mustNil(t, "create live", s.CreateSession(ctx, live))
	cutoff := now()
	for _, want := range []int{2, 1, 0} {
		n, err := s.DeleteExpiredSessions(ctx, cutoff, 2)
		mustNil(t, "delete expired sessions", err)
		if n != want {
			t.Fatalf("delete expired sessions (limit 2): deleted %d, want %d", n, want)
		}
	}
	got, err := s.GetSession(ctx, live.ID)
	mustNil(t, "get live", err)
	equal(t, "get live", got, live)
	if _, err := s.DeleteExpiredSessions(ctx, cutoff, 0); err == nil {
		t.Fatal("a limit of 0 was accepted")
	}
}
