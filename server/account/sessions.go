package account

import "net/http"

// apiEndAllSessions signs every browser of the user out. Grants to
// applications (the caller's token included) are left alone: that is
// what changing the password is for.
func (h *Handler) apiEndAllSessions(w http.ResponseWriter, r *http.Request) {
	userID := callerOf(r.Context()).user.ID
	if err := h.Store.DeleteUserSessions(r.Context(), userID); err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.Logger.InfoContext(r.Context(), "account: every session ended", "user_id", userID)
	w.WriteHeader(http.StatusNoContent)
}
