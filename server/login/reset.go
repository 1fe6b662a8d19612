package login

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/templates"
)

// KindPasswordReset marks password reset links in the token store.
const KindPasswordReset storage.TokenKind = "password_reset"

// resetLifetime is how long a reset link works.
const resetLifetime = time.Hour

func (h *Handler) resetEnabled(w http.ResponseWriter) bool {
	if h.Accounts.Mailer == nil {
		h.errorPage(w, http.StatusNotFound, "not_found", "Password reset needs email, which is not set up here. Ask the application's administrator.")
		return false
	}
	return true
}

func (h *Handler) showForgotPassword(w http.ResponseWriter, r *http.Request) {
	if !h.resetEnabled(w) {
		return
	}
	h.renderForm(w, r, http.StatusOK, "forgot_password", func(csrf string) any {
		return templates.ForgotPasswordPage{Page: templates.Page{CSRFToken: csrf}, Request: r.URL.Query().Get("request")}
	})
}

// submitForgotPassword mails a reset link when the address has an account,
// and answers the same either way.
func (h *Handler) submitForgotPassword(w http.ResponseWriter, r *http.Request) {
	if !h.resetEnabled(w) {
		return
	}
	if !h.Sessions.CheckCSRF(r) {
		h.errorPage(w, http.StatusForbidden, "invalid_request", "The form has expired. Go back and try again.")
		return
	}
	address := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
	wait, err := h.resetWait(r.Context(), r, address)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	if wait > 0 {
		h.Logger.InfoContext(r.Context(), "password reset request throttled", "wait", wait.Round(time.Second))
		// The user is not looked up: the answer must not depend on it.
		h.Audit.Record(r.Context(), r, audit.Event{Type: audit.PasswordResetRequested, Reason: "throttled"})
		h.resetThrottled(w, wait)
		return
	}
	user, err := h.Store.GetUserByEmail(r.Context(), address)
	event := audit.Event{Type: audit.PasswordResetRequested, UserID: user.ID}
	switch {
	case err == nil && !user.Disabled:
		// The link is stored before the answer (a failure is a 503);
		// the mail goes after it, so both cases answer alike.
		if err := h.mailReset(r.Context(), user, r.PostFormValue("request"), true); err != nil {
			h.unavailable(w, r, err)
			return
		}
		h.Logger.InfoContext(r.Context(), "password reset requested", "user_id", user.ID)
	case err == nil:
		event.Reason = "disabled"
	case errors.Is(err, storage.ErrNotFound):
		event.Reason = "unknown_account"
	default:
		h.unavailable(w, r, err)
		return
	}
	h.Audit.Record(r.Context(), r, event)
	h.Pages.Render(w, http.StatusOK, "check_email", templates.CheckEmailPage{Email: address, Reset: true})
}

// ErrMailDisabled: no mailer is configured, so no link can be sent.
var ErrMailDisabled = errors.New("email is not set up")

// MailPasswordReset mails the user a password reset link, as the forgot
// password page does (for the admin API). ErrMailDisabled without a mailer.
func (h *Handler) MailPasswordReset(ctx context.Context, user storage.User) error {
	if h.Accounts.Mailer == nil {
		return ErrMailDisabled
	}
	return h.mailReset(ctx, user, "", false)
}

func (h *Handler) mailReset(ctx context.Context, user storage.User, request string, later bool) error {
	return h.mailLink(ctx, user, request, KindPasswordReset, resetLifetime, "reset_password", "/reset-password", later)
}

// resetToken loads a live reset link, or renders why it cannot be used.
func (h *Handler) resetToken(w http.ResponseWriter, r *http.Request, token string) (storage.Token, bool) {
	t, err := h.Store.GetToken(r.Context(), KindPasswordReset, hashToken(token))
	switch {
	case errors.Is(err, storage.ErrNotFound) || (err == nil && (!t.Active || !t.ExpiresAt.After(time.Now()))):
		h.errorPage(w, http.StatusBadRequest, "invalid_link", "This link has expired or was already used. Ask for a new one from the sign-in page.")
		return t, false
	case err != nil:
		h.unavailable(w, r, err)
		return t, false
	}
	return t, true
}

func (h *Handler) showResetPassword(w http.ResponseWriter, r *http.Request) {
	if !h.resetEnabled(w) {
		return
	}
	token := r.URL.Query().Get("token")
	if _, ok := h.resetToken(w, r, token); !ok {
		return
	}
	h.renderForm(w, r, http.StatusOK, "reset_password", func(csrf string) any {
		return templates.ResetPasswordPage{Page: templates.Page{CSRFToken: csrf}, Token: token}
	})
}

// submitResetPassword sets the new password, uses up the link, and signs
// the user out everywhere: every session, refresh token and access token
// of theirs stops working.
func (h *Handler) submitResetPassword(w http.ResponseWriter, r *http.Request) {
	if !h.resetEnabled(w) {
		return
	}
	if !h.Sessions.CheckCSRF(r) {
		h.errorPage(w, http.StatusForbidden, "invalid_request", "The form has expired. Go back and try again.")
		return
	}
	ctx := r.Context()
	token := r.PostFormValue("token")
	t, ok := h.resetToken(w, r, token)
	if !ok {
		return
	}
	user, err := h.Store.GetUser(ctx, t.Subject)
	if err != nil {
		h.resetToken(w, r, "") // renders the expired-link page
		return
	}
	password := r.PostFormValue("password")
	if err := h.Accounts.Policy.Check(password, user.Email, user.Name); err != nil {
		h.renderForm(w, r, http.StatusBadRequest, "reset_password", func(csrf string) any {
			return templates.ResetPasswordPage{Page: templates.Page{CSRFToken: csrf}, Token: token, Error: err.Error()}
		})
		return
	}
	hash, err := h.Passwords.Hash(password)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	// Using the link up first means two submissions cannot both succeed.
	err = h.Store.DeactivateToken(ctx, KindPasswordReset, t.Signature)
	if errors.Is(err, storage.ErrInactive) || errors.Is(err, storage.ErrNotFound) {
		h.resetToken(w, r, "")
		return
	}
	if err == nil {
		err = h.Store.UpdateUser(ctx, user.ID, func(u storage.User) (storage.User, error) {
			// Following the emailed link proves the address too.
			u.PasswordHash, u.EmailVerified, u.UpdatedAt = hash, true, time.Now().UTC().Truncate(time.Second)
			return u, nil
		})
	}
	if err == nil {
		err = storage.SignOutEverywhere(ctx, h.Store, user.ID)
	}
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	_ = h.Sessions.End(w, r)
	h.Logger.InfoContext(ctx, "password reset", "user_id", user.ID)
	h.Audit.Record(ctx, r, audit.Event{Type: audit.PasswordResetCompleted, UserID: user.ID})
	data := templates.PasswordChangedPage{}
	if _, err := h.Pending.Get(ctx, t.RequestID); t.RequestID != "" && err == nil {
		data.Request = t.RequestID
	}
	h.Pages.Render(w, http.StatusOK, "password_changed", data)
}

// renderForm renders a page whose form needs a CSRF token.
func (h *Handler) renderForm(w http.ResponseWriter, r *http.Request, status int, page string, data func(csrf string) any) {
	csrf, err := h.Sessions.CSRFToken(w, r)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.Pages.Render(w, status, page, data(csrf))
}
