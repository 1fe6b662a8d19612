package oauthstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/tollgate/tollgate/storage/testbackend"
)

// testSession is a session whose access token has an ID, as Tollgate's.
type testSession struct {
	*openid.DefaultSession
	JTI string `json:"jti"`
}

func (s *testSession) AccessTokenID() string { return s.JTI }
func (s *testSession) Clone() fosite.Session {
	return &testSession{DefaultSession: s.DefaultSession.Clone().(*openid.DefaultSession), JTI: s.JTI}
}

func newTestSession() *testSession { return &testSession{DefaultSession: openid.NewDefaultSession()} }

// The cached decoding of an access token is never shared between callers,
// and the revocation list and the client are consulted on every read.
func TestAccessTokenDecodingCached(t *testing.T) {
	ctx := context.Background()
	backend := testbackend.SQLite(t)
	s, client := withClient(t, backend)
	now := time.Now()
	sess := newTestSession()
	sess.Subject, sess.JTI = "user-1", "jti-1"
	sess.SetExpiresAt(fosite.AccessToken, now.Add(time.Hour))
	req := &fosite.Request{ID: "grant-1", RequestedAt: now, Client: client, GrantedScope: fosite.Arguments{"openid"}, Session: sess, Form: map[string][]string{}}
	if err := s.CreateAccessTokenSession(ctx, "sig-1", req); err != nil {
		t.Fatal(err)
	}
	get := func() (fosite.Requester, error) {
		return s.GetAccessTokenSession(ctx, "sig-1", newTestSession())
	}
	first, err := get()
	if err != nil {
		t.Fatal(err)
	}
	first.GetSession().(*testSession).Subject = "changed by a caller"
	for range 2 {
		again, err := get()
		if err != nil {
			t.Fatal(err)
		}
		if sub := again.GetSession().GetSubject(); sub != "user-1" || again.GetID() != "grant-1" || !again.GetGrantedScopes().Has("openid") {
			t.Fatalf("cached read: subject %q, id %q, scopes %v", sub, again.GetID(), again.GetGrantedScopes())
		}
	}
	// A read without a session (revocation does that) still works.
	if r, err := s.GetAccessTokenSession(ctx, "sig-1", nil); err != nil || r.GetClient().GetID() != "app" {
		t.Fatalf("read without a session: %v %v", r, err)
	}

	if err := backend.Revoke(ctx, "jti-1", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := get(); !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("revoked token read from the cache: %v", err)
	}

	sess2 := newTestSession()
	sess2.Subject, sess2.JTI = "user-2", "jti-2"
	sess2.SetExpiresAt(fosite.AccessToken, now.Add(time.Hour))
	req.Session = sess2
	if err := s.CreateAccessTokenSession(ctx, "sig-2", req); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAccessTokenSession(ctx, "sig-2", newTestSession()); err != nil {
		t.Fatal(err)
	}
	if err := backend.DeleteClient(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	s.ForgetClient("app")
	if _, err := s.GetAccessTokenSession(ctx, "sig-2", newTestSession()); !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("token of a deleted client read from the cache: %v", err)
	}
}

// The unit of a token request spares its second read of the code, and
// nothing else: another request (another unit) sees the code used.
func TestCodeMemoIsPerRequest(t *testing.T) {
	ctx := context.Background()
	backend := testbackend.SQLite(t)
	s, client := withClient(t, backend)
	now := time.Now()
	sess := newTestSession()
	sess.SetExpiresAt(fosite.AuthorizeCode, now.Add(time.Minute))
	req := &fosite.Request{ID: "grant-1", RequestedAt: now, Client: client, Session: sess, Form: map[string][]string{}}
	if err := s.CreateAuthorizeCodeSession(ctx, "code-1", req); err != nil {
		t.Fatal(err)
	}
	first := WithUnit(ctx, "")
	if _, err := s.GetAuthorizeCodeSession(first, "code-1", newTestSession()); err != nil {
		t.Fatal(err)
	}
	if err := s.InvalidateAuthorizeCodeSession(first, "code-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAuthorizeCodeSession(WithUnit(ctx, ""), "code-1", newTestSession()); !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
		t.Fatalf("a used code read by another request: %v", err)
	}
	if err := s.InvalidateAuthorizeCodeSession(WithUnit(ctx, ""), "code-1"); !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
		t.Fatalf("a second redemption: %v", err)
	}
}
