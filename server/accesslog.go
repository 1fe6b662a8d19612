package server

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/felixge/httpsnoop"
	"github.com/gorilla/mux"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/server/clientip"
	"github.com/tollgate/tollgate/server/metrics"
)

type routeKey struct{}

// accessLog writes one line per request: method, route template, status,
// duration and client address; the request ID comes from the context. Never
// the path's values or the query string, which may carry codes and tokens.
// Probes and scrapes log at debug level. It also counts and times the
// request in metrics: one capture of status and duration serves both.
func accessLog(logger *slog.Logger, meter *metrics.Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route := new(string)
		ctx := context.WithValue(r.Context(), routeKey{}, route)
		m := httpsnoop.CaptureMetrics(next, w, r.WithContext(ctx))
		tpl := *route
		if tpl == "" {
			tpl = "unmatched"
		}
		meter.Request(tpl, r.Method, m.Code, m.Duration)
		level := slog.LevelInfo
		for _, probe := range []string{"/healthz", "/readyz", "/metrics"} {
			if strings.HasSuffix(tpl, probe) {
				level = slog.LevelDebug
			}
		}
		logger.LogAttrs(ctx, level, "http request",
			slog.String("method", r.Method),
			slog.String("route", tpl),
			slog.Int("status", m.Code),
			slog.Float64("duration_ms", float64(m.Duration.Microseconds())/1000),
			slog.String("client", clientip.Of(r)),
		)
	})
}

// recordRoute tells accessLog the matched route's template, and names the
// request's span after it. Use it with mux.Router.Use, which runs it once a
// route has matched.
func recordRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cur := mux.CurrentRoute(r); cur != nil {
			if tpl, err := cur.GetPathTemplate(); err == nil {
				if p, ok := r.Context().Value(routeKey{}).(*string); ok {
					*p = tpl
				}
				trace.SpanFromContext(r.Context()).SetName(r.Method + " " + tpl)
			}
		}
		next.ServeHTTP(w, r)
	})
}
