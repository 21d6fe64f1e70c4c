package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingUpstream is a real upstream that counts the connections it
// accepted and the requests it served; closeIdle closes its idle ones.
type countingUpstream struct {
	srv      *httptest.Server
	conns    atomic.Int64
	requests atomic.Int64
}

func newCountingUpstream(t *testing.T, h http.HandlerFunc) *countingUpstream {
	u := &countingUpstream{}
	u.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.requests.Add(1)
		h(w, r)
	}))
	u.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			u.conns.Add(1)
		}
	}
	u.srv.Start()
	t.Cleanup(u.srv.Close)
	return u
}

func roundTrip(t *testing.T, tr http.RoundTripper, req *http.Request) (int, string, error) {
	t.Helper()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return 0, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b), err
}

// keptConns lists the idle connections tr keeps, of every upstream.
func keptConns(tr *upstreamTransport) []*upstreamConn {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []*upstreamConn
	for _, l := range tr.idle {
		out = append(out, l...)
	}
	return out
}

func newTestUpstreamTransport(t *testing.T) *upstreamTransport {
	tr := newUpstreamTransport(NewTransport())
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func TestUpstreamTransportReusesConnections(t *testing.T) {
	up := newCountingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.Header().Set("Content-Length", "5")
			return
		}
		if r.URL.Path == "/empty" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" "+string(b))
	})
	tr := newTestUpstreamTransport(t)
	for i := 0; i < 20; i++ {
		code, body, err := roundTrip(t, tr, httptest.NewRequest("GET", up.srv.URL+"/a?b=c", nil))
		require.NoError(t, err)
		assert.Equal(t, 200, code)
		assert.Equal(t, "GET /a?b=c ", body)
	}
	req, _ := http.NewRequest("DELETE", up.srv.URL+"/d", nil)
	_, body, err := roundTrip(t, tr, req)
	require.NoError(t, err)
	assert.Equal(t, "DELETE /d ", body)
	code, body, err := roundTrip(t, tr, httptest.NewRequest("HEAD", up.srv.URL+"/h", nil))
	require.NoError(t, err)
	assert.Equal(t, 200, code)
	assert.Empty(t, body)
	code, _, err = roundTrip(t, tr, httptest.NewRequest("GET", up.srv.URL+"/empty", nil))
	require.NoError(t, err)
	assert.Equal(t, 204, code)
	_, _, err = roundTrip(t, tr, httptest.NewRequest("GET", up.srv.URL+"/a", nil))
	require.NoError(t, err)
	assert.EqualValues(t, 1, up.conns.Load(), "one connection for requests one after another")
	assert.EqualValues(t, 24, up.requests.Load())
}

func TestUpstreamTransportUnreadBodyClosesConnection(t *testing.T) {
	up := newCountingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 100000))
	})
	tr := newTestUpstreamTransport(t)
	resp, err := tr.RoundTrip(httptest.NewRequest("GET", up.srv.URL, nil))
	require.NoError(t, err)
	_, err = resp.Body.Read(make([]byte, 10))
	require.NoError(t, err)
	resp.Body.Close() // the rest of the answer is still on that connection
	_, body, err := roundTrip(t, tr, httptest.NewRequest("GET", up.srv.URL, nil))
	require.NoError(t, err)
	assert.Len(t, body, 100000)
	assert.EqualValues(t, 2, up.conns.Load())
}

// Closing a stream's body before its end returns at once and drops the
// connection (closing net/http's body alone would read the stream on).
func TestUpstreamTransportCloseStream(t *testing.T) {
	up := newCountingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for r.Context().Err() == nil {
			io.WriteString(w, "data: tick\n\n")
			w.(http.Flusher).Flush()
			time.Sleep(time.Millisecond)
		}
	})
	tr := newTestUpstreamTransport(t)
	resp, err := tr.RoundTrip(httptest.NewRequest("GET", up.srv.URL, nil))
	require.NoError(t, err)
	_, err = resp.Body.Read(make([]byte, 16))
	require.NoError(t, err)
	closed := make(chan error, 1)
	go func() { closed <- resp.Body.Close() }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("closing a stream's body did not return")
	}
	assert.Empty(t, keptConns(tr), "the stream's connection is not kept")
}

