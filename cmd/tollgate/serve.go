package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/janitor"
	"github.com/tollgate/tollgate/server"
	"github.com/tollgate/tollgate/storage/backend"
)

func (a *app) serveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the OpenID Provider",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig(cmd)
			if err != nil {
				return err
			}
			tracer, stopTracing, err := a.tracerProvider(cmd.Context(), cfg.OTLPEndpoint)
			if err != nil {
				return err
			}
			// Flushed last, after the storage it traces is closed.
			defer func() { _ = stopTracing(context.Background()) }()
			e, err := a.open(cmd, backend.Tracing(tracer))
			if err != nil {
				return err
			}
			defer e.Close()
			return a.serve(cmd.Context(), e, tracer)
		},
	}
}

func (a *app) serve(ctx context.Context, e *env, tracer trace.TracerProvider) error {
	if err := e.keys.EnsureActive(ctx); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	scfg := server.FromConfig(e.cfg, e.secret, e.hasher, e.log)
	scfg.Tracer = tracer
	mail, err := a.mailer(e)
	if err != nil {
		return err
	}
	scfg.Mailer = mail
	srv, err := server.New(scfg, e.store, e.keys)
	if err != nil {
		return err
	}
	// Both addresses are bound before anything is served, so a taken
	// metrics address fails the start instead of half of it.
	ln, err := net.Listen("tcp", e.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	var mln net.Listener
	if addr := e.cfg.MetricsListen; addr != "" {
		if mln, err = net.Listen("tcp", addr); err != nil {
			ln.Close()
			return fmt.Errorf("listen for metrics: %w", err)
		}
	}
	httpServer := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	e.log.Info("listening", "addr", ln.Addr().String(), "issuer", e.cfg.Issuer,
		"database", backend.RedactURL(e.cfg.DatabaseURL), "redis", e.cfg.RedisURL != "", "version", version())

	// The janitor stops with the process; a sweep cut short resumes on the
	// next start.
	go e.keys.RunSchedule(ctx, time.Duration(e.cfg.KeyRotationInterval), keyRetention(e.cfg), e.log)
	go (&janitor.Janitor{Store: e.store, Interval: time.Duration(e.cfg.JanitorInterval), Logger: e.log,
		AuditRetention: time.Duration(e.cfg.AuditRetention)}).Run(ctx)
	served := make(chan error, 2)
	go func() { served <- httpServer.Serve(ln) }()
	go func() {
		// A new deployment's next keys are made once serving, so that its
		// first start waits for one RSA key only; a failure here is retried
		// by the next start or rotation.
		if err := e.keys.Ensure(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("create the next signing keys", "err", err)
		}
		// Start-up (migrations, key generation, template parsing) leaves
		// some 20 MiB of garbage that the runtime would hand back to the
		// OS only gradually; an idle replica should not look bigger than it
		// is. Done once serving, so the 5-10 ms it takes do not delay the
		// first answer.
		debug.FreeOSMemory()
	}()
	var metricsServer *http.Server
	if mln != nil {
		metricsServer = &http.Server{Handler: operatorMux(srv.MetricsHandler()), ReadHeaderTimeout: 10 * time.Second}
		e.log.Info("serving metrics", "addr", mln.Addr().String())
		go func() { served <- metricsServer.Serve(mln) }()
	}
	select {
	case err := <-served:
		httpServer.Close()
		if metricsServer != nil {
			metricsServer.Close()
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Stop taking new work where a load balancer can see it, keep serving
	// while it notices, then let the requests in flight finish.
	srv.Drain()
	e.log.Info("draining", "delay", time.Duration(e.cfg.ShutdownDelay))
	time.Sleep(time.Duration(e.cfg.ShutdownDelay))
	e.log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), time.Duration(e.cfg.ShutdownTimeout))
	defer cancel()
	if err := httpServer.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	// The account mail still being sent and the audit events still
	// buffered, now that no request adds any.
	if err := srv.Close(shutdownCtx); err != nil {
		e.log.Error("shutdown cut work short (lost audit events are in the log)", "err", err)
	}
	running := 1
	// Metrics stay up until the traffic is gone, so the drain is visible.
	if metricsServer != nil {
		running++
		if err := metricsServer.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("shutdown metrics: %w", err)
		}
	}
	for range running {
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
	}
	return nil
}

func (a *app) migrateCommand() *cobra.Command {
	migrate := &cobra.Command{Use: "migrate", Short: "Manage the database schema"}
	migrate.AddCommand(&cobra.Command{
		Use:   "up",
		Short: "Apply pending schema migrations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig(cmd)
			if err != nil {
				return err
			}
			if err := backend.Migrate(cmd.Context(), cfg.DatabaseURL); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "database %s is up to date\n", backend.RedactURL(cfg.DatabaseURL))
			return nil
		},
	})
	return migrate
}

// buildVersion is set at link time: -ldflags "-X main.buildVersion=v1.2.3".
var buildVersion = ""

func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "devel"
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "tollgate", version())
			return nil
		},
	}
}

// operatorMux serves what only operators may reach, on the private metrics
// address: the metrics, and the runtime profiles that explain them.
func operatorMux(metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
