// Command api is an example resource server for Tollgate. It accepts
// Tollgate's JWT access tokens (RFC 9068), verifying them locally against
// Tollgate's JWKS, and for a sensitive call also asks Tollgate, through
// introspection (RFC 7662), whether the token has been revoked.
//
//	go run ./examples/api -issuer http://localhost:8080 -audience spa-example \
//	  -scope api:read -introspection-client-id example-api \
//	  -introspection-client-secret "$API_CLIENT_SECRET" -cors-origin http://localhost:5173
//
// See docs/integrations/api.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	var cfg Config
	listen := fs.String("listen", "127.0.0.1:8081", "address to listen on")
	fs.StringVar(&cfg.Issuer, "issuer", "http://localhost:8080", "Tollgate's issuer URL")
	fs.StringVar(&cfg.Audience, "audience", "", "the aud access tokens must carry: the client ID of the app that calls this API (required)")
	fs.StringVar(&cfg.Scope, "scope", "api:read", "the scope every call requires")
	fs.StringVar(&cfg.IntrospectionClientID, "introspection-client-id", "", "client ID this API introspects with (required)")
	fs.StringVar(&cfg.IntrospectionClientSecret, "introspection-client-secret", os.Getenv("API_CLIENT_SECRET"), "its secret (default $API_CLIENT_SECRET)")
	fs.StringVar(&cfg.CORSOrigin, "cors-origin", "", "browser origin allowed to call this API (optional)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.Audience == "" || cfg.IntrospectionClientID == "" || cfg.IntrospectionClientSecret == "" {
		return errors.New("-audience, -introspection-client-id and -introspection-client-secret are required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))

	discoverCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	api, err := New(discoverCtx, cfg, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	logger.Info("listening", "addr", "http://"+ln.Addr().String())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
