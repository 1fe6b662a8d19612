package oauth

import (
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

// Clone implements fosite.Session.
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	c := &Session{DefaultSession: s.DefaultSession.Clone().(*openid.DefaultSession)}
	if s.AccessClaims != nil {
		ac := *s.AccessClaims
		ac.Extra = make(map[string]any, len(s.AccessClaims.Extra))
		for k, v := range s.AccessClaims.Extra {
			ac.Extra[k] = v
		}
		c.AccessClaims = &ac
	}
	return c
}
