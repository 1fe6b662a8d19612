package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/tollgate/tollgate/storage"
)

func newAuditEvent(id string, at time.Time, typ, user, client string) storage.AuditEvent {
	return storage.AuditEvent{
		ID: id, Time: at, Type: typ, Actor: "user:" + user, UserID: user, ClientID: client,
		IP: "192.0.2.1", UserAgent: "test/1.0", RequestID: "req-" + id, Outcome: "success",
		Details: map[string]string{"grant_type": "authorization_code"},
	}
}

func ids(events []storage.AuditEvent) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

// testAuditAppendQuery: events read back whole, newest first, filtered by
// user, client, type and time range.
func testAuditAppendQuery(t *testing.T, s storage.Store) {
	ctx := t.Context()
	base := now().Add(-time.Hour)
	a := newAuditEvent("a", base, "signin.succeeded", "u1", "c1")
	b := newAuditEvent("b", base.Add(time.Minute), "token.issued", "u1", "c2")
	c := newAuditEvent("c", base.Add(2*time.Minute), "signin.failed", "u2", "")
	c.Outcome, c.Reason, c.Details = "failure", "bad_password", nil
	mustNil(t, "append one", s.AppendAuditEvents(ctx, a))
	mustNil(t, "append two", s.AppendAuditEvents(ctx, b, c))
	mustNil(t, "append none", s.AppendAuditEvents(ctx))
	mustIs(t, "append a taken ID", s.AppendAuditEvents(ctx, a), storage.ErrAlreadyExists)

	all, err := s.QueryAuditEvents(ctx, storage.AuditQuery{Limit: 10})
	mustNil(t, "query all", err)
	equal(t, "query all", all, []storage.AuditEvent{c, b, a})
	for _, tc := range []struct {
		name string
		q    storage.AuditQuery
		want []string
	}{
		{"by user", storage.AuditQuery{UserID: "u1", Limit: 10}, []string{"b", "a"}},
		{"by client", storage.AuditQuery{ClientID: "c1", Limit: 10}, []string{"a"}},
		{"by type", storage.AuditQuery{Type: "signin.failed", Limit: 10}, []string{"c"}},
		{"by type prefix", storage.AuditQuery{Type: "signin.*", Limit: 10}, []string{"c", "a"}},
		{"a prefix is not a substring", storage.AuditQuery{Type: "signin.fail*", Limit: 10}, nil},
		{"underscores are literal", storage.AuditQuery{Type: "token_*", Limit: 10}, nil},
		{"since (inclusive)", storage.AuditQuery{Since: b.Time, Limit: 10}, []string{"c", "b"}},
		{"until (exclusive)", storage.AuditQuery{Until: b.Time, Limit: 10}, []string{"a"}},
		{"user and range", storage.AuditQuery{UserID: "u1", Since: base, Until: c.Time, Limit: 10}, []string{"b", "a"}},
		{"nothing", storage.AuditQuery{UserID: "nobody", Limit: 10}, nil},
	} {
		got, err := s.QueryAuditEvents(ctx, tc.q)
		mustNil(t, tc.name, err)
		equal(t, tc.name, ids(got), tc.want)
	}
	if _, err := s.QueryAuditEvents(ctx, storage.AuditQuery{}); err == nil {
		t.Fatal("a query without a limit was accepted")
	}
}

// testAuditPages: keyset pages cover every event exactly once, events of
// the same instant included, and events appended meanwhile at the head do
// not shift later pages.
func testAuditPages(t *testing.T, s storage.Store) {
	ctx := t.Context()
	base := now().Add(-time.Hour)
	var want []string
	for i := range 7 {
		at := base.Add(time.Duration(i/2) * time.Second) // pairs share an instant
		id := fmt.Sprintf("e%02d", i)
		mustNil(t, "append", s.AppendAuditEvents(ctx, newAuditEvent(id, at, "token.issued", "u", "c")))
		want = append([]string{id}, want...)
	}
	var got []string
	q := storage.AuditQuery{Limit: 3}
	for page := 0; ; page++ {
		events, err := s.QueryAuditEvents(ctx, q)
		mustNil(t, "page", err)
		got = append(got, ids(events)...)
		if page == 0 {
			mustNil(t, "append at the head", s.AppendAuditEvents(ctx, newAuditEvent("late", now(), "token.issued", "u", "c")))
		}
		if len(events) < q.Limit {
			break
		}
		last := events[len(events)-1]
		q.After = &storage.AuditCursor{Time: last.Time, ID: last.ID}
	}
	equal(t, "pages", got, want)
}

