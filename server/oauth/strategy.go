package oauth

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
)

// accessTokenStrategy issues RFC 9068 JWT access tokens. It gives every token
// a fresh jti and iat (a refreshed grant reuses its session) and the
// client_id claim RFC 9068 §2.2 requires; codes and refresh tokens stay
// opaque HMAC tokens.
type accessTokenStrategy struct {
	*oauth2.DefaultJWTStrategy
	clock clock
	// verifier remembers verified signatures (see verifier).
	verifier *verifier
}

// ValidateAccessToken verifies the signature and the time claims with the
// replica's clock and leeway (fosite's own check allows no skew at all: a
// token issued by a replica whose clock runs a second ahead would be refused
// by the others until their clocks catch up).
func (s accessTokenStrategy) ValidateAccessToken(ctx context.Context, _ fosite.Requester, token string) error {
	if _, _, err := s.verifier.verify(ctx, token); err != nil {
		return rfcError(err)
	}
	return nil
}

func (s accessTokenStrategy) GenerateAccessToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	sess, ok := r.GetSession().(*Session)
	if !ok {
		return "", "", errors.New("oauth: unexpected session type")
	}
	c := sess.AccessClaims
	c.JTI = uuid.NewString()
	c.IssuedAt = s.clock.Now().UTC()
	// fosite stamped the expiry from time.Now; a replica with a clock of
	// its own (tests simulate skew with one) stamps it from that clock.
	if off := s.clock.offset(); off != 0 {
		sess.SetExpiresAt(fosite.AccessToken, sess.GetExpiresAt(fosite.AccessToken).Add(off))
	}
	c.Subject = sess.GetSubject()
	if c.Extra == nil {
		c.Extra = map[string]any{}
	}
	c.Extra["client_id"] = r.GetClient().GetID()
	if c.Subject == "" {
		// client_credentials: the client acts for itself (RFC 9068 §2.2).
		c.Subject = r.GetClient().GetID()
	}
	return s.DefaultJWTStrategy.GenerateAccessToken(ctx, r)
}
