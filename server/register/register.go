// Package register serves OAuth 2.0 dynamic client registration: RFC 7591
// at /oauth2/register and the RFC 7592 management of a registration at
// /oauth2/register/{client_id}. The endpoint is off unless configured.
//
// A registration is validated by package clientreg, exactly as one made by
// an admin, with two differences: the client may only ask for the standard
// scopes (never tollgate:admin), and it can never skip consent. Each
// registration gets a registration access token, stored as a SHA-256 hash,
// which is the only credential RFC 7592 calls accept.
package register

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/tollgate/tollgate/clientreg"
	"github.com/tollgate/tollgate/passwords"
	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/server/bearer"
	"github.com/tollgate/tollgate/server/clientip"
	"github.com/tollgate/tollgate/server/httpjson"
	"github.com/tollgate/tollgate/storage"
)

// Path is where the endpoint is mounted below the issuer.
const Path = "/oauth2/register"

// maxBody bounds a registration request.
const maxBody = 64 << 10

// AllowedScopes are the scopes a dynamically registered client may ask for.
var AllowedScopes = strings.Fields(clientreg.DefaultScope)

// Handler serves the registration endpoint. Its fields are its dependencies.
type Handler struct {
	// Issuer is the issuer URL; registration_client_uri is below it.
	Issuer    string
	Store     storage.ClientStore
	Passwords *passwords.Hasher
	Logger    *slog.Logger
	// InitialAccessToken, when set, must be presented as a bearer token to
	// register. Empty means open registration.
	InitialAccessToken string
	// ClientChanged is told of every client changed or deleted here, so
	// that caches drop it.
	ClientChanged func(id string)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Audit records registrations and refused attempts; nil records
	// nothing.
	Audit *audit.Recorder
}

// Mount registers the endpoints on r.
func (h *Handler) Mount(r *mux.Router) {
	r.HandleFunc(Path, h.register).Methods(http.MethodPost)
	r.HandleFunc(Path+"/{client_id}", h.read).Methods(http.MethodGet)
	r.HandleFunc(Path+"/{client_id}", h.update).Methods(http.MethodPut)
	r.HandleFunc(Path+"/{client_id}", h.remove).Methods(http.MethodDelete)
}

// Metadata is the client metadata of RFC 7591 §2 that Tollgate keeps, plus
// OpenID Connect RP-initiated logout's post_logout_redirect_uris. Other
// members are ignored, as §2 requires.
type Metadata struct {
	RedirectURIs            []string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris,omitempty"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method,omitempty"`
	GrantTypes              []string `json:"grant_types,omitempty"`
	ResponseTypes           []string `json:"response_types,omitempty"`
	ClientName              string   `json:"client_name,omitempty"`
	Scope                   string   `json:"scope,omitempty"`
}

// request is a registration or an update: metadata, and in an update the
// client's identity.
type request struct {
	Metadata
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
}

// Response is the client information response (RFC 7591 §3.2.1, RFC 7592
// §3). The secret and the registration access token appear only when
// issued.
type Response struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at,omitempty"`
	RegistrationAccessToken string   `json:"registration_access_token,omitempty"`
	RegistrationClientURI   string   `json:"registration_client_uri"`
	ClientName              string   `json:"client_name"`
	RedirectURIs            []string `json:"redirect_uris"`
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris,omitempty"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	Scope                   string   `json:"scope"`
}

// register creates a client (RFC 7591 §3.1).
func (h *Handler) register(w http.ResponseWriter, r *http.Request) {
	if h.InitialAccessToken != "" {
		token, ok := bearer.Token(r)
		if !ok || !bearer.Equal(token, h.InitialAccessToken) {
			h.Audit.Record(r.Context(), r, audit.Event{Type: audit.ClientRegistered, Actor: "anonymous", Reason: "invalid_initial_token"})
			h.unauthorized(w, r, "registration requires a valid initial access token")
			return
		}
	}
	var req request
	if !h.decode(w, r, &req) {
		return
	}
	now := h.now()
	c, secret, err := h.build(req.Metadata, "", now)
	if err != nil {
		writeMetadataError(w, err)
		return
	}
	if secret != "" {
		if c.SecretHash, err = h.Passwords.Hash(secret); err != nil {
			h.unavailable(w, r, err)
			return
		}
	}
	token := newToken()
	c.RegistrationTokenHash = hashToken(token)
	if err := h.Store.CreateClient(r.Context(), c); err != nil {
		// IDs are 128 random bits: a collision is a failure, not a conflict.
		h.unavailable(w, r, err)
		return
	}
	h.Logger.InfoContext(r.Context(), "client registered dynamically", "client_id", c.ID, "remote", clientip.Of(r))
	resp := h.response(c, req.TokenEndpointAuthMethod)
	h.Audit.Record(r.Context(), r, audit.Event{Type: audit.ClientRegistered, Actor: "anonymous", ClientID: c.ID,
		Details: map[string]string{"client_name": c.Name, "auth_method": resp.TokenEndpointAuthMethod}})
	resp.ClientSecret, resp.RegistrationAccessToken = secret, token
	w.Header().Set("Location", resp.RegistrationClientURI)
	httpjson.Write(w, http.StatusCreated, resp)
}

