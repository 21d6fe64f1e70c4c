package recipes

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/stranglerfig/strangler/internal/httpstatus"
)

// TracerName is the instrumentation scope of the runtime's spans.
const TracerName = "github.com/stranglerfig/strangler/recipes"

// propagator reads and writes W3C traceparent (and tracestate) headers.
var propagator = propagation.TraceContext{}

// WithTracerProvider makes the service continue the trace of each request
// it gets (its traceparent header): a span per request, and, through
// PGXTracer on its pool, one per database statement; events written to the
// outbox carry the request's trace context, so that their delivery (and a
// subscriber) continues it. Default: no traces.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(s *Service) error {
		if tp == nil {
			return errors.New("nil tracer provider")
		}
		s.tracer = tp.Tracer(TracerName)
		return nil
	}
}

func noTracer() trace.Tracer { return noop.NewTracerProvider().Tracer(TracerName) }

// traced serves r inside a server span continuing the request's trace.
func (s *Service) traced(w http.ResponseWriter, r *http.Request, h http.Handler) {
	ctx := propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := s.tracer.Start(ctx, s.Recipe().Service+" "+r.Method+" "+r.URL.Path, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path),
			attribute.String("strangler.service", s.Recipe().Service),
			attribute.Bool("strangler.shadow", r.Header.Get(HeaderShadow) == "1")))
	defer span.End()
	rec := &httpstatus.Recorder{ResponseWriter: w}
	h.ServeHTTP(rec, r.WithContext(ctx))
	status := rec.Status
	if status == 0 {
		status = http.StatusOK
	}
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	if p := r.Pattern; p != "" {
		span.SetAttributes(attribute.String("http.route", p))
	}
}

// PGXTracer returns a pgx query tracer that records each statement as a
// client span, a child of the span in the statement's context (the
// request's); set it as the pool's ConnConfig.Tracer. The statement's text
// is recorded, never its arguments.
func PGXTracer(tp trace.TracerProvider) pgx.QueryTracer {
	return &pgxTracer{t: tp.Tracer(TracerName)}
}

type pgxTracer struct{ t trace.Tracer }

var _ pgx.QueryTracer = (*pgxTracer)(nil)

func (p *pgxTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if !trace.SpanFromContext(ctx).SpanContext().IsValid() {
		return ctx // a statement outside any request (start, the outbox poll)
	}
	ctx, _ = p.t.Start(ctx, "db "+sqlVerb(d.SQL), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.String("db.query.text", d.SQL)))
	return ctx
}

func (p *pgxTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	if d.Err != nil {
		span.RecordError(d.Err)
		span.SetStatus(codes.Error, "statement failed")
	} else {
		span.SetAttributes(attribute.Int64("db.response.rows", d.CommandTag.RowsAffected()))
	}
	span.End()
}

// sqlVerb is the statement's first word, upper case: SELECT, INSERT, ...
func sqlVerb(sql string) string {
	f := strings.Fields(sql)
	if len(f) == 0 {
		return "statement"
	}
	return strings.ToUpper(f[0])
}

// traceparentOf writes ctx's span context as a traceparent header value;
// empty when ctx carries no sampled span.
func traceparentOf(ctx context.Context) string {
	c := propagation.MapCarrier{}
	propagator.Inject(ctx, c)
	return c["traceparent"]
}

// contextOf reads a stored traceparent back into a context.
func contextOf(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagator.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// natsCarrier carries the trace context in NATS message headers, whose
// names are case-sensitive: it writes them as the propagator names them
// (traceparent, tracestate, as W3C writes them) and reads them in any case.
type natsCarrier nats.Header

var _ propagation.TextMapCarrier = natsCarrier{}

func (c natsCarrier) Get(key string) string {
	if v := nats.Header(c).Get(key); v != "" {
		return v
	}
	for k, vs := range c {
		if strings.EqualFold(k, key) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

func (c natsCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

func (c natsCarrier) Keys() []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	return out
}
