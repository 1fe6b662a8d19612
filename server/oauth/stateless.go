package oauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/token/jwt"
)

// A client_credentials access token is stateless: no record is stored when
// it is issued (it has no user and no refresh token, so there is no grant to
// keep), and introspection, userinfo and Tollgate's own bearer checks
// rebuild its request from its verified claims. What a stored record would
// give is kept: the token is refused once its jti is on the revocation list
// (RFC 7009 revocation puts it there) and once its client no longer exists.
// The claim gty marks such a token; only Tollgate's own key can sign it, and
// only the client_credentials grant sets it.
const (
	grantTypeClaim    = "gty"
	clientCredentials = "client_credentials"
)

// StatelessStore is what stateless tokens need from storage: the client
// (cached; a deleted client is fosite.ErrNotFound) and the revocation list.
// Failures of storage itself must come back as *oauthstore.UnavailableError.
type StatelessStore interface {
	GetClient(ctx context.Context, id string) (fosite.Client, error)
	IsRevoked(ctx context.Context, jti string) (bool, error)
	RevokeJTI(ctx context.Context, jti string, expiresAt time.Time) error
}

// clientCredentialsFactory is fosite's client_credentials grant, but the
// tokens it issues carry the gty claim and are not stored.
func clientCredentialsFactory(strategy accessTokenStrategy) func(fosite.Configurator, any, any) any {
	return func(config fosite.Configurator, _ any, _ any) any {
		return &oauth2.ClientCredentialsGrantHandler{
			HandleHelper: &oauth2.HandleHelper{
				AccessTokenStrategy: statelessStrategy{strategy},
				AccessTokenStorage:  noAccessTokenStorage{},
				Config:              config,
			},
			Config: config,
		}
	}
}

// statelessStrategy marks the tokens it generates as client_credentials.
type statelessStrategy struct{ accessTokenStrategy }

func (s statelessStrategy) GenerateAccessToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	sess, ok := r.GetSession().(*Session)
	if !ok {
		return "", "", errors.New("oauth: unexpected session type")
	}
	if sess.AccessClaims.Extra == nil {
		sess.AccessClaims.Extra = map[string]any{}
	}
	sess.AccessClaims.Extra[grantTypeClaim] = clientCredentials
	return s.accessTokenStrategy.GenerateAccessToken(ctx, r)
}

// noAccessTokenStorage stores nothing: the token is its own record.
type noAccessTokenStorage struct{}

func (noAccessTokenStorage) CreateAccessTokenSession(context.Context, string, fosite.Requester) error {
	return nil
}

func (noAccessTokenStorage) GetAccessTokenSession(context.Context, string, fosite.Session) (fosite.Requester, error) {
	return nil, fosite.ErrNotFound
}

func (noAccessTokenStorage) DeleteAccessTokenSession(context.Context, string) error { return nil }

// stateless recognizes stateless tokens and rebuilds their requests.
type stateless struct {
	verifier *verifier
	store    StatelessStore
}

// claims returns the verified claims of a stateless client_credentials
// token; ok is false for anything else (an opaque token, a stored JWT, a
// token that does not verify), which the stateful path then judges.
func (s stateless) claims(ctx context.Context, token string) (jwt.MapClaims, bool) {
	if strings.Count(token, ".") != 2 {
		return nil, false
	}
	header, claims, err := s.verifier.verify(ctx, token)
	if err != nil {
		return nil, false
	}
	if typ, _ := header["typ"].(string); typ != "at+jwt" {
		return nil, false
	}
	if gty, _ := claims[grantTypeClaim].(string); gty != clientCredentials {
		return nil, false
	}
	sub, _ := claims["sub"].(string)
	cid, _ := claims["client_id"].(string)
	jti, _ := claims["jti"].(string)
	if cid == "" || sub != cid || jti == "" {
		return nil, false
	}
	return claims, true
}

