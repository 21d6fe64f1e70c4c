package proxy

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
)

// fakeClock is a clock a test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock           { return &fakeClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)} }
func testCounter() prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
}
func limitReq(hdr ...string) *http.Request { // header name, value, ...
	r := httptest.NewRequest("GET", "/api/x", nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	return r
}

func newTestLimiter(t *testing.T, rc config.RateLimit, clock *fakeClock, trusted ...string) *rateLimiter {
	t.Helper()
	if rc.MaxKeys == 0 {
		rc.MaxKeys = config.DefaultRateLimitKeys
	}
	tp, err := parseTrustedProxies(trusted)
	require.NoError(t, err)
	l, err := newRateLimiter("orders", &rc, tp, testCounter())
	require.NoError(t, err)
	l.now = clock.now
	return l
}

// TestRateLimitFields: a token bucket of 2 per second, 3 at once, with the
// fields of draft-ietf-httpapi-ratelimit-headers-10 on each answer.
func TestRateLimitFields(t *testing.T) {
	clock := newFakeClock()
	l := newTestLimiter(t, config.RateLimit{RPS: 2, Burst: 3}, clock)
	steps := []struct {
		name       string
		advance    time.Duration
		admitted   bool
		ratelimit  string
		retryAfter string
	}{
		{"full bucket", 0, true, `"orders";r=2;t=1`, ""},
		{"second", 0, true, `"orders";r=1;t=1`, ""},
		{"last token", 0, true, `"orders";r=0;t=1`, ""},
		{"empty", 0, false, `"orders";r=0;t=1`, "1"},
		{"half a second: one token back", 500 * time.Millisecond, true, `"orders";r=0;t=1`, ""},
		{"a quarter later: half a token", 250 * time.Millisecond, false, `"orders";r=0;t=1`, "1"},
		{"two seconds: full again", 2 * time.Second, true, `"orders";r=2;t=1`, ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			clock.add(s.advance)
			ok, lim, now := l.take(limitReq(), nil)
			require.Equal(t, s.admitted, ok)
			h := http.Header{}
			l.fields(h, lim, now, !ok)
			assert.Equal(t, `"orders";q=3;w=2`, h.Get("RateLimit-Policy"))
			assert.Equal(t, s.ratelimit, h.Get("RateLimit"))
			assert.Equal(t, s.retryAfter, h.Get("Retry-After"))
		})
	}
	t.Run("slow rate: Retry-After in whole seconds", func(t *testing.T) {
		clock := newFakeClock()
		l := newTestLimiter(t, config.RateLimit{RPS: 0.1, Burst: 1}, clock)
		ok, _, _ := l.take(limitReq(), nil)
		require.True(t, ok)
		clock.add(2500 * time.Millisecond)
		ok, lim, now := l.take(limitReq(), nil)
		require.False(t, ok)
		h := http.Header{}
		l.fields(h, lim, now, true)
		assert.Equal(t, "8", h.Get("Retry-After"), "7.5 s to the next token, rounded up")
		assert.Equal(t, `"orders";q=1;w=10`, h.Get("RateLimit-Policy"))
	})
}

