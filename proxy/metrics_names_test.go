package proxy

import (
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetrics(t *testing.T) {
	legacy := newUpstream(t, "legacy", nil)
	target := newUpstream(t, "new", nil)
	cfg := projectFile(t, legacy.srv.URL, `
  - name: orders
    match: {path: "/api/orders/{id}"}
    target: `+target.srv.URL+`
    mode: new
  - name: carts
    match: {path: "/api/carts/{id}"}
    target: `+target.srv.URL+`
    mode: shadow
`)
	f, base := startFacade(t, cfg)
	c := newClient(t)

	do(t, c, "GET", base+"/api/orders/1", "", nil)
	do(t, c, "GET", base+"/elsewhere", "", nil)
	do(t, c, "GET", base+"/api/carts/1", "", nil)
	do(t, c, "GET", base+"/api/carts/2", "", nil)
	do(t, c, "GET", base+"/api/carts/3", "", nil)
	require.NoError(t, f.Apply(State{Version: 7}))

	assert.Equal(t, 1.0, counterValue(t, f, "strangler_requests_total", "orders", "new", "200"))
	assert.Equal(t, 1.0, counterValue(t, f, "strangler_requests_total", "", "legacy", "200"), "unmatched requests have route=\"\"")
	assert.Equal(t, 3.0, counterValue(t, f, "strangler_requests_total", "carts", "legacy", "200"))
	h := findMetric(t, f, "strangler_request_duration_seconds", "orders", "new")
	require.NotNil(t, h)
	assert.Equal(t, uint64(1), h.GetHistogram().GetSampleCount())
	assert.Equal(t, 0.0, gaugeValue(t, f, "strangler_breaker_state", "orders"))
	assert.Equal(t, 7.0, gaugeValue(t, f, "strangler_route_version"))

	// Unmatched requests have no breaker and never go to the new backend:
	// no empty series for them.
	assert.Nil(t, findMetric(t, f, "strangler_breaker_state", ""))
	assert.Nil(t, findMetric(t, f, "strangler_request_duration_seconds", "", "new"))
	assert.Nil(t, findMetric(t, f, "strangler_request_duration_seconds", "carts", "new"), "no histogram before a request")
	assert.Nil(t, findMetric(t, f, "strangler_shadow_comparisons_total", "carts", "dropped"), "the shadow engine owns the comparison metrics")
}

// TestFallbackMetrics counts each request legacy answered for a failed
// target, by reason.
func TestFallbackMetrics(t *testing.T) {
	legacy := newUpstream(t, "legacy", nil)
	failing := newUpstream(t, "new", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	cfg := projectFile(t, legacy.srv.URL, `
  - name: broken
    match: {path: "/api/broken/{id}"}
    target: `+failing.srv.URL+`
    mode: new
    fallback: legacy
    breaker: {consecutive_failures: 2}
  - name: gone
    match: {path: "/api/gone/{id}"}
    target: http://`+closedAddr(t)+`
    mode: new
    fallback: legacy
    breaker: {consecutive_failures: 100}
`)
	f, base := startFacade(t, cfg)
	c := newClient(t)
	for i := range 4 {
		_, _, side := do(t, c, "GET", base+"/api/broken/"+strconv.Itoa(i), "", nil)
		assert.Equal(t, "legacy", side)
	}
	_, _, side := do(t, c, "POST", base+"/api/gone/1", "{}", nil)
	assert.Equal(t, "legacy", side, "a refused connection never reached the target: the write may go to legacy")

	assert.Equal(t, 2.0, counterValue(t, f, "strangler_fallbacks_total", "broken", "target_5xx"))
	assert.Equal(t, 2.0, counterValue(t, f, "strangler_fallbacks_total", "broken", "breaker_open"))
	assert.Equal(t, 1.0, counterValue(t, f, "strangler_fallbacks_total", "gone", "unreachable"))
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}
