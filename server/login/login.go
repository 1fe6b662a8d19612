// Package login serves the hosted sign-in and consent pages. They work
// without JavaScript, carry a CSRF token in every form, and answer an
// unknown email exactly as a wrong password.
package login

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"github.com/tollgate/tollgate/mfa"
	"github.com/tollgate/tollgate/passwords"
	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/server/authflow"
	"github.com/tollgate/tollgate/server/metrics"
	"github.com/tollgate/tollgate/server/session"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/templates"
)

// Store is what the pages read and write.
type Store interface {
	storage.ClientStore
	storage.UserStore
	storage.ConsentStore
	storage.TokenStore
	storage.AccountRevoker
	storage.Throttle
}

// Handler serves /login and /consent.
type Handler struct {
	Issuer    string
	Store     Store
	Sessions  *session.Manager
	Pending   *authflow.Store
	Passwords *passwords.Hasher
	Pages     *templates.Renderer
	Logger    *slog.Logger
	Metrics   *metrics.Metrics
	Accounts  Accounts
	// MFA checks second factors; nil turns them off.
	MFA *mfa.Factors
	// Upstreams are the "Continue with …" buttons (server/upstream).
	Upstreams []templates.UpstreamButton
	Audit     *audit.Recorder

	mailing sync.WaitGroup // mail sent after the answer (resetthrottle.go)
}

// Mount registers the pages on r.
func (h *Handler) Mount(r *mux.Router) {
	r.HandleFunc("/login", h.showLogin).Methods(http.MethodGet)
	r.HandleFunc("/login", h.submitLogin).Methods(http.MethodPost)
	r.HandleFunc("/signup", h.showSignup).Methods(http.MethodGet)
	r.HandleFunc("/signup", h.submitSignup).Methods(http.MethodPost)
	r.HandleFunc("/verify-email", h.verifyEmail).Methods(http.MethodGet)
	r.HandleFunc("/forgot-password", h.showForgotPassword).Methods(http.MethodGet)
	r.HandleFunc("/forgot-password", h.submitForgotPassword).Methods(http.MethodPost)
	r.HandleFunc("/reset-password", h.showResetPassword).Methods(http.MethodGet)
	r.HandleFunc("/reset-password", h.submitResetPassword).Methods(http.MethodPost)
	h.mountMFA(r)
	r.HandleFunc("/consent", h.showConsent).Methods(http.MethodGet)
	r.HandleFunc("/consent", h.submitConsent).Methods(http.MethodPost)
	r.HandleFunc("/", h.showHome).Methods(http.MethodGet, http.MethodHead)
}

// showHome greets a visitor at the issuer's root, saying who is signed in.
func (h *Handler) showHome(w http.ResponseWriter, r *http.Request) {
	var data templates.HomePage
	sess, err := h.Sessions.Load(r)
	switch {
	case err == nil:
		user, err := h.Store.GetUser(r.Context(), sess.UserID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			h.unavailable(w, r, err)
			return
		}
		data.Email = user.Email
	case !errors.Is(err, storage.ErrNotFound):
		h.unavailable(w, r, err)
		return
	}
	h.Pages.Render(w, http.StatusOK, "home", data)
}

func (h *Handler) showLogin(w http.ResponseWriter, r *http.Request) {
	handle := r.URL.Query().Get("request")
	data := templates.LoginPage{Request: handle}
	if handle != "" {
		p, ok := h.pending(w, r, handle)
		if !ok {
			return
		}
		// upstream=ID on the authorization request goes straight there.
		if id := p.Query.Get("upstream"); id != "" && h.hasUpstream(id) {
			http.Redirect(w, r, h.Issuer+"/login/upstream/"+url.PathEscape(id)+"?request="+url.QueryEscape(handle), http.StatusSeeOther)
			return
		}
		data.ClientName = h.clientName(r, p.ClientID)
		data.Email = p.Query.Get("login_hint")
	}
	h.renderLogin(w, r, http.StatusOK, data)
}