// testDeleteOldAuditEvents: the oldest go first, in bounded batches.
func testDeleteOldAuditEvents(t *testing.T, s storage.Store) {
	ctx := t.Context()
	cutoff := now().Add(-24 * time.Hour)
	for i := range 3 {
		mustNil(t, "append old", s.AppendAuditEvents(ctx, newAuditEvent(unique("old"), cutoff.Add(-time.Duration(i+1)*time.Hour), "signin.succeeded", "u", "")))
	}
	recent := newAuditEvent(unique("recent"), now(), "signin.succeeded", "u", "")
	mustNil(t, "append recent", s.AppendAuditEvents(ctx, recent))
	for _, want := range []int{2, 1, 0} {
		n, err := s.DeleteAuditEventsBefore(ctx, cutoff, 2)
		mustNil(t, "delete old events", err)
		if n != want {
			t.Fatalf("delete old events (limit 2): deleted %d, want %d", n, want)
		}
	}
	left, err := s.QueryAuditEvents(ctx, storage.AuditQuery{Limit: 10})
	mustNil(t, "query", err)
	equal(t, "what is left", ids(left), []string{recent.ID})
	if _, err := s.DeleteAuditEventsBefore(ctx, cutoff, 0); err == nil {
		t.Fatal("a limit of 0 was accepted")
	}
}

// testUserActivity: live sessions newest first, consents by client, and
// revoking one client's grants leaves the user's other grants alone.
func testUserActivity(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustNil(t, "create user", s.CreateUser(ctx, newUser("user-l", "l@example.com")))
	mustNil(t, "create other user", s.CreateUser(ctx, newUser("user-m", "m@example.com")))
	for _, id := range []string{"client-b", "client-a"} {
		mustNil(t, "create "+id, s.CreateClient(ctx, newClient(id)))
	}
	older := newSession("session-older", "user-l", now().Add(time.Hour))
	older.CreatedAt = now().Add(-time.Minute)
	newer := newSession("session-newer", "user-l", now().Add(time.Hour))
	expired := newSession("session-expired", "user-l", now().Add(-time.Second))
	other := newSession("session-other", "user-m", now().Add(time.Hour))
	for _, sess := range []storage.Session{older, newer, expired, other} {
		mustNil(t, "create "+sess.ID, s.CreateSession(ctx, sess))
	}
	sessions, err := s.ListUserSessions(ctx, "user-l")
	mustNil(t, "list sessions", err)
	equal(t, "list sessions", sessions, []storage.Session{newer, older})
	none, err := s.ListUserSessions(ctx, "nobody")
	mustNil(t, "list sessions of nobody", err)
	equal(t, "list sessions of nobody", len(none), 0)

	for _, c := range []string{"client-b", "client-a"} {
		mustNil(t, "save consent", s.SaveConsent(ctx, storage.Consent{UserID: "user-l", ClientID: c, Scopes: []string{"openid"}, CreatedAt: now(), UpdatedAt: now()}))
	}
	consents, err := s.ListUserConsents(ctx, "user-l")
	mustNil(t, "list consents", err)
	if len(consents) != 2 || consents[0].ClientID != "client-a" || consents[1].ClientID != "client-b" || consents[0].Scopes[0] != "openid" {
		t.Fatalf("list consents: %+v", consents)
	}

	mine := newToken(storage.KindAccessToken, unique("sig"), "r1", "user-l")
	mine.ClientID = "client-a"
	otherClient := newToken(storage.KindAccessToken, unique("sig"), "r2", "user-l")
	otherClient.ClientID = "client-b"
	otherUser := newToken(storage.KindAccessToken, unique("sig"), "r3", "user-m")
	otherUser.ClientID = "client-a"
	refresh := newToken(storage.KindRefreshToken, unique("sig"), "r1", "user-l")
	refresh.ClientID = "client-a"
	for _, tok := range []storage.Token{mine, otherClient, otherUser, refresh} {
		mustNil(t, "create token", s.CreateToken(ctx, tok))
	}
	mustNil(t, "revoke client grants", storage.RevokeClientGrants(ctx, s, "user-l", "client-a"))
	if revoked, err := s.IsRevoked(ctx, mine.JTI); err != nil || !revoked {
		t.Fatalf("the client's access token is not revoked: %v %v", revoked, err)
	}
	_, err = s.GetToken(ctx, storage.KindRefreshToken, refresh.Signature)
	mustIs(t, "the client's refresh token", err, storage.ErrNotFound)
	for _, kept := range []storage.Token{otherClient, otherUser} {
		_, err := s.GetToken(ctx, kept.Kind, kept.Signature)
		mustNil(t, "another grant survives", err)
	}
	_, err = s.GetConsent(ctx, "user-l", "client-a")
	mustIs(t, "the revoked consent", err, storage.ErrNotFound)
	_, err = s.GetConsent(ctx, "user-l", "client-b")
	mustNil(t, "the other consent", err)
	mustIs(t, "revoke again", storage.RevokeClientGrants(ctx, s, "user-l", "client-a"), storage.ErrNotFound)
}
