package oauth

import (
	"context"
	"sync"
	"time"

	"github.com/ory/fosite/token/jwt"
)

// verifiedTTL bounds how long a verified signature is trusted without
// checking it again. It matches the keyring's cache period: a replica
// already signs and verifies with keys up to that old, so remembering a
// verification no longer changes what a key rotation can take back.
const verifiedTTL = 30 * time.Second

// maxVerifiedTokens bounds the verified-token cache; it is cleared when full.
// Only tokens whose signature verified are remembered, so a flood of
// forged tokens cannot fill it.
const maxVerifiedTokens = 10000

// verifiedToken is what one successful signature verification found.
type verifiedToken struct {
	header  map[string]any
	claims  jwt.MapClaims
	expires time.Time // when the cached verification stops counting
}

// verifier verifies access tokens and remembers, per token, that its
// signature was good: introspection and userinfo see the same token again
// and again, and an RSA verification is most of their cost. The time claims
// are judged again on every call, and revocation is not its business (the
// callers check it on every call).
type verifier struct {
	signer signer

	mu     sync.RWMutex
	tokens map[string]verifiedToken
}

func newVerifier(s signer) *verifier {
	return &verifier{signer: s, tokens: make(map[string]verifiedToken)}
}

// verify returns the token's header and claims once its signature is
// verified and its time claims hold on this replica's clock.
func (v *verifier) verify(ctx context.Context, token string) (map[string]any, jwt.MapClaims, error) {
	now := v.signer.clock.Now()
	v.mu.RLock()
	t, ok := v.tokens[token]
	v.mu.RUnlock()
	if ok && now.Before(t.expires) {
		if err := v.signer.clock.checkTimes(t.claims); err != nil {
			return nil, nil, err
		}
		return t.header, t.claims, nil
	}
	parsed, err := v.signer.Decode(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	expires := now.Add(verifiedTTL)
	if exp, ok := claimInt(parsed.Claims, "exp"); ok && time.Unix(exp, 0).Before(expires) {
		expires = time.Unix(exp, 0)
	}
	v.mu.Lock()
	if len(v.tokens) >= maxVerifiedTokens {
		clear(v.tokens)
	}
	v.tokens[token] = verifiedToken{header: parsed.Header, claims: parsed.Claims, expires: expires}
	v.mu.Unlock()
	return parsed.Header, parsed.Claims, nil
}
