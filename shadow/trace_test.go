package shadow

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/stranglerfig/strangler/proxy"
)

// TestComparisonContinuesTheTrace: with the facade and the engine tracing,
// a compared request's comparison is a span of the request's trace, under
// the facade's span, and the copy reaches the target with its context.
func TestComparisonContinuesTheTrace(t *testing.T) {
	legacy := newBackend(t, func(w http.ResponseWriter, _ *http.Request, _ int64) { jsonAnswer(w, `{"a":1}`) })
	target := newBackend(t, func(w http.ResponseWriter, _ *http.Request, _ int64) { jsonAnswer(w, `{"a":2}`) })
	cfg := parseProject(t, legacy.srv.URL, `routes:
  - name: items
    match: {path: /items/{id}}
    target: `+target.srv.URL+`
    mode: shadow
    shadow: {learn_noise: false}
`)
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	r := startRigWith(t, cfg, nil, []Option{WithTracerProvider(tp)}, []proxy.Option{proxy.WithTracerProvider(tp)})
	code, _, _ := r.do(t, "GET", "/items/1", "")
	require.Equal(t, 200, code)
	rep := r.report(t, "items", 1)
	require.Equal(t, int64(1), rep.Differed)

	var facade, compare tracetest.SpanStub
	for _, s := range spans.GetSpans() {
		switch s.Name {
		case "facade items":
			facade = s
		case "shadow compare items":
			compare = s
		}
	}
	require.True(t, facade.SpanContext.IsValid(), "the facade's span")
	require.True(t, compare.SpanContext.IsValid(), "the comparison's span")
	assert.Equal(t, facade.SpanContext.TraceID(), compare.SpanContext.TraceID())
	assert.Equal(t, facade.SpanContext.SpanID(), compare.Parent.SpanID())
	var result string
	for _, a := range compare.Attributes {
		if a.Key == "strangler.shadow.result" {
			result = a.Value.AsString()
		}
	}
	assert.Equal(t, "diff", result)
	reqs, _ := target.requests()
	require.Len(t, reqs, 1)
	tp1 := reqs[0].Header.Get("traceparent")
	assert.True(t, strings.Contains(tp1, compare.SpanContext.TraceID().String()) && strings.Contains(tp1, compare.SpanContext.SpanID().String()),
		"the copy carries the comparison's context: %s", tp1)
}
