package oauth

import (
	"context"
	"net/url"
	"slices"
	"strings"

	"github.com/tollgate/tollgate/mfa"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/oauthstore"
)

// MFAStatus tells whether a user has a confirmed second factor.
type MFAStatus interface {
	Status(ctx context.Context, userID string) (bool, error)
}

// withSecondFactor reports whether a session's sign-in included a second
// factor.
func withSecondFactor(amr []string) bool {
	return slices.Contains(amr, mfa.AMRTOTP) || slices.Contains(amr, mfa.AMRRecovery)
}

// acrOf is the ID token's acr for a session: set only when a second factor
// was given.
func acrOf(amr []string) string {
	if withSecondFactor(amr) {
		return mfa.ACR
	}
	return ""
}

// secondFactorPage returns the hosted page the user must pass before this
// request can be answered, or "": the second factor's page when the user
// has one and this session did not give it; the enrollment page when a
// second factor is demanded (acr_values, the client, the configuration) and
// the user has none.
func (h *Handler) secondFactorPage(ctx context.Context, form url.Values, client oauthstore.Client, user storage.User, sess storage.Session) (string, error) {
	if h.MFA == nil || withSecondFactor(sess.AMR) {
		return "", nil
	}
	enrolled, err := h.MFA.Status(ctx, user.ID)
	if err != nil {
		return "", err
	}
	if enrolled {
		return "/login/mfa", nil
	}
	if h.MFARequired || client.RequireMFA || slices.Contains(strings.Fields(form.Get("acr_values")), mfa.ACR) {
		return "/account/mfa", nil
	}
	return "", nil
}
