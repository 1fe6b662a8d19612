package admin

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/server/httpjson"
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
	httpjson.Write(w, http.StatusOK, keyList{Items: keyring.Infos(keys)})
}

// rotateKeys promotes the published next key; the current one stays in
// JWKS for KeyRetention. A next key published less than the publish delay
// ago may not sign yet: 409 rotation_too_soon, with Retry-After.
func (h *Handler) rotateKeys(w http.ResponseWriter, r *http.Request) {
	err := h.Keys.Rotate(r.Context(), h.KeyRetention)
	var tooSoon *keyring.TooSoonError
	switch {
	case errors.As(err, &tooSoon):
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(tooSoon.Wait.Seconds()))))
		writeError(w, http.StatusConflict, "rotation_too_soon",
			"The next key was published less than key_publish_delay ago, so verifiers may not have it yet: rotate again in "+
				tooSoon.Wait.Round(time.Second).String()+".")
		return
	case err != nil:
		h.unavailable(w, r, err)
		return
	}
	h.Audit.Record(r.Context(), r, audit.Event{Type: audit.AdminKeysRotated})
	h.listKeys(w, r)
}
