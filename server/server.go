// Package server composes Tollgate's HTTP server: the router, middleware and
// the handlers of its sub-packages. server.mount is the one place they are
// wired.
package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"

	"github.com/tollgate/tollgate/docs"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/mfa"
	"github.com/tollgate/tollgate/passwords"
	"github.com/tollgate/tollgate/pictures"
	"github.com/tollgate/tollgate/server/admin"
	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/server/authflow"
	"github.com/tollgate/tollgate/server/clientip"
	"github.com/tollgate/tollgate/server/console"
	"github.com/tollgate/tollgate/server/logctx"
	"github.com/tollgate/tollgate/server/login"
	"github.com/tollgate/tollgate/server/metrics"
	"github.com/tollgate/tollgate/server/oauth"
	"github.com/tollgate/tollgate/server/register"
	"github.com/tollgate/tollgate/server/session"
	"github.com/tollgate/tollgate/server/upstream"
	"github.com/tollgate/tollgate/static"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/oauthstore"
	"github.com/tollgate/tollgate/storage/usercache"
	"github.com/tollgate/tollgate/templates"
)

// pendingLifetime bounds how long a user may take at the hosted pages.
const pendingLifetime = 30 * time.Minute

// Server is Tollgate's HTTP handler.
type Server struct {
	handler  http.Handler
	store    storage.Store
	logger   *slog.Logger
	metrics  *metrics.Metrics
	audit    *audit.Recorder
	pictures *pictures.Store
	hosted   *login.Handler
	issuer   string
	draining atomic.Bool
}

// New wires the server. It does not start listening.
func New(cfg Config, store storage.Store, keys *keyring.Keyring) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = slog.New(logctx.Wrap(cfg.Logger.Handler()))
	if cfg.Passwords == nil {
		return nil, errors.New("server: no password hasher configured")
	}
	if cfg.PasswordPolicy == (passwords.Policy{}) {
		cfg.PasswordPolicy = passwords.DefaultPolicy()
	}
	issuer, err := url.Parse(cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("server: issuer: %w", err)
	}
	pages, err := templates.New(issuer.Path)
	if err != nil {
		return nil, fmt.Errorf("server: templates: %w", err)
	}
	mails, err := templates.NewMail()
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	// Every handler writes users through this store, so that userinfo's
	// cache forgets a changed user at once; metrics looks for the
	// backend's own connection pools, so it gets the store unwrapped.
	backend := store
	users := usercache.Wrap(store)
	store = users
	// Sign-up needs a way to confirm the address.
	signup := cfg.SignupEnabled && cfg.Mailer != nil
	sessions, err := session.New(store, cfg.Secret, issuer.Scheme == "https", cfg.SessionLifetime, cfg.Now)
	if err != nil {
		return nil, err
	}
	oauthStore := oauthstore.New(store)
	provider, signer, err := oauth.NewProvider(oauth.ProviderConfig{
		Issuer:               cfg.Issuer,
		AccessTokenLifetime:  cfg.AccessTokenLifetime,
		IDTokenLifetime:      cfg.IDTokenLifetime,
		RefreshTokenLifetime: cfg.RefreshTokenLifetime,
		CodeLifetime:         cfg.CodeLifetime,
		Secret:               cfg.Secret,
		Passwords:            cfg.Passwords,
		AccessTokenAlgorithm: cfg.AccessTokenAlgorithm,
		Now:                  cfg.Now,
		ClockLeeway:          cfg.ClockSkewLeeway,
	}, oauthStore, keys)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	pending := authflow.New(store, pendingLifetime)
	factors, err := mfa.New(store, cfg.Secret, issuer.Host)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	pics, err := pictures.Open(context.Background(), cmp.Or(cfg.PicturesURL, "mem://"))
	if err != nil {
		return nil, fmt.Errorf("server: pictures_url: %w", err)
	}
	s := &Server{store: store, logger: cfg.Logger, metrics: metrics.New(backend), audit: audit.New(store, cfg.Logger), pictures: pics, issuer: cfg.Issuer}
	s.audit.Count = s.metrics.SecurityEvent

	root := mux.NewRouter()
	r := root
	if p := strings.TrimRight(issuer.Path, "/"); p != "" {
		r = root.PathPrefix(p).Subrouter()
	}
	protocol := &oauth.Handler{
		Issuer: cfg.Issuer, Provider: provider, OAuthStore: oauthStore, Signer: signer, Keys: keys, Store: store, Users: users,
		Sessions: sessions, Pending: pending, Pages: pages, Logger: cfg.Logger, Metrics: s.metrics,
		SignupEnabled: signup, MFA: factors, MFARequired: cfg.MFARequired, Audit: s.audit,
	}
	if cfg.RegistrationEnabled {
		protocol.RegistrationEndpoint = cfg.Issuer + register.Path
	}
	protocol.Mount(r)
	federation := upstream.New(upstream.Handler{
		Issuer: cfg.Issuer, Store: store, Sessions: sessions, Pending: pending, Passwords: cfg.Passwords,
		Pages: pages, Logger: cfg.Logger, Metrics: s.metrics, Secure: issuer.Scheme == "https", Audit: s.audit,
	}, cfg.Upstreams)
	federation.Mount(r)
	hosted := &login.Handler{
		Issuer: cfg.Issuer, Store: store, Sessions: sessions, Pending: pending,
		Passwords: cfg.Passwords, Pages: pages, Logger: cfg.Logger, Metrics: s.metrics, Audit: s.audit,
		Accounts: login.Accounts{
			Mailer: cfg.Mailer, Mail: mails, Policy: cfg.PasswordPolicy,
			Enabled: signup, RequireVerified: cfg.RequireVerifiedEmail,
		},
		MFA:       factors,
		Upstreams: federation.Buttons(),
	}
	hosted.Mount(r)
	s.hosted = hosted
	var resetMail func(context.Context, storage.User) error
	if cfg.Mailer != nil {
		resetMail = hosted.MailPasswordReset
	}
	adminAPI := &admin.Handler{
		Store: store, Keys: keys, Passwords: cfg.Passwords, Policy: cfg.PasswordPolicy, Logger: cfg.Logger,
		Bearer: func(ctx context.Context, token, scope string) error {
			err := protocol.CheckBearer(ctx, token, scope)
			switch {
			case errors.Is(err, oauth.ErrInvalidToken):
				return admin.ErrInvalidToken
			case errors.Is(err, oauth.ErrInsufficientScope):
				return admin.ErrInsufficientScope
			}
			return err
		},
		ClientChanged: oauthStore.ForgetClient,
		AdminToken:    cfg.AdminToken,
		KeyRetention:  max(cfg.AccessTokenLifetime, cfg.IDTokenLifetime),
		OpenAPI:       docs.AdminOpenAPI,
		Audit:         s.audit,
		ResetMail:     resetMail,
		UserDeleted:   s.forgetPicture,
	}
	adminAPI.Mount(r)
	mountAccount(r, cfg, store, sessions, pages, protocol, s.audit, pics, federation.Buttons())
	// The admin console calls the admin API in process, through a router
	// of its own, on behalf of the signed-in admin.
	consoleAPI := mux.NewRouter()
	adminAPI.Mount(consoleAPI)
	consolePages, err := templates.NewConsole(issuer.Path)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	(&console.Handler{
		Issuer: cfg.Issuer, Sessions: sessions, Users: store, API: consoleAPI, Pages: consolePages, Logger: cfg.Logger,
		MailEnabled: cfg.Mailer != nil,
	}).Mount(r)
	if cfg.RegistrationEnabled {
		if cfg.RegistrationToken == "" {
			cfg.Logger.Warn("dynamic client registration is open: anyone can register a client (set registration.initial_access_token)")
		}
		(&register.Handler{
			Issuer: cfg.Issuer, Store: store, Passwords: cfg.Passwords, Logger: cfg.Logger,
			InitialAccessToken: cfg.RegistrationToken, ClientChanged: oauthStore.ForgetClient, Audit: s.audit,
		}).Mount(r)
	}
	r.PathPrefix("/static/").Handler(static.Handler())
	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet, http.MethodHead)
	if !cfg.SeparateMetrics {
		r.Handle("/metrics", s.metrics.Handler()).Methods(http.MethodGet)
	}
	r.Use(recordRoute)
	// mux answers 404, not 405, for a method that a subrouter's address
	// does not accept when other subrouters follow it; so both cases ask
	// which methods the address takes.
	noRoute := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		allowed := allowedMethods(root, r)
		if len(allowed) == 0 {
			pages.Error(w, http.StatusNotFound, "not_found", "There is no page at this address.")
			return
		}
		// RFC 9110, 15.5.6: a 405 lists the methods the address accepts.
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		pages.Error(w, http.StatusMethodNotAllowed, "method_not_allowed", "This address does not accept that method.")
	})
	root.NotFoundHandler, root.MethodNotAllowedHandler = noRoute, noRoute

	s.handler = withRequestID(clientip.Middleware(cfg.TrustedProxies,
		accessLog(cfg.Logger, s.metrics, securityHeaders(recoverPanics(cfg.Logger, root)))))
	// The span wraps everything, so the request ID and the logs of a
	// request carry its trace ID; recordRoute names the span
	// after the matched route. Without tracing there is no span to make:
	// the middleware is left out, which saves its cost on every request.
	if cfg.Tracer != nil {
		s.handler = otelhttp.NewHandler(s.handler, "http",
			otelhttp.WithTracerProvider(cfg.Tracer), otelhttp.WithPropagators(propagation.TraceContext{}))
	}
	return s, nil
}