// TestRateLimitKeys: each key has its bucket; requests without the key
// share one; the client address is read from X-Forwarded-For only behind a
// trusted proxy.
func TestRateLimitKeys(t *testing.T) {
	clock := newFakeClock()
	l := newTestLimiter(t, config.RateLimit{RPS: 1, Burst: 1, Key: "header:x-api-key"}, clock)
	take := func(r *http.Request) bool { ok, _, _ := l.take(r, nil); return ok }
	assert.True(t, take(limitReq("X-Api-Key", "a")))
	assert.False(t, take(limitReq("X-Api-Key", "a")))
	assert.True(t, take(limitReq("X-Api-Key", "b")), "another key, another bucket")
	assert.True(t, take(limitReq()), "no key: the bucket of requests without one")
	assert.False(t, take(limitReq()))

	tests := []struct {
		name    string
		trusted []string
		remote  string
		xff     []string
		want    string
	}{
		{"untrusted peer: its own address", nil, "192.0.2.1:1234", []string{"203.0.113.9"}, "192.0.2.1"},
		{"trusted peer: the address it saw", []string{"10.0.0.0/8"}, "10.0.0.2:80", []string{"203.0.113.9"}, "203.0.113.9"},
		{"trusted chain: the rightmost untrusted", []string{"10.0.0.0/8"}, "10.0.0.2:80", []string{"6.6.6.6, 203.0.113.9", "10.1.1.1"}, "203.0.113.9"},
		{"a made-up leftmost entry does not count", []string{"10.0.0.0/8"}, "10.0.0.2:80", []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9"},
		{"every hop trusted: the leftmost", []string{"10.0.0.0/8"}, "10.0.0.2:80", []string{"10.9.9.9, 10.1.1.1"}, "10.9.9.9"},
		{"trusted peer without the header", []string{"10.0.0.0/8"}, "10.0.0.2:80", nil, "10.0.0.2"},
		{"garbage behind a trusted peer", []string{"10.0.0.0/8"}, "10.0.0.2:80", []string{"unknown"}, "unknown"},
		{"IPv6 client: its /64", nil, "[2001:db8:1:2:3:4:5:6]:443", nil, "2001:db8:1:2::/64"},
		{"IPv4-mapped IPv6 is IPv4", nil, "[::ffff:192.0.2.1]:443", nil, "192.0.2.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, err := parseTrustedProxies(tt.trusted)
			require.NoError(t, err)
			r := limitReq()
			r.RemoteAddr = tt.remote
			if tt.xff != nil {
				r.Header["X-Forwarded-For"] = tt.xff
			}
			assert.Equal(t, tt.want, clientKey(r, tp))
		})
	}
}

// TestRateLimitBucketsBounded: random keys cannot grow the buckets past
// max_keys; the bucket used longest ago goes first.
func TestRateLimitBucketsBounded(t *testing.T) {
	clock := newFakeClock()
	l := newTestLimiter(t, config.RateLimit{RPS: 1, Burst: 1, Key: "header:X-Key", MaxKeys: 100}, clock)
	ok, _, _ := l.take(limitReq("X-Key", "steady"), nil)
	require.True(t, ok)
	for i := range 10000 {
		if i%50 == 0 { // the steady client keeps coming
			ok, _, _ := l.take(limitReq("X-Key", "steady"), nil)
			require.False(t, ok, "its bucket was kept: still empty")
		}
		l.take(limitReq("X-Key", "random-"+strconv.Itoa(i)), nil)
	}
	assert.Equal(t, 100, l.buckets.len())
}

// TestRateLimitAnswers: through the facade, a refused request is a 429
// problem with Retry-After and the RateLimit fields, counted; with
// headers: true the admitted answers carry the fields too.
func TestRateLimitAnswers(t *testing.T) {
	legacy := newUpstream(t, "legacy", nil)
	cfg := projectFile(t, legacy.srv.URL, `
  - name: orders
    match: {prefix: /api/orders/}
    target: http://127.0.0.1:1
    rate_limit: {rps: 0.01, burst: 2, headers: true}
`)
	f, base := startFacade(t, cfg)
	c := newClient(t)
	for i, want := range []string{`"orders";r=1;t=100`, `"orders";r=0;t=100`} {
		resp := send(t, c, "GET", base+"/api/orders/1", nil)
		require.Equal(t, 200, resp.StatusCode, i)
		assert.Equal(t, want, resp.Header.Get("RateLimit"))
		assert.Equal(t, `"orders";q=2;w=200`, resp.Header.Get("RateLimit-Policy"))
	}
	resp := send(t, c, "GET", base+"/api/orders/1", nil)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "100", resp.Header.Get("Retry-After"))
	assert.Equal(t, `"orders";r=0;t=100`, resp.Header.Get("RateLimit"))
	assert.Equal(t, 429, problemOf(t, resp).Status)
	assert.Equal(t, int64(2), legacy.hits.Load())
	assert.Equal(t, 1.0, counterValue(t, f, "strangler_rate_limited_total", "orders"))
	assert.Equal(t, 1.0, counterValue(t, f, "strangler_requests_total", "orders", "legacy", "429"))
	assert.Equal(t, 200, send(t, c, "GET", base+"/elsewhere", nil).StatusCode, "other routes are not limited")
}

