package upstream

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tollgate/tollgate/server/login"
	"github.com/tollgate/tollgate/server/metrics"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/templates"
)

// askPassword shows the "link accounts" page: the upstream gave the address
// of an existing account, whose owner must prove it with its password
// before the upstream account is linked to it.
func (h *Handler) askPassword(w http.ResponseWriter, r *http.Request, p *provider, st loginState, c claims, local storage.User) {
	data := templates.UpstreamLinkPage{
		Request: st.Request, UpstreamName: p.cfg.Name, Email: local.Email, HasPassword: local.PasswordHash != "",
	}
	if data.HasPassword {
		token, err := randomValue()
		if err != nil {
			h.unavailable(w, r, err)
			return
		}
		err = h.save(r.Context(), kindLink, token, pendingLink{
			Upstream: p.cfg.ID, Claims: c, UserID: local.ID, Request: st.Request, Next: st.Next,
			AMR: fedAMR(c.AMR), Binding: st.Binding,
		})
		if err != nil {
			h.unavailable(w, r, err)
			return
		}
		data.Token = token
	}
	h.Logger.InfoContext(r.Context(), "upstream account matches a local account", "upstream", p.cfg.ID, "user_id", local.ID)
	h.renderLink(w, r, http.StatusOK, data)
}

func (h *Handler) renderLink(w http.ResponseWriter, r *http.Request, status int, data templates.UpstreamLinkPage) {
	token, err := h.Sessions.CSRFToken(w, r)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	data.CSRFToken = token
	h.Pages.Render(w, status, "upstream_link", data)
}

// submitLink checks the account's password, throttled like the login page
// (the same counters), then links the upstream account and signs in.
func (h *Handler) submitLink(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !h.Sessions.CheckCSRF(r) {
		h.errorPage(w, http.StatusForbidden, "invalid_request", "The form has expired. Go back and try again.")
		return
	}
	token := r.PostFormValue("link")
	var pl pendingLink
	err := h.load(ctx, kindLink, token, &pl)
	if err == nil && !h.sameBrowser(r, pl.Binding) {
		err = errBrowser
	}
	p := h.byID[pl.Upstream]
	if err == nil && p == nil {
		err = errNoRecord
	}
	if err != nil {
		if errors.Is(err, errNoRecord) || errors.Is(err, errUsed) || errors.Is(err, errBrowser) {
			h.errorPage(w, http.StatusBadRequest, "link_expired", "This request to link accounts has expired or was already used. Start again.")
			return
		}
		h.unavailable(w, r, err)
		return
	}
	user, err := h.Store.GetUser(ctx, pl.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		h.errorPage(w, http.StatusBadRequest, "link_expired", "The account to link no longer exists. Start again.")
		return
	}
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	data := templates.UpstreamLinkPage{
		Token: token, Request: pl.Request, UpstreamName: p.cfg.Name, Email: user.Email, HasPassword: true,
	}
	gate, err := login.PasswordWait(ctx, h.Store, r, user.Email)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	if wait := gate.Wait; wait > 0 {
		h.Logger.InfoContext(ctx, "account link throttled", "upstream", p.cfg.ID, "wait", wait.Round(time.Second))
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		data.Throttled = true
		h.recordLinkRefused(r, p, user.ID, "throttled")
		h.renderLink(w, r, http.StatusTooManyRequests, data)
		return
	}
	ok := false
	if user.PasswordHash != "" {
		ok, _, err = h.Passwords.Verify(r.PostFormValue("password"), user.PasswordHash)
		ok = ok && err == nil && !user.Disabled
	}
	if !ok {
		if err := login.RecordPasswordFailure(ctx, h.Store, r, user.Email); err != nil {
			h.unavailable(w, r, err)
			return
		}
		h.Logger.InfoContext(ctx, "account link refused: wrong password", "upstream", p.cfg.ID, "user_id", user.ID)
		h.Metrics.SignIn(metricMethod, metrics.SignInFailure)
		data.Failed = true
		h.recordLinkRefused(r, p, user.ID, "wrong_password")
		h.renderLink(w, r, http.StatusUnauthorized, data)
		return
	}
	if err := login.ResetPasswordFailures(ctx, h.Store, user.Email, gate); err != nil {
		h.unavailable(w, r, err)
		return
	}
	if err := h.consume(ctx, kindLink, token); err != nil {
		if errors.Is(err, errUsed) || errors.Is(err, errNoRecord) {
			h.errorPage(w, http.StatusBadRequest, "link_expired", "This request to link accounts was already used. Start again.")
			return
		}
		h.unavailable(w, r, err)
		return
	}
	if err := h.Store.CreateIdentity(ctx, newIdentity(p, user.ID, pl.Claims)); err != nil {
		h.linkFailed(w, r, p, err)
		return
	}
	h.Logger.InfoContext(ctx, "upstream identity linked with the account's password", "upstream", p.cfg.ID, "user_id", user.ID)
	h.recordLink(r, p, user.ID, "password")
	// The user proved both: the upstream account and the password.
	h.complete(w, r, p, user, pl.Request, pl.Next, fedAMR(append(pl.AMR, "pwd")))
}

// finishAccountLink links the upstream account to the signed-in user who
// asked for it from the account page.
func (h *Handler) finishAccountLink(w http.ResponseWriter, r *http.Request, p *provider, userID string, c claims) {
	ctx := r.Context()
	sess, err := h.Sessions.Load(r)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.unavailable(w, r, err)
		return
	}
	if err != nil || sess.UserID != userID {
		h.Logger.WarnContext(ctx, "upstream link refused: session changed", "upstream", p.cfg.ID)
		h.errorPage(w, http.StatusForbidden, "login_required", "Your session ended before linking finished. Sign in and try again.")
		return
	}
	ident, err := h.Store.GetIdentity(ctx, c.Issuer, c.Subject)
	switch {
	case err == nil && ident.UserID == userID:
		http.Redirect(w, r, h.Issuer+"/account/identities?linked="+url.QueryEscape(p.cfg.ID), http.StatusSeeOther)
		return
	case err == nil:
		h.Logger.WarnContext(ctx, "upstream link refused: identity belongs to another user", "upstream", p.cfg.ID, "user_id", userID)
		h.recordLinkRefused(r, p, userID, "linked_elsewhere")
		h.errorPage(w, http.StatusConflict, "already_linked",
			"That "+p.cfg.Name+" account already signs in to another account here. Unlink it there first.")
		return
	case !errors.Is(err, storage.ErrNotFound):
		h.unavailable(w, r, err)
		return
	}
	if err := h.Store.CreateIdentity(ctx, newIdentity(p, userID, c)); err != nil {
		h.linkFailed(w, r, p, err)
		return
	}
	h.Logger.InfoContext(ctx, "upstream identity linked from the account page", "upstream", p.cfg.ID, "user_id", userID)
	h.recordLink(r, p, userID, "account_page")
	http.Redirect(w, r, h.Issuer+"/account/identities?linked="+url.QueryEscape(p.cfg.ID), http.StatusSeeOther)
}