// build validates metadata with clientreg after applying the rules of
// dynamic registration. id is the client being updated, "" for a new one.
func (h *Handler) build(m Metadata, id string, now time.Time) (storage.Client, string, error) {
	for _, rt := range m.ResponseTypes {
		if rt != "code" {
			return storage.Client{}, "", metadataError("response_types", fmt.Sprintf("%q is not supported: only code", rt))
		}
	}
	grants := m.GrantTypes
	if len(grants) == 0 {
		grants = clientreg.DefaultGrantTypes
	}
	hasCode := slices.Contains(grants, "authorization_code")
	switch {
	case len(m.ResponseTypes) > 0 && !hasCode:
		return storage.Client{}, "", metadataError("grant_types", "response_types code needs the authorization_code grant")
	case hasCode && m.ResponseTypes != nil && len(m.ResponseTypes) == 0:
		return storage.Client{}, "", metadataError("response_types", "the authorization_code grant needs response type code")
	}
	if m.Scope != "" {
		for _, s := range strings.Fields(m.Scope) {
			if !slices.Contains(AllowedScopes, s) {
				return storage.Client{}, "", metadataError("scope", fmt.Sprintf("%q may not be registered dynamically (allowed: %s)", s, strings.Join(AllowedScopes, " ")))
			}
		}
	}
	name := strings.TrimSpace(m.ClientName)
	if name == "" {
		name = defaultName(m.RedirectURIs)
	}
	reg := clientreg.Registration{
		ClientID: id, ClientName: name, RedirectURIs: m.RedirectURIs, PostLogoutRedirectURIs: m.PostLogoutRedirectURIs,
		GrantTypes: grants, Scope: m.Scope, TokenEndpointAuthMethod: m.TokenEndpointAuthMethod,
	}
	return reg.Build(now)
}

// defaultName names a client that gave no name after its redirect URI's
// host, which is what a user would recognise on the consent page.
func defaultName(redirects []string) string {
	if len(redirects) > 0 {
		if u, err := url.Parse(redirects[0]); err == nil && u.Hostname() != "" {
			return u.Hostname()
		}
	}
	return "Unnamed application"
}

// read returns a registration (RFC 7592 §2.1).
func (h *Handler) read(w http.ResponseWriter, r *http.Request) {
	c, ok := h.authorized(w, r)
	if ok {
		httpjson.Write(w, http.StatusOK, h.response(c, ""))
	}
}

// update replaces a registration's metadata (RFC 7592 §2.2). The request
// carries the client_id, the client_secret if any must match the current
// one, and fields left out take their defaults. Whether the client is
// public cannot change.
func (h *Handler) update(w http.ResponseWriter, r *http.Request) {
	current, ok := h.authorized(w, r)
	if !ok {
		return
	}
	var req request
	if !h.decode(w, r, &req) {
		return
	}
	if req.ClientID != current.ID {
		writeError(w, http.StatusBadRequest, "invalid_client_metadata", "client_id must be present and match the client being updated")
		return
	}
	if req.ClientSecret != "" {
		match, _, err := h.Passwords.Verify(req.ClientSecret, current.SecretHash)
		if err != nil || !match {
			writeError(w, http.StatusBadRequest, "invalid_client_metadata", "client_secret does not match the client's secret; it cannot be changed by an update")
			return
		}
	}
	next, _, err := h.build(req.Metadata, current.ID, current.CreatedAt)
	if err != nil {
		writeMetadataError(w, err)
		return
	}
	if next.Public != current.Public {
		writeError(w, http.StatusBadRequest, "invalid_client_metadata", "token_endpoint_auth_method cannot change between none and a secret; register a new client")
		return
	}
	var updated storage.Client
	err = h.Store.UpdateClient(r.Context(), current.ID, func(cur storage.Client) (storage.Client, error) {
		next.SecretHash, next.RegistrationTokenHash, next.Audience = cur.SecretHash, cur.RegistrationTokenHash, cur.Audience
		next.WebOrigins, next.CreatedAt, next.UpdatedAt = cur.WebOrigins, cur.CreatedAt, h.now()
		updated = next
		return next, nil
	})
	switch {
	case errors.Is(err, storage.ErrNotFound):
		h.unauthorized(w, r, "the client no longer exists")
		return
	case err != nil:
		h.unavailable(w, r, err)
		return
	}
	h.ClientChanged(current.ID)
	h.Logger.InfoContext(r.Context(), "dynamic registration updated", "client_id", current.ID)
	h.Audit.Record(r.Context(), r, audit.Event{Type: audit.ClientRegistrationUpdated, ClientID: current.ID})
	httpjson.Write(w, http.StatusOK, h.response(updated, req.TokenEndpointAuthMethod))
}

