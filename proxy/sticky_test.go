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

func share(m map[string]string) float64 {
	n := 0
	for _, side := range m {
		if side == "new" {
			n++
		}
	}
	return float64(n) / float64(len(m)) * 100
}

func TestStickyCanary(t *testing.T) {
	legacy := newUpstream(t, "legacy", nil)
	target := newUpstream(t, "new", nil)
	for _, tc := range []struct {
		name, sticky string
		keys         int
		set          func(*http.Request, string)
	}{
		{"header", "header:X-User-Id", 10000, func(r *http.Request, k string) { r.Header.Set("X-User-Id", k) }},
		// Keys hash deterministically, so a smaller set still checks the share exactly.
		{"cookie", "cookie:uid", 2000, func(r *http.Request, k string) { r.AddCookie(&http.Cookie{Name: "uid", Value: k}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := projectFile(t, legacy.srv.URL, `
  - name: orders
    match: {path: "/api/orders/{id}"}
    target: `+target.srv.URL+`
    mode: canary
    percent: 30
    sticky: "`+tc.sticky+`"
`)
			f, base := startFacade(t, cfg)
			c := newClient(t)
			keys := make([]string, tc.keys)
			for i := range keys {
				keys[i] = fmt.Sprintf("user-%d", i)
			}
			url := base + "/api/orders/1"

			at30 := sides(t, c, url, keys, tc.set)
			assert.InDelta(t, 30, share(at30), 2, "share at 30%%")

			again := sides(t, c, url, keys, tc.set)
			assert.Equal(t, at30, again, "every key lands where it landed before")

			oneKey := func(t *testing.T) {
				want := at30["user-42"]
				var g errgroup.Group
				g.SetLimit(8)
				var mu sync.Mutex
				got := map[string]int{}
				for range 10000 {
					g.Go(func() error {
						req, _ := http.NewRequest("GET", url, nil)
						tc.set(req, "user-42")
						resp, err := c.Do(req)
						if err != nil {
							return err
						}
						resp.Body.Close()
						mu.Lock()
						got[resp.Header.Get("X-Upstream")]++
						mu.Unlock()
						return nil
					})
				}
				require.NoError(t, g.Wait())
				assert.Equal(t, map[string]int{want: 10000}, got)
			}
			if tc.name == "header" { // once is enough: the key source does not matter here
				t.Run("one key over 10000 requests", oneKey)
			}

			require.NoError(t, f.Apply(State{Version: 1, Routes: map[string]RouteState{"orders": {Mode: "canary", Percent: 50}}}))
			at50 := sides(t, c, url, keys, tc.set)
			assert.InDelta(t, 50, share(at50), 2, "share at 50%%")
			moved := 0
			for k, side := range at30 {
				if side == "new" {
					assert.Equal(t, "new", at50[k], "key %s moved back to legacy", k)
				} else if at50[k] == "new" {
					moved++
				}
			}
			assert.Positive(t, moved, "raising the percent moved keys to the target")
		})
	}
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
