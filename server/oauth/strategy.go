package oauth

import (
	"context"
	"errors"
	"time"

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
}

func (s accessTokenStrategy) GenerateAccessToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	sess, ok := r.GetSession().(*Session)
	if !ok {
		return "", "", errors.New("oauth: unexpected session type")
	}
	c := sess.AccessClaims
	c.JTI = uuid.NewString()
	c.IssuedAt = time.Now().UTC()
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
