package account

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/server/bearer"
	"github.com/tollgate/tollgate/server/httpjson"
	"github.com/tollgate/tollgate/storage"
)

// maxBody bounds request bodies: a profile with its preferences is a few
// kilobytes.
const maxBody = 16 << 10

// apiError is the body of every error: the OAuth error shape, with the
// field at fault and, for a refused password, the policy rule it broke.
type apiError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Field       string `json:"field,omitempty"`
	Rule        string `json:"rule,omitempty"`
}

// Profile is the user's profile as the API shows it.
type Profile struct {
	Subject       string          `json:"sub"`
	Email         string          `json:"email"`
	EmailVerified bool            `json:"email_verified"`
	Name          string          `json:"name"`
	Picture       string          `json:"picture"`
	Preferences   json.RawMessage `json:"preferences"`
	HasPassword   bool            `json:"has_password"`
	UpdatedAt     time.Time       `json:"updated_at"`
}

func viewProfile(u storage.User) Profile {
	prefs := u.Preferences
	if len(prefs) == 0 {
		prefs = json.RawMessage(`{}`)
	}
	return Profile{
		Subject: u.ID, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name, Picture: u.Picture,
		Preferences: prefs, HasPassword: u.PasswordHash != "", UpdatedAt: u.UpdatedAt.UTC(),
	}
}

// SessionView is a signed-in browser as the API shows it.
type SessionView struct {
	ID        string    `json:"id"`
	Browser   string    `json:"browser"`
	UserAgent string    `json:"user_agent"`
	AMR       []string  `json:"amr"`
	AuthTime  time.Time `json:"auth_time"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

type caller struct {
	user  storage.User
	grant Grant
}

type callerKey struct{}

func callerOf(ctx context.Context) caller { return ctx.Value(callerKey{}).(caller) }

// authenticate lets through requests whose bearer token carries the openid
// scope and acts for a user who still exists and is enabled.
func (h *Handler) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer.Token(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tollgate-account"`)
			writeError(w, http.StatusUnauthorized, "invalid_token", "An access token is required (Authorization: Bearer …).")
			return
		}
		grant, err := h.Bearer(r.Context(), token, Scope)
		switch {
		case errors.Is(err, ErrInsufficientScope):
			w.Header().Set("WWW-Authenticate", `Bearer realm="tollgate-account", error="insufficient_scope", scope="`+Scope+`"`)
			writeError(w, http.StatusForbidden, "insufficient_scope", "The access token was not granted the "+Scope+" scope.")
			return
		case errors.Is(err, ErrInvalidToken):
			h.invalidToken(w, r, "The access token is invalid, expired or revoked.")
			return
		case err != nil:
			h.unavailable(w, r, err)
			return
		case grant.Subject == "":
			h.invalidToken(w, r, "The access token does not act for a user.")
			return
		}
		u, err := h.Store.GetUser(r.Context(), grant.Subject)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && u.Disabled) {
			h.invalidToken(w, r, "The user of this access token no longer exists or is disabled.")
			return
		}
		if err != nil {
			h.unavailable(w, r, err)
			return
		}
		ctx := context.WithValue(r.Context(), callerKey{}, caller{user: u, grant: grant})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (h *Handler) invalidToken(w http.ResponseWriter, r *http.Request, description string) {
	h.Logger.InfoContext(r.Context(), "account API: refused token", "reason", description, "path", r.URL.Path)
	w.Header().Set("WWW-Authenticate", `Bearer realm="tollgate-account", error="invalid_token"`)
	writeError(w, http.StatusUnauthorized, "invalid_token", description)
}

func (h *Handler) apiGetProfile(w http.ResponseWriter, r *http.Request) {
	httpjson.Write(w, http.StatusOK, viewProfile(callerOf(r.Context()).user))
}

// profilePatch is the body of PATCH /profile: fields left out stay as they
// are; preferences is a JSON merge patch.
type profilePatch struct {
	Name        *string         `json:"name"`
	Picture     *string         `json:"picture"`
	Preferences json.RawMessage `json:"preferences"`
}

func (h *Handler) apiPatchProfile(w http.ResponseWriter, r *http.Request) {
	var in profilePatch
	if !decode(w, r, &in) {
		return
	}
	c := callerOf(r.Context())
	u, err := h.updateProfile(r.Context(), c.user.ID, ProfileChange{Name: in.Name, Picture: in.Picture, Preferences: in.Preferences})
	if fields := changedFields(c.user, u); err == nil && fields != "" {
		h.record(r, audit.AccountProfileUpdated, c.user.ID, nil, map[string]string{"fields": fields, "via": "api"})
	}
	var fe *FieldError
	switch {
	case errors.As(err, &fe):
		httpjson.Write(w, http.StatusBadRequest, apiError{Error: "invalid_request", Description: fe.Message, Field: fe.Field})
	case errors.Is(err, storage.ErrNotFound):
		h.invalidToken(w, r, "The user of this access token no longer exists.")
	case err != nil:
		h.unavailable(w, r, err)
	default:
		httpjson.Write(w, http.StatusOK, viewProfile(u))
	}
}

