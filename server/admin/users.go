package admin

import (
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/tollgate/tollgate/passwords"
	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/server/httpjson"
	"github.com/tollgate/tollgate/storage"
)

// UserView is a user as admins see it, through the API or the CLI: never
// the password hash.
type UserView struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	Name          string    `json:"name"`
	Picture       string    `json:"picture"`
	Disabled      bool      `json:"disabled"`
	HasPassword   bool      `json:"has_password"`
	Roles         []string  `json:"roles"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	// MFAEnabled says whether the user has a confirmed second factor; it
	// is only in the answer of GET /users/{id}.
	MFAEnabled *bool `json:"mfa_enabled,omitempty"`
}

// ViewUser returns the admin's view of u.
func ViewUser(u storage.User) UserView {
	return UserView{
		ID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name, Picture: u.Picture,
		Disabled: u.Disabled, HasPassword: u.PasswordHash != "", CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
		Roles: append([]string{}, u.Roles...),
	}
}

type userPage struct {
	Items         []UserView `json:"items"`
	NextPageToken string     `json:"next_page_token,omitempty"`
}

// UserInput is the body of a create or an update, and what the CLI sends
// or applies locally. Pointers tell a field left out from one set to its
// zero value.
type UserInput struct {
	Email         *string   `json:"email"`
	Name          *string   `json:"name"`
	Picture       *string   `json:"picture"`
	Password      *string   `json:"password"`
	EmailVerified *bool     `json:"email_verified"`
	Roles         *[]string `json:"roles"`
}

func (h *Handler) fieldError(w http.ResponseWriter, status int, code, field, description string) {
	httpjson.Write(w, status, apiError{Error: code, Description: description, Field: field})
}

// listUsers pages through users in ID order; email and name filter by
// substring (case-insensitive), status by active or disabled. The store
// filters and pages: a page costs the same with a million users as with ten.
func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size := defaultPageSize
	if raw := q.Get("page_size"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxPageSize {
			h.fieldError(w, http.StatusBadRequest, "invalid_request", "page_size", "page_size must be between 1 and 500.")
			return
		}
		size = n
	}
	status := q.Get("status")
	if status != "" && status != "active" && status != "disabled" {
		h.fieldError(w, http.StatusBadRequest, "invalid_request", "status", "status must be active or disabled.")
		return
	}
	// One more than the page tells whether another page follows.
	found, err := h.Store.SearchUsers(r.Context(), storage.UserQuery{
		Email: q.Get("email"), Name: q.Get("name"), Status: storage.UserStatus(status),
		After: q.Get("page_token"), Limit: size + 1,
	})
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	page := userPage{Items: make([]UserView, 0, min(len(found), size))}
	for _, u := range found[:min(len(found), size)] {
		page.Items = append(page.Items, ViewUser(u))
	}
	if len(found) > size {
		page.NextPageToken = page.Items[size-1].ID
	}
	httpjson.Write(w, http.StatusOK, page)
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) {
	var in UserInput
	if !decode(w, r, &in) {
		return
	}
	if in.Email == nil {
		h.fieldError(w, http.StatusBadRequest, "invalid_request", "email", "email is required.")
		return
	}
	now := now()
	u := storage.User{ID: uuid.NewString(), CreatedAt: now, UpdatedAt: now}
	if !h.applyUser(w, &u, in) {
		return
	}
	err := h.Store.CreateUser(r.Context(), u)
	if errors.Is(err, storage.ErrAlreadyExists) {
		h.fieldError(w, http.StatusConflict, "conflict", "email", "A user with this email already exists.")
		return
	}
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.Logger.InfoContext(r.Context(), "admin: user created", "user_id", u.ID)
	h.Audit.Record(r.Context(), r, audit.Event{Type: audit.AdminUserCreated, UserID: u.ID, Details: in.Fields()})
	w.Header().Set("Location", Prefix+"/users/"+u.ID)
	httpjson.Write(w, http.StatusCreated, ViewUser(u))
}

// applyUser validates in and applies it to u; it writes the error itself.
func (h *Handler) applyUser(w http.ResponseWriter, u *storage.User, in UserInput) bool {
	err := ApplyUser(u, in, h.Policy, h.Passwords)
	var fe *FieldError
	switch {
	case err == nil:
		return true
	case errors.As(err, &fe):
		h.fieldError(w, http.StatusBadRequest, "invalid_request", fe.Field, fe.Description)
	default:
		writeError(w, http.StatusInternalServerError, "server_error", "The password could not be hashed.")
	}
	return false
}

// FieldError is input that does not validate: the field, and why.
type FieldError struct {
	Field       string
	Description string
}

func (e *FieldError) Error() string { return e.Description }

// ApplyUser validates in and applies it to u, hashing a new password. The
// API and the CLI's local backend both go through it, so a user is the same
// whichever way it was made. A *FieldError names bad input; any other
// error is a failure to hash.
func ApplyUser(u *storage.User, in UserInput, policy passwords.Policy, hasher *passwords.Hasher) error {
	if in.Email != nil {
		addr, err := mail.ParseAddress(*in.Email)
		if err != nil || addr.Address != *in.Email {
			return &FieldError{"email", "email must be an address such as name@example.com."}
		}
		u.Email = strings.ToLower(addr.Address)
	}
	if in.Name != nil {
		if len(*in.Name) > 200 {
			return &FieldError{"name", "name must be at most 200 characters."}
		}
		u.Name = strings.TrimSpace(*in.Name)
	}
	if in.Picture != nil {
		if p := *in.Picture; p != "" && !strings.HasPrefix(p, "https://") {
			return &FieldError{"picture", "picture must be an https URL."}
		}
		u.Picture = *in.Picture
	}
	if in.EmailVerified != nil {
		u.EmailVerified = *in.EmailVerified
	}
	if in.Roles != nil {
		roles, err := CheckRoles(*in.Roles)
		if err != nil {
			return &FieldError{"roles", err.Error()}
		}
		u.Roles = roles
	}
	if in.Password != nil {
		if err := policy.Check(*in.Password, u.Email, u.Name); err != nil {
			return &FieldError{"password", err.Error()}
		}
		hash, err := hasher.Hash(*in.Password)
		if err != nil {
			return fmt.Errorf("hash password: %w", err)
		}
		u.PasswordHash = hash
	}
	return nil
}

// Fields names the fields the input sets, for the audit log (never their
// values: one of them may be a password).
func (in UserInput) Fields() map[string]string {
	var set []string
	for name, present := range map[string]bool{
		"email": in.Email != nil, "name": in.Name != nil, "picture": in.Picture != nil,
		"password": in.Password != nil, "email_verified": in.EmailVerified != nil,
	} {
		if present {
			set = append(set, name)
		}
	}
	slices.Sort(set)
	return map[string]string{"fields": strings.Join(set, ",")}
}

func (h *Handler) loadUser(w http.ResponseWriter, r *http.Request) (storage.User, bool) {
	u, err := h.Store.GetUser(r.Context(), mux.Vars(r)["id"])
	switch {
	case errors.Is(err, storage.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "There is no user with this id.")
		return u, false
	case err != nil:
		h.unavailable(w, r, err)
		return u, false
	}
	return u, true
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request) {
	u, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	m, err := h.Store.GetMFA(r.Context(), u.ID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.unavailable(w, r, err)
		return
	}
	view := ViewUser(u)
	enabled := err == nil && m.Confirmed
	view.MFAEnabled = &enabled
	httpjson.Write(w, http.StatusOK, view)
}

// updateUser applies the fields present. A new password signs the user
// out everywhere, as a reset does.
func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request) {
	current, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	var in UserInput
	if !decode(w, r, &in) {
		return
	}
	next := current
	if !h.applyUser(w, &next, in) {
		return
	}
	next.UpdatedAt = now()
	h.saveUser(w, r, current.ID, next, in.Password != nil, audit.Event{Type: audit.AdminUserUpdated, Details: in.Fields()})
}

// saveUser stores u and, when signOut is set, ends everything the user had;
// then it records the event.
func (h *Handler) saveUser(w http.ResponseWriter, r *http.Request, id string, u storage.User, signOut bool, event audit.Event) {
	err := h.Store.UpdateUser(r.Context(), id, func(storage.User) (storage.User, error) { return u, nil })
	switch {
	case errors.Is(err, storage.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "There is no user with this id.")
		return
	case errors.Is(err, storage.ErrAlreadyExists):
		h.fieldError(w, http.StatusConflict, "conflict", "email", "Another user has this email.")
		return
	case err != nil:
		h.unavailable(w, r, err)
		return
	}
	if signOut {
		if err := storage.SignOutEverywhere(r.Context(), h.Store, id); err != nil {
			h.unavailable(w, r, err)
			return
		}
	}
	event.UserID = id
	h.Audit.Record(r.Context(), r, event)
	httpjson.Write(w, http.StatusOK, ViewUser(u))
}

func (h *Handler) setDisabled(disabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, ok := h.loadUser(w, r)
		if !ok {
			return
		}
		u.Disabled, u.UpdatedAt = disabled, now()
		event := audit.Event{Type: audit.AdminUserEnabled}
		if disabled {
			event.Type = audit.AdminUserDisabled
		}
		// A disabled user keeps nothing that still works.
		h.saveUser(w, r, u.ID, u, disabled, event)
	}
}

// signOutUser ends every session and grant of the user.
func (h *Handler) signOutUser(w http.ResponseWriter, r *http.Request) {
	u, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	if err := storage.SignOutEverywhere(r.Context(), h.Store, u.ID); err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.Audit.Record(r.Context(), r, audit.Event{Type: audit.AdminUserSignedOut, UserID: u.ID})
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request) {
	u, ok := h.loadUser(w, r)
	if !ok {
		return
	}
	if err := storage.SignOutEverywhere(r.Context(), h.Store, u.ID); err != nil {
		h.unavailable(w, r, err)
		return
	}
	err := h.Store.DeleteUser(r.Context(), u.ID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.unavailable(w, r, err)
		return
	}
	if h.UserDeleted != nil {
		h.UserDeleted(r.Context(), u)
	}
	h.Audit.Record(r.Context(), r, audit.Event{Type: audit.AdminUserDeleted, UserID: u.ID})
	w.WriteHeader(http.StatusNoContent)
}
