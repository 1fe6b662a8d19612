package login

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/server/authflow"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/templates"
)

func (h *Handler) showConsent(w http.ResponseWriter, r *http.Request) {
	handle := r.URL.Query().Get("request")
	p, user, ok := h.consentContext(w, r, handle)
	if !ok {
		return
	}
	token, err := h.Sessions.CSRFToken(w, r)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.Pages.Render(w, http.StatusOK, "consent", templates.ConsentPage{
		Page: templates.Page{CSRFToken: token}, Request: handle,
		ClientName: h.clientName(r, p.ClientID), UserEmail: user.Email, Scopes: p.Scopes,
	})
}

func (h *Handler) submitConsent(w http.ResponseWriter, r *http.Request) {
	if !h.Sessions.CheckCSRF(r) {
		h.errorPage(w, http.StatusForbidden, "invalid_request", "The form has expired. Go back and try again.")
		return
	}
	handle := r.PostFormValue("request")
	p, user, ok := h.consentContext(w, r, handle)
	if !ok {
		return
	}
	switch r.PostFormValue("decision") {
	case "allow":
		p.Consented = true
		if r.PostFormValue("remember") == "1" {
			if err := h.remember(r, user.ID, p); err != nil {
				h.unavailable(w, r, err)
				return
			}
		}
	case "deny":
		p.Denied = true
	default:
		h.errorPage(w, http.StatusBadRequest, "invalid_request", "Choose Allow or Deny.")
		return
	}
	if err := h.Pending.Update(r.Context(), handle, p); err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.Logger.InfoContext(r.Context(), "consent decided", "user_id", user.ID, "client_id", p.ClientID, "allowed", p.Consented)
	h.Audit.Record(r.Context(), r, consentEvent(user.ID, p, r.PostFormValue("remember") == "1"))
	h.resume(w, r, handle)
}

// consentContext loads the pending request and checks that this browser's
// session is the one the request is bound to.
func (h *Handler) consentContext(w http.ResponseWriter, r *http.Request, handle string) (authflow.Pending, storage.User, bool) {
	p, ok := h.pending(w, r, handle)
	if !ok {
		return p, storage.User{}, false
	}
	sess, err := h.Sessions.Load(r)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.unavailable(w, r, err)
		return p, storage.User{}, false
	}
	if err != nil || sess.ID != p.SessionID {
		h.errorPage(w, http.StatusForbidden, "login_required", "Sign in again to continue.")
		return p, storage.User{}, false
	}
	user, err := h.Store.GetUser(r.Context(), sess.UserID)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			h.errorPage(w, http.StatusForbidden, "login_required", "Sign in again to continue.")
		} else {
			h.unavailable(w, r, err)
		}
		return p, storage.User{}, false
	}
	return p, user, true
}

// remember adds the request's scopes to the user's stored consent.
func (h *Handler) remember(r *http.Request, userID string, p authflow.Pending) error {
	now := time.Now().UTC()
	c, err := h.Store.GetConsent(r.Context(), userID, p.ClientID)
	if errors.Is(err, storage.ErrNotFound) {
		c = storage.Consent{UserID: userID, ClientID: p.ClientID, CreatedAt: now}
	} else if err != nil {
		return err
	}
	for _, s := range p.Scopes {
		if !slices.Contains(c.Scopes, s) {
			c.Scopes = append(c.Scopes, s)
		}
	}
	c.UpdatedAt = now
	return h.Store.SaveConsent(r.Context(), c)
}

// consentEvent describes a consent decision for the audit log.
func consentEvent(userID string, p authflow.Pending, remember bool) audit.Event {
	e := audit.Event{Type: audit.ConsentDenied, UserID: userID, ClientID: p.ClientID,
		Details: map[string]string{"scope": strings.Join(p.Scopes, " ")}}
	if p.Consented {
		e.Type = audit.ConsentGranted
		e.Details["remembered"] = strconv.FormatBool(remember)
	}
	return e
}
