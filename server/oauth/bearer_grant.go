package oauth

import (
	"context"
	"errors"
	"fmt"

	"github.com/ory/fosite"
)

// BearerGrant is whom a verified access token speaks for.
type BearerGrant struct {
	Subject  string // the user; empty for a client's own (client_credentials) token
	ClientID string
	GrantID  string // the authorization the token was issued under
}

// CheckBearerGrant is CheckBearer for resource servers of Tollgate's own
// that act for the token's user (the account API): it also returns the
// subject and the grant.
func (h *Handler) CheckBearerGrant(ctx context.Context, token string, scopes ...string) (BearerGrant, error) {
	_, ar, err := h.Provider.IntrospectToken(ctx, token, fosite.AccessToken, NewSession(), scopes...)
	switch {
	case err == nil:
	case unavailable(err):
		return BearerGrant{}, fmt.Errorf("check bearer token: %w", err)
	case errors.Is(err, fosite.ErrInvalidScope):
		return BearerGrant{}, ErrInsufficientScope
	default:
		return BearerGrant{}, ErrInvalidToken
	}
	g := BearerGrant{GrantID: ar.GetID()}
	if s := ar.GetSession(); s != nil {
		g.Subject = s.GetSubject()
	}
	if c := ar.GetClient(); c != nil {
		g.ClientID = c.GetID()
	}
	return g, nil
}
