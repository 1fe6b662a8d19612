package oauth

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/token/jwt"
)

// DefaultClockLeeway is how far in the future a token's iat and nbf may be:
// replicas' clocks are never perfectly in step, and a token issued by one
// running ahead must be accepted by the others at once.
const DefaultClockLeeway = time.Minute

// timeErrors are the validation failures that depend on the clock.
const timeErrors = jwt.ValidationErrorExpired | jwt.ValidationErrorIssuedAt | jwt.ValidationErrorNotValidYet

// clock is a replica's idea of the time and of its peers' skew.
type clock struct {
	now    func() time.Time // nil: time.Now
	leeway time.Duration
}

func (c clock) Now() time.Time {
	if c.now == nil {
		return time.Now()
	}
	return c.now()
}

// offset is how far this replica's clock is from time.Now, which fosite
// reads directly: zero unless a clock was injected.
func (c clock) offset() time.Duration {
	if c.now == nil {
		return 0
	}
	return c.now().Sub(time.Now())
}

// checkTimes judges a token's time claims: exp strictly (a token is dead
// the second its exp passes on this replica's clock), iat and nbf with the
// leeway (a token issued by a replica whose clock runs ahead is good at once).
func (c clock) checkTimes(claims jwt.MapClaims) error {
	now := c.Now().Unix()
	leeway := int64(c.leeway / time.Second)
	var bits uint32
	var why string
	if exp, ok := claimInt(claims, "exp"); ok && now > exp {
		bits |= jwt.ValidationErrorExpired
		why = "token is expired"
	}
	if iat, ok := claimInt(claims, "iat"); ok && iat > now+leeway {
		bits |= jwt.ValidationErrorIssuedAt
		why = "token used before issued"
	}
	if nbf, ok := claimInt(claims, "nbf"); ok && nbf > now+leeway {
		bits |= jwt.ValidationErrorNotValidYet
		why = "token is not valid yet"
	}
	if bits == 0 {
		return nil
	}
	return &jwt.ValidationError{Errors: bits, Inner: errors.New(why)}
}

func claimInt(claims jwt.MapClaims, name string) (int64, bool) {
	switch v := claims[name].(type) {
	case float64:
		return int64(v), true
	case int64:
		return v, true
	case int:
		return int64(v), true
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n, true
		}
		if f, err := v.Float64(); err == nil {
			return int64(f), true
		}
	}
	return 0, false
}

// rfcError maps a token validation failure to the RFC 6749 error fosite
// would have answered.
func rfcError(err error) error {
	var ve *jwt.ValidationError
	if !errors.As(err, &ve) {
		return fosite.ErrRequestUnauthorized.WithWrap(err).WithDebug(err.Error())
	}
	var e *fosite.RFC6749Error
	switch {
	case ve.Has(jwt.ValidationErrorMalformed):
		e = fosite.ErrInvalidTokenFormat
	case ve.Has(jwt.ValidationErrorUnverifiable | jwt.ValidationErrorSignatureInvalid):
		e = fosite.ErrTokenSignatureMismatch
	case ve.Has(jwt.ValidationErrorExpired):
		e = fosite.ErrTokenExpired
	case ve.Has(jwt.ValidationErrorIssuedAt | jwt.ValidationErrorNotValidYet | jwt.ValidationErrorClaimsInvalid):
		e = fosite.ErrTokenClaim
	default:
		e = fosite.ErrRequestUnauthorized
	}
	return e.WithWrap(err).WithDebug(err.Error())
}
