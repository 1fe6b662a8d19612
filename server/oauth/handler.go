package oauth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"
	"github.com/ory/fosite"
	"github.com/ory/fosite/token/jwt"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/server/authflow"
	"github.com/tollgate/tollgate/server/cors"
	"github.com/tollgate/tollgate/server/httpjson"
	"github.com/tollgate/tollgate/server/metrics"
	"github.com/tollgate/tollgate/server/session"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/oauthstore"
	"github.com/tollgate/tollgate/templates"
)

// Store is what the OAuth endpoints read directly.
type Store interface {
	storage.ClientStore
	storage.UserStore
	storage.ConsentStore
}

// UserReader reads the user of a userinfo call. usercache.Store serves it
// from a per-replica cache, so the call costs no database round trip.
type UserReader interface {
	CachedUser(ctx context.Context, id string) (storage.User, error)
}

// Handler serves the protocol endpoints. Its fields are its dependencies.
type Handler struct {
	Issuer   string
	Provider fosite.OAuth2Provider
	// OAuthStore is the storage fosite was built on; the endpoints finish
	// its units of work (oauthstore.WithUnit).
	OAuthStore *oauthstore.Store
	Signer     jwt.Signer
	Keys       *keyring.Keyring
	Store      Store
	Users      UserReader
	Sessions   *session.Manager
	Pending    *authflow.Store
	Pages      *templates.Renderer
	Logger     *slog.Logger
	Metrics    *metrics.Metrics
	// SignupEnabled lets prompt=create send users to the sign-up page.
	SignupEnabled bool
	// MFA, when set, makes users with a second factor give it, and sends
	// those without one to enroll when MFARequired, the client or the
	// request's acr_values demand it.
	MFA         MFAStatus
	MFARequired bool
	Audit       *audit.Recorder
	// RegistrationEndpoint, when set, is advertised in discovery (RFC 7591).
	RegistrationEndpoint string

	docs encodedDocs // discovery and JWKS, encoded once
}

// Mount registers the endpoints on r. Those a browser app calls directly
// answer CORS requests from registered web origins (package cors).
func (h *Handler) Mount(r *mux.Router) {
	origins := cors.New(h.Store)
	withCORS := []string{http.MethodOptions}
	r.Handle("/.well-known/openid-configuration", origins.AnyClient(http.HandlerFunc(h.discovery))).
		Methods(append(withCORS, http.MethodGet, http.MethodHead)...)
	r.Handle("/.well-known/jwks.json", origins.AnyClient(http.HandlerFunc(h.jwks))).
		Methods(append(withCORS, http.MethodGet, http.MethodHead)...)
	r.HandleFunc("/authorize", h.authorize).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc("/authorize/resume", h.resume).Methods(http.MethodGet)
	r.Handle("/token", origins.ForClient(requestClient, http.HandlerFunc(h.token))).
		Methods(append(withCORS, http.MethodPost)...)
	r.Handle("/revoke", origins.ForClient(requestClient, http.HandlerFunc(h.revoke))).
		Methods(append(withCORS, http.MethodPost)...)
	r.HandleFunc("/introspect", h.introspect).Methods(http.MethodPost)
	r.Handle("/userinfo", origins.ForClient(tokenClient, http.HandlerFunc(h.userinfo))).
		Methods(append(withCORS, http.MethodGet, http.MethodPost)...)
	r.HandleFunc("/logout", h.endSession).Methods(http.MethodGet, http.MethodPost)
}

// unavailable reports whether err is a failure of storage itself, which is
// answered with 503 and a retry hint, never as a success or a client error.
func unavailable(err error) bool {
	var ue *oauthstore.UnavailableError
	return errors.As(err, &ue)
}

// RetryAfterSeconds is the retry hint sent with every 503.
const RetryAfterSeconds = 2

func (h *Handler) writeUnavailableJSON(w http.ResponseWriter, r *http.Request, err error) {
	h.Logger.ErrorContext(r.Context(), "storage unavailable", "err", err)
	w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	httpjson.Write(w, http.StatusServiceUnavailable, map[string]string{
		"error":             "temporarily_unavailable",
		"error_description": "The service is temporarily unavailable. Retry shortly.",
	})
}

// errorPage renders the hosted error page; it never redirects.
func (h *Handler) errorPage(w http.ResponseWriter, status int, code, description string) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	}
	h.Pages.Error(w, status, code, description)
}

func (h *Handler) unavailablePage(w http.ResponseWriter, r *http.Request, err error) {
	h.Logger.ErrorContext(r.Context(), "storage unavailable", "err", err)
	h.errorPage(w, http.StatusServiceUnavailable, "unavailable", "The service is temporarily unavailable. Please try again in a moment.")
}
