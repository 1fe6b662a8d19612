package oauth

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/tollgate/tollgate/server/authflow"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/oauthstore"
)

// authorize is the authorization endpoint (RFC 6749 §3.1, OIDC Core §3.1.2).
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) {
	h.handleAuthorize(w, r, "", nil)
}

// resume continues a pending request after the hosted pages, re-validating it
// from the parameters the client originally sent.
func (h *Handler) resume(w http.ResponseWriter, r *http.Request) {
	handle := r.URL.Query().Get("request")
	p, err := h.Pending.Get(r.Context(), handle)
	if errors.Is(err, authflow.ErrNotFound) {
		h.errorPage(w, http.StatusBadRequest, "request_expired", "This sign-in request has expired or was already completed.")
		return
	}
	if err != nil {
		h.unavailablePage(w, r, err)
		return
	}
	orig := r.Clone(r.Context())
	orig.Method = http.MethodGet
	orig.URL.RawQuery = p.Query.Encode()
	orig.Form, orig.PostForm, orig.Body = nil, nil, http.NoBody
	h.handleAuthorize(w, orig, handle, &p)
}

func (h *Handler) handleAuthorize(w http.ResponseWriter, r *http.Request, handle string, pending *authflow.Pending) {
	ctx := r.Context()
	ar, err := h.Provider.NewAuthorizeRequest(ctx, r)
	if err != nil {
		h.authorizeError(w, r, ar, err)
		return
	}
	form := ar.GetRequestForm()
	// fosite checks PKCE only when it issues the code; checking here spares
	// the user a sign-in that can only end in an error.
	if err := checkPKCE(form); err != nil {
		h.authorizeError(w, r, ar, err)
		return
	}
	prompt := strings.Fields(form.Get("prompt"))
	promptNone := slices.Contains(prompt, "none")
	if promptNone && len(prompt) > 1 {
		h.authorizeError(w, r, ar, fosite.ErrInvalidRequest.WithHint("prompt=none cannot be combined with other values."))
		return
	}
	if pending != nil && pending.Denied {
		h.finishPending(r, handle)
		h.authorizeError(w, r, ar, fosite.ErrAccessDenied.WithHint("The user denied the request."))
		return
	}

	// Whole seconds, as auth_time is: a sign-in in the same second as the
	// request must count as after it for prompt=login.
	requestedAt := time.Now().UTC().Truncate(time.Second)
	if pending != nil {
		requestedAt = pending.CreatedAt
	}
	sess, err := h.Sessions.Load(r)
	hasSession := err == nil
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.unavailablePage(w, r, err)
		return
	}
	// A pending request resumes only in the browser session that signed in
	// for it.
	signedInHere := pending != nil && pending.LoggedIn && hasSession && sess.ID == pending.SessionID

	needLogin := !hasSession
	if hasSession && !signedInHere {
		if slices.Contains(prompt, "login") {
			needLogin = true
		}
		if maxAge, err := strconv.ParseInt(form.Get("max_age"), 10, 64); err == nil && maxAge >= 0 &&
			sess.AuthTime.Add(time.Duration(maxAge)*time.Second).Before(requestedAt) {
			needLogin = true
		}
	}
	var user storage.User
	if !needLogin {
		user, err = h.Store.GetUser(ctx, sess.UserID)
		switch {
		case errors.Is(err, storage.ErrNotFound) || (err == nil && user.Disabled):
			needLogin = true
		case err != nil:
			h.unavailablePage(w, r, err)
			return
		}
	}
	// prompt=create (OpenID Connect "Initiating User Registration") starts
	// at the sign-up page, once: after sign-up the user signs in and the
	// request resumes as usual.
	if slices.Contains(prompt, "create") && (pending == nil || !pending.LoggedIn) {
		if !h.SignupEnabled {
			h.authorizeError(w, r, ar, fosite.ErrInvalidRequest.WithHint("Account creation is not available here."))
			return
		}
		h.sendTo(w, r, "/signup", handle, pending, ar, requestedAt, "")
		return
	}
	if needLogin {
		if promptNone {
			h.authorizeError(w, r, ar, fosite.ErrLoginRequired.WithHint("The user is not signed in."))
			return
		}
		h.sendTo(w, r, "/login", handle, pending, ar, requestedAt, "")
		return
	}

	client := ar.GetClient().(oauthstore.Client)
	if page, err := h.secondFactorPage(ctx, form, client, user, sess); err != nil || page != "" {
		switch {
		case err != nil:
			h.unavailablePage(w, r, err)
		case promptNone:
			h.authorizeError(w, r, ar, fosite.ErrInteractionRequired.WithHint("The user must give a second factor."))
		default:
			h.sendTo(w, r, page, handle, pending, ar, requestedAt, sess.ID)
		}
		return
	}
	scopes := []string(ar.GetRequestedScopes())
	consented := pending != nil && pending.Consented && hasSession && sess.ID == pending.SessionID
	if !client.SkipConsent && !consented {
		need := slices.Contains(prompt, "consent")
		if !need {
			c, err := h.Store.GetConsent(ctx, user.ID, client.ID)
			switch {
			case errors.Is(err, storage.ErrNotFound):
				need = true
			case err != nil:
				h.unavailablePage(w, r, err)
				return
			default:
				need = !covers(c.Scopes, scopes)
			}
		}
		if need {
			if promptNone {
				h.authorizeError(w, r, ar, fosite.ErrConsentRequired.WithHint("The user has not consented to this client."))
				return
			}
			h.sendTo(w, r, "/consent", handle, pending, ar, requestedAt, sess.ID)
			return
		}
	}

	for _, s := range scopes {
		ar.GrantScope(s)
	}
	for _, a := range ar.GetRequestedAudience() {
		ar.GrantAudience(a)
	}
	if len(ar.GetGrantedAudience()) == 0 {
		ar.GrantAudience(client.ID)
	}
	// The code, its PKCE challenge and its OpenID request are written in
	// one statement when the unit finishes.
	ctx = oauthstore.WithUnit(ctx, "")
	resp, err := h.Provider.NewAuthorizeResponse(ctx, ar, h.newSession(user, sess, requestedAt, ar.GetGrantedScopes()))
	if err == nil {
		err = h.OAuthStore.Finish(ctx)
	}
	if err != nil {
		h.authorizeError(w, r, ar, err)
		return
	}
	// RFC 9207: identify ourselves in every authorization response.
	resp.AddParameter("iss", h.Issuer)
	h.finishPending(r, handle)
	h.Provider.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// sendTo stores (or updates) the pending request and sends the browser to a
