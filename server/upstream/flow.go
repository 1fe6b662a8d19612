package upstream

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"golang.org/x/oauth2"

	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/server/authflow"
	"github.com/tollgate/tollgate/server/login"
	"github.com/tollgate/tollgate/server/metrics"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/templates"
)

// metricMethod labels federated sign-ins in the sign-in counter.
const metricMethod = "upstream"

// start sends the browser to the upstream: /login/upstream/{id}, with the
// pending authorization request's handle when an application asked, or
// else with next, the page of Tollgate's own to return to. prompt=login
// asks the upstream to authenticate the user again (a confirmation before
// deleting an account, say).
func (h *Handler) start(w http.ResponseWriter, r *http.Request) {
	p := h.byID[mux.Vars(r)["id"]]
	if p == nil {
		h.errorPage(w, http.StatusNotFound, "not_found", "There is no such way to sign in here.")
		return
	}
	handle := r.URL.Query().Get("request")
	var pending *authflow.Pending
	if handle != "" {
		pr, err := h.Pending.Get(r.Context(), handle)
		if errors.Is(err, authflow.ErrNotFound) {
			h.errorPage(w, http.StatusBadRequest, "request_expired", "This sign-in request has expired or was already completed. Return to the application and start again.")
			return
		}
		if err != nil {
			h.unavailable(w, r, err)
			return
		}
		pending = &pr
	}
	st := loginState{Request: handle}
	if handle == "" {
		st.Next = login.LocalPath(r.URL.Query().Get("next"))
	}
	var prompt []string
	if r.URL.Query().Get("prompt") == "login" {
		prompt = []string{"login"}
	}
	h.begin(w, r, p, st, pending, prompt)
}

// begin records the sign-in st (where it returns to) and redirects to the
// upstream's authorization endpoint with state, nonce and PKCE (S256).
func (h *Handler) begin(w http.ResponseWriter, r *http.Request, p *provider, st loginState, pending *authflow.Pending, prompt []string) {
	linkUser := st.LinkUser
	ctx := r.Context()
	op, _, err := p.discover(ctx, h.HTTPClient)
	if err != nil {
		h.Logger.WarnContext(ctx, "upstream unavailable", "upstream", p.cfg.ID, "err", err)
		h.recordFailure(r, p, linkUser, "upstream_unavailable", nil)
		w.Header().Set("Retry-After", "10")
		h.errorPage(w, http.StatusBadGateway, "upstream_unavailable",
			p.cfg.Name+" is not answering right now. Try again in a moment, or sign in another way.")
		return
	}
	binding, err := h.binding(w, r)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	state, err1 := randomValue()
	nonce, err2 := randomValue()
	if err := errors.Join(err1, err2); err != nil {
		h.unavailable(w, r, err)
		return
	}
	st.Upstream, st.Nonce, st.Verifier, st.Binding = p.cfg.ID, nonce, oauth2.GenerateVerifier(), binding
	if err := h.save(ctx, kindLogin, state, st); err != nil {
		h.unavailable(w, r, err)
		return
	}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(st.Verifier)}
	if pending != nil {
		if hint := pending.Query.Get("login_hint"); hint != "" {
			opts = append(opts, oauth2.SetAuthURLParam("login_hint", hint))
		}
		// Only the prompts that mean the same upstream: consent is ours
		// to ask, and none cannot reach the upstream at all.
		for _, v := range strings.Fields(pending.Query.Get("prompt")) {
			if v == "login" || v == "select_account" {
				prompt = append(prompt, v)
			}
		}
	}
	if len(prompt) > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", strings.Join(prompt, " ")))
	}
	h.Logger.InfoContext(ctx, "upstream sign-in started", "upstream", p.cfg.ID, "link", linkUser != "")
	http.Redirect(w, r, h.oauth2Config(p, op).AuthCodeURL(state, opts...), http.StatusSeeOther)
}

