// Package console serves the admin console at /admin: server-rendered
// pages over the admin API for clients, users (with their sessions and
// consents), signing keys and the audit log.
//
// Signing in goes through Tollgate's own hosted login page: the console
// requires the browser session of a user holding the admin role, and sends
// anyone without a session to /login?next=/admin/…, which returns here.
// Every change goes through the admin API's handlers, called in process on
// behalf of that admin (admin.OnBehalfOf), so the console validates, logs
// and audits exactly as the API does. Every form carries a CSRF token.
package console

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/mux"

	"github.com/tollgate/tollgate/server/admin"
	"github.com/tollgate/tollgate/server/session"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/templates"
)

// Prefix is where the console is mounted below the issuer.
const Prefix = "/admin"

// Handler serves the console. Its fields are its dependencies.
type Handler struct {
	// Issuer is the issuer URL; the login page is below it.
	Issuer   string
	Sessions *session.Manager
	Users    storage.UserStore
	// API is the admin API, routed at admin.Prefix, without the issuer's
	// path; the console calls it in process.
	API    http.Handler
	Pages  *templates.Renderer // templates.NewConsole
	Logger *slog.Logger
	// MailEnabled shows the "send password reset" action: the server can
	// send mail.
	MailEnabled bool
}

// section is an entry of the console's navigation.
type section struct{ Key, Title, Path string }

// sections is the navigation, in order. A user's sessions and consents
// are on the user's page.
var sections = []section{
	{"clients", "Clients", Prefix + "/clients"},
	{"users", "Users", Prefix + "/users"},
	{"keys", "Signing keys", Prefix + "/keys"},
	{"audit", "Audit log", Prefix + "/audit"},
}

// Mount registers the console on r. GET pages need an admin's session;
// POST actions need one and a valid CSRF token.
func (h *Handler) Mount(r *mux.Router) {
	get := func(path string, f http.HandlerFunc) {
		r.Handle(Prefix+path, h.requireAdmin(f)).Methods(http.MethodGet, http.MethodHead)
	}
	post := func(path string, f http.HandlerFunc) {
		r.Handle(Prefix+path, h.requireAdmin(h.checkCSRF(f))).Methods(http.MethodPost)
	}
	get("", h.home)
	get("/", h.home)
	get("/clients", h.listClients)
	get("/clients/new", h.newClient)
	post("/clients", h.createClient)
	get("/clients/{id}", h.showClient)
	post("/clients/{id}/secret", h.rotateSecret)
	post("/clients/{id}/delete", h.deleteClient)
	get("/users", h.listUsers)
	get("/users/{id}", h.showUser)
	post("/users/{id}/disable", h.userAction("disable", "disabled"))
	post("/users/{id}/enable", h.userAction("enable", "enabled"))
	post("/users/{id}/sign-out", h.userAction("sign-out", "signed_out"))
	post("/users/{id}/roles", h.setAdminRole)
	post("/users/{id}/sessions/{sid}/end", h.endSession)
	post("/users/{id}/consents/{client}/revoke", h.revokeConsent)
	post("/users/{id}/mfa/reset", h.resetMFA)
	post("/users/{id}/password-reset", h.sendPasswordReset)
	get("/audit", h.auditLog)
	get("/keys", h.listKeys)
	post("/keys/rotate", h.rotateKeys)
}

type adminKey struct{}

// signedIn returns the admin the request was let in for.
func signedIn(ctx context.Context) storage.User {
	u, _ := ctx.Value(adminKey{}).(storage.User)
	return u
}

// requireAdmin lets through requests from the browser session of an
// enabled user with the admin role. Without a session it sends the browser
// to the login page, which returns here; a session of anyone else gets 403.
func (h *Handler) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := h.Sessions.Load(r)
		var user storage.User
		if err == nil {
			user, err = h.Users.GetUser(r.Context(), sess.UserID)
		}
		switch {
		case errors.Is(err, storage.ErrNotFound):
			// next is relative to the issuer, like every page's path.
			back := strings.TrimPrefix(r.URL.RequestURI(), strings.TrimSuffix(h.path(""), Prefix))
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				back = Prefix // a form cannot be replayed after the sign-in
			}
			http.Redirect(w, r, h.Issuer+"/login?next="+url.QueryEscape(back), http.StatusSeeOther)
			return
		case err != nil:
			h.unavailable(w, r, err)
			return
		}
		if user.Disabled || !admin.HasRole(user.Roles, admin.RoleAdmin) {
			h.Logger.WarnContext(r.Context(), "admin console: access refused", "user_id", user.ID, "path", r.URL.Path)
			h.Pages.Render(w, http.StatusForbidden, "message", page{Data: message{
				Title:       "No access",
				Description: "The admin console is only for administrators. Ask an administrator to give your account the admin role.",
				Signed:      user.Email,
			}})
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), adminKey{}, user)))
	})
}

