// Package upstream signs users in with upstream OpenID Providers: Google,
// or any OIDC issuer ("federation"). It runs the authorization code flow
// with state, nonce and PKCE against the upstream, verifies the upstream's
// ID token, and maps the upstream account to a local user through an
// identity keyed by (issuer, subject). The downstream sign-in then
// completes like a password sign-in, with amr "fed".
package upstream

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gorilla/mux"
	"golang.org/x/oauth2"

	"github.com/tollgate/tollgate/passwords"
	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/server/authflow"
	"github.com/tollgate/tollgate/server/metrics"
	"github.com/tollgate/tollgate/server/session"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/templates"
)

// Config describes one upstream OpenID Provider.
type Config struct {
	ID           string
	Name         string
	Issuer       string
	ClientID     string
	ClientSecret string
	Scopes       []string
	// Claims renames the claims we read (email, email_verified, name,
	// picture) for upstreams that name them differently.
	Claims map[string]string
	// TrustedEmail links a first sign-in to the local account with the
	// same address when the upstream says the address is verified.
	TrustedEmail bool
}

// Store is what federation reads and writes.
type Store interface {
	storage.UserStore
	storage.IdentityStore
	storage.TokenStore
	storage.Throttle
	storage.Transactor
}

// Handler serves /login/upstream/… and /account/identities.
type Handler struct {
	Issuer    string
	Store     Store
	Sessions  *session.Manager
	Pending   *authflow.Store
	Passwords *passwords.Hasher
	Pages     *templates.Renderer
	Logger    *slog.Logger
	Metrics   *metrics.Metrics
	// Secure makes the browser-binding cookie Secure and __Host- prefixed
	// (an https issuer).
	Secure bool
	// HTTPClient talks to the upstreams; nil uses a client with a timeout.
	HTTPClient *http.Client
	// Audit records sign-ins, sign-ups and links; nil records nothing.
	Audit *audit.Recorder

	providers []*provider
	byID      map[string]*provider
}

// New returns a handler for the configured upstreams. Nothing is fetched
// from them yet: discovery happens at the first sign-in with each, so an
// upstream that is down does not stop Tollgate from starting.
func New(h Handler, upstreams []Config) *Handler {
	if h.HTTPClient == nil {
		h.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	h.byID = map[string]*provider{}
	for _, c := range upstreams {
		p := &provider{cfg: c}
		h.providers = append(h.providers, p)
		h.byID[c.ID] = p
	}
	return &h
}

// Buttons returns the login page's "Continue with …" buttons.
func (h *Handler) Buttons() []templates.UpstreamButton {
	out := make([]templates.UpstreamButton, len(h.providers))
	for i, p := range h.providers {
		out[i] = templates.UpstreamButton{ID: p.cfg.ID, Name: p.cfg.Name}
	}
	return out
}

// Mount registers the pages on r.
func (h *Handler) Mount(r *mux.Router) {
	r.HandleFunc("/login/upstream/link", h.submitLink).Methods(http.MethodPost)
	r.HandleFunc("/login/upstream/{id}", h.start).Methods(http.MethodGet)
	r.HandleFunc("/login/upstream/{id}/callback", h.callback).Methods(http.MethodGet)
	r.HandleFunc("/account/identities", h.showIdentities).Methods(http.MethodGet)
	r.HandleFunc("/account/identities/link", h.linkIdentity).Methods(http.MethodPost)
	r.HandleFunc("/account/identities/unlink", h.unlinkIdentity).Methods(http.MethodPost)
}

// provider is an upstream and, once discovered, its endpoints and keys.
type provider struct {
	cfg Config

	mu       sync.Mutex
	oidc     *oidc.Provider
	verifier *oidc.IDTokenVerifier
}

// discover fetches the upstream's discovery document the first time it is
// needed; a failure is not remembered, so the next sign-in tries again.
func (p *provider) discover(ctx context.Context, client *http.Client) (*oidc.Provider, *oidc.IDTokenVerifier, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.oidc != nil {
		return p.oidc, p.verifier, nil
	}
	// The JWKS is fetched later with the client carried by this context
	// (go-oidc keeps the client, not the deadline).
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, client), 10*time.Second)
	defer cancel()
	op, err := oidc.NewProvider(ctx, p.cfg.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("upstream %s: discovery: %w", p.cfg.ID, err)
	}
	p.oidc = op
	// Checks the signature against the upstream's keys, iss, aud and exp.
	p.verifier = op.Verifier(&oidc.Config{ClientID: p.cfg.ClientID})
	return p.oidc, p.verifier, nil
}

// oauth2Config is the code flow against the upstream, returning to us.
func (h *Handler) oauth2Config(p *provider, op *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret,
		Endpoint:    op.Endpoint(),
		RedirectURL: h.Issuer + "/login/upstream/" + p.cfg.ID + "/callback",
		Scopes:      p.cfg.Scopes,
	}
}
