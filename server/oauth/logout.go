package oauth

import (
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/ory/fosite/token/jwt"

	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/templates"
)

// logoutRequest is an RP-initiated logout request (OIDC RP-Initiated Logout 1.0 §2).
type logoutRequest struct {
	idTokenHint string
	redirectURI string
	state       string
	clientID    string
	hintSubject string // sub of a valid id_token_hint
	client      storage.Client
}

// endSession ends the browser session. It redirects only to a
// post_logout_redirect_uri registered, exactly, for the client the request
// names; it asks the user to confirm unless a valid id_token_hint for the
// current session shows the request comes from the user's own app.
func (h *Handler) endSession(w http.ResponseWriter, r *http.Request) {
	lr, problem := h.parseLogout(r)
	if problem != "" {
		h.errorPage(w, http.StatusBadRequest, "invalid_request", problem)
		return
	}
	sess, err := h.Sessions.Load(r)
	hasSession := err == nil
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.unavailablePage(w, r, err)
		return
	}
	if r.Method == http.MethodPost {
		if !h.Sessions.CheckCSRF(r) {
			h.errorPage(w, http.StatusForbidden, "invalid_request", "The form has expired. Go back and try again.")
			return
		}
		if r.PostFormValue("decision") == "cancel" {
			h.finishLogout(w, r, lr)
			return
		}
	} else if hasSession && (lr.hintSubject == "" || lr.hintSubject != sess.UserID) {
		token, err := h.Sessions.CSRFToken(w, r)
		if err != nil {
			h.unavailablePage(w, r, err)
			return
		}
		h.Pages.Render(w, http.StatusOK, "logout", templates.LogoutPage{
			Page:       templates.Page{CSRFToken: token},
			ClientName: lr.client.Name, IDTokenHint: lr.idTokenHint,
			PostLogoutRedirectURI: lr.redirectURI, State: lr.state, ClientID: lr.clientID,
		})
		return
	}
	if err := h.Sessions.End(w, r); err != nil {
		h.unavailablePage(w, r, err)
		return
	}
	if hasSession {
		h.Audit.Record(r.Context(), r, audit.Event{Type: audit.LoggedOut, UserID: sess.UserID, ClientID: lr.clientID})
	}
	h.finishLogout(w, r, lr)
}

func (h *Handler) finishLogout(w http.ResponseWriter, r *http.Request, lr logoutRequest) {
	if lr.redirectURI == "" {
		h.Pages.Render(w, http.StatusOK, "logged_out", templates.LoggedOutPage{})
		return
	}
	u, _ := url.Parse(lr.redirectURI) // validated in parseLogout
	if lr.state != "" {
		q := u.Query()
		q.Set("state", lr.state)
		u.RawQuery = q.Encode()
	}
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// parseLogout validates the request; a non-empty problem is shown to the user.
func (h *Handler) parseLogout(r *http.Request) (logoutRequest, string) {
	if err := r.ParseForm(); err != nil {
		return logoutRequest{}, "The logout request is malformed."
	}
	lr := logoutRequest{
		idTokenHint: r.Form.Get("id_token_hint"),
		redirectURI: r.Form.Get("post_logout_redirect_uri"),
		state:       r.Form.Get("state"),
		clientID:    r.Form.Get("client_id"),
	}
	if lr.idTokenHint != "" {
		sub, aud, ok := h.readIDTokenHint(r, lr.idTokenHint)
		if !ok {
			return lr, "The id_token_hint was not issued by this server."
		}
		if lr.clientID != "" && !slices.Contains(aud, lr.clientID) {
			return lr, "The id_token_hint was not issued to client_id."
		}
		if lr.clientID == "" && len(aud) > 0 {
			lr.clientID = aud[0]
		}
		lr.hintSubject = sub
	}
	if lr.clientID != "" {
		c, err := h.Store.GetClient(r.Context(), lr.clientID)
		if err != nil {
			return lr, "The application that asked to sign you out is unknown."
		}
		lr.client = c
	}
	if lr.redirectURI != "" {
		if lr.clientID == "" {
			return lr, "post_logout_redirect_uri needs client_id or id_token_hint."
		}
		if !slices.Contains(lr.client.PostLogoutRedirectURIs, lr.redirectURI) {
			return lr, "post_logout_redirect_uri is not registered for this application."
		}
	}
	return lr, ""
}

// readIDTokenHint verifies a hint we issued; an expired one is acceptable
// (OIDC RP-Initiated Logout §2: the OP need not reject expired hints).
func (h *Handler) readIDTokenHint(r *http.Request, raw string) (string, []string, bool) {
	tok, err := h.Signer.Decode(r.Context(), raw)
	var ve *jwt.ValidationError
	if err != nil && !(errors.As(err, &ve) && ve.Errors == jwt.ValidationErrorExpired) {
		return "", nil, false
	}
	if tok == nil {
		return "", nil, false
	}
	if typ, _ := tok.Header["typ"].(string); typ == "at+jwt" {
		return "", nil, false // an access token is not an ID token
	}
	if iss, _ := tok.Claims["iss"].(string); iss != h.Issuer {
		return "", nil, false
	}
	sub, _ := tok.Claims["sub"].(string)
	var aud []string
	switch a := tok.Claims["aud"].(type) {
	case string:
		aud = []string{a}
	case []any:
		for _, v := range a {
			if s, ok := v.(string); ok {
				aud = append(aud, s)
			}
		}
	}
	return sub, aud, sub != ""
}