// hosted page.
func (h *Handler) sendTo(w http.ResponseWriter, r *http.Request, page, handle string, pending *authflow.Pending, ar fosite.AuthorizeRequester, requestedAt time.Time, sessionID string) {
	p := authflow.Pending{
		Query: ar.GetRequestForm(), ClientID: ar.GetClient().GetID(),
		Scopes: ar.GetRequestedScopes(), CreatedAt: requestedAt, SessionID: sessionID,
	}
	if pending != nil && sessionID != "" && pending.SessionID == sessionID {
		p.LoggedIn = pending.LoggedIn
	}
	var err error
	if handle == "" {
		handle, err = h.Pending.Create(r.Context(), p)
	} else {
		err = h.Pending.Update(r.Context(), handle, p)
	}
	if err != nil {
		h.unavailablePage(w, r, err)
		return
	}
	http.Redirect(w, r, h.Issuer+page+"?request="+url.QueryEscape(handle), http.StatusSeeOther)
}

func (h *Handler) finishPending(r *http.Request, handle string) {
	if handle == "" {
		return
	}
	if err := h.Pending.Delete(r.Context(), handle); err != nil {
		// It expires on its own; a leftover cannot be resumed into a second
		// code without the user's session.
		h.Logger.WarnContext(r.Context(), "could not delete pending request", "err", err)
	}
}

// authorizeError redirects the error to the client only when the client and
// its redirect URI are verified; otherwise it renders our error page (RFC 6749
// §4.1.2.1: never redirect to an unverified URI).
func (h *Handler) authorizeError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	if unavailable(err) {
		h.unavailablePage(w, r, err)
		return
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	if ar == nil || !ar.IsRedirectURIValid() || ar.GetRedirectURI() == nil {
		h.errorPage(w, rfc.CodeField, rfc.ErrorField, rfc.GetDescription())
		return
	}
	u := *ar.GetRedirectURI()
	q := u.Query()
	q.Set("error", rfc.ErrorField)
	q.Set("error_description", rfc.GetDescription())
	if state := ar.GetState(); state != "" {
		q.Set("state", state)
	}
	q.Set("iss", h.Issuer)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// covers reports whether granted includes every scope in requested.
func covers(granted, requested []string) bool {
	for _, s := range requested {
		if !slices.Contains(granted, s) {
			return false
		}
	}
	return true
}

// checkPKCE requires an S256 code challenge on every request (RFC 9700
// §2.1.1); plain is refused because it protects nothing once the
// authorization request leaks.
func checkPKCE(form url.Values) error {
	switch {
	case form.Get("code_challenge") == "":
		return fosite.ErrInvalidRequest.WithHint("Clients must include a code_challenge when performing the authorize code flow (PKCE S256 is required).")
	case form.Get("code_challenge_method") != "S256":
		return fosite.ErrInvalidRequest.WithHint("The code_challenge_method must be S256.")
	}
	return nil
}
