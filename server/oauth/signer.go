package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite/token/jwt"

	"github.com/tollgate/tollgate/keyring"
)

// signer implements fosite's jwt.Signer over the keyring: it signs with the
// active key and verifies with whichever published key the token's kid names,
// so tokens stay valid across a rotation.
type signer struct {
	keys *keyring.Keyring
	alg  string // what it signs with; it verifies whatever the kid names
	// clock judges exp, iat and nbf (see checkTimes).
	clock clock
}

var _ jwt.Signer = signer{}

// Generate signs claims with the active key, as fosite's DefaultSigner
// would (typ JWT unless the header says otherwise, kid and alg from the key),
// but with go-jose v4 and encoding/json: fosite's path through go-jose v3
// made a third of the cost of an ES256 access token, besides the signature.
func (s signer) Generate(ctx context.Context, claims jwt.MapClaims, header jwt.Mapper) (string, string, error) {
	if claims == nil || header == nil {
		return "", "", errors.New("sign token: claims or header is nil")
	}
	k, err := s.keys.Active(ctx, s.alg)
	if err != nil {
		return "", "", err
	}
	opts := &jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]any{"typ": "JWT"}}
	for name, v := range header.ToMap() {
		opts.ExtraHeaders[jose.HeaderKey(name)] = v
	}
	key := jose.SigningKey{
		Algorithm: jose.SignatureAlgorithm(k.Algorithm),
		Key:       jose.JSONWebKey{Key: k.Private, KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"},
	}
	jws, err := jose.NewSigner(key, opts)
	if err != nil {
		return "", "", fmt.Errorf("sign token: %w", err)
	}
	payload, err := json.Marshal(map[string]any(claims))
	if err != nil {
		return "", "", fmt.Errorf("sign token: encode claims: %w", err)
	}
	signed, err := jws.Sign(payload)
	if err != nil {
		return "", "", fmt.Errorf("sign token: %w", err)
	}
	token, err := signed.CompactSerialize()
	if err != nil {
		return "", "", fmt.Errorf("sign token: %w", err)
	}
	return token, token[strings.LastIndexByte(token, '.')+1:], nil
}

func (s signer) Validate(ctx context.Context, token string) (string, error) {
	if _, err := s.Decode(ctx, token); err != nil {
		return "", err
	}
	return s.GetSignature(ctx, token)
}

// Decode verifies the token's signature and its time claims, on the
// replica's clock and with its leeway (see clock.checkTimes).
func (s signer) Decode(ctx context.Context, token string) (*jwt.Token, error) {
	t, err := s.parse(ctx, token)
	var ve *jwt.ValidationError
	if err != nil && (!errors.As(err, &ve) || ve.Errors&^timeErrors != 0) {
		return t, err
	}
	// fosite judged the time claims on time.Now with no leeway: judge them
	// again (the signature is verified by now).
	if err := s.clock.checkTimes(t.Claims); err != nil {
		return t, err
	}
	return t, nil
}

func (s signer) parse(ctx context.Context, token string) (*jwt.Token, error) {
	return jwt.ParseWithClaims(token, jwt.MapClaims{}, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("token has no kid")
		}
		k, err := s.keys.Lookup(ctx, kid)
		if err != nil {
			return nil, err
		}
		if string(t.Method) != k.Algorithm {
			return nil, fmt.Errorf("token alg %s does not match key %s", t.Method, k.Algorithm)
		}
		return k.Private.Public(), nil
	})
}

func (s signer) GetSignature(_ context.Context, token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("token is not a compact JWS")
	}
	return parts[2], nil
}

func (s signer) Hash(ctx context.Context, in []byte) ([]byte, error) {
	return (&jwt.DefaultSigner{}).Hash(ctx, in)
}

func (s signer) GetSigningMethodLength(ctx context.Context) int {
	return (&jwt.DefaultSigner{}).GetSigningMethodLength(ctx)
}
