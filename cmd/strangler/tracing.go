package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/stranglerfig/strangler/internal/buildinfo"
	"github.com/stranglerfig/strangler/internal/config"
	ssync "github.com/stranglerfig/strangler/sync"
)

// setupTracing returns the tracer provider the project file's tracing
// asks for: spans of the named service (strangler-proxy, strangler-serve,
// strangler-sync) batched to the OTLP/HTTP receiver, sampled by the
// parent's decision and else by tracing.sample. Without tracing it is a
// no-op provider, and nothing is exported. shutdown flushes what is
// batched.
func setupTracing(ctx context.Context, cfg *config.Config, service string) (tp trace.TracerProvider, shutdown func(context.Context) error, on bool, err error) {
	if cfg == nil || cfg.Tracing == nil {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, false, nil
	}
	endpoint := strings.TrimSuffix(cfg.Tracing.OTLP, "/") + "/v1/traces"
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, nil, false, fmt.Errorf("tracing.otlp %s: %w", cfg.Tracing.OTLP, err)
	}
	res := resource.NewSchemaless(semconv.ServiceName(service), semconv.ServiceVersion(buildinfo.Read().String()))
	p := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.Tracing.SampleRatio()))),
	)
	return p, p.Shutdown, true, nil
}

// traceHandler adds the trace and span ids of the record's context to
// every log line written inside a span.
type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(as)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}

// startTracing sets a.tracer from the project file (cfg may be nil: no
// tracing) for a process of the named service.
func (a *app) startTracing(ctx context.Context, cfg *config.Config, service string) error {
	tp, shutdown, on, err := setupTracing(ctx, cfg, service)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	a.tracer, a.tracing, a.stopTracer = tp, on, shutdown
	if on {
		a.log.Info("tracing on", "otlp", cfg.Tracing.OTLP, "sample", cfg.Tracing.SampleRatio(), "service", service)
	}
	return nil
}

// stopTracing flushes the spans still batched.
func (a *app) stopTracing() {
	if a.stopTracer == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.stopTracer(ctx); err != nil {
		a.log.Warn("flushing traces", "error", err.Error())
	}
}

// syncSpans records each batch a pipeline commits as a span, from the
// receipt of its first change to its commit, with its source position and
// lag. Nil without tracing.
func (a *app) syncSpans(pipeline string) func(ssync.AppliedBatch) {
	if !a.tracing {
		return nil
	}
	tr := a.tracer.Tracer("github.com/stranglerfig/strangler/sync")
	return func(b ssync.AppliedBatch) {
		_, span := tr.Start(context.Background(), "sync batch "+pipeline, trace.WithTimestamp(b.Received),
			trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(attribute.String("strangler.sync.pipeline", pipeline),
				attribute.String("strangler.sync.position", b.Position.String()),
				attribute.Int("strangler.sync.changes", b.Changes),
				attribute.Int("strangler.sync.transactions", b.Transactions),
				attribute.Float64("strangler.sync.lag_seconds", lagOf(b).Seconds())))
		span.End(trace.WithTimestamp(b.Committed))
	}
}

// lagOf is how far behind its source a batch was when it committed.
func lagOf(b ssync.AppliedBatch) time.Duration {
	if b.EventTime.IsZero() {
		return 0
	}
	return max(0, b.Committed.Sub(b.EventTime))
}
