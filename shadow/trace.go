package shadow

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/stranglerfig/strangler/proxy"
	"github.com/stranglerfig/strangler/shadow/store"
)

// WithTracerProvider records each comparison of a traced request (one
// whose copy carries the facade's trace context) as a span of that trace;
// the copy sent to the other side carries the comparison's context.
// Default: no traces.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(e *Engine) error {
		if tp == nil {
			return errors.New("shadow tracer provider: nil")
		}
		e.tracer = tp.Tracer("github.com/stranglerfig/strangler/shadow")
		return nil
	}
}

func (e *Engine) startSpan(ctx context.Context, c *proxy.ShadowCopy) (context.Context, trace.Span) {
	ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": c.TraceParent})
	return e.tracer.Start(ctx, "shadow compare "+c.Route, trace.WithAttributes(
		attribute.String("strangler.route", c.Route), attribute.String("strangler.shadow.to", c.To),
		attribute.String("strangler.request_id", c.RequestID)))
}

// endSpan writes the comparison's result on its span.
func endSpan(ctx context.Context, rec *store.Record) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String("strangler.shadow.result", string(rec.Result)), attribute.Int("strangler.shadow.diffs", len(rec.Diffs)),
		attribute.String("strangler.shadow.record", rec.ID))
	if rec.Result == store.ResultError {
		span.SetStatus(codes.Error, rec.Error)
	}
}
