package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// closedURL returns the URL of a port nobody listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return "http://" + addr
}

// fault is a way for a target to fail.
type fault struct {
	name string
	// handler fails the request; nil for a refused connection.
	handler http.HandlerFunc
	// wantStatus is what a client gets without fallback (0: the connection
	// is cut mid-body).
	wantStatus int
}

func faults() []fault {
	return []fault{
		{name: "refuses connections", wantStatus: http.StatusBadGateway},
		{name: "answers 500", wantStatus: http.StatusInternalServerError, handler: func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}},
		{name: "hangs past its timeout", wantStatus: http.StatusGatewayTimeout, handler: func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}},
		{name: "resets mid-body", wantStatus: 0, handler: resetMidBody},
	}
}

// resetMidBody promises 1000 bytes, sends 100 and resets the connection.
func resetMidBody(w http.ResponseWriter, r *http.Request) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	fmt.Fprintf(brw, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/plain\r\n\r\n%s", strings.Repeat("x", 100))
	brw.Flush()
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) // RST, not FIN
	}
	conn.Close()
}

func faultRoute(targetURL, fallback string) string {
	return `
  - name: orders
    match: {path: "/api/orders/{id}"}
    target: ` + targetURL + `
    mode: new
    fallback: ` + fallback + `
    timeout: 300ms
    breaker: {consecutive_failures: 5, open_timeout: 1h}
`
}

func TestFaultsWithoutFallback(t *testing.T) {
	legacy := newUpstream(t, "legacy", nil)
	for _, fl := range faults() {
		t.Run(fl.name, func(t *testing.T) {
			targetURL := closedURL(t)
			var target *upstream
			if fl.handler != nil {
				target = newUpstream(t, "new", fl.handler)
				targetURL = target.srv.URL
			}
			f, base := startFacade(t, projectFile(t, legacy.srv.URL, faultRoute(targetURL, "none")))
			c := newClient(t)
			for i := 0; i < 5; i++ {
				resp, err := c.Get(base + "/api/orders/1")
				if fl.wantStatus == 0 {
					if err == nil {
						_, err = io.ReadAll(resp.Body)
						resp.Body.Close()
					}
					require.Error(t, err, "a body cut mid-way must not look complete")
					continue
				}
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, fl.wantStatus, resp.StatusCode)
			}
			assert.Equal(t, "open", f.Routes()[0].Breaker, "5 failures in a row open the breaker")
			code, _, _ := do(t, c, "GET", base+"/api/orders/1", "", nil)
			assert.Equal(t, http.StatusServiceUnavailable, code, "an open breaker without fallback answers 503")
			if target != nil {
				assert.Equal(t, int64(5), target.hits.Load(), "the open breaker kept the sixth request away")
			}
			assert.Zero(t, legacy.method("GET"), "no fallback configured")
		})
	}
}

func TestFaultsWithFallback(t *testing.T) {
	for _, fl := range faults() {
		t.Run(fl.name, func(t *testing.T) {
			legacy := newUpstream(t, "legacy", nil)
			targetURL := closedURL(t)
			var target *upstream
			if fl.handler != nil {
				target = newUpstream(t, "new", fl.handler)
				targetURL = target.srv.URL
			}
			f, base := startFacade(t, projectFile(t, legacy.srv.URL, faultRoute(targetURL, "legacy")))
			c := newClient(t)

			t.Run("GETs see zero errors", func(t *testing.T) {
				for i := 0; i < 20; i++ {
					code, body, from := do(t, c, "GET", base+"/api/orders/"+strconv.Itoa(i), "", nil)
					require.Equal(t, http.StatusOK, code, "request %d", i)
					require.Equal(t, "legacy", from)
					require.Equal(t, "legacy GET /api/orders/"+strconv.Itoa(i), body)
				}
				assert.Equal(t, int64(20), legacy.method("GET"))
				assert.Equal(t, "open", f.Routes()[0].Breaker)
				if target != nil {
					assert.Equal(t, int64(5), target.method("GET"), "after 5 failures the breaker keeps GETs away")
				}
			})
		})
	}
}