// allowedMethods lists the methods that some route of router serves at r's
// address: none when there is no such address. Only a request that no route
// serves asks, so trying each method in turn is cheap enough.
func allowedMethods(router *mux.Router, r *http.Request) []string {
	var allowed []string
	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		probe := *r
		probe.Method = method
		var m mux.RouteMatch
		if router.Match(&probe, &m) && m.MatchErr == nil {
			allowed = append(allowed, method)
		}
	}
	return allowed
}

// ServeHTTP implements http.Handler.
// While draining, every answer closes its connection, so clients stop
// reusing connections that shutdown would close under them. (Disabling
// keep-alives on the http.Server instead would close idle connections at
// once, under clients about to send on them.)
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		w.Header().Set("Connection", "close")
	}
	s.handler.ServeHTTP(w, r)
}

// MetricsHandler serves the Prometheus metrics, for a listener of their own
// (Config.SeparateMetrics).
func (s *Server) MetricsHandler() http.Handler { return s.metrics.Handler() }

// Close waits for the account mail still being sent, writes the audit
// events still buffered and closes the picture store; call it once the
// HTTP server has shut down.
func (s *Server) Close(ctx context.Context) error {
	return errors.Join(s.hosted.WaitForMail(ctx), s.audit.Close(ctx), s.pictures.Close())
}

// Drain makes /readyz answer 503 so load balancers stop sending traffic
// before the process shuts down.
func (s *Server) Drain() { s.draining.Store(true) }

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz reports whether the database (and Redis, when configured) answer.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.draining.Load() {
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("draining\n"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.logger.WarnContext(r.Context(), "readiness check failed", "err", err)
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("storage unavailable\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}
