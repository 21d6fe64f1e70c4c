package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
)

// TestApplyUnderLoad drives continuous load while 100 route changes are
// applied, and checks that no request fails and none is misrouted:
//   - /fixed is in mode new in every table: always the target;
//   - unmatched paths: always legacy;
//   - /canary is a sticky canary whose percent rises 1, 2, ... 100: once a
//     client's key was answered by the target, a later request with the same
//     key must never be answered by legacy (a table is never half-built and
//     never goes back in time);
//   - /toggle flips between legacy and new: either answers, never an error.
func TestApplyUnderLoad(t *testing.T) {
	legacy := newUpstream(t, "legacy", nil)
	target := newUpstream(t, "new", nil)
	cfg := projectFile(t, legacy.srv.URL, `
  - name: fixed
    match: {path: /fixed}
    target: `+target.srv.URL+`
    mode: new
  - name: canary
    match: {path: "/canary/{id}"}
    target: `+target.srv.URL+`
    mode: canary
    percent: 0
    sticky: header:X-User-Id
  - name: toggle
    match: {prefix: /toggle/}
    target: `+target.srv.URL+`
`)
	f, base := startFacade(t, cfg)
	c := newClient(t)

	var total, failed, misrouted atomic.Int64
	ctx, stop := context.WithCancel(context.Background())
	var load errgroup.Group
	for w := 0; w < 8; w++ {
		load.Go(func() error {
			key := fmt.Sprintf("client-%d", w)
			onNew := false
			for i := 0; ctx.Err() == nil; i++ {
				var path, want string
				switch i % 4 {
				case 0:
					path, want = "/fixed", "new"
				case 1:
					path, want = "/unmatched/"+key, "legacy"
				case 2:
					path = "/canary/1"
					if onNew {
						want = "new"
					}
				case 3:
					path = "/toggle/x"
				}
				req, _ := http.NewRequest("GET", base+path, nil)
				req.Header.Set("X-User-Id", key)
				resp, err := c.Do(req)
				total.Add(1)
				if err != nil {
					failed.Add(1)
					t.Errorf("%s: %v", path, err)
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				from := resp.Header.Get("X-Upstream")
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
					t.Errorf("%s: status %d, %v", path, resp.StatusCode, err)
					continue
				}
				if want != "" && from != want {
					misrouted.Add(1)
					t.Errorf("%s (key %s): answered by %s, want %s", path, key, from, want)
				}
				if i%4 == 2 && from == "new" {
					onNew = true
				}
			}
			return nil
		})
	}

	for v := uint64(1); v <= 100; v++ {
		mode := "legacy"
		if v%2 == 0 {
			mode = "new"
		}
		require.NoError(t, f.Apply(State{Version: v, Routes: map[string]RouteState{
			"canary": {Mode: "canary", Percent: float64(v)},
			"toggle": {Mode: mode},
		}}))
		// Let some requests run on this table before the next change.
		seen := total.Load()
		require.Eventually(t, func() bool { return total.Load() >= seen+16 }, 10*time.Second, time.Millisecond)
	}
	stop()
	require.NoError(t, load.Wait())

	t.Logf("%d requests during 100 changes", total.Load())
	assert.Zero(t, failed.Load(), "failed requests")
	assert.Zero(t, misrouted.Load(), "misrouted requests")
	assert.Equal(t, uint64(100), f.Version())
	assert.Equal(t, 100.0, gaugeValue(t, f, "strangler_route_version"))
	for _, ri := range f.Routes() {
		assert.Equal(t, uint64(100), ri.Version)
	}
}

func TestApplyRefusesBadState(t *testing.T) {
	legacy := newUpstream(t, "legacy", nil)
	cfg := projectFile(t, legacy.srv.URL, `
  - name: orders
    match: {path: "/api/orders/{id}"}
    target: http://127.0.0.1:1
    mode: canary
    percent: 10
`)
	f, err := New(cfg, WithLogger(quietLogger(t)))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	require.NoError(t, f.Apply(State{Version: 3, Routes: map[string]RouteState{"orders": {Mode: "new"}, "unknown": {Mode: "new"}}}))
	for _, tc := range []struct {
		name string
		st   RouteState
	}{
		{"bad mode", RouteState{Mode: "sideways"}},
		{"percent above 100", RouteState{Mode: "canary", Percent: 101}},
		{"negative percent", RouteState{Mode: "canary", Percent: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := f.Apply(State{Version: 4, Routes: map[string]RouteState{"orders": tc.st}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), `route "orders"`)
			assert.Equal(t, uint64(3), f.Version(), "a refused state changes nothing")
			assert.Equal(t, "new", f.Routes()[0].Mode)
		})
	}
	require.NoError(t, f.Apply(State{Version: 5}))
	ri := f.Routes()[0]
	assert.Equal(t, "canary", ri.Mode, "a route absent from the state runs as the project file says")
	assert.Equal(t, 10.0, ri.Percent)
	assert.Equal(t, RouteInfo{Name: "orders", Mode: "canary", Percent: 10, Target: "http://127.0.0.1:1",
		Breaker: "closed", Version: 5, Fallback: "none"}, ri)
}
