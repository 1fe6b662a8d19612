package oauth

import (
	"context"
	"errors"
	"fmt"

	"github.com/ory/fosite"
)

// Errors of CheckBearer.
var (
	ErrInvalidToken      = errors.New("the access token is missing, malformed, expired or revoked")
	ErrInsufficientScope = errors.New("the access token lacks the required scope")
)

// CheckBearer verifies an access token Tollgate issued, as a resource server
// of its own (the admin API) must: signature, expiry, revocation, and that
// it was granted scope. Storage failures come back as an error for which
// Unavailable reports true.
func (h *Handler) CheckBearer(ctx context.Context, token, scope string) error {
	_, _, err := h.Provider.IntrospectToken(ctx, token, fosite.AccessToken, NewSession(), scope)
	switch {
	case err == nil:
		return nil
	case unavailable(err):
		return fmt.Errorf("check bearer token: %w", err)
	case errors.Is(err, fosite.ErrInvalidScope):
		return ErrInsufficientScope
	default:
		return ErrInvalidToken
	}
}

// Unavailable reports whether err is a failure of storage itself.
func Unavailable(err error) bool { return unavailable(err) }
