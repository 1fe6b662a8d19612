package oauth

import (
	"errors"
	"net/http"

	"github.com/ory/fosite"

	"github.com/tollgate/tollgate/server/httpjson"
	"github.com/tollgate/tollgate/storage"
)

// userinfo is the UserInfo endpoint (OIDC Core §5.3). The access token comes
// in the Authorization header or, on POST, the form body (RFC 6750 §2).
func (h *Handler) userinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := fosite.AccessTokenFromRequest(r)
	if token == "" {
		// RFC 6750 §3.1: no error code when the request carries no token.
		w.Header().Set("WWW-Authenticate", `Bearer realm="tollgate"`)
		httpjson.Write(w, http.StatusUnauthorized, map[string]string{"error": "invalid_request", "error_description": "An access token is required."})
		return
	}
	_, ar, err := h.Provider.IntrospectToken(ctx, token, fosite.AccessToken, NewSession())
	if unavailable(err) {
		h.writeUnavailableJSON(w, r, err)
		return
	}
	if err != nil {
		invalidToken(w, "The access token is invalid, expired or revoked.")
		return
	}
	if !ar.GetGrantedScopes().Has("openid") {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tollgate", error="insufficient_scope", scope="openid"`)
		httpjson.Write(w, http.StatusForbidden, map[string]string{"error": "insufficient_scope", "error_description": "The access token was not granted the openid scope."})
		return
	}
	// The user may come from this replica's cache: a change made through
	// another replica shows within usercache.TTL. A disabled or deleted
	// user's tokens are revoked, which IntrospectToken checked above.
	user, err := h.Users.CachedUser(ctx, ar.GetSession().GetSubject())
	if errors.Is(err, storage.ErrNotFound) || (err == nil && user.Disabled) {
		invalidToken(w, "The user of this access token no longer exists or is disabled.")
		return
	}
	if err != nil {
		h.writeUnavailableJSON(w, r, err)
		return
	}
	claims := profileClaims(user, ar.GetGrantedScopes())
	claims["sub"] = user.ID
	httpjson.Write(w, http.StatusOK, claims)
}

func invalidToken(w http.ResponseWriter, description string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="tollgate", error="invalid_token", error_description="`+description+`"`)
	httpjson.Write(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": description})
}