func TestUnsafeFallback(t *testing.T) {
	for _, fl := range faults() {
		t.Run(fl.name, func(t *testing.T) {
			legacy := newUpstream(t, "legacy", nil)
			targetURL := closedURL(t)
			var target *upstream
			if fl.handler != nil {
				target = newUpstream(t, "new", fl.handler)
				targetURL = target.srv.URL
			}
			_, base := startFacade(t, projectFile(t, legacy.srv.URL, faultRoute(targetURL, "legacy")))
			c := newClient(t)
			resp, err := c.Post(base+"/api/orders/1", "application/json", strings.NewReader(`{"qty":1}`))
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if target == nil {
				// Refused: provably never reached the target, so legacy answers.
				require.NoError(t, err)
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, int64(1), legacy.method("POST"))
				_, body := legacy.lastRequest()
				assert.Equal(t, `{"qty":1}`, string(body), "legacy got the whole body")
				return
			}
			assert.Equal(t, int64(1), target.method("POST"), "the POST reached the target")
			assert.Zero(t, legacy.method("POST"), "a POST that reached the target is never repeated on legacy")
			if fl.wantStatus != 0 {
				require.NoError(t, err)
				assert.Equal(t, fl.wantStatus, resp.StatusCode)
			}
		})
	}
	t.Run("breaker open sends a POST to legacy", func(t *testing.T) {
		legacy := newUpstream(t, "legacy", nil)
		target := newUpstream(t, "new", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
		f, base := startFacade(t, projectFile(t, legacy.srv.URL, faultRoute(target.srv.URL, "legacy")))
		c := newClient(t)
		for i := 0; i < 5; i++ {
			do(t, c, "GET", base+"/api/orders/1", "", nil)
		}
		require.Equal(t, "open", f.Routes()[0].Breaker)
		code, _, from := do(t, c, "POST", base+"/api/orders/1", `{"qty":2}`, nil)
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, "legacy", from)
		assert.Zero(t, target.method("POST"))
		_, body := legacy.lastRequest()
		assert.Equal(t, `{"qty":2}`, string(body))
	})
}

func TestBreakerRecoversThroughCappedProbes(t *testing.T) {
	legacy := newUpstream(t, "legacy", nil)
	var failing atomic.Bool
	failing.Store(true)
	gate := make(chan struct{})
	arrived := make(chan struct{}, 10)
	target := newUpstream(t, "new", func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		arrived <- struct{}{}
		<-gate
		w.Write([]byte("ok"))
	})
	f, base := startFacade(t, projectFile(t, legacy.srv.URL, `
  - name: orders
    match: {path: "/api/orders/{id}"}
    target: `+target.srv.URL+`
    mode: new
    breaker: {consecutive_failures: 3, half_open_requests: 2, open_timeout: 100ms}
`))
	c := newClient(t)
	state := func() string { return f.Routes()[0].Breaker }
	for i := 0; i < 3; i++ {
		code, _, _ := do(t, c, "GET", base+"/api/orders/1", "", nil)
		require.Equal(t, http.StatusInternalServerError, code)
	}
	require.Equal(t, "open", state())
	require.Equal(t, 2.0, gaugeValue(t, f, "strangler_breaker_state", "orders"))

	failing.Store(false)
	require.Eventually(t, func() bool { return state() == "half-open" }, 5*time.Second, 10*time.Millisecond)

	// Three requests at once: two probes go through, the third is refused.
	type result struct {
		code int
		err  error
	}
	results := make(chan result, 3)
	for i := 0; i < 2; i++ {
		go func() {
			resp, err := c.Get(base + "/api/orders/1")
			if err != nil {
				results <- result{err: err}
				return
			}
			resp.Body.Close()
			results <- result{code: resp.StatusCode}
		}()
	}
	for i := 0; i < 2; i++ {
		select {
		case <-arrived:
		case <-time.After(5 * time.Second):
			t.Fatal("probe did not reach the target")
		}
	}
	code, _, _ := do(t, c, "GET", base+"/api/orders/1", "", nil)
	assert.Equal(t, http.StatusServiceUnavailable, code, "a third probe is refused while two are in flight")
	close(gate)
	for i := 0; i < 2; i++ {
		r := <-results
		require.NoError(t, r.err)
		assert.Equal(t, http.StatusOK, r.code)
	}
	require.Eventually(t, func() bool { return state() == "closed" }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, 0.0, gaugeValue(t, f, "strangler_breaker_state", "orders"))
	assert.Equal(t, int64(5), target.hits.Load())
}

