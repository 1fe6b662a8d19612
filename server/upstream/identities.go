package upstream

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/templates"
)

// account loads the signed-in user; ok is false when there is none (the
// page then asks to sign in) or on a failure already answered.
func (h *Handler) account(w http.ResponseWriter, r *http.Request) (storage.User, bool) {
	sess, err := h.Sessions.Load(r)
	var user storage.User
	if err == nil {
		user, err = h.Store.GetUser(r.Context(), sess.UserID)
	}
	if errors.Is(err, storage.ErrNotFound) || (err == nil && user.Disabled) {
		h.renderIdentities(w, r, http.StatusUnauthorized, templates.IdentitiesPage{})
		return storage.User{}, false
	}
	if err != nil {
		h.unavailable(w, r, err)
		return storage.User{}, false
	}
	return user, true
}

// showIdentities lists the upstream identities linked to the account, with
// buttons to link the others and to unlink.
func (h *Handler) showIdentities(w http.ResponseWriter, r *http.Request) {
	user, ok := h.account(w, r)
	if !ok {
		return
	}
	data := templates.IdentitiesPage{}
	q := r.URL.Query()
	if p := h.byID[q.Get("linked")]; p != nil {
		data.Notice = p.cfg.Name + " is now linked to your account."
	}
	if p := h.byID[q.Get("unlinked")]; p != nil {
		data.Notice = p.cfg.Name + " is no longer linked to your account."
	}
	h.identitiesPage(w, r, http.StatusOK, user, data)
}

func (h *Handler) identitiesPage(w http.ResponseWriter, r *http.Request, status int, user storage.User, data templates.IdentitiesPage) {
	list, err := h.Store.ListUserIdentities(r.Context(), user.ID)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	data.SignedIn, data.Email = true, user.Email
	linked := map[string]bool{}
	for _, i := range list {
		linked[i.Upstream] = true
		name := i.Upstream
		if p := h.byID[i.Upstream]; p != nil {
			name = p.cfg.Name
		}
		data.Identities = append(data.Identities, templates.IdentityRow{
			ID: i.ID, UpstreamName: name, Email: i.Email, LinkedAt: i.CreatedAt,
			CanUnlink: canUnlink(user, list),
		})
	}
	for _, p := range h.providers {
		if !linked[p.cfg.ID] {
			data.Available = append(data.Available, templates.UpstreamButton{ID: p.cfg.ID, Name: p.cfg.Name})
		}
	}
	h.renderIdentities(w, r, status, data)
}

// canUnlink: an identity may go unless it is the last way into an account
// without a password.
func canUnlink(user storage.User, list []storage.Identity) bool {
	return user.PasswordHash != "" || len(list) > 1
}

func (h *Handler) renderIdentities(w http.ResponseWriter, r *http.Request, status int, data templates.IdentitiesPage) {
	token, err := h.Sessions.CSRFToken(w, r)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	data.CSRFToken = token
	h.Pages.Render(w, status, "identities", data)
}

// linkIdentity sends the signed-in user to an upstream to link it.
func (h *Handler) linkIdentity(w http.ResponseWriter, r *http.Request) {
	if !h.Sessions.CheckCSRF(r) {
		h.errorPage(w, http.StatusForbidden, "invalid_request", "The form has expired. Go back and try again.")
		return
	}
	user, ok := h.account(w, r)
	if !ok {
		return
	}
	p := h.byID[r.PostFormValue("upstream")]
	if p == nil {
		h.identitiesPage(w, r, http.StatusBadRequest, user, templates.IdentitiesPage{Error: "There is no such provider to link."})
		return
	}
	h.begin(w, r, p, loginState{LinkUser: user.ID}, nil, nil)
}

// unlinkIdentity removes one of the user's identities, refusing to remove
// the last way in.
func (h *Handler) unlinkIdentity(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !h.Sessions.CheckCSRF(r) {
		h.errorPage(w, http.StatusForbidden, "invalid_request", "The form has expired. Go back and try again.")
		return
	}
	user, ok := h.account(w, r)
	if !ok {
		return
	}
	removed, err := h.unlink(ctx, user.ID, r.PostFormValue("identity"))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		h.identitiesPage(w, r, http.StatusNotFound, user, templates.IdentitiesPage{Error: "That sign-in method is not linked to your account."})
	case errors.Is(err, errLastWayIn):
		h.Logger.InfoContext(ctx, "unlink refused: last way in", "user_id", user.ID)
		h.identitiesPage(w, r, http.StatusConflict, user, templates.IdentitiesPage{
			Error: "This is your only way to sign in. Set a password or link another provider first.",
		})
	case err != nil:
		h.unavailable(w, r, err)
	default:
		h.Logger.InfoContext(ctx, "upstream identity unlinked", "user_id", user.ID, "upstream", removed.Upstream)
		h.Audit.Record(ctx, r, audit.Event{Type: audit.IdentityUnlinked, UserID: user.ID, Details: map[string]string{"upstream": removed.Upstream}})
		http.Redirect(w, r, h.Issuer+"/account/identities?unlinked="+url.QueryEscape(removed.Upstream), http.StatusSeeOther)
	}
}

var errLastWayIn = errors.New("upstream: the last way into the account")

// unlink deletes the user's identity id in one transaction holding the
// user's row, so that two unlinks at once cannot both see another way in
// and together remove the last one.
func (h *Handler) unlink(ctx context.Context, userID, id string) (storage.Identity, error) {
	tx, err := h.Store.BeginTx(ctx)
	if err != nil {
		return storage.Identity{}, err
	}
	removed, err := func() (storage.Identity, error) {
		var user storage.User
		err := h.Store.UpdateUser(tx, userID, func(u storage.User) (storage.User, error) {
			user = u
			return u, nil
		})
		if err != nil {
			return storage.Identity{}, err
		}
		list, err := h.Store.ListUserIdentities(tx, userID)
		if err != nil {
			return storage.Identity{}, err
		}
		i := slices.IndexFunc(list, func(i storage.Identity) bool { return i.ID == id })
		switch {
		case i < 0:
			return storage.Identity{}, storage.ErrNotFound
		case !canUnlink(user, list):
			return storage.Identity{}, errLastWayIn
		}
		return list[i], h.Store.DeleteIdentity(tx, userID, id)
	}()
	if err != nil {
		if rbErr := h.Store.Rollback(tx); rbErr != nil {
			return storage.Identity{}, errors.Join(err, rbErr)
		}
		return storage.Identity{}, err
	}
	return removed, h.Store.Commit(tx)
}
