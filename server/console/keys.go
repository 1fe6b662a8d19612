package console

import (
	"net/http"
	"time"

	"github.com/tollgate/tollgate/keyring"
)

type keyRow struct {
	KID, Algorithm, State string
	CreatedAt, RetiresAt  time.Time
}

type keysData struct{ Items []keyRow }

func (h *Handler) listKeys(w http.ResponseWriter, r *http.Request) {
	var list struct {
		Items []keyring.Info `json:"items"`
	}
	if err := h.call(r, http.MethodGet, "/keys", nil, nil, &list); err != nil {
		h.fail(w, r, err)
		return
	}
	var data keysData
	for _, k := range list.Items {
		row := keyRow{KID: k.KID, Algorithm: k.Algorithm, State: k.State, CreatedAt: k.CreatedAt}
		if k.RetiresAt != nil {
			row.RetiresAt = *k.RetiresAt
		}
		data.Items = append(data.Items, row)
	}
	h.render(w, r, http.StatusOK, "keys", "keys", page{Data: data})
}

func (h *Handler) rotateKeys(w http.ResponseWriter, r *http.Request) {
	if err := h.call(r, http.MethodPost, "/keys/rotate", nil, nil, nil); err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirect(w, r, "/keys", "rotated")
}