type passwordChange struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// apiChangePassword changes the password and ends every other session and
// grant: the calling app's grant is kept, every browser is signed out.
func (h *Handler) apiChangePassword(w http.ResponseWriter, r *http.Request) {
	var in passwordChange
	if !decode(w, r, &in) {
		return
	}
	for field, v := range map[string]string{"current_password": in.CurrentPassword, "new_password": in.NewPassword} {
		if v == "" {
			httpjson.Write(w, http.StatusBadRequest, apiError{Error: "invalid_request", Description: field + " is required.", Field: field})
			return
		}
	}
	c := callerOf(r.Context())
	err := h.changePassword(r.Context(), c.user, in.CurrentPassword, in.NewPassword, "", c.grant.GrantID)
	h.recordPasswordChange(r, c.user.ID, err, "api")
	var throttled *throttledError
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, errWrongPassword):
		httpjson.Write(w, http.StatusBadRequest, apiError{Error: "invalid_request", Description: "The current password is not right.", Field: "current_password"})
	case errors.As(err, &throttled):
		w.Header().Set("Retry-After", retryAfter(throttled.Wait))
		httpjson.Write(w, http.StatusTooManyRequests, apiError{Error: "too_many_attempts", Description: "Too many wrong passwords. Retry after the time in Retry-After.", Field: "current_password"})
	case errors.Is(err, errNoPassword):
		httpjson.Write(w, http.StatusConflict, apiError{Error: "no_password", Description: "The account has no password: it signs in with another provider.", Field: "current_password"})
	case errors.Is(err, errSamePassword):
		httpjson.Write(w, http.StatusBadRequest, apiError{Error: "invalid_request", Description: "The new password is the current one.", Field: "new_password", Rule: "reused"})
	default:
		if pe, ok := policyRule(err); ok {
			httpjson.Write(w, http.StatusBadRequest, apiError{Error: "invalid_request", Description: pe.Message, Field: "new_password", Rule: pe.Rule})
			return
		}
		h.unavailable(w, r, err)
	}
}

func (h *Handler) apiListSessions(w http.ResponseWriter, r *http.Request) {
	sessions, err := h.Store.ListUserSessions(r.Context(), callerOf(r.Context()).user.ID)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	items := make([]SessionView, 0, len(sessions))
	for _, s := range sessions {
		amr := s.AMR
		if amr == nil {
			amr = []string{}
		}
		items = append(items, SessionView{
			ID: sessionHandle(s.ID), Browser: describeBrowser(s.UserAgent), UserAgent: s.UserAgent, AMR: amr,
			AuthTime: s.AuthTime.UTC(), CreatedAt: s.CreatedAt.UTC(), ExpiresAt: s.ExpiresAt.UTC(),
		})
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"items": items})
}

func (h *Handler) apiEndSession(w http.ResponseWriter, r *http.Request) {
	_, err := h.endSession(r.Context(), callerOf(r.Context()).user.ID, mux.Vars(r)["id"])
	h.record(r, audit.AccountSessionEnded, callerOf(r.Context()).user.ID, err, map[string]string{"via": "api"})
	switch {
	case errors.Is(err, errNoSession):
		httpjson.Write(w, http.StatusNotFound, apiError{Error: "not_found", Description: "You have no session with this id."})
	case err != nil:
		h.unavailable(w, r, err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func writeError(w http.ResponseWriter, status int, code, description string) {
	httpjson.Write(w, status, apiError{Error: code, Description: description})
}

func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	h.Logger.ErrorContext(r.Context(), "account API: storage unavailable", "err", err)
	w.Header().Set("Retry-After", retryAfterSeconds)
	writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "The service is temporarily unavailable. Retry shortly.")
}

// decode reads a JSON object into v, refusing unknown fields, wrong types,
// trailing data and oversized bodies; the 400 (or 413) names the field.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("unexpected data after the JSON object")
	}
	if err == nil {
		return true
	}
	var tooLarge *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooLarge):
		httpjson.Write(w, http.StatusRequestEntityTooLarge, apiError{Error: "invalid_request", Description: fmt.Sprintf("The body must be at most %d bytes.", maxBody)})
	case errors.As(err, &typeErr):
		httpjson.Write(w, http.StatusBadRequest, apiError{Error: "invalid_request", Description: fmt.Sprintf("%s must be a %s.", typeErr.Field, typeErr.Type), Field: typeErr.Field})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		httpjson.Write(w, http.StatusBadRequest, apiError{Error: "invalid_request", Description: fmt.Sprintf("%q is not a field of this resource.", field), Field: field})
	default:
		httpjson.Write(w, http.StatusBadRequest, apiError{Error: "invalid_request", Description: "The body must be a JSON object: " + err.Error()})
	}
	return false
}
