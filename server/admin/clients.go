package admin

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/tollgate/tollgate/clientreg"
	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/server/httpjson"
	"github.com/tollgate/tollgate/storage"
)

// Page sizes of list endpoints.
const (
	defaultPageSize = 50
	maxPageSize     = 500
)

// clientPage is one page of a client listing.
type clientPage struct {
	Items         []clientreg.View `json:"items"`
	NextPageToken string           `json:"next_page_token,omitempty"`
}

// listClients pages through clients in ID order; ?name= keeps those whose
// name contains it (case-insensitive).
func (h *Handler) listClients(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size := defaultPageSize
	if raw := q.Get("page_size"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxPageSize {
			httpjson.Write(w, http.StatusBadRequest, apiError{Error: "invalid_request", Description: "page_size must be between 1 and 500.", Field: "page_size"})
			return
		}
		size = n
	}
	all, err := h.Store.ListClients(r.Context())
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	slices.SortFunc(all, func(a, b storage.Client) int { return strings.Compare(a.ID, b.ID) })
	name, after := strings.ToLower(q.Get("name")), q.Get("page_token")
	page := clientPage{Items: []clientreg.View{}}
	for _, c := range all {
		if c.ID <= after || (name != "" && !strings.Contains(strings.ToLower(c.Name), name)) {
			continue
		}
		if len(page.Items) == size {
			page.NextPageToken = page.Items[size-1].ClientID
			break
		}
		page.Items = append(page.Items, clientreg.ViewOf(c))
	}
	httpjson.Write(w, http.StatusOK, page)
}

func (h *Handler) createClient(w http.ResponseWriter, r *http.Request) {
	var reg clientreg.Registration
	if !decode(w, r, &reg) {
		return
	}
	c, secret, err := reg.Build(now())
	if !h.registrationOK(w, err) {
		return
	}
	if secret != "" {
		if c.SecretHash, err = h.Passwords.Hash(secret); err != nil {
			h.unavailable(w, r, err)
			return
		}
	}
	err = h.Store.CreateClient(r.Context(), c)
	if errors.Is(err, storage.ErrAlreadyExists) {
		httpjson.Write(w, http.StatusConflict, apiError{Error: "conflict", Description: "A client with this client_id already exists.", Field: "client_id"})
		return
	}
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.Audit.Record(r.Context(), r, audit.Event{Type: audit.AdminClientCreated, ClientID: c.ID})
	view := clientreg.ViewOf(c)
	view.ClientSecret = secret
	w.Header().Set("Location", Prefix+"/clients/"+c.ID)
	httpjson.Write(w, http.StatusCreated, view)
}

// registrationOK writes the 400 for a registration error.
func (h *Handler) registrationOK(w http.ResponseWriter, err error) bool {
	var fe *clientreg.FieldError
	switch {
	case err == nil:
		return true
	case errors.As(err, &fe):
		httpjson.Write(w, http.StatusBadRequest, apiError{Error: "invalid_client_metadata", Description: fe.Error(), Field: fe.Field})
	default:
		writeError(w, http.StatusBadRequest, "invalid_client_metadata", err.Error())
	}
	return false
}

func (h *Handler) getClient(w http.ResponseWriter, r *http.Request) {
	c, ok := h.loadClient(w, r)
	if ok {
		httpjson.Write(w, http.StatusOK, clientreg.ViewOf(c))
	}
}

func (h *Handler) loadClient(w http.ResponseWriter, r *http.Request) (storage.Client, bool) {
	c, err := h.Store.GetClient(r.Context(), mux.Vars(r)["id"])
	switch {
	case errors.Is(err, storage.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "There is no client with this client_id.")
		return c, false
	case err != nil:
		h.unavailable(w, r, err)
		return c, false
	}
	return c, true
}

// errRejected carries a validation failure out of an update function.
type errRejected struct{ err error }

func (e errRejected) Error() string { return e.err.Error() }

// updateClient applies the fields present in the body (JSON merge) and
// validates the result as a whole. The ID, the secret and whether the client
// is public cannot change here.
func (h *Handler) updateClient(w http.ResponseWriter, r *http.Request) {
	current, ok := h.loadClient(w, r)
	if !ok {
		return
	}
	patch := clientreg.RegistrationOf(current)
	if !decode(w, r, &patch) {
		return
	}
	for field, changed := range map[string]bool{
		"client_id":                  patch.ClientID != current.ID,
		"client_secret":              patch.ClientSecret != "",
		"token_endpoint_auth_method": patch.TokenEndpointAuthMethod != clientreg.RegistrationOf(current).TokenEndpointAuthMethod,
	} {
		if changed {
			httpjson.Write(w, http.StatusBadRequest, apiError{Error: "invalid_client_metadata", Description: field + " cannot be changed by an update (rotate the secret at /clients/{id}/secret).", Field: field})
			return
		}
	}
	var updated storage.Client
	err := h.Store.UpdateClient(r.Context(), current.ID, func(cur storage.Client) (storage.Client, error) {
		next, _, err := patch.Build(cur.CreatedAt)
		if err != nil {
			return cur, errRejected{err}
		}
		next.SecretHash, next.CreatedAt, next.UpdatedAt = cur.SecretHash, cur.CreatedAt, now()
		next.RegistrationTokenHash = cur.RegistrationTokenHash
		updated = next
		return next, nil
	})
	var rejected errRejected
	if errors.As(err, &rejected) {
		h.registrationOK(w, rejected.err)
		return
	}
	if h.changed(w, r, err, updated.ID, audit.AdminClientUpdated) {
		httpjson.Write(w, http.StatusOK, clientreg.ViewOf(updated))
	}
}

// changed reports whether a change to client id was stored, writing the
// error response when it was not, and recording the event when it was.
func (h *Handler) changed(w http.ResponseWriter, r *http.Request, err error, id, event string) bool {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "There is no client with this client_id.")
		return false
	case err != nil:
		h.unavailable(w, r, err)
		return false
	}
	h.ClientChanged(id)
	h.Audit.Record(r.Context(), r, audit.Event{Type: event, ClientID: id})
	return true
}

func (h *Handler) deleteClient(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	if h.changed(w, r, h.Store.DeleteClient(r.Context(), id), id, audit.AdminClientDeleted) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// rotateSecret gives a confidential client a new secret, shown once. The
// old one stops working at once on this replica, and on the others within
// the client cache's lifetime (oauthstore.ClientCacheTTL).
func (h *Handler) rotateSecret(w http.ResponseWriter, r *http.Request) {
	current, ok := h.loadClient(w, r)
	if !ok {
		return
	}
	if current.Public {
		httpjson.Write(w, http.StatusBadRequest, apiError{Error: "invalid_request", Description: "Public clients have no secret.", Field: "token_endpoint_auth_method"})
		return
	}
	secret := clientreg.NewSecret()
	hash, err := h.Passwords.Hash(secret)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	var updated storage.Client
	err = h.Store.UpdateClient(r.Context(), current.ID, func(cur storage.Client) (storage.Client, error) {
		cur.SecretHash, cur.UpdatedAt = hash, now()
		updated = cur
		return cur, nil
	})
	if h.changed(w, r, err, current.ID, audit.AdminClientSecret) {
		view := clientreg.ViewOf(updated)
		view.ClientSecret = secret
		httpjson.Write(w, http.StatusOK, view)
	}
}

func now() time.Time { return time.Now().UTC().Truncate(time.Second) }
