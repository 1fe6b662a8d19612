package oauthstore

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"time"

	"github.com/ory/fosite"

	"github.com/tollgate/tollgate/storage"
)

// storedRequest is the serialized form of a fosite request. The client is
// stored by ID and loaded again, so a deleted or changed client takes effect.
type storedRequest struct {
	ID                string     `json:"id"`
	RequestedAt       time.Time  `json:"requested_at"`
	ClientID          string     `json:"client_id"`
	RequestedScopes   []string   `json:"requested_scopes"`
	GrantedScopes     []string   `json:"granted_scopes"`
	RequestedAudience []string   `json:"requested_audience"`
	GrantedAudience   []string   `json:"granted_audience"`
	Form              url.Values `json:"form"`
	// Session is the session itself when encoding and, when decoding, the
	// caller's session value (a pointer, which encoding/json fills in
	// place) or skipSession: one pass over the data either way, where a
	// json.RawMessage here took two.
	Session any `json:"session"`
}

// skipSession stands in for the session when the caller wants none.
type skipSession struct{}

func (*skipSession) UnmarshalJSON([]byte) error { return nil }

// expiryFor tells when a stored artifact of the kind stops being useful.
func expiryFor(kind storage.TokenKind, r fosite.Requester) time.Time {
	s := r.GetSession()
	switch kind {
	case storage.KindAccessToken:
		return s.GetExpiresAt(fosite.AccessToken)
	case storage.KindRefreshToken:
		if t := s.GetExpiresAt(fosite.RefreshToken); !t.IsZero() {
			return t
		}
		// A refresh token without an expiry still needs a bound for cleanup.
		return time.Now().Add(365 * 24 * time.Hour)
	default:
		return s.GetExpiresAt(fosite.AuthorizeCode)
	}
}

func encodeToken(kind storage.TokenKind, signature string, r fosite.Requester) (storage.Token, error) {
	data, err := json.Marshal(storedRequest{
		ID:                r.GetID(),
		RequestedAt:       r.GetRequestedAt(),
		ClientID:          r.GetClient().GetID(),
		RequestedScopes:   r.GetRequestedScopes(),
		GrantedScopes:     r.GetGrantedScopes(),
		RequestedAudience: r.GetRequestedAudience(),
		GrantedAudience:   r.GetGrantedAudience(),
		Form:              r.GetRequestForm(),
		Session:           r.GetSession(),
	})
	if err != nil {
		return storage.Token{}, fmt.Errorf("encode request: %w", err)
	}
	t := storage.Token{
		Kind:      kind,
		Signature: signature,
		RequestID: r.GetID(),
		ClientID:  r.GetClient().GetID(),
		Subject:   r.GetSession().GetSubject(),
		Active:    true,
		ExpiresAt: expiryFor(kind, r).UTC(),
		Data:      data,
		CreatedAt: time.Now().UTC(),
	}
	if j, ok := r.GetSession().(interface{ AccessTokenID() string }); ok && kind == storage.KindAccessToken {
		t.JTI = j.AccessTokenID()
	}
	return t, nil
}

// decodeToken rebuilds the request into the caller's session value.
func (s *Store) decodeToken(ctx context.Context, t storage.Token, session fosite.Session) (*fosite.Request, error) {
	sr := storedRequest{Session: &skipSession{}}
	if session != nil {
		sr.Session = session
	}
	if err := json.Unmarshal(t.Data, &sr); err != nil {
		return nil, fmt.Errorf("decode request: %w", err)
	}
	client, err := s.GetClient(ctx, sr.ClientID)
	if err != nil {
		return nil, err
	}
	return &fosite.Request{
		ID:                sr.ID,
		RequestedAt:       sr.RequestedAt,
		Client:            client,
		RequestedScope:    sr.RequestedScopes,
		GrantedScope:      sr.GrantedScopes,
		RequestedAudience: sr.RequestedAudience,
		GrantedAudience:   sr.GrantedAudience,
		Form:              sr.Form,
		Session:           session,
	}, nil
}

// cachedToken is a cached access token record and, once a caller asked for
// it with a session, the request decoded from it (the record's data is then
// dropped, to keep the cache small).
type cachedToken struct {
	token   storage.Token
	request *fosite.Request // nil until decoded with a session; its session is never handed out
}

// serves reports whether the cached entry can answer a caller that wants
// the session in a value like session (nil: no session wanted).
func (c cachedToken) serves(session fosite.Session) bool {
	return c.request == nil || session == nil || reflect.TypeOf(c.request.Session) == reflect.TypeOf(session)
}

// decodeCached returns the token's request with its session in a value of
// session's type: from the cached decoding when there is one (a copy, with
// a clone of the session, so callers never share state), else decoded from
// the record. The client is loaded on every call either way, so a deleted
// client's tokens stop working. decoded is what may be cached: a request
// whose session no caller holds.
func (s *Store) decodeCached(ctx context.Context, c cachedToken, session fosite.Session) (r *fosite.Request, decoded *fosite.Request, err error) {
	if c.request != nil {
		client, err := s.GetClient(ctx, c.request.Client.GetID())
		if err != nil {
			return nil, nil, err
		}
		r := *c.request
		r.Client = client
		r.Session = nil
		if session != nil {
			r.Session = c.request.Session.Clone()
		}
		return &r, c.request, nil
	}
	r, err = s.decodeToken(ctx, c.token, session)
	if err != nil || session == nil {
		return r, nil, err
	}
	kept := *r
	kept.Session = session.Clone()
	return r, &kept, nil
}
