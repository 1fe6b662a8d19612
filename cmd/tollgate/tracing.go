package main

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// tracerProvider exports spans over OTLP/HTTP when an endpoint is
// configured (otlp_endpoint, or OpenTelemetry's own OTEL_EXPORTER_OTLP_*
// variables); otherwise it returns nil, and nothing is traced. The returned
// function flushes and stops the exporter.
func (a *app) tracerProvider(ctx context.Context, endpoint string) (trace.TracerProvider, func(context.Context) error, error) {
	if endpoint == "" && envValue(a.environ, "OTEL_EXPORTER_OTLP_ENDPOINT") == "" && envValue(a.environ, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return nil, func(context.Context) error { return nil }, nil
	}
	var opts []otlptracehttp.Option
	if endpoint != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(endpoint))
	}
	exporter, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("tollgate"), semconv.ServiceVersion(version()))),
	)
	return tp, tp.Shutdown, nil
}
