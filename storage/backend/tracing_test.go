package backend_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/backend"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// With tracing, database queries and Redis commands are spans under the
// caller's span, and no span carries a value the store was given.
func TestTracing(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	ctx := context.Background()
	store, err := backend.Open(ctx, testbackend.PostgresURL(t), testbackend.RedisURL(t), backend.Tracing(tp))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	parentCtx, parent := tp.Tracer("test").Start(ctx, "request")
	const secretJTI = "jti-that-must-not-appear-in-spans"
	if err := store.Revoke(parentCtx, secretJTI, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.IsRevoked(parentCtx, secretJTI); err != nil {
		t.Fatal(err)
	}
	// Audit events are written with COPY, outside gorm's callbacks.
	err = store.AppendAuditEvents(parentCtx, storage.AuditEvent{ID: uuid.NewString(), Time: time.Now(),
		Type: "test.traced", Actor: "client:" + secretJTI, Outcome: "success"})
	if err != nil {
		t.Fatal(err)
	}
	parent.End()

	var db, rdb int
	copied := false
	for _, s := range spans.GetSpans() {
		if s.Name == "request" {
			continue
		}
		if s.SpanContext.TraceID() != parent.SpanContext().TraceID() {
			continue // Open's own queries, outside the request
		}
		for _, a := range s.Attributes {
			if a.Key == "db.system" {
				switch a.Value.AsString() {
				case "postgresql":
					db++
				case "redis":
					rdb++
				}
			}
			if a.Key == "db.sql.table" && a.Value.AsString() == "audit_events" && s.Name == "db copy" {
				copied = true
			}
			if strings.Contains(a.Value.Emit(), secretJTI) {
				t.Errorf("span %s attribute %s carries a stored value", s.Name, a.Key)
			}
		}
	}
	if db == 0 || rdb == 0 {
		t.Fatalf("spans under the request: %d database, %d Redis; want both", db, rdb)
	}
	if !copied {
		t.Error("no db copy span for the audit events")
	}
}