func TestBreakerFailureRatio(t *testing.T) {
	legacy := newUpstream(t, "legacy", nil)
	var n atomic.Int64
	target := newUpstream(t, "new", func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	f, base := startFacade(t, projectFile(t, legacy.srv.URL, `
  - name: orders
    match: {path: "/api/orders/{id}"}
    target: `+target.srv.URL+`
    mode: new
    breaker: {consecutive_failures: 100, failure_ratio: 0.5, min_requests: 10, open_timeout: 1h}
`))
	c := newClient(t)
	for i := 0; i < 9; i++ {
		do(t, c, "GET", base+"/api/orders/1", "", nil)
		require.Equal(t, "closed", f.Routes()[0].Breaker, "request %d: fewer than min_requests", i+1)
	}
	do(t, c, "GET", base+"/api/orders/1", "", nil)
	assert.Equal(t, "open", f.Routes()[0].Breaker, "5 failures of 10 requests reach the ratio")
}

func TestBreakerIgnoresClientsThatLeave(t *testing.T) {
	legacy := newUpstream(t, "legacy", nil)
	arrived := make(chan struct{}, 20)
	target := newUpstream(t, "new", func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	})
	f, base := startFacade(t, projectFile(t, legacy.srv.URL, `
  - name: orders
    match: {path: "/api/orders/{id}"}
    target: `+target.srv.URL+`
    mode: new
    timeout: 1m
    breaker: {consecutive_failures: 2, open_timeout: 1h}
`))
	c := newClient(t)
	for i := 0; i < 5; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/orders/1", nil)
		errc := make(chan error, 1)
		go func() {
			resp, err := c.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		<-arrived
		cancel()
		require.True(t, errors.Is(<-errc, context.Canceled))
	}
	// The facade records the request after the client left: wait for it.
	require.Eventually(t, func() bool {
		return counterValue(t, f, "strangler_requests_total", "orders", "new", "499") == 5
	}, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, "closed", f.Routes()[0].Breaker, "clients that leave are no failure of the target")
}

func TestStatusFor(t *testing.T) {
	dial := &net.OpError{Op: "dial", Err: errors.New("connection refused")}
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"timeout", fmt.Errorf("orders: %w", ErrUpstreamTimeout), http.StatusGatewayTimeout},
		{"deadline", context.DeadlineExceeded, http.StatusGatewayTimeout},
		{"net timeout", &net.OpError{Op: "read", Err: timeoutErr{}}, http.StatusGatewayTimeout},
		{"client gone", fmt.Errorf("legacy: %w", context.Canceled), StatusClientClosedRequest},
		{"breaker open", fmt.Errorf("orders: %w", errBreakerOpen), http.StatusServiceUnavailable},
		{"refused", dial, http.StatusBadGateway},
		{"reset", io.ErrUnexpectedEOF, http.StatusBadGateway},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, statusFor(tc.err))
		})
	}
	assert.True(t, neverReached(fmt.Errorf("x: %w", dial)))
	assert.True(t, neverReached(errBreakerOpen))
	assert.False(t, neverReached(io.ErrUnexpectedEOF))
	assert.False(t, neverReached(&net.OpError{Op: "read", Err: errors.New("reset")}))
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
