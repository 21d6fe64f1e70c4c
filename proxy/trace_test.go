package proxy

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

const (
	clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpan  = "00f067aa0ba902b7"
	clientTP    = "00-" + clientTrace + "-" + clientSpan + "-01"
)

func attrOf(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

func TestTracing(t *testing.T) {
	legacy := newUpstream(t, "legacy", nil)
	target := newUpstream(t, "new", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/fail") {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("new"))
	})
	cfg := projectFile(t, legacy.srv.URL, `  - name: orders
    match: {prefix: /api/orders/}
    target: `+target.srv.URL+`
    mode: new
    fallback: legacy
`)

	t.Run("off: traceparent passes through unchanged", func(t *testing.T) {
		_, url := startFacade(t, cfg)
		code, _, _ := do(t, newClient(t), "GET", url+"/api/orders/1", "", map[string]string{"traceparent": clientTP})
		require.Equal(t, 200, code)
		req, _ := target.lastRequest()
		assert.Equal(t, clientTP, req.Header.Get("traceparent"))
	})

	t.Run("on: spans continue the client's trace", func(t *testing.T) {
		spans := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
		_, url := startFacade(t, cfg, WithTracerProvider(tp))
		c := newClient(t)
		code, _, _ := do(t, c, "GET", url+"/api/orders/1", "", map[string]string{"traceparent": clientTP})
		require.Equal(t, 200, code)
		req, _ := target.lastRequest()
		sent := req.Header.Get("traceparent")
		require.True(t, strings.HasPrefix(sent, "00-"+clientTrace+"-"), "the upstream gets the same trace: %s", sent)
		assert.NotContains(t, sent, clientSpan, "under the facade's attempt span, not the client's")

		code, body, _ := do(t, c, "GET", url+"/api/orders/fail", "", map[string]string{"traceparent": clientTP})
		require.Equal(t, 200, code, body)
		require.Equal(t, "legacy GET /api/orders/fail", body, "a failed safe request falls back")
		require.NoError(t, tp.ForceFlush(t.Context()))

		got := spans.GetSpans()
		byID := map[trace.SpanID]tracetest.SpanStub{}
		var servers []tracetest.SpanStub
		for _, s := range got {
			byID[s.SpanContext.SpanID()] = s
			if s.SpanKind == trace.SpanKindServer {
				servers = append(servers, s)
			}
		}
		require.Len(t, servers, 2)
		ok := servers[0]
		assert.Equal(t, "facade orders", ok.Name)
		assert.Equal(t, clientSpan, ok.Parent.SpanID().String())
		assert.Equal(t, "new", attrOf(ok, "strangler.backend"))
		assert.Equal(t, "false", attrOf(ok, "strangler.fallback"))
		assert.Equal(t, "closed", attrOf(ok, "strangler.breaker"))

		fb := servers[1]
		assert.Equal(t, "legacy", attrOf(fb, "strangler.backend"))
		assert.Equal(t, "true", attrOf(fb, "strangler.fallback"))
		var attempts []string
		for _, s := range got {
			if s.Parent.SpanID() == fb.SpanContext.SpanID() {
				attempts = append(attempts, s.Name+" "+attrOf(s, "http.response.status_code"))
			}
		}
		assert.ElementsMatch(t, []string{"upstream new 500", "upstream legacy 200"}, attempts, "one child span per attempt")
	})
}