func (h *Handler) submitLogin(w http.ResponseWriter, r *http.Request) {
	if !h.Sessions.CheckCSRF(r) {
		h.errorPage(w, http.StatusForbidden, "invalid_request", "The form has expired. Go back and try again.")
		return
	}
	handle := r.PostFormValue("request")
	var p authflow.Pending
	if handle != "" {
		var ok bool
		if p, ok = h.pending(w, r, handle); !ok {
			return
		}
	}
	email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
	gate, err := h.lockedFor(r.Context(), r, email)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	if wait := gate.Wait; wait > 0 {
		// The password is not even checked while the wait lasts.
		h.Logger.InfoContext(r.Context(), "sign-in throttled", "client_id", p.ClientID, "wait", wait.Round(time.Second))
		h.Metrics.SignIn("password", "throttled")
		h.Audit.Record(r.Context(), r, audit.Event{Type: audit.SignInFailed, ClientID: p.ClientID, Reason: "throttled"})
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		h.renderLogin(w, r, http.StatusTooManyRequests, templates.LoginPage{
			Request: handle, ClientName: h.clientName(r, p.ClientID), Email: email, Throttled: true,
		})
		return
	}
	user, failure, err := h.authenticate(r, email, r.PostFormValue("password"))
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	if failure != "" {
		if err := h.recordFailure(r.Context(), r, email); err != nil {
			h.unavailable(w, r, err)
			return
		}
		h.Logger.InfoContext(r.Context(), "sign-in failed", "client_id", p.ClientID)
		h.Metrics.SignIn("password", metrics.SignInFailure)
		h.Audit.Record(r.Context(), r, audit.Event{Type: audit.SignInFailed, UserID: user.ID, ClientID: p.ClientID, Reason: failure})
		h.renderLogin(w, r, http.StatusUnauthorized, templates.LoginPage{
			Request: handle, ClientName: h.clientName(r, p.ClientID), Email: email, Failed: true,
		})
		return
	}
	if h.Accounts.RequireVerified && !user.EmailVerified {
		h.Logger.InfoContext(r.Context(), "sign-in refused: email not verified", "user_id", user.ID)
		h.Audit.Record(r.Context(), r, audit.Event{Type: audit.SignInFailed, UserID: user.ID, ClientID: p.ClientID, Reason: "unverified"})
		h.renderLogin(w, r, http.StatusForbidden, templates.LoginPage{
			Request: handle, ClientName: h.clientName(r, p.ClientID), Email: email, NotVerified: true,
		})
		return
	}
	if err := ResetPasswordFailures(r.Context(), h.Store, email, gate); err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.Metrics.SignIn("password", metrics.SignInSuccess)
	if need, err := h.needsSecondFactor(r.Context(), user.ID); err != nil || need {
		if err != nil {
			h.unavailable(w, r, err)
			return
		}
		h.challengeSecondFactor(w, r, user.ID, handle, []string{"pwd"}, r.PostFormValue("next"))
		return
	}
	h.finishSignIn(w, r, user, []string{"pwd"}, handle, p, r.PostFormValue("next"))
}

// authenticate checks a password. Unknown accounts, disabled accounts and
// wrong passwords all cost one argon2id verification and look alike to
// the visitor; the failure, for the audit log, says which it was:
// unknown_account, no_password, bad_password or disabled ("" on success).
// On failure the user carries only the ID, when there is an account.
func (h *Handler) authenticate(r *http.Request, email, password string) (storage.User, string, error) {
	user, err := h.Store.GetUserByEmail(r.Context(), email)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		h.Passwords.VerifyNothing(password)
		return storage.User{}, "unknown_account", nil
	case err != nil:
		return storage.User{}, "", err
	case user.PasswordHash == "":
		h.Passwords.VerifyNothing(password)
		return storage.User{ID: user.ID}, "no_password", nil
	}
	ok, rehash, err := h.Passwords.Verify(password, user.PasswordHash)
	switch {
	case err != nil || !ok:
		return storage.User{ID: user.ID}, "bad_password", nil
	case user.Disabled:
		return storage.User{ID: user.ID}, "disabled", nil
	}
	if rehash {
		h.upgradeHash(r, user.ID, password)
	}
	return user, "", nil
}

// upgradeHash re-hashes a password whose parameters are below the current
// configuration. A failure only delays the upgrade to the next sign-in.
func (h *Handler) upgradeHash(r *http.Request, userID, password string) {
	hash, err := h.Passwords.Hash(password)
	if err == nil {
		err = h.Store.UpdateUser(r.Context(), userID, func(u storage.User) (storage.User, error) {
			u.PasswordHash = hash
			return u, nil
		})
	}
	if err != nil {
		h.Logger.WarnContext(r.Context(), "password rehash failed", "user_id", userID, "err", err)
	}
}

func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, data templates.LoginPage) {
	token, err := h.Sessions.CSRFToken(w, r)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	data.CSRFToken = token
	data.Next = LocalPath(r.FormValue("next"))
	data.SignupEnabled = h.Accounts.Enabled
	data.ResetEnabled = h.Accounts.Mailer != nil
	data.Upstreams = h.Upstreams
	h.Pages.Render(w, status, "login", data)
}

func (h *Handler) hasUpstream(id string) bool {
	for _, u := range h.Upstreams {
		if u.ID == id {
			return true
		}
	}
	return false
}

// pending loads a pending authorization request or renders why it cannot.
func (h *Handler) pending(w http.ResponseWriter, r *http.Request, handle string) (authflow.Pending, bool) {
	p, err := h.Pending.Get(r.Context(), handle)
	if errors.Is(err, authflow.ErrNotFound) {
		h.errorPage(w, http.StatusBadRequest, "request_expired", "This sign-in request has expired or was already completed. Return to the application and start again.")
		return p, false
	}
	if err != nil {
		h.unavailable(w, r, err)
		return p, false
	}
	return p, true
}

func (h *Handler) clientName(r *http.Request, clientID string) string {
	if clientID == "" {
		return ""
	}
	c, err := h.Store.GetClient(r.Context(), clientID)
	if err != nil {
		return ""
	}
	return c.Name
}

func (h *Handler) resume(w http.ResponseWriter, r *http.Request, handle string) {
	http.Redirect(w, r, h.Issuer+"/authorize/resume?request="+url.QueryEscape(handle), http.StatusSeeOther)
}

func (h *Handler) errorPage(w http.ResponseWriter, status int, code, description string) {
	h.Pages.Error(w, status, code, description)
}

func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	h.Logger.ErrorContext(r.Context(), "storage unavailable", "err", err)
	h.Pages.Unavailable(w)
}
