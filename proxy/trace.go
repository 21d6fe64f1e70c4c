package proxy

import (
	"context"
	"errors"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TracerName is the instrumentation scope of the facade's spans.
const TracerName = "github.com/stranglerfig/strangler/proxy"

// propagator reads and writes W3C traceparent and tracestate headers.
var propagator = propagation.TraceContext{}

// WithTracerProvider makes the facade record a server span per request,
// continuing the client's traceparent: with its route, mode, the backend
// that answered, a fallback and the breaker's state; a child span per
// upstream attempt, whose context the upstream gets in traceparent; and
// the trace context on each shadow copy (ShadowCopy.TraceParent), so that
// the comparison continues the trace. Without it (the default) nothing is
// recorded and traceparent passes through unchanged.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(f *Facade) error {
		if tp == nil {
			return errors.New("facade tracer provider: nil")
		}
		f.tracer = tp.Tracer(TracerName)
		return nil
	}
}

// startSpan opens the exchange's server span and returns r with it in its
// context, from which the exchange's and the attempts' contexts derive.
func (f *Facade) startSpan(x *exchange, r *http.Request) *http.Request {
	ctx := propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	name := "facade unmatched"
	attrs := []attribute.KeyValue{attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path),
		attribute.String("strangler.request_id", x.reqID)}
	if x.rt != nil {
		name = "facade " + x.rt.name
		attrs = append(attrs, attribute.String("strangler.route", x.rt.name), attribute.String("strangler.mode", x.mode.String()))
	}
	ctx, x.span = f.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
	return r.WithContext(ctx)
}

// endSpan closes the server span with what happened.
func (x *exchange) endSpan(status int) {
	s := x.span
	s.SetAttributes(attribute.Int("http.response.status_code", status), attribute.String("strangler.backend", x.backend.String()),
		attribute.Bool("strangler.fallback", x.fellBack))
	if x.rt != nil {
		s.SetAttributes(attribute.String("strangler.breaker", x.rt.breaker.State().String()))
	}
	if x.err != nil {
		s.RecordError(x.err)
	}
	if status >= 500 {
		s.SetStatus(codes.Error, http.StatusText(status))
	}
	s.End()
}

// upstreamSpan opens the span of one attempt on backend b.
func (x *exchange) upstreamSpan(req *http.Request, b backend) (*http.Request, trace.Span) {
	host := x.f.legacy.Host
	if b == backendNew {
		host = x.rt.target.Host
	}
	ctx, span := x.f.tracer.Start(req.Context(), "upstream "+b.String(), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("strangler.backend", b.String()), attribute.String("server.address", host)))
	return req.WithContext(ctx), span
}

// injectTrace writes the attempt's (or the comparison's) trace context into
// the outgoing headers, replacing the client's.
func injectTrace(ctx context.Context, h http.Header) {
	propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

// traceParent is ctx's span context as a traceparent value ("" when none).
func traceParent(ctx context.Context) string {
	c := propagation.MapCarrier{}
	propagator.Inject(ctx, c)
	return c["traceparent"]
}