func (h *Handler) checkCSRF(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.Sessions.CheckCSRF(r) {
			h.message(w, r, http.StatusForbidden, "Form expired", "The form has expired. Go back, reload the page and try again.")
			return
		}
		next(w, r)
	}
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, h.path("/clients"), http.StatusSeeOther)
}

// page is what every console page renders with.
type page struct {
	CSRFToken  string
	AdminEmail string
	Section    string
	Nav        []section
	Notice     string
	Error      string
	Data       any
}

// message is the data of the message page: an error explained.
type message struct {
	Title, Description, Signed string
}

// notices are the confirmations shown after an action, by code: the query
// names one, so no text from the URL is ever shown.
var notices = map[string]string{
	"client_deleted":  "The client was deleted.",
	"disabled":        "The account is disabled and signed out everywhere.",
	"enabled":         "The account is enabled.",
	"signed_out":      "The user is signed out everywhere: every session ended and every token revoked.",
	"rotated":         "The signing keys were rotated.",
	"admin_granted":   "The user is now an admin and can use this console.",
	"admin_revoked":   "The user is no longer an admin.",
	"session_ended":   "The session is ended: that browser must sign in again.",
	"session_gone":    "That session had already ended.",
	"consent_revoked": "The consent is revoked, with the client's tokens for this user: the application must ask again.",
	"consent_gone":    "That consent had already been revoked.",
	"mfa_reset":       "Two-step verification is reset: the user signs in with the password alone until they set it up again.",
	"reset_sent":      "A password reset link is on its way to the user.",
}

// render writes a console page for the signed-in admin.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name, sectionKey string, p page) {
	token, err := h.Sessions.CSRFToken(w, r)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	p.CSRFToken, p.AdminEmail, p.Section, p.Nav = token, signedIn(r.Context()).Email, sectionKey, sections
	if p.Notice == "" {
		p.Notice = notices[r.URL.Query().Get("notice")]
	}
	h.Pages.Render(w, status, name, p)
}

// message renders an explanation inside the console.
func (h *Handler) message(w http.ResponseWriter, r *http.Request, status int, title, description string) {
	h.render(w, r, status, "message", "", page{Data: message{Title: title, Description: description}})
}

func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	h.Logger.ErrorContext(r.Context(), "admin console: storage unavailable", "err", err)
	w.Header().Set("Retry-After", "2")
	h.Pages.Render(w, http.StatusServiceUnavailable, "message", page{Data: message{
		Title: "Temporarily unavailable", Description: "The service is temporarily unavailable. Please try again in a moment.",
	}})
}

// fail renders an API error that ends the request.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		h.message(w, r, http.StatusNotFound, "Not found", ae.Description)
	case errors.As(err, &ae) && ae.Status == http.StatusServiceUnavailable:
		h.unavailable(w, r, err)
	case errors.As(err, &ae) && ae.Status < 500:
		h.message(w, r, ae.Status, "Not done", ae.Description)
	default:
		h.Logger.ErrorContext(r.Context(), "admin console: API call failed", "err", err)
		h.message(w, r, http.StatusInternalServerError, "Something went wrong", "The request could not be completed.")
	}
}

// path is a console path as the browser sees it, below the issuer's path.
func (h *Handler) path(p string) string {
	base := ""
	if u, err := url.Parse(h.Issuer); err == nil {
		base = strings.TrimRight(u.Path, "/")
	}
	return base + Prefix + p
}

// redirect sends the browser to a console page after an action, with a
// notice code.
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, p, notice string) {
	target := h.path(p)
	if notice != "" {
		target += "?notice=" + url.QueryEscape(notice)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}
