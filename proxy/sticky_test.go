package proxy

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
)

// sides sends one request per key, concurrently, and returns the upstream
// that answered each.
func sides(t *testing.T, c *http.Client, url string, keys []string, set func(*http.Request, string)) map[string]string {
	t.Helper()
	out := make(map[string]string, len(keys))
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(8)
	for _, k := range keys {
		g.Go(func() error {
			req, err := http.NewRequest("GET", url, nil)
			if err != nil {
				return err
			}
			set(req, k)
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("key %s: status %d", k, resp.StatusCode)
			}
			mu.Lock()
			out[k] = resp.Header.Get("X-Upstream")
			mu.Unlock()
			return nil
		})
	}
	require.NoError(t, g.Wait())
	return out
}

// TestStickyChoice checks the sticky choice itself, without HTTP, over many
// keys: the share on the target follows the percent, a key always lands on
// the same side, and raising the percent only moves keys to the target.
func TestStickyChoice(t *testing.T) {
	for _, tc := range []struct {
		name, sticky string
		set          func(*http.Request, string)
	}{
		{"header", "header:X-User-Id", func(r *http.Request, k string) { r.Header.Set("X-User-Id", k) }},
		{"cookie", "cookie:uid", func(r *http.Request, k string) { r.AddCookie(&http.Cookie{Name: "uid", Value: k}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := projectFile(t, "http://127.0.0.1:1", `
  - name: orders
    match: {path: "/api/orders/{id}"}
    target: http://127.0.0.1:2
    mode: canary
    percent: 30
    sticky: "`+tc.sticky+`"
`)
			f, err := New(cfg, WithLogger(quietLogger(t)))
			require.NoError(t, err)
			t.Cleanup(func() { f.Close() })
			rt := f.table.Load().entries[0].route
			side := func(percent float64, key string) backend {
				r, err := http.NewRequest("GET", "http://facade/api/orders/1", nil)
				require.NoError(t, err)
				tc.set(r, key)
				x := &exchange{}
				return x.choose(&routeEntry{route: rt, mode: modeCanary, percent: percent}, r)
			}
			const n = 20000
			onTarget := func(percent float64) map[string]bool {
				out := make(map[string]bool, n)
				for i := range n {
					k := fmt.Sprintf("user-%d", i)
					out[k] = side(percent, k) == backendNew
				}
				return out
			}
			share := func(m map[string]bool) float64 {
				c := 0
				for _, on := range m {
					if on {
						c++
					}
				}
				return float64(c) / float64(len(m)) * 100
			}
			at30 := onTarget(30)
			assert.InDelta(t, 30, share(at30), 1.5, "share at 30%%")
			assert.Equal(t, at30, onTarget(30), "every key lands where it landed before")
			at50 := onTarget(50)
			assert.InDelta(t, 50, share(at50), 1.5, "share at 50%%")
			for k, on := range at30 {
				if on {
					assert.True(t, at50[k], "key %s moved back to legacy when the percent rose", k)
				}
			}
			assert.Greater(t, share(at50), share(at30), "raising the percent moved keys to the target")
			assert.Equal(t, backendLegacy, side(0, "user-1"))
			assert.Equal(t, backendNew, side(100, "user-1"))
		})
	}
}

// TestStickyCanary: over real listeners, each key is answered by the side
// the sticky choice gives it, the same side on every request, and a percent
// change through Apply moves keys as the choice says.
func TestStickyCanary(t *testing.T) {
	legacy := newUpstream(t, "legacy", nil)
	target := newUpstream(t, "new", nil)
	cfg := projectFile(t, legacy.srv.URL, `
  - name: orders
    match: {path: "/api/orders/{id}"}
    target: `+target.srv.URL+`
    mode: canary
    percent: 30
    sticky: "header:X-User-Id"
`)
	f, base := startFacade(t, cfg)
	c := newClient(t)
	set := func(r *http.Request, k string) { r.Header.Set("X-User-Id", k) }
	keys := make([]string, 300)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%d", i)
	}
	url := base + "/api/orders/1"
	want := func(percent float64) map[string]string {
		out := map[string]string{}
		for _, k := range keys {
			side := "legacy"
			if stickyPoint("orders", k) < percent {
				side = "new"
			}
			out[k] = side
		}
		return out
	}

	at30 := sides(t, c, url, keys, set)
	assert.Equal(t, want(30), at30)
	assert.Equal(t, at30, sides(t, c, url, keys, set), "every key lands where it landed before")
	for range 50 {
		assert.Equal(t, map[string]string{"user-42": at30["user-42"]}, sides(t, c, url, []string{"user-42"}, set), "one key, many requests")
	}

	require.NoError(t, f.Apply(State{Version: 1, Routes: map[string]RouteState{"orders": {Mode: "canary", Percent: 50}}}))
	assert.Equal(t, want(50), sides(t, c, url, keys, set))
}

func TestStickyPointMonotonic(t *testing.T) {
	// A key is on the target at p iff its point is below p, so for p < q
	// the target set at p is a subset of the one at q: check the points are
	// spread evenly enough for the shares to be right.
	var buckets [10]int
	const n = 100000
	for i := 0; i < n; i++ {
		p := stickyPoint("orders", fmt.Sprint(i))
		require.True(t, p >= 0 && p < 100)
		buckets[int(p/10)]++
	}
	for i, b := range buckets {
		assert.InDelta(t, n/10, b, n/100, "decile %d", i)
	}
	assert.NotEqual(t, stickyPoint("a", "k"), stickyPoint("b", "k"), "the route name is part of the hash")
}
