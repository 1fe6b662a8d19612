// Package account serves the self-service account: the hosted page at
// /account (profile, password, sessions, sign-in methods, deleting the
// account), for a signed-in browser, and the same as a JSON API at
// /api/account for first-party apps, authorized by a Tollgate access token
// with the openid scope that acts for the user.
package account

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/tollgate/tollgate/passwords"
	"github.com/tollgate/tollgate/pictures"
	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/server/session"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/templates"
)

// APIPrefix is where the JSON API is mounted below the issuer.
const APIPrefix = "/api/account"

// Scope is the scope an access token needs for the API.
const Scope = "openid"

// retryAfterSeconds is the retry hint on every 503.
const retryAfterSeconds = "2"

// Errors a BearerChecker returns besides storage failures.
var (
	ErrInvalidToken      = errors.New("invalid token")
	ErrInsufficientScope = errors.New("insufficient scope")
)

// Grant is whom a verified access token acts for.
type Grant struct {
	Subject string // the user; empty for a client acting for itself
	GrantID string // the authorization the token was issued under
}

// BearerChecker verifies an access token and that it carries scope. It
// returns ErrInvalidToken, ErrInsufficientScope, or another error when the
// check itself could not be made.
type BearerChecker func(ctx context.Context, token, scope string) (Grant, error)

// Store is what the account page and API read and write.
type Store interface {
	storage.UserStore
	storage.SessionStore
	storage.AccountStore
	storage.TokenStore
	storage.RevocationList
	storage.Throttle
	ListUserIdentities(ctx context.Context, userID string) ([]storage.Identity, error)
}

// Handler serves the account page and API. Its fields are its dependencies.
type Handler struct {
	Issuer    string
	Store     Store
	Sessions  *session.Manager
	Passwords *passwords.Hasher
	// Policy judges new passwords.
	Policy passwords.Policy
	Pages  *templates.Renderer
	Logger *slog.Logger
	Bearer BearerChecker
	// OpenAPI is the API's OpenAPI 3 description, served as is.
	OpenAPI []byte
	// Pictures keeps uploaded profile pictures; nil turns uploads off.
	Pictures *pictures.Store
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Audit records the account's security events; nil records nothing.
	Audit *audit.Recorder
	// Upstreams name the OpenID Providers users may sign in with, for an
	// account without a password to confirm it is its owner there.
	Upstreams []templates.UpstreamButton
}

// Mount registers the page and the API on r. /account/identities and
// /account/mfa, which the page links to, belong to the federation and MFA
// packages.
func (h *Handler) Mount(r *mux.Router) {
	r.HandleFunc("/account", h.showAccount).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/account/profile", h.submitProfile).Methods(http.MethodPost)
	r.HandleFunc("/account/password", h.submitPassword).Methods(http.MethodPost)
	r.HandleFunc("/account/sessions/end", h.submitEndSession).Methods(http.MethodPost)
	r.HandleFunc("/account/delete", h.showDelete).Methods(http.MethodGet)
	r.HandleFunc("/account/delete", h.submitDelete).Methods(http.MethodPost)
	r.HandleFunc("/account/picture", h.submitPicture).Methods(http.MethodPost)
	r.HandleFunc("/account/picture/delete", h.submitDeletePicture).Methods(http.MethodPost)
	r.HandleFunc(PicturesPath+"{key}", h.servePicture).Methods(http.MethodGet, http.MethodHead)

	api := r.PathPrefix(APIPrefix).Subrouter()
	api.Use(h.authenticate)
	api.HandleFunc("/profile", h.apiGetProfile).Methods(http.MethodGet)
	api.HandleFunc("/profile", h.apiPatchProfile).Methods(http.MethodPatch)
	api.HandleFunc("/password", h.apiChangePassword).Methods(http.MethodPut)
	api.HandleFunc("/sessions", h.apiListSessions).Methods(http.MethodGet)
	api.HandleFunc("/sessions", h.apiEndAllSessions).Methods(http.MethodDelete)
	api.HandleFunc("/picture", h.apiUploadPicture).Methods(http.MethodPost)
	api.HandleFunc("/picture", h.apiDeletePicture).Methods(http.MethodDelete)
	api.HandleFunc("/sessions/{id}", h.apiEndSession).Methods(http.MethodDelete)
	// The description is public: it holds no data.
	r.HandleFunc(APIPrefix+"/openapi.json", h.openAPI).Methods(http.MethodGet)
}

func (h *Handler) openAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(h.OpenAPI)
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now().UTC()
	}
	return time.Now().UTC()
}
