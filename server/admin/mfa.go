package admin

import (
	"net/http"

	"github.com/tollgate/tollgate/server/audit"
)

// resetMFA removes a user's second factor and recovery codes, for a user
// who lost both. Their sessions go on; the next sign-in asks for the
// password alone, or sends them to enroll where a second factor is
// required.
func (h *Handler) resetMFA(w http.ResponseWriter, r *http.Request) {
	u, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	if err := h.Store.DeleteMFA(r.Context(), u.ID); err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.Logger.InfoContext(r.Context(), "admin: second factor reset", "user_id", u.ID)
	h.Audit.Record(r.Context(), r, audit.Event{Type: audit.AdminUserMFAReset, UserID: u.ID})
	w.WriteHeader(http.StatusNoContent)
}
