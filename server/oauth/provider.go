// Package oauth serves Tollgate's OAuth 2.0 and OpenID Connect endpoints:
// authorize, token, revocation, introspection, userinfo, end session,
// discovery and JWKS, over one fosite provider composed here.
package oauth

import (
	"cmp"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/passwords"
	"github.com/tollgate/tollgate/storage/oauthstore"
)

// ProviderConfig is what the fosite provider needs.
type ProviderConfig struct {
	Issuer               string
	AccessTokenLifetime  time.Duration
	IDTokenLifetime      time.Duration
	RefreshTokenLifetime time.Duration
	CodeLifetime         time.Duration
	Secret               []byte
	Passwords            *passwords.Hasher
	// AccessTokenAlgorithm signs access tokens (RS256 or ES256); ID tokens
	// are always RS256, which every OpenID client must accept.
	AccessTokenAlgorithm string
	// Now is the replica's clock (nil: time.Now); ClockLeeway is how far in
	// the future iat and nbf may be (0: DefaultClockLeeway; negative: none).
	Now         func() time.Time
	ClockLeeway time.Duration
}

// NewProvider composes fosite from exactly the flows Tollgate offers:
// authorization code with PKCE (S256 only, for every client), refresh token,
// client credentials, OpenID Connect, introspection and revocation. No
// implicit, hybrid or password grants (RFC 9700 §2.1.2, §2.4).
func NewProvider(cfg ProviderConfig, store *oauthstore.Store, keys *keyring.Keyring) (fosite.OAuth2Provider, jwt.Signer, error) {
	hmacKey, err := hkdf.Key(sha256.New, cfg.Secret, nil, "tollgate token hmac v1", 32)
	if err != nil {
		return nil, nil, fmt.Errorf("derive token key: %w", err)
	}
	fc := &fosite.Config{
		AccessTokenLifespan:            cfg.AccessTokenLifetime,
		RefreshTokenLifespan:           cfg.RefreshTokenLifetime,
		AuthorizeCodeLifespan:          cfg.CodeLifetime,
		IDTokenLifespan:                cfg.IDTokenLifetime,
		IDTokenIssuer:                  cfg.Issuer,
		AccessTokenIssuer:              cfg.Issuer,
		TokenURL:                       cfg.Issuer + "/token",
		GlobalSecret:                   hmacKey,
		EnforcePKCE:                    true,
		EnablePKCEPlainChallengeMethod: false,
		ScopeStrategy:                  fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:       fosite.DefaultAudienceMatchingStrategy,
		ClientSecretsHasher:            newSecretHasher(cfg.Passwords),
		SendDebugMessagesToClients:     false,
		MinParameterEntropy:            fosite.MinParameterEntropy,
		// select_account is not offered; create starts at sign-up.
		AllowedPromptValues: []string{"none", "login", "consent", "create"},
		// RFC 9068 §2.2.3: scope is one space-separated string.
		JWTScopeClaimKey: jwt.JWTScopeFieldString,
	}
	accessAlg := cmp.Or(cfg.AccessTokenAlgorithm, keyring.RS256)
	clk := clock{now: cfg.Now, leeway: cfg.ClockLeeway}
	switch {
	case cfg.ClockLeeway == 0:
		clk.leeway = DefaultClockLeeway
	case cfg.ClockLeeway < 0:
		clk.leeway = 0
	}
	idSigner := signer{keys: keys, alg: keyring.RS256, clock: clk}
	hmacStrategy := compose.NewOAuth2HMACStrategy(fc)
	accessSigner := signer{keys: keys, alg: accessAlg, clock: clk}
	accessStrategy := accessTokenStrategy{&oauth2.DefaultJWTStrategy{
		Signer: accessSigner, HMACSHAStrategy: hmacStrategy, Config: fc,
	}, clk, newVerifier(accessSigner)}
	stateless := stateless{verifier: accessStrategy.verifier, store: store}
	strategy := &compose.CommonStrategy{
		CoreStrategy:               accessStrategy,
		OpenIDConnectTokenStrategy: &openid.DefaultStrategy{Signer: idSigner, Config: fc},
		Signer:                     idSigner,
	}
	p := compose.Compose(fc, store, strategy,
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		clientCredentialsFactory(accessStrategy),
		compose.OAuth2PKCEFactory,
		compose.OpenIDConnectExplicitFactory,
		compose.OpenIDConnectRefreshFactory,
		introspectionFactory(stateless),
		revocationFactory(stateless),
	)
	for i, h := range fc.TokenEndpointHandlers {
		fc.TokenEndpointHandlers[i] = passUnhandled{h}
	}
	return p, idSigner, nil
}

// passUnhandled answers fosite.ErrUnknownRequest for a grant its handler
// does not handle without asking the handler, which would record a stack
// trace with it. fosite asks every token handler to populate every
// response, and the traces cost more CPU than the rest of a
// client_credentials response short of its signature.
type passUnhandled struct{ fosite.TokenEndpointHandler }

func (p passUnhandled) PopulateTokenEndpointResponse(ctx context.Context, r fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !p.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	return p.TokenEndpointHandler.PopulateTokenEndpointResponse(ctx, r, resp)
}
