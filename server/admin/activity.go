package admin

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/server/httpjson"
	"github.com/tollgate/tollgate/storage"
)

// SessionView is a browser session as admins see it. The ID is a hash of
// the cookie, which cannot be turned back into one.
type SessionView struct {
	ID        string    `json:"id"`
	AuthTime  time.Time `json:"auth_time"`
	AMR       []string  `json:"amr"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ConsentView is a remembered consent.
type ConsentView struct {
	ClientID  string    `json:"client_id"`
	Scope     string    `json:"scope"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type sessionList struct {
	Items []SessionView `json:"items"`
}

type consentList struct {
	Items []ConsentView `json:"items"`
}

// listSessions shows the user's live browser sessions, newest first.
func (h *Handler) listSessions(w http.ResponseWriter, r *http.Request) {
	u, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	sessions, err := h.Store.ListUserSessions(r.Context(), u.ID)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	out := sessionList{Items: []SessionView{}}
	for _, s := range sessions {
		amr := s.AMR
		if amr == nil {
			amr = []string{}
		}
		out.Items = append(out.Items, SessionView{ID: s.ID, AuthTime: s.AuthTime, AMR: amr, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt})
	}
	httpjson.Write(w, http.StatusOK, out)
}

// deleteSession ends one of the user's sessions: that browser must sign in
// again. Tokens already issued live on (sign the user out everywhere to
// end those too).
func (h *Handler) deleteSession(w http.ResponseWriter, r *http.Request) {
	u, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	sid := mux.Vars(r)["sid"]
	sessions, err := h.Store.ListUserSessions(r.Context(), u.ID)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	// Only a session of this user, whatever the path names.
	if !slices.ContainsFunc(sessions, func(s storage.Session) bool { return s.ID == sid }) {
		writeError(w, http.StatusNotFound, "not_found", "This user has no live session with this id.")
		return
	}
	err = h.Store.DeleteSession(r.Context(), sid)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "This user has no live session with this id.")
		return
	case err != nil:
		h.unavailable(w, r, err)
		return
	}
	h.Audit.Record(r.Context(), r, audit.Event{Type: audit.AdminUserSessionEnded, UserID: u.ID})
	w.WriteHeader(http.StatusNoContent)
}

// listConsents shows the clients the user has let act for them.
func (h *Handler) listConsents(w http.ResponseWriter, r *http.Request) {
	u, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	consents, err := h.Store.ListUserConsents(r.Context(), u.ID)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	out := consentList{Items: []ConsentView{}}
	for _, c := range consents {
		out.Items = append(out.Items, ConsentView{ClientID: c.ClientID, Scope: strings.Join(c.Scopes, " "), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt})
	}
	httpjson.Write(w, http.StatusOK, out)
}

// revokeConsent forgets the user's consent for the client and revokes
// every token the client holds for the user, so the client must ask again.
// Without a consent it is 404, after revoking the tokens all the same.
func (h *Handler) revokeConsent(w http.ResponseWriter, r *http.Request) {
	u, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	client := mux.Vars(r)["client"]
	err := storage.RevokeClientGrants(r.Context(), h.Store, u.ID, client)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "This user has no consent for this client.")
		return
	case err != nil:
		h.unavailable(w, r, err)
		return
	}
	h.Audit.Record(r.Context(), r, audit.Event{Type: audit.AdminUserConsentRevoked, UserID: u.ID, ClientID: client})
	w.WriteHeader(http.StatusNoContent)
}

// sendPasswordReset mails the user a reset link, the one the forgot
// password page sends. Nothing changes until the user follows it.
func (h *Handler) sendPasswordReset(w http.ResponseWriter, r *http.Request) {
	u, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	switch {
	case h.ResetMail == nil:
		writeError(w, http.StatusConflict, "mail_disabled", "Email is not set up on this server, so no reset link can be sent.")
		return
	case u.Disabled:
		writeError(w, http.StatusConflict, "user_disabled", "The user is disabled: enable them first.")
		return
	case u.Email == "":
		writeError(w, http.StatusConflict, "no_email", "The user has no email address to send a link to.")
		return
	}
	if err := h.ResetMail(r.Context(), u); err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.Audit.Record(r.Context(), r, audit.Event{Type: audit.AdminUserPasswordReset, UserID: u.ID})
	w.WriteHeader(http.StatusAccepted)
}
