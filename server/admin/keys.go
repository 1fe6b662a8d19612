package admin

import (
	"net/http"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/server/audit"
)

type keyList struct {
	Items []keyring.Info `json:"items"`
}

func (h *Handler) listKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := h.Keys.Keys(r.Context())
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, keyList{Items: keyring.Infos(keys)})
}

// rotateKeys promotes the published next key; the current one stays in
// JWKS for KeyRetention.
func (h *Handler) rotateKeys(w http.ResponseWriter, r *http.Request) {
	if err := h.Keys.Rotate(r.Context(), h.KeyRetention); err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.Audit.Record(r.Context(), r, audit.Event{Type: audit.AdminKeysRotated})
	h.listKeys(w, r)
}
