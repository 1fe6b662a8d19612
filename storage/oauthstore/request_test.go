package oauthstore

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

func sampleRequest(client fosite.Client) *fosite.Request {
	sess := newTestSession()
	sess.Subject, sess.JTI = "user-1", "jti-1"
	sess.Claims.Extra = map[string]any{"name": "Ada <Lovelace> & co", "roles": []any{"admin"}}
	sess.SetExpiresAt(fosite.AuthorizeCode, time.Now().Add(time.Minute).Round(time.Second))
	return &fosite.Request{
		ID: "grant-1", RequestedAt: time.Now().Round(time.Second), Client: client,
		RequestedScope: fosite.Arguments{"openid", "email"}, GrantedScope: fosite.Arguments{"openid"},
		Form: url.Values{"nonce": {"n-1"}, "redirect_uri": {"https://app.example/cb?a=1&b=2"}}, Session: sess,
	}
}

// Stored requests keep the byte format earlier releases wrote and read,
// so rows written before an upgrade decode after it and the other way round.
func TestStoredRequestFormatUnchanged(t *testing.T) {
	s, client := withClient(t, testbackend.SQLite(t))
	req := sampleRequest(client)
	tok, err := encodeToken(storage.KindAuthorizeCode, "sig", req)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := json.Marshal(req.Session)
	if err != nil {
		t.Fatal(err)
	}
	// Releases before this one marshalled the session on its own and
	// embedded it raw.
	legacy, err := json.Marshal(storedRequest{
		ID: req.ID, RequestedAt: req.RequestedAt, ClientID: "app", RequestedScopes: req.RequestedScope,
		GrantedScopes: req.GrantedScope, Form: req.Form, Session: json.RawMessage(sess),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tok.Data, legacy) {
		t.Fatalf("stored format changed:\n got %s\nwant %s", tok.Data, legacy)
	}
	got := newTestSession()
	r, err := s.decodeToken(context.Background(), tok, got)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != "user-1" || got.JTI != "jti-1" || got.Claims.Extra["name"] != "Ada <Lovelace> & co" ||
		r.GetID() != "grant-1" || r.GetRequestForm().Get("nonce") != "n-1" || !r.GetGrantedScopes().Has("openid") {
		t.Fatalf("decoded: session %+v, request %+v", got, r)
	}
	if r, err := s.decodeToken(context.Background(), tok, nil); err != nil || r.GetSession() != nil || r.GetID() != "grant-1" {
		t.Fatalf("decoded without a session: %+v, %v", r, err)
	}
}

// The cost of storing and reading back a request, as every code, token and
// refresh does.
func BenchmarkRequestRoundTrip(b *testing.B) {
	s, client := withClient(b, testbackend.SQLite(b))
	req := sampleRequest(client)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		tok, err := encodeToken(storage.KindAuthorizeCode, "sig", req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.decodeToken(ctx, tok, newTestSession()); err != nil {
			b.Fatal(err)
		}
	}
}
