package sqlstore

import (
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
	tracer := tp.Tracer("github.com/tollgate/tollgate/storage/sqlstore")
	system := "sqlite"
	if s.postgres {
		system = "postgresql"
	}
	before := func(op string) func(*gorm.DB) {
		return func(db *gorm.DB) {
			ctx, span := tracer.Start(db.Statement.Context, "db "+op, trace.WithSpanKind(trace.SpanKindClient),
				trace.WithAttributes(attribute.String("db.system", system), attribute.String("db.operation", op)))
			db.Statement.Context = ctx
			db.InstanceSet(spanKey, span)
		}
	}
	after := func(db *gorm.DB) {
		v, ok := db.InstanceGet(spanKey)
		if !ok {
			return
		}
		span := v.(trace.Span)
		if db.Statement.Table != "" {
			span.SetAttributes(attribute.String("db.sql.table", db.Statement.Table))
		}
		if db.Error != nil && db.Error != gorm.ErrRecordNotFound {
			span.SetStatus(codes.Error, "statement failed")
		}
		span.End()
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
