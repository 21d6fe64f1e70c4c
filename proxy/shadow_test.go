package proxy

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordingShadower keeps every copy it gets with something to send, and
// counts the others by reason.
type recordingShadower struct {
	mu      sync.Mutex
	copies  []*ShadowCopy
	skipped map[string]int
}

func (r *recordingShadower) Shadow(c *ShadowCopy) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.Skip != "" {
		if r.skipped == nil {
			r.skipped = map[string]int{}
		}
		r.skipped[c.Skip]++
		return
	}
	r.copies = append(r.copies, c)
}

func (r *recordingShadower) Close(context.Context) error { return nil }

func (r *recordingShadower) skips(reason string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipped[reason]
}

func (r *recordingShadower) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.copies)
}

// waitFor waits until n copies arrived and returns the nth.
func (r *recordingShadower) waitFor(t *testing.T, n int) *ShadowCopy {
	t.Helper()
	require.Eventually(t, func() bool { return r.count() >= n }, 5*time.Second, 5*time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.copies[n-1]
}

func TestShadowCopySize(t *testing.T) {
	c := &ShadowCopy{Route: "r", RequestID: "id", Method: "GET",
		URL:    &url.URL{Scheme: "http", Host: "h", Path: "/p", RawQuery: "q=1"},
		Header: http.Header{"A": {"bc", "d"}}, Body: []byte("12345"),
		Answer: ShadowResponse{Header: http.Header{"E": {"f"}}, Body: []byte("6789")}}
	assert.Equal(t, int64(1+2+3+(4+1+2+3)+(1+2+1+1)+5+(1+1)+4), c.Size())
}

// TestShadowCopyIsWhatLegacyReceived: the copy carries the headers legacy
// received (X-Forwarded-* as the facade set them, X-Request-Id), minus the
// route's drop_headers, and the path the target expects; Send delivers it
// to the target and Again asks legacy once more with the same request.
func TestShadowCopyIsWhatLegacyReceived(t *testing.T) {
	legacy := newUpstream(t, "legacy", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"from":"legacy"}`))
	})
	target := newUpstream(t, "new", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"from":"new"}`))
	})
	cfg := projectFile(t, legacy.srv.URL+"/legacy-base", `
  - name: orders
    match: {path: "/api/orders/{id}"}
    target: `+target.srv.URL+`/base
    rewrite: "/orders/{id}"
    mode: shadow
    shadow:
      drop_headers: [X-Debug]
`)
	rec := &recordingShadower{}
	_, base := startFacade(t, cfg, WithShadower(rec))
	c := newClient(t)
	_, body, _ := do(t, c, "GET", base+"/api/orders/7?full=1", "", map[string]string{
		"X-Request-Id": "req-9", "X-Forwarded-For": "203.0.113.9", "X-Debug": "1", "Accept": "application/json"})
	require.Equal(t, `{"from":"legacy"}`, body)
	cp := rec.waitFor(t, 1)
	got, _ := legacy.lastRequest()
	assert.Equal(t, SideLegacy, cp.Primary)
	assert.Equal(t, SideNew, cp.To)
	assert.Equal(t, target.srv.URL+"/base/orders/7?full=1", cp.URL.String(), "the target's path, rewritten")
	for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Request-Id", "Accept"} {
		assert.Equal(t, got.Header.Values(h), cp.Header.Values(h), h)
	}
	assert.Equal(t, "127.0.0.1", cp.Header.Get("X-Forwarded-For"), "the untrusted client's own X-Forwarded-For was replaced, as for legacy")
	assert.Equal(t, "1", got.Header.Get("X-Debug"))
	assert.Empty(t, cp.Header.Get("X-Debug"), "drop_headers are not sent with the copy")
	assert.Equal(t, `{"from":"legacy"}`, string(cp.Answer.Body))
	assert.Equal(t, "/api/orders/7", cp.Path())

	ctx := t.Context()
	other, err := cp.Send(ctx)
	require.NoError(t, err)
	assert.Equal(t, 200, other.Status)
	assert.Equal(t, `{"from":"new"}`, string(other.Body))
	sent, _ := target.lastRequest()
	assert.Equal(t, "/base/orders/7", sent.URL.Path)
	assert.Equal(t, "req-9", sent.Header.Get("X-Request-Id"))
	assert.Equal(t, "127.0.0.1", sent.Header.Get("X-Forwarded-For"))

	again, err := cp.Again(ctx)
	require.NoError(t, err)
	assert.Equal(t, `{"from":"legacy"}`, string(again.Body))
	got2, _ := legacy.lastRequest()
	assert.Equal(t, "/legacy-base/api/orders/7", got2.URL.Path, "the path legacy received the first time")
	assert.Equal(t, "full=1", got2.URL.RawQuery)
}

