package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
)

// spanKey is where a statement's span waits between its before and after
// callbacks.
const spanKey = "tollgate:span"

// Trace records a span for every statement, under the caller's span. The
// span names the operation and table, never the values: those include
// token signatures and hashes. (gorm's own OpenTelemetry plugin would drag
// in the MySQL and ClickHouse drivers; these callbacks are all it takes.)
func (s *Store) Trace(tp trace.TracerProvider) error {
	s.tracer = tp.Tracer("github.com/tollgate/tollgate/storage/sqlstore")
	before := func(op string) func(*gorm.DB) {
		return func(db *gorm.DB) {
			ctx, span := s.startSpan(db.Statement.Context, op)
			db.Statement.Context = ctx
			db.InstanceSet(spanKey, span)
		}
	}
	after := func(db *gorm.DB) {
		v, ok := db.InstanceGet(spanKey)
		if !ok {
			return
		}
		endSpan(v.(trace.Span), db.Statement.Table, db.Error)
	}
	cb := s.gdb.Callback()
	// gorm's callback chains have unexported types, so each is named here.
	hooks := []struct {
		op     string
		before func(string, func(*gorm.DB)) error
		after  func(string, func(*gorm.DB)) error
	}{
		{"create", func(n string, f func(*gorm.DB)) error { return cb.Create().Before("gorm:create").Register(n, f) }, func(n string, f func(*gorm.DB)) error { return cb.Create().After("gorm:create").Register(n, f) }},
		{"query", func(n string, f func(*gorm.DB)) error { return cb.Query().Before("gorm:query").Register(n, f) }, func(n string, f func(*gorm.DB)) error { return cb.Query().After("gorm:query").Register(n, f) }},
		{"update", func(n string, f func(*gorm.DB)) error { return cb.Update().Before("gorm:update").Register(n, f) }, func(n string, f func(*gorm.DB)) error { return cb.Update().After("gorm:update").Register(n, f) }},
		{"delete", func(n string, f func(*gorm.DB)) error { return cb.Delete().Before("gorm:delete").Register(n, f) }, func(n string, f func(*gorm.DB)) error { return cb.Delete().After("gorm:delete").Register(n, f) }},
		{"row", func(n string, f func(*gorm.DB)) error { return cb.Row().Before("gorm:row").Register(n, f) }, func(n string, f func(*gorm.DB)) error { return cb.Row().After("gorm:row").Register(n, f) }},
		{"raw", func(n string, f func(*gorm.DB)) error { return cb.Raw().Before("gorm:raw").Register(n, f) }, func(n string, f func(*gorm.DB)) error { return cb.Raw().After("gorm:raw").Register(n, f) }},
	}
	for _, h := range hooks {
		if err := h.before("tollgate:trace_before_"+h.op, before(h.op)); err != nil {
			return fmt.Errorf("trace database: %w", err)
		}
		if err := h.after("tollgate:trace_after_"+h.op, after); err != nil {
			return fmt.Errorf("trace database: %w", err)
		}
	}
	return nil
}

// startSpan starts the span of a statement under ctx's span (a no-op span
// until Trace).
func (s *Store) startSpan(ctx context.Context, op string) (context.Context, trace.Span) {
	system := "sqlite"
	if s.postgres {
		system = "postgresql"
	}
	return s.tracer.Start(ctx, "db "+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system", system), attribute.String("db.operation", op)))
}

// endSpan ends a statement's span, naming its table when known. Not finding
// a row is an answer, not a failure.
func endSpan(span trace.Span, table string, err error) {
	if table != "" {
		span.SetAttributes(attribute.String("db.sql.table", table))
	}
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		span.SetStatus(codes.Error, "statement failed")
	}
	span.End()
}