// callback receives the upstream's answer. Nothing from it is trusted
// before the state matches a sign-in this browser started and the ID
// token's signature, iss, aud, exp and nonce check out.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := h.byID[mux.Vars(r)["id"]]
	if p == nil {
		h.errorPage(w, http.StatusNotFound, "not_found", "There is no such way to sign in here.")
		return
	}
	q := r.URL.Query()
	state := q.Get("state")
	var st loginState
	err := h.load(ctx, kindLogin, state, &st)
	if err == nil && st.Upstream != p.cfg.ID {
		err = errNoRecord
	}
	if err == nil && !h.sameBrowser(r, st.Binding) {
		err = errBrowser
	}
	if err == nil {
		err = h.consume(ctx, kindLogin, state)
	}
	if err != nil {
		h.stateFailure(w, r, p, err)
		return
	}
	if e := q.Get("error"); e != "" {
		h.Logger.InfoContext(ctx, "upstream sign-in refused", "upstream", p.cfg.ID, "error", truncate(e, 64),
			"error_description", truncate(q.Get("error_description"), 200))
		h.Metrics.SignIn(metricMethod, metrics.SignInFailure)
		if e == "access_denied" {
			h.recordFailure(r, p, "", "access_denied", nil)
			h.errorPage(w, http.StatusForbidden, "access_denied", "You cancelled signing in with "+p.cfg.Name+". Nothing was changed.")
			return
		}
		h.recordFailure(r, p, "", "upstream_error", map[string]string{"error": truncate(e, 64)})
		h.errorPage(w, http.StatusBadGateway, "upstream_error", p.cfg.Name+" could not sign you in. Try again, or sign in another way.")
		return
	}
	c, ok := h.verify(w, r, p, st, q.Get("code"))
	if !ok {
		return
	}
	if st.LinkUser != "" {
		h.finishAccountLink(w, r, p, st.LinkUser, c)
		return
	}
	h.signInWith(w, r, p, st, c)
}

// stateFailure explains a callback whose state cannot be used.
func (h *Handler) stateFailure(w http.ResponseWriter, r *http.Request, p *provider, err error) {
	h.Metrics.SignIn(metricMethod, metrics.SignInFailure)
	switch {
	case errors.Is(err, errUsed):
		h.Logger.WarnContext(r.Context(), "upstream callback replayed", "upstream", p.cfg.ID)
		h.recordFailure(r, p, "", "replayed", nil)
		h.errorPage(w, http.StatusBadRequest, "already_used", "This sign-in was already completed. Return to the application and start again.")
	case errors.Is(err, errBrowser):
		h.Logger.WarnContext(r.Context(), "upstream callback from another browser", "upstream", p.cfg.ID)
		h.recordFailure(r, p, "", "invalid_state", map[string]string{"state": "other_browser"})
		h.errorPage(w, http.StatusBadRequest, "invalid_state", "This sign-in was started in another browser or has expired. Start again from this browser.")
	case errors.Is(err, errNoRecord):
		h.Logger.WarnContext(r.Context(), "upstream callback with an unknown state", "upstream", p.cfg.ID)
		h.recordFailure(r, p, "", "invalid_state", map[string]string{"state": "unknown"})
		h.errorPage(w, http.StatusBadRequest, "invalid_state", "This sign-in link is not valid or has expired. Return to the application and start again.")
	default:
		h.unavailable(w, r, err)
	}
}

