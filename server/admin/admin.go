// Package admin serves the admin REST API at /admin/v1: clients, users and
// signing keys, in JSON, for scripts and the admin console. Every request carries a
// bearer token: an access token from Tollgate itself with the tollgate:admin
// scope, or the bootstrap admin token from the configuration.
package admin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/passwords"
	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/server/bearer"
	"github.com/tollgate/tollgate/server/clientip"
	"github.com/tollgate/tollgate/server/httpjson"
	"github.com/tollgate/tollgate/storage"
)

// Scope is the scope an access token needs for the admin API.
const Scope = "tollgate:admin"

// Prefix is where the API is mounted below the issuer.
const Prefix = "/admin/v1"

// maxBody bounds request bodies; a registration is a few kilobytes.
const maxBody = 64 << 10

// retryAfterSeconds is the retry hint on every 503.
const retryAfterSeconds = 2

// Errors a BearerChecker returns besides storage failures.
var (
	ErrInvalidToken      = errors.New("invalid token")
	ErrInsufficientScope = errors.New("insufficient scope")
)

// BearerChecker verifies an access token and that it carries scope. It
// returns ErrInvalidToken, ErrInsufficientScope, or another error when the
// check itself could not be made.
type BearerChecker func(ctx context.Context, token, scope string) error

// Store is what the admin API reads and writes.
type Store interface {
	storage.ClientStore
	storage.UserStore
	storage.AccountRevoker
	storage.MFAStore
	storage.AuditStore
	storage.UserActivityStore
	DeleteSession(ctx context.Context, id string) error
	DeleteConsent(ctx context.Context, userID, clientID string) error
}

// Handler serves the admin API. Its fields are its dependencies.
type Handler struct {
	Store     Store
	Keys      *keyring.Keyring
	Passwords *passwords.Hasher
	// Policy judges passwords admins set.
	Policy passwords.Policy
	Logger *slog.Logger
	Bearer BearerChecker
	// ClientChanged is told of every client this handler changes, so that
	// caches drop it.
	ClientChanged func(id string)
	// AdminToken, when set, is accepted as a bearer token with every right:
	// for bootstrapping, before any admin client exists.
	AdminToken string
	// KeyRetention is how long a rotated-out key stays published: the
	// longest life of a token it signed.
	KeyRetention time.Duration
	// OpenAPI is the API's OpenAPI 3 description, served as is.
	OpenAPI []byte
	// Audit records every change (and serves the audit log).
	Audit *audit.Recorder
	// ResetMail mails a user a password reset link (the hosted pages'
	// own); nil when no mail is set up.
	ResetMail func(ctx context.Context, u storage.User) error
	// UserDeleted, when set, is told of every user deleted, to remove
	// what lives outside the database (the stored picture).
	UserDeleted func(ctx context.Context, u storage.User)
}

// Mount registers the API on r.
func (h *Handler) Mount(r *mux.Router) {
	api := r.PathPrefix(Prefix).Subrouter()
	api.Use(h.authenticate)
	api.HandleFunc("/clients", h.listClients).Methods(http.MethodGet)
	api.HandleFunc("/clients", h.createClient).Methods(http.MethodPost)
	api.HandleFunc("/clients/{id}", h.getClient).Methods(http.MethodGet)
	api.HandleFunc("/clients/{id}", h.updateClient).Methods(http.MethodPatch)
	api.HandleFunc("/clients/{id}", h.deleteClient).Methods(http.MethodDelete)
	api.HandleFunc("/clients/{id}/secret", h.rotateSecret).Methods(http.MethodPost)
	api.HandleFunc("/users", h.listUsers).Methods(http.MethodGet)
	api.HandleFunc("/users", h.createUser).Methods(http.MethodPost)
	api.HandleFunc("/users/{id}", h.getUser).Methods(http.MethodGet)
	api.HandleFunc("/users/{id}", h.updateUser).Methods(http.MethodPatch)
	api.HandleFunc("/users/{id}", h.deleteUser).Methods(http.MethodDelete)
	api.HandleFunc("/users/{id}/disable", h.setDisabled(true)).Methods(http.MethodPost)
	api.HandleFunc("/users/{id}/enable", h.setDisabled(false)).Methods(http.MethodPost)
	api.HandleFunc("/users/{id}/sign-out", h.signOutUser).Methods(http.MethodPost)
	api.HandleFunc("/users/{id}/mfa/reset", h.resetMFA).Methods(http.MethodPost)
	api.HandleFunc("/users/{id}/sessions", h.listSessions).Methods(http.MethodGet)
	api.HandleFunc("/users/{id}/sessions/{sid}", h.deleteSession).Methods(http.MethodDelete)
	api.HandleFunc("/users/{id}/consents", h.listConsents).Methods(http.MethodGet)
	api.HandleFunc("/users/{id}/consents/{client}", h.revokeConsent).Methods(http.MethodDelete)
	api.HandleFunc("/users/{id}/password-reset", h.sendPasswordReset).Methods(http.MethodPost)
	api.HandleFunc("/audit-events", h.listAuditEvents).Methods(http.MethodGet)
	api.HandleFunc("/keys", h.listKeys).Methods(http.MethodGet)
	api.HandleFunc("/keys/rotate", h.rotateKeys).Methods(http.MethodPost)
	// The description is public: it holds no data, and tools fetch it
	// before they have a token.
	r.HandleFunc(Prefix+"/openapi.json", h.openAPI).Methods(http.MethodGet)
}

