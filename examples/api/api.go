package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
)

// Config is what the API needs to know about Tollgate and itself.
type Config struct {
	Issuer   string
	Audience string // the client ID access tokens are issued to
	Scope    string // required on every call
	// The API's own confidential client at Tollgate, for introspection.
	IntrospectionClientID     string
	IntrospectionClientSecret string
	CORSOrigin                string
}

// API serves the example endpoints.
type API struct {
	cfg           Config
	verifier      *oidc.IDTokenVerifier
	introspection string
	http          *http.Client
	logger        *slog.Logger
	mux           *http.ServeMux
}

// New discovers Tollgate's endpoints and prepares the verifier. The key set
// is fetched on first use and cached; an unknown kid (after a key rotation)
// makes go-oidc fetch it again.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*API, error) {
	provider, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", cfg.Issuer, err)
	}
	var meta struct {
		JWKS          string `json:"jwks_uri"`
		Introspection string `json:"introspection_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("read discovery: %w", err)
	}
	keys := oidc.NewRemoteKeySet(context.WithoutCancel(ctx), meta.JWKS)
	a := &API{
		cfg: cfg,
		// go-oidc checks the signature (RS256 only), iss, aud and exp.
		verifier: oidc.NewVerifier(cfg.Issuer, keys, &oidc.Config{
			ClientID: cfg.Audience, SupportedSigningAlgs: []string{oidc.RS256},
		}),
		introspection: meta.Introspection,
		http:          &http.Client{Timeout: 5 * time.Second},
		logger:        logger,
		mux:           http.NewServeMux(),
	}
	a.mux.Handle("GET /api/hello", a.authenticated(false, a.hello))
	a.mux.Handle("POST /api/sensitive", a.authenticated(true, a.sensitive))
	return a, nil
}

// ServeHTTP implements http.Handler, with CORS for the one browser origin.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" && o == a.cfg.CORSOrigin {
		w.Header().Set("Access-Control-Allow-Origin", o)
		w.Header().Set("Access-Control-Expose-Headers", "WWW-Authenticate")
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	w.Header().Add("Vary", "Origin")
	a.mux.ServeHTTP(w, r)
}

// Principal is who a valid access token speaks for.
type Principal struct {
	Subject  string   `json:"sub"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes"`
}

// Verify checks an access token locally: signature against the JWKS, iss,
// aud, exp, typ at+jwt (RFC 9068 §4, so that an ID token is never taken for
// an access token) and the required scope.
func (a *API) Verify(ctx context.Context, raw string) (Principal, error) {
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return Principal{}, errInvalid("malformed token")
	}
	typ, _ := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType].(string)
	if typ := strings.ToLower(typ); typ != "at+jwt" && typ != "application/at+jwt" {
		return Principal{}, errInvalid("not an access token (typ " + typ + ")")
	}
	tok, err := a.verifier.Verify(ctx, raw)
	if err != nil {
		return Principal{}, errInvalid(err.Error())
	}
	var claims struct {
		Scope    string `json:"scope"`
		ClientID string `json:"client_id"`
	}
	if err := tok.Claims(&claims); err != nil {
		return Principal{}, errInvalid("unreadable claims")
	}
	p := Principal{Subject: tok.Subject, ClientID: claims.ClientID, Scopes: strings.Fields(claims.Scope)}
	if !slices.Contains(p.Scopes, a.cfg.Scope) {
		return p, &authError{status: http.StatusForbidden, code: "insufficient_scope", description: "the token lacks scope " + a.cfg.Scope}
	}
	return p, nil
}

// Active asks Tollgate whether the token is still active: not revoked, not
// expired. One round trip per call, so only for calls that need it.
func (a *API) Active(ctx context.Context, raw string) (bool, error) {
	form := url.Values{"token": {raw}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.introspection, strings.NewReader(form.Encode()))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(a.cfg.IntrospectionClientID), url.QueryEscape(a.cfg.IntrospectionClientSecret))
	resp, err := a.http.Do(req)
	if err != nil {
		return false, fmt.Errorf("introspect: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("introspect: status %d", resp.StatusCode)
	}
	var body struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return false, fmt.Errorf("introspect: %w", err)
	}
	return body.Active, nil
}

type authError struct {
	status            int
	code, description string
}

func (e *authError) Error() string { return e.code + ": " + e.description }

func errInvalid(description string) error {
	return &authError{status: http.StatusUnauthorized, code: "invalid_token", description: description}
}

// authenticated runs next with the token's principal, or answers 401/403
// with a WWW-Authenticate challenge (RFC 6750 §3).
func (a *API) authenticated(checkRevocation bool, next func(http.ResponseWriter, *http.Request, Principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || raw == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="example-api"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_request", "error_description": "a bearer token is required"})
			return
		}
		p, err := a.Verify(r.Context(), raw)
		if err == nil && checkRevocation {
			var active bool
			active, err = a.Active(r.Context(), raw)
			if err != nil {
				a.logger.Error("introspection failed", "err", err)
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
				return
			}
			if !active {
				err = errInvalid("the token has been revoked")
			}
		}
		if ae, ok := err.(*authError); ok {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="example-api", error=%q, error_description=%q`, ae.code, ae.description))
			writeJSON(w, ae.status, map[string]string{"error": ae.code, "error_description": ae.description})
			return
		}
		next(w, r, p)
	})
}

func (a *API) hello(w http.ResponseWriter, _ *http.Request, p Principal) {
	writeJSON(w, http.StatusOK, map[string]any{"message": "Hello from the example API", "principal": p})
}

func (a *API) sensitive(w http.ResponseWriter, _ *http.Request, p Principal) {
	writeJSON(w, http.StatusOK, map[string]any{"message": "Sensitive operation done (token checked for revocation)", "principal": p})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
