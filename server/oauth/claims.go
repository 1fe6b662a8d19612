package oauth

import (
	"slices"
	"time"

	"github.com/ory/fosite/token/jwt"

	"github.com/tollgate/tollgate/storage"
)

// profileClaims returns the standard claims a user's granted scopes release
// (OIDC Core §5.4). sub is always present and set by the caller.
func profileClaims(u storage.User, scopes []string) map[string]any {
	c := map[string]any{}
	if slices.Contains(scopes, "profile") {
		if u.Name != "" {
			c["name"] = u.Name
		}
		if u.Picture != "" {
			c["picture"] = u.Picture
		}
		c["updated_at"] = u.UpdatedAt.Unix()
	}
	if slices.Contains(scopes, "email") {
		c["email"] = u.Email
		c["email_verified"] = u.EmailVerified
	}
	return c
}

// newSession builds the grant's session: the ID token's claims (auth_time
// and amr from the browser session) and the access token's subject.
func (h *Handler) newSession(u storage.User, bs storage.Session, requestedAt time.Time, scopes []string) *Session {
	s := NewSession()
	s.Subject = u.ID
	s.Username = u.Email
	s.DefaultSession.Headers = &jwt.Headers{}
	s.DefaultSession.Claims = &jwt.IDTokenClaims{
		Subject:                         u.ID,
		Issuer:                          h.Issuer,
		AuthTime:                        bs.AuthTime.UTC(),
		RequestedAt:                     requestedAt.UTC(),
		AuthenticationMethodsReferences: bs.AMR,
		Extra:                           profileClaims(u, scopes),
	}
	s.DefaultSession.Claims.AuthenticationContextClassReference = acrOf(bs.AMR)
	s.AccessClaims.Subject = u.ID
	return s
}
