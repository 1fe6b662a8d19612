package oauth

import (
	"maps"
	"slices"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// Session is what fosite carries through a grant: the ID token claims (from
// openid.DefaultSession) and the claims of the JWT access tokens.
type Session struct {
	*openid.DefaultSession
	AccessClaims *jwt.JWTClaims `json:"access_claims"`
}

// NewSession returns an empty session for fosite to fill from storage.
func NewSession() *Session {
	return &Session{
		DefaultSession: openid.NewDefaultSession(),
		AccessClaims:   &jwt.JWTClaims{Extra: map[string]any{}},
	}
}

// GetJWTClaims implements oauth2.JWTSessionContainer.
func (s *Session) GetJWTClaims() jwt.JWTClaimsContainer { return s.AccessClaims }

// GetJWTHeader implements oauth2.JWTSessionContainer. The typ makes the
// token an RFC 9068 access token that cannot be confused with an ID token.
func (s *Session) GetJWTHeader() *jwt.Headers {
	return &jwt.Headers{Extra: map[string]any{"typ": "at+jwt"}}
}

// AccessTokenID is the jti of the access token being issued; the storage
// adapter records it so the token can be revoked.
func (s *Session) AccessTokenID() string { return s.AccessClaims.JTI }

// Clone implements fosite.Session. It copies by hand what fosite's
// DefaultSession.Clone copies by reflection (deepcopy), several times
// faster: introspection and userinfo clone a cached session on every call.
// Maps and slices are copied; claim values that are themselves maps or
// slices are copied too (copyClaims).
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	c := &Session{DefaultSession: cloneDefaultSession(s.DefaultSession)}
	if s.AccessClaims != nil {
		ac := *s.AccessClaims
		ac.Audience = slices.Clone(ac.Audience)
		ac.Scope = slices.Clone(ac.Scope)
		ac.Extra = copyClaims(ac.Extra)
		if ac.Extra == nil {
			ac.Extra = map[string]any{}
		}
		c.AccessClaims = &ac
	}
	return c
}

func cloneDefaultSession(d *openid.DefaultSession) *openid.DefaultSession {
	if d == nil {
		return nil
	}
	c := *d
	if d.Claims != nil {
		claims := *d.Claims
		claims.Audience = slices.Clone(claims.Audience)
		claims.AuthenticationMethodsReferences = slices.Clone(claims.AuthenticationMethodsReferences)
		claims.Extra = copyClaims(claims.Extra)
		c.Claims = &claims
	}
	if d.Headers != nil {
		c.Headers = &jwt.Headers{Extra: copyClaims(d.Headers.Extra)}
	}
	c.ExpiresAt = maps.Clone(d.ExpiresAt)
	return &c
}

// copyClaims copies a claims map, and the maps and slices in it.
func copyClaims(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = copyClaim(v)
	}
	return c
}

func copyClaim(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return copyClaims(v)
	case []any:
		c := make([]any, len(v))
		for i, e := range v {
			c[i] = copyClaim(e)
		}
		return c
	case []string:
		return slices.Clone(v)
	}
	return v
}
