package recipes

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
)

// TestTracing: a request with a traceparent is served inside a span of
// that trace, each statement is a child span, and the event it writes is
// delivered in a span of the same trace, with the trace context on the
// webhook request.
func TestTracing(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })

	var mu sync.Mutex
	var hookParents []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hookParents = append(hookParents, r.Header.Get("traceparent"))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hook.Close)

	cfg, err := pgxpool.ParseConfig(dbtest.Postgres(t))
	require.NoError(t, err)
	cfg.ConnConfig.Tracer = PGXTracer(tp)
	pool, err := pgxpool.NewWithConfig(testCtx(t), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	r := loadRecipe(t, withEvents("  webhook: "+hook.URL+"/events\n  backoff: 20ms\n"))
	_, err = Migrate(testCtx(t), pool, r)
	require.NoError(t, err)
	svc, err := NewService(r, pool, WithTracerProvider(tp))
	require.NoError(t, err)
	require.NoError(t, svc.Start(testCtx(t)))
	t.Cleanup(func() { svc.Close(context.Background()) })
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	e := &env{t: t, pool: pool, svc: svc, srv: srv}

	const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	const clientSpan = "00f067aa0ba902b7"
	e.must(201, "POST", "/api/customers", map[string]any{"name": "Ada", "email": "ada@example.com"},
		"traceparent", "00-"+clientTrace+"-"+clientSpan+"-01")
	e.must(201, "POST", "/api/orders", map[string]any{"customerId": 1, "total": "3"},
		"traceparent", "00-"+clientTrace+"-"+clientSpan+"-01")
	e.must(200, "GET", "/api/orders/1", nil) // no traceparent: a trace of its own

	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(hookParents) >= 1 }, 20*time.Second, 20*time.Millisecond)

	byID := map[trace.SpanID]tracetest.SpanStub{}
	var servers, dbs, publishes []tracetest.SpanStub
	for _, s := range spans.GetSpans() {
		byID[s.SpanContext.SpanID()] = s
		switch s.SpanKind {
		case trace.SpanKindServer:
			servers = append(servers, s)
		case trace.SpanKindClient:
			dbs = append(dbs, s)
		case trace.SpanKindProducer:
			publishes = append(publishes, s)
		}
	}
	require.Len(t, servers, 3)
	for _, s := range servers[:2] {
		assert.Equal(t, clientTrace, s.SpanContext.TraceID().String(), "the request's trace goes on")
		assert.Equal(t, clientSpan, s.Parent.SpanID().String(), "a child of the client's span")
	}
	assert.NotEqual(t, clientTrace, servers[2].SpanContext.TraceID().String())
	require.NotEmpty(t, dbs)
	for _, d := range dbs {
		parent, ok := byID[d.Parent.SpanID()]
		require.True(t, ok, "statement span %s has a recorded parent", d.Name)
		assert.Equal(t, trace.SpanKindServer, parent.SpanKind, "statements are children of their request: %s", d.Name)
		for _, a := range d.Attributes {
			if a.Key == "db.query.text" {
				assert.NotContains(t, a.Value.AsString(), "ada@example.com", "no argument is recorded")
			}
		}
	}
	assert.Contains(t, spanNames(dbs), "db INSERT")
	require.NotEmpty(t, publishes)
	assert.Equal(t, "publish OrderPlaced", publishes[0].Name)
	assert.Equal(t, clientTrace, publishes[0].SpanContext.TraceID().String(), "the delivery continues the request's trace")
	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, hookParents[0], clientTrace, "the webhook gets the trace context")
}

func spanNames(ss []tracetest.SpanStub) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name)
	}
	return out
}