// TestRateLimitUnderLoad: concurrent clients for 10 s against a limit of
// R per second with a burst of B get R*10+B requests admitted, within 5%,
// per route and per key alike, and every 429 carries Retry-After and the
// RateLimit fields. The one test of the package on real time. Each burst
// holds two seconds of its rate, so that a client stalled on a busy machine
// (the offered load dropping below the rate for a moment) loses no token.
func TestRateLimitUnderLoad(t *testing.T) {
	const seconds = 10
	legacy := newUpstream(t, "legacy", func(w http.ResponseWriter, _ *http.Request) {})
	cfg := projectFile(t, legacy.srv.URL, `
  - name: route
    match: {prefix: /api/route/}
    target: http://127.0.0.1:1
    rate_limit: {rps: 100, burst: 200}
  - name: keyed
    match: {prefix: /api/keyed/}
    target: http://127.0.0.1:1
    rate_limit: {rps: 50, burst: 100, key: "header:X-Client"}
`)
	f, base := startFacade(t, cfg)
	c := newClient(t)
	type load struct {
		path, client string
		rps, burst   float64
		ok, limited  atomic.Int64
		bad          atomic.Int64 // 429s without their fields
	}
	loads := []*load{
		{path: "/api/route/1", rps: 100, burst: 200},
		{path: "/api/keyed/1", client: "a", rps: 50, burst: 100},
		{path: "/api/keyed/1", client: "b", rps: 50, burst: 100},
	}
	start := time.Now()
	end := start.Add(seconds * time.Second)
	var wg sync.WaitGroup
	for _, l := range loads {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(end) {
					req, _ := http.NewRequest("GET", base+l.path, nil)
					if l.client != "" {
						req.Header.Set("X-Client", l.client)
					}
					resp, err := c.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					switch resp.StatusCode {
					case 200:
						l.ok.Add(1)
					case 429:
						l.limited.Add(1)
						if resp.Header.Get("Retry-After") == "" || resp.Header.Get("RateLimit") == "" || resp.Header.Get("RateLimit-Policy") == "" {
							l.bad.Add(1)
						}
					default:
						t.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	var limited float64
	for _, l := range loads {
		want := l.rps*elapsed + l.burst
		got := float64(l.ok.Load())
		t.Logf("%s %s: %0.f admitted, %d refused over %.2fs; expected %.0f", l.path, l.client, got, l.limited.Load(), elapsed, want)
		assert.LessOrEqual(t, math.Abs(got-want)/want, 0.05, "%s %s: admitted %0.f, want %.0f within 5%%", l.path, l.client, got, want)
		assert.Greater(t, l.limited.Load(), int64(0), "the load went over the limit")
		assert.Zero(t, l.bad.Load(), "every 429 carries Retry-After and the RateLimit fields")
		limited += float64(l.limited.Load())
	}
	got := counterValue(t, f, "strangler_rate_limited_total", "route") + counterValue(t, f, "strangler_rate_limited_total", "keyed")
	assert.Equal(t, limited, got)
	assert.Equal(t, float64(loads[0].ok.Load()), counterValue(t, f, "strangler_requests_total", "route", "legacy", "200"))
	assert.Equal(t, fmt.Sprint(loads[1].limited.Load()+loads[2].limited.Load()),
		fmt.Sprint(counterValue(t, f, "strangler_requests_total", "keyed", "legacy", "429")))
}