// An upstream that closes idle connections: a safe request is sent once
// more on a new connection; an unsafe one finds the close before it is
// sent, and reaches the upstream exactly once.
func TestUpstreamTransportStaleConnection(t *testing.T) {
	var posts atomic.Int64
	up := newCountingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		io.WriteString(w, "ok")
	})
	tr := newTestUpstreamTransport(t)
	for _, method := range []string{"GET", "POST", "DELETE"} {
		_, _, err := roundTrip(t, tr, httptest.NewRequest("GET", up.srv.URL, nil))
		require.NoError(t, err)
		up.srv.CloseClientConnections()
		require.Eventually(t, func() bool { // the close reached the kept connection
			for _, c := range keptConns(tr) {
				if !peekClosed(c.Conn) {
					return false
				}
			}
			return true
		}, 5*time.Second, time.Millisecond)
		req, _ := http.NewRequest(method, up.srv.URL, nil)
		code, got, err := roundTrip(t, tr, req)
		require.NoError(t, err, method)
		assert.Equal(t, 200, code)
		assert.Equal(t, "ok", got)
	}
	assert.EqualValues(t, 1, posts.Load())
}

func TestUpstreamTransportCancelAndTimeout(t *testing.T) {
	release := make(chan struct{})
	up := newCountingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/midbody" {
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "12345")
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	tr := newTestUpstreamTransport(t)

	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(50*time.Millisecond, func() { cancel(ErrUpstreamTimeout) })
	req := httptest.NewRequest("GET", up.srv.URL+"/hang", nil).WithContext(ctx)
	_, err := tr.RoundTrip(req)
	require.ErrorIs(t, err, ErrUpstreamTimeout, "the cause of the cancellation, not the deadline used to stop the read")

	ctx, cancel2 := context.WithCancel(context.Background())
	req = httptest.NewRequest("GET", up.srv.URL+"/midbody", nil).WithContext(ctx)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	buf := make([]byte, 5)
	_, err = io.ReadFull(resp.Body, buf)
	require.NoError(t, err)
	cancel2()
	_, err = io.ReadAll(resp.Body)
	require.Error(t, err, "a cancelled exchange ends the body")
	resp.Body.Close()
	assert.Empty(t, keptConns(tr), "no connection of a cancelled exchange is kept")
}

func TestUpstreamTransportRefusedIsNeverReached(t *testing.T) {
	tr := newTestUpstreamTransport(t)
	_, err := tr.RoundTrip(httptest.NewRequest("POST", closedURL(t)+"/", strings.NewReader("x")))
	require.Error(t, err)
	assert.True(t, neverReached(err), "%v", err)
}

func TestUpstreamTransportInformational(t *testing.T) {
	up := newCountingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "done")
	})
	tr := newTestUpstreamTransport(t)
	var got []int
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		got = append(got, code)
		return nil
	}}
	req := httptest.NewRequest("GET", up.srv.URL, nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	code, body, err := roundTrip(t, tr, req)
	require.NoError(t, err)
	assert.Equal(t, 200, code)
	assert.Equal(t, "done", body)
	assert.Equal(t, []int{http.StatusEarlyHints}, got)
}

// Requests with a body go through net/http's transport, which reads the
// answer while it writes the body: an upstream that refuses a large body
// without reading it is heard (a client that writes the whole body first
// would fail on the closed connection instead).
func TestUpstreamTransportBodiesGoThroughNetHTTP(t *testing.T) {
	up := newCountingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.Header().Set("Connection", "close")
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+string(b))
	})
	tr := newTestUpstreamTransport(t)
	req, _ := http.NewRequest("POST", up.srv.URL+"/echo", io.MultiReader(strings.NewReader("chu"), strings.NewReader("nked")))
	req.ContentLength = -1
	_, body, err := roundTrip(t, tr, req)
	require.NoError(t, err)
	assert.Equal(t, "POST chunked", body)
	req, _ = http.NewRequest("PUT", up.srv.URL+"/big", strings.NewReader(strings.Repeat("x", 16<<20)))
	code, _, err := roundTrip(t, tr, req)
	require.NoError(t, err)
	assert.Equal(t, http.StatusRequestEntityTooLarge, code)
}

// Requests the client does not handle go to the fallback transport.
func TestUpstreamTransportFallback(t *testing.T) {
	var used atomic.Int64
	tr := newTestUpstreamTransport(t)
	tr.fallback = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used.Add(1)
		return nil, errors.New("fallback")
	})
	for _, req := range []*http.Request{
		httptest.NewRequest("GET", "https://127.0.0.1:1/", nil),
		httptest.NewRequest("POST", "http://127.0.0.1:1/", strings.NewReader("body")),
		func() *http.Request {
			r := httptest.NewRequest("GET", "http://127.0.0.1:1/ws", nil)
			r.Header.Set("Connection", "Upgrade")
			r.Header.Set("Upgrade", "websocket")
			return r
		}(),
	} {
		_, err := tr.RoundTrip(req)
		require.EqualError(t, err, "fallback")
	}
	assert.EqualValues(t, 3, used.Load())
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
