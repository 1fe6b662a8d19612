package account

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tollgate/tollgate/pictures"
	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/templates"
)

// notices are what the page says after a change, by the saved= parameter
// of the redirect that follows it (post/redirect/get).
var notices = map[string]string{
	"profile":  "Your profile is saved.",
	"password": "Your password is changed. You are signed out everywhere else.",
	"session":  "That session is signed out.",
	"picture":  "Your picture is saved.",

	"picture_removed": "Your picture is removed.",
}

// signedIn returns the browser's session and its user, or redirects to
// sign in and come back to /account.
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request) (storage.Session, storage.User, bool) {
	sess, err := h.Sessions.Load(r)
	if errors.Is(err, storage.ErrNotFound) {
		h.toSignIn(w, r)
		return sess, storage.User{}, false
	}
	if err != nil {
		h.unavailablePage(w, r, err)
		return sess, storage.User{}, false
	}
	u, err := h.Store.GetUser(r.Context(), sess.UserID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && u.Disabled) {
		_ = h.Sessions.End(w, r)
		h.toSignIn(w, r)
		return sess, u, false
	}
	if err != nil {
		h.unavailablePage(w, r, err)
		return sess, u, false
	}
	return sess, u, true
}

func (h *Handler) toSignIn(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, h.Issuer+"/login?next="+url.QueryEscape("/account"), http.StatusSeeOther)
}

// form checks the CSRF token of a posted form and returns the signed-in
// user, or renders why not.
func (h *Handler) form(w http.ResponseWriter, r *http.Request) (storage.Session, storage.User, bool) {
	if !h.Sessions.CheckCSRF(r) {
		h.errorPage(w, http.StatusForbidden, "invalid_request", "The form has expired. Go back, reload the page and try again.")
		return storage.Session{}, storage.User{}, false
	}
	return h.signedIn(w, r)
}

func (h *Handler) showAccount(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	h.renderAccount(w, r, http.StatusOK, sess, u, templates.AccountPage{Notice: notices[r.URL.Query().Get("saved")]})
}

// renderAccount fills data from the user and their sessions and renders
// the page.
func (h *Handler) renderAccount(w http.ResponseWriter, r *http.Request, status int, sess storage.Session, u storage.User, data templates.AccountPage) {
	sessions, err := h.Store.ListUserSessions(r.Context(), u.ID)
	if err != nil {
		h.unavailablePage(w, r, err)
		return
	}
	csrf, err := h.Sessions.CSRFToken(w, r)
	if err != nil {
		h.unavailablePage(w, r, err)
		return
	}
	data.CSRFToken = csrf
	data.Email, data.EmailVerified, data.HasPassword = u.Email, u.EmailVerified, u.PasswordHash != ""
	if data.Section != "profile" {
		// After a refused change, the form keeps what was typed.
		data.Name, data.Picture = u.Name, u.Picture
		data.Locale, data.Theme = preferenceString(u.Preferences, "locale"), preferenceString(u.Preferences, "theme")
	}
	data.Themes = Themes
	data.PicturesEnabled = h.Pictures != nil
	if _, ok := pictures.KeyOf(h.Issuer, u.Picture); ok {
		data.UploadedPicture = u.Picture
	}
	for _, s := range sessions {
		data.Sessions = append(data.Sessions, templates.AccountSession{
			Handle: sessionHandle(s.ID), Browser: describeBrowser(s.UserAgent), UserAgent: s.UserAgent,
			Started: formatTime(s.CreatedAt), Expires: formatTime(s.ExpiresAt),
			Methods: describeMethods(s.AMR), Current: s.ID == sess.ID,
		})
	}
	h.Pages.Render(w, status, "account", data)
}

func (h *Handler) submitProfile(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.form(w, r)
	if !ok {
		return
	}
	name, picture := r.PostFormValue("name"), r.PostFormValue("picture")
	locale, theme := strings.TrimSpace(r.PostFormValue("locale")), r.PostFormValue("theme")
	// The form edits the preferences it shows and leaves the others be.
	patch := map[string]any{"locale": nil, "theme": nil}
	if locale != "" {
		patch["locale"] = locale
	}
	if theme != "" && theme != "system" {
		patch["theme"] = theme
	}
	prefs, err := json.Marshal(patch)
	if err != nil {
		h.unavailablePage(w, r, err)
		return
	}
	updated, err := h.updateProfile(r.Context(), u.ID, ProfileChange{Name: &name, Picture: &picture, Preferences: prefs})
	if fields := changedFields(u, updated); err == nil && fields != "" {
		h.record(r, audit.AccountProfileUpdated, u.ID, nil, map[string]string{"fields": fields, "via": "page"})
	}
	var fe *FieldError
	switch {
	case errors.As(err, &fe):
		field := strings.TrimPrefix(fe.Field, "preferences.")
		h.renderAccount(w, r, http.StatusBadRequest, sess, u, templates.AccountPage{
			Section: "profile", Field: field, Error: fe.Message,
			Name: name, Picture: picture, Locale: locale, Theme: theme,
		})
		return
	case err != nil:
		h.unavailablePage(w, r, err)
		return
	}
	h.saved(w, r, "profile")
}