func (h *Handler) openAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(h.OpenAPI)
}

// authenticate lets through requests with an admin bearer token.
func (h *Handler) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := Actor(r.Context()); ok { // the admin console, in process
			next.ServeHTTP(w, r.WithContext(audit.WithActor(r.Context(), "user:"+id)))
			return
		}
		token, ok := bearer.Token(r)
		if !ok {
			h.unauthorized(w, r, "missing bearer token")
			return
		}
		if h.AdminToken != "" && bearer.Equal(token, h.AdminToken) {
			next.ServeHTTP(w, r.WithContext(audit.WithActor(r.Context(), "admin_token")))
			return
		}
		switch err := h.Bearer(r.Context(), token, Scope); {
		case err == nil:
			next.ServeHTTP(w, r.WithContext(audit.WithActor(r.Context(), tokenActor(token))))
		case errors.Is(err, ErrInsufficientScope):
			h.Logger.WarnContext(r.Context(), "admin API: token without the admin scope", "path", r.URL.Path, "remote", clientip.Of(r))
			w.Header().Set("WWW-Authenticate", `Bearer realm="tollgate-admin", error="insufficient_scope", scope="`+Scope+`"`)
			writeError(w, http.StatusForbidden, "insufficient_scope", "The access token lacks the "+Scope+" scope.")
		case errors.Is(err, ErrInvalidToken):
			h.unauthorized(w, r, "invalid token")
		default:
			h.unavailable(w, r, err)
		}
	})
}

func (h *Handler) unauthorized(w http.ResponseWriter, r *http.Request, why string) {
	h.Logger.WarnContext(r.Context(), "admin API: unauthenticated request", "reason", why, "path", r.URL.Path, "remote", clientip.Of(r))
	w.Header().Set("WWW-Authenticate", `Bearer realm="tollgate-admin", error="invalid_token"`)
	writeError(w, http.StatusUnauthorized, "invalid_token", "A valid bearer token with the "+Scope+" scope is required.")
}

// tokenActor names who holds a verified access token, for the audit log:
// its user, else its client.
func tokenActor(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "access_token"
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Subject  string `json:"sub"`
		ClientID string `json:"client_id"`
	}
	if err != nil || json.Unmarshal(payload, &claims) != nil {
		return "access_token"
	}
	switch {
	case claims.Subject != "" && claims.Subject != claims.ClientID:
		return "user:" + claims.Subject
	case claims.ClientID != "":
		return "client:" + claims.ClientID
	}
	return "access_token"
}

// apiError is the body of every error: the OAuth error shape.
type apiError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Field       string `json:"field,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, description string) {
	httpjson.Write(w, status, apiError{Error: code, Description: description})
}

func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	h.Logger.ErrorContext(r.Context(), "admin API: storage unavailable", "err", err)
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "The service is temporarily unavailable. Retry shortly.")
}

// decode reads a JSON body into v, refusing unknown fields, trailing data
// and oversized bodies. The error is written for the caller.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("unexpected data after the JSON object")
	}
	if err != nil {
		httpjson.Write(w, http.StatusBadRequest, apiError{Error: "invalid_request", Description: "The body is not a valid JSON object of this resource: " + describeJSONError(err), Field: jsonField(err)})
		return false
	}
	return true
}

func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Sprintf("%s must be a %s", typeErr.Field, typeErr.Type)
	}
	return err.Error()
}

// jsonField extracts the field an encoding/json error is about.
func jsonField(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return typeErr.Field
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		return strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`)
	}
	return ""
}
