package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/server"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// TestTracing: each request is a span named after its route, a caller's
// traceparent is continued, and the request's log lines carry its trace ID.
func TestTracing(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	e := newEnvWith(t, "sqlite", testbackend.SQLite(t), keyring.RS256, func(c *server.Config) { c.Tracer = tp })

	if status, body, _ := e.tokenRequest(confidentialID, confidentialKey, url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}); status != http.StatusOK {
		t.Fatalf("client_credentials: %d %v", status, body)
	}
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	// An unauthenticated admin call is logged, so its log line must carry
	// the caller's trace.
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/admin/v1/clients", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	names := map[string]string{}
	for _, s := range spans.GetSpans() {
		names[s.Name] = s.SpanContext.TraceID().String()
	}
	if _, ok := names["POST /token"]; !ok {
		t.Errorf("no span named after the token route; spans: %v", names)
	}
	if got := names["GET /admin/v1/clients"]; got != traceID {
		t.Errorf("admin span trace %q, want the caller's %s; spans: %v", got, traceID, names)
	}
	var logged bool
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["trace_id"] == traceID {
			logged = true
		}
	}
	if !logged {
		t.Errorf("no log line carries the request's trace ID:\n%s", e.logs.String())
	}
}