func (h *Handler) submitPassword(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.form(w, r)
	if !ok {
		return
	}
	current, next := r.PostFormValue("current_password"), r.PostFormValue("new_password")
	refuse := func(status int, field, message string) {
		h.renderAccount(w, r, status, sess, u, templates.AccountPage{Section: "password", Field: field, Error: message})
	}
	if next != r.PostFormValue("confirm_password") {
		refuse(http.StatusBadRequest, "confirm_password", "The new password and its confirmation differ. Type them again.")
		return
	}
	err := h.changePassword(r.Context(), u, current, next, sess.ID, "")
	h.recordPasswordChange(r, u.ID, err, "page")
	var throttled *throttledError
	switch {
	case err == nil:
		h.saved(w, r, "password")
	case errors.Is(err, errWrongPassword):
		refuse(http.StatusBadRequest, "current_password", "The current password is not right.")
	case errors.As(err, &throttled):
		w.Header().Set("Retry-After", retryAfter(throttled.Wait))
		refuse(http.StatusTooManyRequests, "current_password", "Too many wrong passwords. Wait a few minutes, then try again.")
	case errors.Is(err, errNoPassword):
		refuse(http.StatusBadRequest, "current_password", "Your account has no password: you sign in with another provider.")
	case errors.Is(err, errSamePassword):
		refuse(http.StatusBadRequest, "new_password", "The new password is your current one. Choose another.")
	default:
		if pe, ok := policyRule(err); ok {
			refuse(http.StatusBadRequest, "new_password", pe.Message)
			return
		}
		h.unavailablePage(w, r, err)
	}
}

// submitEndSession signs one of the user's browsers out; this browser's
// own session ends like a sign-out.
func (h *Handler) submitEndSession(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.form(w, r)
	if !ok {
		return
	}
	ended, err := h.endSession(r.Context(), u.ID, r.PostFormValue("session"))
	h.record(r, audit.AccountSessionEnded, u.ID, err, map[string]string{"via": "page", "current": boolString(err == nil && ended.ID == sess.ID)})
	switch {
	case errors.Is(err, errNoSession):
		// Already ended (another tab, expiry): the list shows what is left.
		h.saved(w, r, "session")
		return
	case err != nil:
		h.unavailablePage(w, r, err)
		return
	}
	if ended.ID == sess.ID {
		_ = h.Sessions.End(w, r)
		h.Pages.Render(w, http.StatusOK, "logged_out", templates.LoggedOutPage{})
		return
	}
	h.saved(w, r, "session")
}

func (h *Handler) showDelete(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	h.renderDelete(w, r, http.StatusOK, sess, u, "")
}

// renderDelete asks for the password, or, for an account without one, for
// a recent sign-in: when the session's is too old, the page offers to sign
// in again with the providers linked to the account, and to come back.
func (h *Handler) renderDelete(w http.ResponseWriter, r *http.Request, status int, sess storage.Session, u storage.User, message string) {
	csrf, err := h.Sessions.CSRFToken(w, r)
	if err != nil {
		h.unavailablePage(w, r, err)
		return
	}
	page := templates.AccountDeletePage{
		Page: templates.Page{CSRFToken: csrf}, Email: u.Email, HasPassword: u.PasswordHash != "", Error: message,
		Recent: h.now().Sub(sess.AuthTime) <= reauthWindow,
	}
	if !page.HasPassword && !page.Recent {
		linked, err := h.Store.ListUserIdentities(r.Context(), u.ID)
		if err != nil {
			h.unavailablePage(w, r, err)
			return
		}
		for _, b := range h.Upstreams {
			if slices.ContainsFunc(linked, func(i storage.Identity) bool { return i.Upstream == b.ID }) {
				page.Upstreams = append(page.Upstreams, b)
			}
		}
	}
	h.Pages.Render(w, status, "account_delete", page)
}

func (h *Handler) submitDelete(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.form(w, r)
	if !ok {
		return
	}
	err := h.deleteAccount(r.Context(), u, r.PostFormValue("password"), &sess)
	h.record(r, audit.AccountDeleted, u.ID, err, map[string]string{"via": "page"})
	var throttled *throttledError
	switch {
	case err == nil:
		_ = h.Sessions.End(w, r)
		h.Pages.Render(w, http.StatusOK, "account_deleted", templates.AccountDeletedPage{})
	case errors.Is(err, errWrongPassword):
		h.renderDelete(w, r, http.StatusBadRequest, sess, u, "The password is not right. Your account is not deleted.")
	case errors.As(err, &throttled):
		w.Header().Set("Retry-After", retryAfter(throttled.Wait))
		h.renderDelete(w, r, http.StatusTooManyRequests, sess, u, "Too many wrong passwords. Wait a few minutes, then try again.")
	case errors.Is(err, errNotRecent):
		h.renderDelete(w, r, http.StatusForbidden, sess, u, "To delete your account, first sign in again to confirm it is you.")
	default:
		h.unavailablePage(w, r, err)
	}
}

// saved redirects back to the page, which then says what was saved.
func (h *Handler) saved(w http.ResponseWriter, r *http.Request, what string) {
	http.Redirect(w, r, h.Issuer+"/account?saved="+what, http.StatusSeeOther)
}

func (h *Handler) errorPage(w http.ResponseWriter, status int, code, description string) {
	h.Pages.Error(w, status, code, description)
}

func (h *Handler) unavailablePage(w http.ResponseWriter, r *http.Request, err error) {
	h.Logger.ErrorContext(r.Context(), "account: storage unavailable", "err", err)
	h.Pages.Unavailable(w)
}

func formatTime(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") }