// verify exchanges the code and verifies the ID token, rendering the
// error page when either fails.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request, p *provider, st loginState, code string) (claims, bool) {
	ctx := r.Context()
	invalid := func(msg string, err error) (claims, bool) {
		h.Logger.WarnContext(ctx, "upstream sign-in rejected: "+msg, "upstream", p.cfg.ID, "err", err)
		h.Metrics.SignIn(metricMethod, metrics.SignInFailure)
		h.recordFailure(r, p, "", "invalid_token", map[string]string{"check": msg})
		h.errorPage(w, http.StatusBadGateway, "invalid_token",
			"The answer from "+p.cfg.Name+" could not be verified, so you were not signed in. Try again, or sign in another way.")
		return claims{}, false
	}
	if code == "" {
		return invalid("no code", nil)
	}
	op, verifier, err := p.discover(ctx, h.HTTPClient)
	if err != nil {
		return invalid("discovery failed", err)
	}
	tok, err := h.oauth2Config(p, op).Exchange(context.WithValue(ctx, oauth2.HTTPClient, h.HTTPClient), code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return invalid("code exchange failed", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return invalid("no ID token", nil)
	}
	idt, err := verifier.Verify(oidc.ClientContext(ctx, h.HTTPClient), raw)
	if err != nil {
		return invalid("ID token invalid", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		return invalid("ID token nonce mismatch", nil)
	}
	c, err := readClaims(idt, p.cfg.Claims)
	if err != nil || c.Subject == "" {
		return invalid("ID token claims unreadable", err)
	}
	return c, true
}

// signInWith maps a verified upstream account to a local user: its
// identity's user, else a new user, else (same email) the existing account
// once its owner proves it.
func (h *Handler) signInWith(w http.ResponseWriter, r *http.Request, p *provider, st loginState, c claims) {
	ctx := r.Context()
	ident, err := h.Store.GetIdentity(ctx, c.Issuer, c.Subject)
	switch {
	case err == nil:
		user, err := h.Store.GetUser(ctx, ident.UserID)
		if err != nil {
			h.unavailable(w, r, err)
			return
		}
		if err := h.Store.TouchIdentity(ctx, ident.ID, time.Now().UTC()); err != nil {
			h.unavailable(w, r, err)
			return
		}
		h.complete(w, r, p, user, st.Request, st.Next, fedAMR(c.AMR))
		return
	case !errors.Is(err, storage.ErrNotFound):
		h.unavailable(w, r, err)
		return
	}
	if c.Email != "" {
		local, err := h.Store.GetUserByEmail(ctx, c.Email)
		switch {
		case err == nil:
			if p.cfg.TrustedEmail && c.EmailVerified && !local.Disabled {
				if err := h.Store.CreateIdentity(ctx, newIdentity(p, local.ID, c)); err != nil {
					h.linkFailed(w, r, p, err)
					return
				}
				h.Logger.InfoContext(ctx, "upstream identity linked by trusted email", "upstream", p.cfg.ID, "user_id", local.ID)
				h.recordLink(r, p, local.ID, "trusted_email")
				h.complete(w, r, p, local, st.Request, st.Next, fedAMR(c.AMR))
				return
			}
			h.askPassword(w, r, p, st, c, local)
			return
		case !errors.Is(err, storage.ErrNotFound):
			h.unavailable(w, r, err)
			return
		}
	}
	user, err := h.createUser(r, p, c)
	if err != nil {
		h.linkFailed(w, r, p, err)
		return
	}
	h.Logger.InfoContext(ctx, "user created from upstream", "upstream", p.cfg.ID, "user_id", user.ID)
	h.Audit.Record(ctx, r, audit.Event{Type: audit.SignedUp, UserID: user.ID, Details: map[string]string{"method": method(p)}})
	h.complete(w, r, p, user, st.Request, st.Next, fedAMR(c.AMR))
}

// createUser creates a user from the upstream's claims, with its identity,
// in one transaction: both or neither.
func (h *Handler) createUser(r *http.Request, p *provider, c claims) (storage.User, error) {
	now := time.Now().UTC()
	u := storage.User{
		ID: uuid.NewString(), Email: c.Email, EmailVerified: c.EmailVerified,
		Name: c.Name, Picture: c.Picture, CreatedAt: now, UpdatedAt: now,
	}
	tx, err := h.Store.BeginTx(r.Context())
	if err != nil {
		return storage.User{}, err
	}
	err = h.Store.CreateUser(tx, u)
	if err == nil {
		err = h.Store.CreateIdentity(tx, newIdentity(p, u.ID, c))
	}
	if err != nil {
		if rbErr := h.Store.Rollback(tx); rbErr != nil {
			h.Logger.WarnContext(r.Context(), "rollback failed", "err", rbErr)
		}
		return storage.User{}, err
	}
	return u, h.Store.Commit(tx)
}

func newIdentity(p *provider, userID string, c claims) storage.Identity {
	now := time.Now().UTC()
	return storage.Identity{
		ID: uuid.NewString(), UserID: userID, Upstream: p.cfg.ID, Issuer: c.Issuer, Subject: c.Subject,
		Email: c.Email, CreatedAt: now, LastUsedAt: now,
	}
}

// linkFailed explains a user or identity that could not be created: a
// concurrent sign-in won the race, or storage failed.
func (h *Handler) linkFailed(w http.ResponseWriter, r *http.Request, p *provider, err error) {
	if errors.Is(err, storage.ErrAlreadyExists) {
		h.Logger.WarnContext(r.Context(), "upstream sign-in collided", "upstream", p.cfg.ID, "err", err)
		h.errorPage(w, http.StatusConflict, "conflict", "Another sign-in with this account happened at the same time. Start again.")
		return
	}
	h.unavailable(w, r, err)
}

// fedAMR is the downstream amr: federated, plus how the upstream
// authenticated the user when it says.
func fedAMR(upstream []string) []string {
	amr := []string{"fed"}
	for _, a := range upstream {
		if !slices.Contains(amr, a) {
			amr = append(amr, a)
		}
	}
	return amr
}

// complete starts the browser session and resumes the application's
// authorization request, as the password sign-in does, or goes to next.
func (h *Handler) complete(w http.ResponseWriter, r *http.Request, p *provider, user storage.User, handle, next string, amr []string) {
	ctx := r.Context()
	if user.Disabled {
		h.Logger.InfoContext(ctx, "upstream sign-in refused: account disabled", "upstream", p.cfg.ID, "user_id", user.ID)
		h.Metrics.SignIn(metricMethod, metrics.SignInFailure)
		h.recordFailure(r, p, user.ID, "disabled", nil)
		h.errorPage(w, http.StatusForbidden, "account_disabled", "This account is disabled. Contact the administrator.")
		return
	}
	sess, err := h.Sessions.Start(w, r, user.ID, amr)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.Logger.InfoContext(ctx, "signed in", "user_id", user.ID, "upstream", p.cfg.ID, "amr", amr)
	h.Metrics.SignIn(metricMethod, metrics.SignInSuccess)
	succeeded := func(clientID string) {
		h.Audit.Record(ctx, r, audit.Event{Type: audit.SignInSucceeded, UserID: user.ID, ClientID: clientID,
			Details: map[string]string{"method": method(p), "amr": strings.Join(amr, " ")}})
	}
	if handle == "" {
		succeeded("")
		if next != "" {
			http.Redirect(w, r, h.Issuer+next, http.StatusSeeOther)
			return
		}
		h.Pages.Render(w, http.StatusOK, "signed_in", templates.SignedInPage{Email: user.Email})
		return
	}
	pending, err := h.Pending.Get(ctx, handle)
	succeeded(pending.ClientID)
	if errors.Is(err, authflow.ErrNotFound) {
		h.errorPage(w, http.StatusBadRequest, "request_expired", "You are signed in, but the application's sign-in request has expired. Return to the application and start again.")
		return
	}
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	pending.LoggedIn, pending.SessionID = true, sess.ID
	if err := h.Pending.Update(ctx, handle, pending); err != nil {
		h.unavailable(w, r, err)
		return
	}
	http.Redirect(w, r, h.Issuer+"/authorize/resume?request="+url.QueryEscape(handle), http.StatusSeeOther)
}

func (h *Handler) errorPage(w http.ResponseWriter, status int, code, description string) {
	h.Pages.Error(w, status, code, description)
}

func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	h.Logger.ErrorContext(r.Context(), "storage unavailable", "err", err)
	h.Pages.Unavailable(w)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