// remove deletes a registration (RFC 7592 §2.3).
func (h *Handler) remove(w http.ResponseWriter, r *http.Request) {
	c, ok := h.authorized(w, r)
	if !ok {
		return
	}
	err := h.Store.DeleteClient(r.Context(), c.ID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.unavailable(w, r, err)
		return
	}
	h.ClientChanged(c.ID)
	h.Logger.InfoContext(r.Context(), "dynamic registration deleted", "client_id", c.ID)
	h.Audit.Record(r.Context(), r, audit.Event{Type: audit.ClientRegistrationDeleted, ClientID: c.ID})
	w.WriteHeader(http.StatusNoContent)
}

// authorized loads the client named in the path when the request carries
// its registration access token. An unknown client, a client registered by
// an admin and a wrong token all get the same 401 (RFC 7592 §3).
func (h *Handler) authorized(w http.ResponseWriter, r *http.Request) (storage.Client, bool) {
	token, ok := bearer.Token(r)
	if !ok {
		h.refused(r, "missing_registration_token")
		h.unauthorized(w, r, "missing registration access token")
		return storage.Client{}, false
	}
	c, err := h.Store.GetClient(r.Context(), mux.Vars(r)["client_id"])
	switch {
	case errors.Is(err, storage.ErrNotFound):
		h.refused(r, "unknown_client")
		h.unauthorized(w, r, "unknown client")
		return storage.Client{}, false
	case err != nil:
		h.unavailable(w, r, err)
		return storage.Client{}, false
	}
	got := hashToken(token)
	if c.RegistrationTokenHash == "" || subtle.ConstantTimeCompare([]byte(got), []byte(c.RegistrationTokenHash)) != 1 {
		h.refused(r, "invalid_registration_token")
		h.unauthorized(w, r, "wrong registration access token")
		return storage.Client{}, false
	}
	return c, true
}

// response describes c. method is the authentication method the client
// asked for, echoed when it is one c allows (client_secret_basic and
// client_secret_post are both accepted from every confidential client).
func (h *Handler) response(c storage.Client, method string) Response {
	v := clientreg.ViewOf(c)
	if method == "client_secret_post" && !c.Public {
		v.TokenEndpointAuthMethod = method
	}
	resp := Response{
		ClientID: c.ID, ClientIDIssuedAt: c.CreatedAt.Unix(),
		RegistrationClientURI: h.Issuer + Path + "/" + url.PathEscape(c.ID),
		ClientName:            v.ClientName, RedirectURIs: v.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		GrantTypes: v.GrantTypes, ResponseTypes: v.ResponseTypes, TokenEndpointAuthMethod: v.TokenEndpointAuthMethod, Scope: v.Scope,
	}
	if !c.Public {
		never := int64(0) // secrets do not expire
		resp.ClientSecretExpiresAt = &never
	}
	return resp
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now().UTC().Truncate(time.Second)
	}
	return time.Now().UTC().Truncate(time.Second)
}

// decode reads the JSON body; unknown members are ignored (RFC 7591 §2).
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, v *request) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_client_metadata", "The body must be a JSON object of client metadata: "+err.Error())
		return false
	}
	return true
}

// fieldError is a metadata problem found here rather than by clientreg.
func metadataError(field, problem string) error {
	return &clientreg.FieldError{Field: field, Problem: problem}
}

// writeMetadataError answers a refused registration with the RFC 7591 §3.2.2
// error: invalid_redirect_uri for a redirect URI, invalid_client_metadata
// for anything else.
func writeMetadataError(w http.ResponseWriter, err error) {
	code := "invalid_client_metadata"
	var fe *clientreg.FieldError
	if errors.As(err, &fe) && (fe.Field == "redirect_uris" || fe.Field == "post_logout_redirect_uris") {
		code = "invalid_redirect_uri"
	}
	writeError(w, http.StatusBadRequest, code, err.Error())
}

// refused records a refused update or deletion of a registration (reads
// change nothing and are not recorded).
func (h *Handler) refused(r *http.Request, reason string) {
	event := map[string]string{http.MethodPut: audit.ClientRegistrationUpdated, http.MethodDelete: audit.ClientRegistrationDeleted}[r.Method]
	if event == "" {
		return
	}
	id := mux.Vars(r)["client_id"]
	if len(id) > 128 {
		id = "" // not an ID this server made
	}
	h.Audit.Record(r.Context(), r, audit.Event{Type: event, Actor: "anonymous", ClientID: id, Reason: reason})
}

func (h *Handler) unauthorized(w http.ResponseWriter, r *http.Request, why string) {
	h.Logger.WarnContext(r.Context(), "client registration refused", "reason", why, "path", r.URL.Path, "remote", clientip.Of(r))
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	writeError(w, http.StatusUnauthorized, "invalid_token", "A valid access token is required: "+why+".")
}

func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	h.Logger.ErrorContext(r.Context(), "client registration: storage unavailable", "err", err)
	w.Header().Set("Retry-After", "2")
	writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "The service is temporarily unavailable. Retry shortly.")
}

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func writeError(w http.ResponseWriter, status int, code, description string) {
	httpjson.Write(w, status, errorBody{Error: code, Description: description})
}

// newToken returns a registration access token: 256 random bits.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is how a registration access token is stored: it has 256 bits
// of entropy, so a plain SHA-256 is as good as a slow hash.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
