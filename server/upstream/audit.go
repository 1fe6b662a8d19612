package upstream

import (
	"net/http"

	"github.com/tollgate/tollgate/server/audit"
)

// method is how the audit log names a sign-in through upstream p.
func method(p *provider) string { return "upstream:" + p.cfg.ID }

// recordFailure records a federated sign-in that did not happen, with the
// reason (access_denied, upstream_error, invalid_state, replayed,
// invalid_token, disabled, ...). userID is "" when no user is known.
func (h *Handler) recordFailure(r *http.Request, p *provider, userID, reason string, details map[string]string) {
	d := map[string]string{"method": method(p)}
	for k, v := range details {
		d[k] = v
	}
	h.Audit.Record(r.Context(), r, audit.Event{Type: audit.SignInFailed, UserID: userID, Reason: reason, Details: d})
}

// recordLink records an identity linked to userID; via says how the owner
// proved the account: password, trusted_email or account_page.
func (h *Handler) recordLink(r *http.Request, p *provider, userID, via string) {
	h.Audit.Record(r.Context(), r, audit.Event{Type: audit.IdentityLinked, UserID: userID,
		Details: map[string]string{"upstream": p.cfg.ID, "via": via}})
}

// recordLinkRefused records a refused link (wrong_password, throttled,
// linked_elsewhere).
func (h *Handler) recordLinkRefused(r *http.Request, p *provider, userID, reason string) {
	h.Audit.Record(r.Context(), r, audit.Event{Type: audit.IdentityLinkRefused, UserID: userID, Reason: reason,
		Details: map[string]string{"upstream": p.cfg.ID}})
}