// TestCanaryComparesBothWays: in mode canary a sample of the requests is
// compared whichever side answered: a request the target answered is sent
// to legacy (safe methods only), one legacy answered goes to the target.
func TestCanaryComparesBothWays(t *testing.T) {
	legacy := newUpstream(t, "legacy", nil)
	target := newUpstream(t, "new", nil)
	cfg := projectFile(t, legacy.srv.URL, `
  - name: orders
    match: {path: "/api/orders/{id}"}
    target: `+target.srv.URL+`
    mode: canary
    percent: 50
    shadow: {sample: 100}
`)
	rec := &recordingShadower{}
	_, base := startFacade(t, cfg, WithShadower(rec))
	c := newClient(t)
	const n = 200
	for i := range n {
		do(t, c, "GET", base+"/api/orders/"+strconv.Itoa(i), "", nil)
	}
	rec.waitFor(t, n)
	rec.mu.Lock()
	toLegacy, toNew := 0, 0
	for _, cp := range rec.copies {
		switch cp.To {
		case SideLegacy:
			toLegacy++
			assert.Equal(t, SideNew, cp.Primary)
			assert.Equal(t, legacy.srv.URL+cp.Path(), cp.URL.String())
		case SideNew:
			toNew++
			assert.Equal(t, SideLegacy, cp.Primary)
			assert.Equal(t, target.srv.URL+cp.Path(), cp.URL.String())
		}
	}
	rec.mu.Unlock()
	assert.Equal(t, n, toLegacy+toNew)
	assert.Greater(t, toLegacy, n/5, "copies of the target's answers go to legacy")
	assert.Greater(t, toNew, n/5, "copies of legacy's answers go to the target")

	// A write the target answered is never sent to legacy.
	for i := range 40 {
		do(t, c, "POST", base+"/api/orders/"+strconv.Itoa(i), "{}", nil)
	}
	require.Eventually(t, func() bool { return rec.skips(SkipUnsafe) == 40 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, n, rec.count(), "no write was copied")
}

// TestCanaryShadowSampleDefault: without a sample, canary compares about
// 10% of its requests; mode shadow compares all of them.
func TestCanaryShadowSampleDefault(t *testing.T) {
	legacy := newUpstream(t, "legacy", nil)
	target := newUpstream(t, "new", nil)
	cfg := projectFile(t, legacy.srv.URL, `
  - name: orders
    match: {path: "/api/orders/{id}"}
    target: `+target.srv.URL+`
    mode: canary
    percent: 50
  - name: carts
    match: {path: "/api/carts/{id}"}
    target: `+target.srv.URL+`
    mode: shadow
`)
	rec := &recordingShadower{}
	_, base := startFacade(t, cfg, WithShadower(rec))
	c := newClient(t)
	const n = 1000
	for i := range n {
		do(t, c, "GET", base+"/api/orders/"+strconv.Itoa(i), "", nil)
	}
	for i := range 50 {
		do(t, c, "GET", base+"/api/carts/"+strconv.Itoa(i), "", nil)
	}
	rec.mu.Lock()
	orders, carts := 0, 0
	for _, cp := range rec.copies {
		if cp.Route == "orders" {
			orders++
		} else {
			carts++
		}
	}
	rec.mu.Unlock()
	assert.Equal(t, 50, carts)
	assert.InDelta(t, 100, orders, 45, "about 10%% of %d", n)
}

// TestShadowBodyLimit: a request whose body is over the route's
// shadow.max_body is answered as usual and counted as not compared.
func TestShadowBodyLimit(t *testing.T) {
	legacy := newUpstream(t, "legacy", nil)
	target := newUpstream(t, "new", nil)
	cfg := projectFile(t, legacy.srv.URL, `
  - name: carts
    match: {path: "/api/carts/{id}"}
    target: `+target.srv.URL+`
    mode: shadow
    shadow: {writes: true, max_body: 100}
`)
	rec := &recordingShadower{}
	_, base := startFacade(t, cfg, WithShadower(rec))
	c := newClient(t)
	big := strings.Repeat("x", 101)
	code, _, _ := do(t, c, "POST", base+"/api/carts/1", big, nil)
	require.Equal(t, 200, code)
	_, got := legacy.lastRequest()
	assert.Equal(t, big, string(got), "legacy got the whole body")
	do(t, c, "POST", base+"/api/carts/2", "small", nil)
	cp := rec.waitFor(t, 1)
	assert.Equal(t, "small", string(cp.Body))
	assert.Equal(t, 1, rec.skips(SkipTooLarge))
}

// TestShadowSendThroughBreaker: copies to the target go through its
// breaker: failures open it, and an open breaker refuses further copies
// without sending them.
func TestShadowSendThroughBreaker(t *testing.T) {
	legacy := newUpstream(t, "legacy", nil)
	failing := newUpstream(t, "new", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	cfg := projectFile(t, legacy.srv.URL, `
  - name: orders
    match: {path: "/api/orders/{id}"}
    target: `+failing.srv.URL+`
    mode: shadow
    breaker: {consecutive_failures: 2}
`)
	rec := &recordingShadower{}
	f, base := startFacade(t, cfg, WithShadower(rec))
	c := newClient(t)
	do(t, c, "GET", base+"/api/orders/1", "", nil)
	cp := rec.waitFor(t, 1)
	for range 2 {
		a, err := cp.Send(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 503, a.Status)
	}
	assert.Equal(t, "open", f.Routes()[0].Breaker)
	_, err := cp.Send(t.Context())
	require.ErrorContains(t, err, "circuit breaker open")
	assert.Equal(t, int64(2), failing.hits.Load())
}
