package login

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tollgate/tollgate/mailer"
	"github.com/tollgate/tollgate/passwords"
	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/templates"
)

// KindEmailVerification marks email verification links in the token store.
const KindEmailVerification storage.TokenKind = "email_verification"

// verificationLifetime is how long a verification link works.
const verificationLifetime = 24 * time.Hour

// Accounts is what sign-up needs beyond the login pages: where mail goes,
// and the rules for new accounts.
type Accounts struct {
	Mailer mailer.Sender
	Mail   *templates.MailRenderer
	Policy passwords.Policy
	// Enabled lets visitors create accounts.
	Enabled bool
	// RequireVerified refuses sign-in until the email address is confirmed.
	RequireVerified bool
}

func (h *Handler) showSignup(w http.ResponseWriter, r *http.Request) {
	if !h.Accounts.Enabled {
		h.errorPage(w, http.StatusNotFound, "not_found", "Creating accounts is switched off here. Ask the application's administrator for an account.")
		return
	}
	data := templates.SignupPage{Request: r.URL.Query().Get("request")}
	if data.Request != "" {
		p, ok := h.pending(w, r, data.Request)
		if !ok {
			return
		}
		data.ClientName = h.clientName(r, p.ClientID)
		data.Email = p.Query.Get("login_hint")
	}
	h.renderSignup(w, r, http.StatusOK, data)
}

func (h *Handler) renderSignup(w http.ResponseWriter, r *http.Request, status int, data templates.SignupPage) {
	token, err := h.Sessions.CSRFToken(w, r)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	data.CSRFToken = token
	h.Pages.Render(w, status, "signup", data)
}

