package proxy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// blockingShadower holds the dispatcher until released, to fill the queue.
type blockingShadower struct {
	got     chan struct{}
	release chan struct{}
}

func (b *blockingShadower) Shadow(*ShadowCopy) {
	b.got <- struct{}{}
	<-b.release
}

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
	cfg.Proxy.ShadowQueue = 1
	sh := &blockingShadower{got: make(chan struct{}, 10), release: make(chan struct{})}
	f, base := startFacade(t, cfg, WithShadower(sh))
	t.Cleanup(func() { close(sh.release) })
	c := newClient(t)

	do(t, c, "GET", base+"/api/orders/1", "", nil)
	do(t, c, "GET", base+"/elsewhere", "", nil)
	do(t, c, "GET", base+"/api/carts/1", "", nil) // taken by the dispatcher, which blocks
	select {
	case <-sh.got:
	case <-time.After(5 * time.Second):
		t.Fatal("the shadower got no copy")
	}
	do(t, c, "GET", base+"/api/carts/2", "", nil) // waits in the queue
	do(t, c, "GET", base+"/api/carts/3", "", nil) // finds it full
	require.NoError(t, f.Apply(State{Version: 7}))

	assert.Equal(t, 1.0, counterValue(t, f, "strangler_requests_total", "orders", "new", "200"))
	assert.Equal(t, 1.0, counterValue(t, f, "strangler_requests_total", "", "legacy", "200"), "unmatched requests have route=\"\"")
	assert.Equal(t, 3.0, counterValue(t, f, "strangler_requests_total", "carts", "legacy", "200"))
	h := findMetric(t, f, "strangler_request_duration_seconds", "orders", "new")
	require.NotNil(t, h)
	assert.Equal(t, uint64(1), h.GetHistogram().GetSampleCount())
	assert.Equal(t, 0.0, gaugeValue(t, f, "strangler_breaker_state", "orders"))
	assert.Equal(t, 1.0, counterValue(t, f, "strangler_shadow_comparisons_total", "carts", "dropped"))
	assert.Equal(t, 7.0, gaugeValue(t, f, "strangler_route_version"))
}
