package storagetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tollgate/tollgate/storage"
)

func testUserPreferences(t *testing.T, s storage.Store) {
	ctx := t.Context()
	plain := newUser("user-plain", "plain@example.com")
	withPrefs := newUser("user-prefs", "prefs@example.com")
	// Kept byte for byte: key order, spacing and numbers as written.
	withPrefs.Preferences = json.RawMessage(`{"theme":"dark","locale":"fr-CA","font_scale":1.25}`)
	mustNil(t, "create without preferences", s.CreateUser(ctx, plain))
	mustNil(t, "create with preferences", s.CreateUser(ctx, withPrefs))
	got, err := s.GetUser(ctx, plain.ID)
	mustNil(t, "get without preferences", err)
	equal(t, "get without preferences", got, plain)
	got, err = s.GetUser(ctx, withPrefs.ID)
	mustNil(t, "get with preferences", err)
	equal(t, "get with preferences", got, withPrefs)

	mustNil(t, "update preferences", s.UpdateUser(ctx, plain.ID, func(u storage.User) (storage.User, error) {
		u.Preferences = json.RawMessage(`{"locale":"en-GB"}`)
		return u, nil
	}))
	got, err = s.GetUser(ctx, plain.ID)
	mustNil(t, "get updated", err)
	if string(got.Preferences) != `{"locale":"en-GB"}` {
		t.Fatalf("preferences after update = %s", got.Preferences)
	}
	mustNil(t, "clear preferences", s.UpdateUser(ctx, plain.ID, func(u storage.User) (storage.User, error) {
		u.Preferences = nil
		return u, nil
	}))
	got, err = s.GetUser(ctx, plain.ID)
	mustNil(t, "get cleared", err)
	if got.Preferences != nil {
		t.Fatalf("preferences after clearing = %s, want none", got.Preferences)
	}
}

func testListUserSessions(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustNil(t, "create user", s.CreateUser(ctx, newUser("user-l", "l@example.com")))
	mustNil(t, "create user 2", s.CreateUser(ctx, newUser("user-m", "m@example.com")))
	mustNil(t, "create user 3", s.CreateUser(ctx, newUser("user-n", "n@example.com")))
	older := newSession("session-older", "user-l", now().Add(time.Hour))
	older.CreatedAt = now().Add(-time.Hour)
	older.UserAgent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"
	newer := newSession("session-newer", "user-l", now().Add(time.Hour))
	expired := newSession("session-gone", "user-l", now().Add(-time.Second))
	other := newSession("session-other", "user-m", now().Add(time.Hour))
	for _, sess := range []storage.Session{older, newer, expired, other} {
		mustNil(t, "create "+sess.ID, s.CreateSession(ctx, sess))
	}
	got, err := s.ListUserSessions(ctx, "user-l")
	mustNil(t, "list", err)
	equal(t, "list (live only, newest first)", got, []storage.Session{newer, older})
	got, err = s.ListUserSessions(ctx, "user-n")
	mustNil(t, "list a user without sessions", err)
	if len(got) != 0 {
		t.Fatalf("a user without sessions has %d", len(got))
	}
}

func testDeleteUserSessionsExcept(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustNil(t, "create user", s.CreateUser(ctx, newUser("user-k", "k@example.com")))
	mustNil(t, "create user 2", s.CreateUser(ctx, newUser("user-j", "j@example.com")))
	keep := newSession("session-keep", "user-k", now().Add(time.Hour))
	drop1 := newSession("session-drop-1", "user-k", now().Add(time.Hour))
	drop2 := newSession("session-drop-2", "user-k", now().Add(time.Hour))
	other := newSession("session-j", "user-j", now().Add(time.Hour))
	for _, sess := range []storage.Session{keep, drop1, drop2, other} {
		mustNil(t, "create "+sess.ID, s.CreateSession(ctx, sess))
	}
	n, err := s.DeleteUserSessionsExcept(ctx, "user-k", keep.ID)
	mustNil(t, "delete all but one", err)
	if n != 2 {
		t.Fatalf("deleted %d sessions, want 2", n)
	}
	for _, id := range []string{drop1.ID, drop2.ID} {
		_, err := s.GetSession(ctx, id)
		mustIs(t, "get "+id, err, storage.ErrNotFound)
	}
	for _, sess := range []storage.Session{keep, other} {
		got, err := s.GetSession(ctx, sess.ID)
		mustNil(t, "get kept "+sess.ID, err)
		equal(t, "get kept "+sess.ID, got, sess)
	}
	n, err = s.DeleteUserSessionsExcept(ctx, "user-k", "")
	mustNil(t, "delete all", err)
	if n != 1 {
		t.Fatalf("deleted %d sessions, want 1", n)
	}
	_, err = s.GetSession(ctx, keep.ID)
	mustIs(t, "get after deleting all", err, storage.ErrNotFound)
}

func testDeleteSubjectTokensExcept(t *testing.T, s storage.Store) {
	ctx := t.Context()
	kept := newToken(storage.KindRefreshToken, "rt-keep", "grant-keep", "user-1")
	gone1 := newToken(storage.KindRefreshToken, "rt-gone-1", "grant-b", "user-1")
	gone2 := newToken(storage.KindRefreshToken, "rt-gone-2", "grant-c", "user-1")
	other := newToken(storage.KindRefreshToken, "rt-other", "grant-d", "user-2")
	access := newToken(storage.KindAccessToken, "at-1", "grant-b", "user-1")
	for _, tok := range []storage.Token{kept, gone1, gone2, other, access} {
		mustNil(t, "create "+tokenKey(tok), s.CreateToken(ctx, tok))
	}
	deleted, err := s.DeleteSubjectTokensExcept(ctx, storage.KindRefreshToken, "user-1", "grant-keep")
	mustNil(t, "delete all but one grant", err)
	equal(t, "deleted", sortTokens(deleted), sortTokens([]storage.Token{gone1, gone2}))
	for _, tok := range []storage.Token{kept, other, access} {
		got, err := s.GetToken(ctx, tok.Kind, tok.Signature)
		mustNil(t, "get kept "+tokenKey(tok), err)
		equal(t, "get kept "+tokenKey(tok), got, tok)
	}
	deleted, err = s.DeleteSubjectTokensExcept(ctx, storage.KindRefreshToken, "user-1", "")
	mustNil(t, "delete all", err)
	equal(t, "deleted", deleted, []storage.Token{kept})
}