// request rebuilds the request of a stateless token from its claims, as
// the stored record of a client_credentials token would have read: the
// client (which must still exist), the granted scope and audience, the
// expiry, and no user. It refuses a revoked token.
func (s stateless) request(ctx context.Context, claims jwt.MapClaims) (*fosite.Request, error) {
	cid, _ := claims["client_id"].(string)
	jti, _ := claims["jti"].(string)
	client, err := s.store.GetClient(ctx, cid)
	if err != nil {
		return nil, err
	}
	revoked, err := s.store.IsRevoked(ctx, jti)
	if err != nil {
		return nil, err
	}
	if revoked {
		return nil, fosite.ErrNotFound
	}
	sess := NewSession()
	iat, _ := claimInt(claims, "iat")
	exp, _ := claimInt(claims, "exp")
	issuedAt, expiresAt := time.Unix(iat, 0).UTC(), time.Unix(exp, 0).UTC()
	sess.SetExpiresAt(fosite.AccessToken, expiresAt)
	scopes := fosite.Arguments(strings.Fields(stringClaim(claims, "scope")))
	audience := fosite.Arguments(listClaim(claims, "aud"))
	ac := sess.AccessClaims
	ac.JTI, ac.Subject, ac.IssuedAt, ac.ExpiresAt = jti, cid, issuedAt, expiresAt
	ac.Issuer, _ = claims["iss"].(string)
	ac.Scope, ac.Audience = scopes, audience
	ac.Extra["client_id"], ac.Extra[grantTypeClaim] = cid, clientCredentials
	return &fosite.Request{
		ID:              jti,
		RequestedAt:     issuedAt,
		Client:          client,
		RequestedScope:  scopes,
		GrantedScope:    scopes,
		GrantedAudience: audience,
		Form:            map[string][]string{},
		Session:         sess,
	}, nil
}

func stringClaim(claims jwt.MapClaims, name string) string {
	s, _ := claims[name].(string)
	return s
}

func listClaim(claims jwt.MapClaims, name string) []string {
	switch v := claims[name].(type) {
	case string:
		return []string{v}
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// introspector answers for stateless tokens and hands every other token to
// fosite's stateful validator (a stored record, revocation checked too).
type introspector struct {
	stateless
	core *oauth2.CoreValidator
}

func (i introspector) IntrospectToken(ctx context.Context, token string, use fosite.TokenUse, ar fosite.AccessRequester, scopes []string) (fosite.TokenUse, error) {
	claims, ok := i.claims(ctx, token)
	if !ok {
		return i.core.IntrospectToken(ctx, token, use, ar, scopes)
	}
	req, err := i.request(ctx, claims)
	if err != nil {
		return "", fosite.ErrRequestUnauthorized.WithWrap(err).WithDebug(err.Error())
	}
	for _, scope := range scopes {
		if scope != "" && !fosite.ExactScopeStrategy(req.GetGrantedScopes(), scope) {
			return "", fosite.ErrInvalidScope.WithHintf("The request scope '%s' has not been granted or is not allowed to be requested.", scope)
		}
	}
	ar.Merge(req)
	return fosite.AccessToken, nil
}

// revoker revokes stateless tokens by putting their jti on the revocation
// list (RFC 7009), and hands every other token to fosite's handler.
type revoker struct {
	stateless
	core *oauth2.TokenRevocationHandler
}

func (r revoker) RevokeToken(ctx context.Context, token string, hint fosite.TokenType, client fosite.Client) error {
	claims, ok := r.claims(ctx, token)
	if !ok {
		return r.core.RevokeToken(ctx, token, hint, client)
	}
	if stringClaim(claims, "client_id") != client.GetID() {
		return fosite.ErrUnauthorizedClient
	}
	exp, _ := claimInt(claims, "exp")
	if err := r.store.RevokeJTI(ctx, stringClaim(claims, "jti"), time.Unix(exp, 0)); err != nil {
		return fmt.Errorf("revoke stateless token: %w", err)
	}
	return nil
}

// introspectionFactory and revocationFactory replace fosite's own.
func introspectionFactory(s stateless) func(fosite.Configurator, any, any) any {
	return func(config fosite.Configurator, storage any, strategy any) any {
		return introspector{stateless: s, core: &oauth2.CoreValidator{
			CoreStrategy: strategy.(oauth2.CoreStrategy),
			CoreStorage:  storage.(oauth2.CoreStorage),
			Config:       config,
		}}
	}
}

func revocationFactory(s stateless) func(fosite.Configurator, any, any) any {
	return func(_ fosite.Configurator, storage any, strategy any) any {
		return revoker{stateless: s, core: &oauth2.TokenRevocationHandler{
			TokenRevocationStorage: storage.(oauth2.TokenRevocationStorage),
			AccessTokenStrategy:    strategy.(oauth2.AccessTokenStrategy),
			RefreshTokenStrategy:   strategy.(oauth2.RefreshTokenStrategy),
		}}
	}
}