// submitSignup creates the account and mails a verification link. An email
// that already has an account gets the same page, and its owner an email
// saying so: the page never tells a visitor whether an account exists.
func (h *Handler) submitSignup(w http.ResponseWriter, r *http.Request) {
	if !h.Accounts.Enabled {
		h.errorPage(w, http.StatusNotFound, "not_found", "Creating accounts is switched off here.")
		return
	}
	if !h.Sessions.CheckCSRF(r) {
		h.errorPage(w, http.StatusForbidden, "invalid_request", "The form has expired. Go back and try again.")
		return
	}
	form := templates.SignupPage{
		Request: r.PostFormValue("request"),
		Email:   strings.TrimSpace(r.PostFormValue("email")),
		Name:    strings.TrimSpace(r.PostFormValue("name")),
	}
	if form.Request != "" {
		p, ok := h.pending(w, r, form.Request)
		if !ok {
			return
		}
		form.ClientName = h.clientName(r, p.ClientID)
	}
	email, err := mail.ParseAddress(form.Email)
	if err != nil || email.Address != form.Email || len(form.Name) > 200 {
		form.Error, form.Field = "Enter an email address such as name@example.com.", "email"
		h.renderSignup(w, r, http.StatusBadRequest, form)
		return
	}
	address := strings.ToLower(email.Address)
	password := r.PostFormValue("password")
	if err := h.Accounts.Policy.Check(password, address, form.Name); err != nil {
		form.Error, form.Field = err.Error(), "password"
		h.renderSignup(w, r, http.StatusBadRequest, form)
		return
	}
	// Both paths hash once, so they take the same time.
	hash, err := h.Passwords.Hash(password)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	now := time.Now().UTC().Truncate(time.Second)
	user := storage.User{ID: uuid.NewString(), Email: address, Name: form.Name, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	err = h.Store.CreateUser(r.Context(), user)
	switch {
	case errors.Is(err, storage.ErrAlreadyExists):
		h.Logger.InfoContext(r.Context(), "sign-up with an existing email")
		h.mailAccountExists(r.Context(), address, form.Request)
		err = nil
	case err == nil:
		h.Logger.InfoContext(r.Context(), "signed up", "user_id", user.ID)
		h.Audit.Record(r.Context(), r, audit.Event{Type: audit.SignedUp, UserID: user.ID})
		err = h.mailVerification(r.Context(), user, form.Request, true)
	}
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.Pages.Render(w, http.StatusOK, "check_email", templates.CheckEmailPage{Email: address})
}

// mailVerification mails a single-use verification link; later sends it
// after the answer (see sendLater).
func (h *Handler) mailVerification(ctx context.Context, user storage.User, request string, later bool) error {
	return h.mailLink(ctx, user, request, KindEmailVerification, verificationLifetime, "verify_email", "/verify-email", later)
}

// mailLink stores a single-use link of kind, by its hash only, and mails it
// to the user with the named template: at once, or with later after the
// answer, in which case only storing the link can fail.
func (h *Handler) mailLink(ctx context.Context, user storage.User, request string, kind storage.TokenKind, lifetime time.Duration, message, path string, later bool) error {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	token := base64.RawURLEncoding.EncodeToString(raw)
	now := time.Now().UTC()
	err := h.Store.CreateToken(ctx, storage.Token{
		Kind: kind, Signature: hashToken(token), RequestID: request,
		Subject: user.ID, Active: true, ExpiresAt: now.Add(lifetime), CreatedAt: now,
	})
	if err != nil {
		return err
	}
	data := templates.MailData{
		Name: user.Name, Email: user.Email, Link: h.Issuer + path + "?token=" + url.QueryEscape(token),
	}
	if later {
		h.sendLater(ctx, message, data)
		return nil
	}
	return h.sendMail(ctx, message, data)
}

// mailAccountExists tells an address's owner that someone tried to sign
// up with it, after the answer (see sendLater).
func (h *Handler) mailAccountExists(ctx context.Context, address, request string) {
	link := h.Issuer + "/login"
	if request != "" {
		link += "?request=" + url.QueryEscape(request)
	}
	h.sendLater(ctx, "account_exists", templates.MailData{Email: address, Link: link})
}

func (h *Handler) sendMail(ctx context.Context, name string, data templates.MailData) error {
	subject, text, html, err := h.Accounts.Mail.Render(name, data)
	if err != nil {
		return err
	}
	return h.Accounts.Mailer.Send(ctx, mailer.Message{To: data.Email, Subject: subject, Text: text, HTML: html})
}

// verifyEmail confirms an address from a verification link. The link works
// once, and within its lifetime.
func (h *Handler) verifyEmail(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sig := hashToken(r.URL.Query().Get("token"))
	t, err := h.Store.GetToken(ctx, KindEmailVerification, sig)
	if err == nil && !t.ExpiresAt.After(time.Now()) {
		err = storage.ErrInactive
	}
	if err == nil {
		err = h.Store.DeactivateToken(ctx, KindEmailVerification, sig)
	}
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrInactive):
		h.errorPage(w, http.StatusBadRequest, "invalid_link", "This link has expired or was already used. Sign in to get a new one, or sign up again.")
		return
	case err != nil:
		h.unavailable(w, r, err)
		return
	}
	var user storage.User
	err = h.Store.UpdateUser(ctx, t.Subject, func(u storage.User) (storage.User, error) {
		u.EmailVerified, u.UpdatedAt = true, time.Now().UTC().Truncate(time.Second)
		user = u
		return u, nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		h.errorPage(w, http.StatusBadRequest, "invalid_link", "This account no longer exists.")
		return
	}
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.Logger.InfoContext(ctx, "email verified", "user_id", user.ID)
	h.Audit.Record(ctx, r, audit.Event{Type: audit.EmailVerified, UserID: user.ID})
	data := templates.EmailVerifiedPage{Email: user.Email}
	if _, err := h.Pending.Get(ctx, t.RequestID); t.RequestID != "" && err == nil {
		data.Request = t.RequestID
	}
	h.Pages.Render(w, http.StatusOK, "email_verified", data)
}

// hashToken is how links are stored: a leaked table reveals no usable link.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
