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
	"time"

	"github.com/gorilla/mux"

	"github.com/tollgate/tollgate/passwords"
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
	wait, err := h.lockedFor(r.Context(), r, email)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	if wait > 0 {
		// The password is not even checked while the wait lasts.
		h.Logger.InfoContext(r.Context(), "sign-in throttled", "client_id", p.ClientID, "wait", wait.Round(time.Second))
		h.Metrics.SignIn("password", "throttled")
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		h.renderLogin(w, r, http.StatusTooManyRequests, templates.LoginPage{
			Request: handle, ClientName: h.clientName(r, p.ClientID), Email: email, Throttled: true,
		})
		return
	}
	user, ok, err := h.authenticate(r, email, r.PostFormValue("password"))
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	if !ok {
		if err := h.recordFailure(r.Context(), r, email); err != nil {
			h.unavailable(w, r, err)
			return
		}
		h.Logger.InfoContext(r.Context(), "sign-in failed", "client_id", p.ClientID)
		h.Metrics.SignIn("password", metrics.SignInFailure)
		h.renderLogin(w, r, http.StatusUnauthorized, templates.LoginPage{
			Request: handle, ClientName: h.clientName(r, p.ClientID), Email: email, Failed: true,
		})
		return
	}
	if h.Accounts.RequireVerified && !user.EmailVerified {
		h.Logger.InfoContext(r.Context(), "sign-in refused: email not verified", "user_id", user.ID)
		h.renderLogin(w, r, http.StatusForbidden, templates.LoginPage{
			Request: handle, ClientName: h.clientName(r, p.ClientID), Email: email, NotVerified: true,
		})
		return
	}
	if err := h.Store.ResetAttempts(r.Context(), accountKey(email)); err != nil {
		h.unavailable(w, r, err)
		return
	}
	sess, err := h.Sessions.Start(w, r, user.ID, []string{"pwd"})
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.Logger.InfoContext(r.Context(), "signed in", "user_id", user.ID, "client_id", p.ClientID)
	h.Metrics.SignIn("password", metrics.SignInSuccess)
	if handle == "" {
		if next := h.safeNext(r.PostFormValue("next")); next != "" {
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
		h.Pages.Render(w, http.StatusOK, "signed_in", templates.SignedInPage{Email: user.Email})
		return
	}
	p.LoggedIn, p.SessionID = true, sess.ID
	if err := h.Pending.Update(r.Context(), handle, p); err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.resume(w, r, handle)
}

// authenticate checks a password. Unknown accounts, disabled accounts and
// wrong passwords all cost one argon2id verification and look alike.
func (h *Handler) authenticate(r *http.Request, email, password string) (storage.User, bool, error) {
	user, err := h.Store.GetUserByEmail(r.Context(), email)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && user.PasswordHash == "") {
		h.Passwords.VerifyNothing(password)
		return storage.User{}, false, nil
	}
	if err != nil {
		return storage.User{}, false, err
	}
	ok, rehash, err := h.Passwords.Verify(password, user.PasswordHash)
	if err != nil || !ok || user.Disabled {
		return storage.User{}, false, nil
	}
	if rehash {
		h.upgradeHash(r, user.ID, password)
	}
	return user, true, nil
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
	if data.Request == "" {
		data.Next = h.safeNext(r.FormValue("next"))
	}
	data.SignupEnabled = h.Accounts.Enabled
	data.ResetEnabled = h.Accounts.Mailer != nil
	h.Pages.Render(w, status, "login", data)
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
	h.Pages.Render(w, status, "error", templates.ErrorPage{Code: code, Description: description})
}

func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	h.Logger.ErrorContext(r.Context(), "storage unavailable", "err", err)
	w.Header().Set("Retry-After", "2")
	h.errorPage(w, http.StatusServiceUnavailable, "unavailable", "The service is temporarily unavailable. Please try again in a moment.")
}
