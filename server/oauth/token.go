package oauth

import (
	"context"
	"errors"
	"net/http"

	"github.com/ory/fosite"

	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/storage/oauthstore"
)

// token is the token endpoint (RFC 6749 §3.2).
func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	// The unit gathers the request's storage calls into fewer round trips
	// (see oauthstore.WithUnit); for a code, it reads the code and what it
	// carries at once. fosite parses the form the same way.
	var code string
	if r.ParseForm() == nil && r.PostForm.Get("grant_type") == "authorization_code" {
		code = r.PostForm.Get("code")
	}
	ctx := oauthstore.WithUnit(r.Context(), code)
	ar, err := h.Provider.NewAccessRequest(ctx, r, NewSession())
	if err != nil {
		h.accessError(ctx, w, r, ar, err)
		return
	}
	if ar.GetGrantTypes().ExactOne("client_credentials") {
		// The client asks for itself: it gets what it may request.
		for _, s := range ar.GetRequestedScopes() {
			ar.GrantScope(s)
		}
		for _, a := range ar.GetRequestedAudience() {
			ar.GrantAudience(a)
		}
		if len(ar.GetGrantedAudience()) == 0 {
			ar.GrantAudience(ar.GetClient().GetID())
		}
	}
	resp, err := h.Provider.NewAccessResponse(ctx, ar)
	if err == nil {
		err = h.OAuthStore.Finish(ctx)
	}
	if err != nil {
		h.accessError(ctx, w, r, ar, err)
		return
	}
	h.Provider.WriteAccessResponse(ctx, w, ar, resp)
	h.Metrics.TokenIssued(ar.GetGrantTypes()[0])
	h.Audit.Record(ctx, r, grantEvent(r, audit.TokenIssued, "", ar))
}

func (h *Handler) accessError(ctx context.Context, w http.ResponseWriter, r *http.Request, ar fosite.AccessRequester, err error) {
	// A failed request still consumes what fosite deleted (a PKCE
	// challenge checked against a wrong verifier).
	if ferr := h.OAuthStore.Finish(ctx); ferr != nil && !unavailable(err) {
		err = ferr
	}
	switch {
	case unavailable(err):
		h.writeUnavailableJSON(w, r, err)
		return
	case errors.Is(err, fosite.ErrInvalidatedAuthorizeCode):
		// Lost a race with a concurrent redemption of the same code.
		err = fosite.ErrInvalidGrant.WithHint("The authorization code has already been used.")
	case errors.Is(err, fosite.ErrInactiveToken):
		// A rotated refresh token came back: replayed, or a concurrent use
		// that lost the race. Either way its family is revoked.
		h.Metrics.RefreshReuse()
		h.Audit.Record(r.Context(), r, grantEvent(r, audit.RefreshTokenReused, "reused", ar))
		err = fosite.ErrInvalidGrant.WithHint("The refresh token has already been used.")
	}
	h.Provider.WriteAccessError(r.Context(), w, ar, err)
}

// revoke is the revocation endpoint (RFC 7009). Revoking a refresh token
// revokes its grant's access tokens too.
func (h *Handler) revoke(w http.ResponseWriter, r *http.Request) {
	err := h.Provider.NewRevocationRequest(r.Context(), r)
	if unavailable(err) {
		h.writeUnavailableJSON(w, r, err)
		return
	}
	if err == nil {
		h.Audit.Record(r.Context(), r, audit.Event{Type: audit.TokenRevoked, ClientID: requestClient(r),
			Details: map[string]string{"token_type_hint": r.PostFormValue("token_type_hint")}})
	}
	h.Provider.WriteRevocationResponse(r.Context(), w, err)
}

// introspect is the introspection endpoint (RFC 7662), for authenticated
// clients. A revoked or expired token is {"active": false}.
func (h *Handler) introspect(w http.ResponseWriter, r *http.Request) {
	ir, err := h.Provider.NewIntrospectionRequest(r.Context(), r, NewSession())
	if unavailable(err) {
		h.writeUnavailableJSON(w, r, err)
		return
	}
	if err != nil {
		h.Provider.WriteIntrospectionError(r.Context(), w, err)
		return
	}
	h.Provider.WriteIntrospectionResponse(r.Context(), w, ir)
}
