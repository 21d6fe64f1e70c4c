package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"time"
)

// upstreamTransport is the facade's HTTP/1.1 client for plain-HTTP
// requests without a body, most of a facade's traffic. It writes the
// request and reads the response head on the calling goroutine, over
// connections it keeps per upstream, where net/http's transport hands each
// request to a writer goroutine and each response to a reader goroutine.
// Requests with a body go to the fallback transport, which reads the
// answer while it still writes the body (an upstream may answer 413 or 401
// without reading it), as do other schemes and protocol upgrades.
//
// A connection is reused only once the previous response's body was read
// to its end and when nothing unread is on it: before every request on a
// kept connection, a non-blocking peek looks for bytes the upstream wrote
// while the connection was idle (an extra answer, an unsolicited 408) and
// for its close; such a connection is closed and another one used, so
// that stray bytes are never taken as the next answer. A safe request
// that fails on a kept connection before any byte of the answer arrived
// is sent once more on a new connection, as net/http does. Bytes that
// arrive after the peek, while the request is on its way, cannot be told
// from its answer (net/http's transport is in the same race).
//
// Every response head is bounded (maxResponseHeadBytes, see
// upstream_limits.go); informational answers are counted by the
// ReverseProxy's transport guard (boundInformational).
//
// Where a non-blocking peek is not available (peekSupported), every
// request goes to the fallback transport.
type upstreamTransport struct {
	fallback    http.RoundTripper
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	maxIdle     int           // idle connections kept per upstream
	idleTimeout time.Duration // idle connections older than this are closed

	mu   sync.Mutex
	idle map[string][]*upstreamConn
}

type upstreamConn struct {
	net.Conn
	br     *bufio.Reader // reads through headLimit
	bw     *bufio.Writer
	key    string
	idleAt time.Time
	// headLeft is how many more bytes br may take from the connection
	// while a response head is read; math.MaxInt64 while a body is.
	headLeft int64
}

// headLimit is the reader under an upstreamConn's bufio.Reader: it stops
// a response head at its bound.
type headLimit upstreamConn

func (l *headLimit) Read(p []byte) (int, error) {
	if l.headLeft <= 0 {
		return 0, errResponseHeadTooLarge
	}
	if int64(len(p)) > l.headLeft {
		p = p[:l.headLeft]
	}
	n, err := l.Conn.Read(p)
	l.headLeft -= int64(n)
	return n, err
}

func newUpstreamTransport(fallback *http.Transport) *upstreamTransport {
	return &upstreamTransport{
		fallback:    fallback,
		dial:        fallback.DialContext,
		maxIdle:     fallback.MaxIdleConnsPerHost,
		idleTimeout: fallback.IdleConnTimeout,
		idle:        map[string][]*upstreamConn{},
	}
}

// aLongTimeAgo is a deadline that makes blocked reads and writes return.
var aLongTimeAgo = time.Unix(1, 0)

func (t *upstreamTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !peekSupported || req.URL.Scheme != "http" || req.Header.Get("Upgrade") != "" || req.Body != nil && req.Body != http.NoBody {
		return t.fallback.RoundTrip(req)
	}
	ctx := req.Context()
	key := req.URL.Host
	if req.URL.Port() == "" {
		key = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	repeatable := safeMethod(req.Method)
	for try := 0; ; try++ {
		c, reused, err := t.get(ctx, key)
		if err != nil {
			return nil, err
		}
		stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(aLongTimeAgo) })
		resp, err := c.exchange(req)
		if err == nil {
			b := &upstreamBody{rc: resp.Body, c: c, t: t, stop: stop, keep: !resp.Close && !req.Close}
			if resp.Body == http.NoBody {
				b.done(true)
			} else {
				resp.Body = b
			}
			return resp, nil
		}
		stop()
		c.Close()
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		if reused && repeatable && try == 0 && !errors.Is(err, errResponseStarted) {
			continue // the upstream closed the idle connection: once more on a new one
		}
		return nil, err
	}
}

// errResponseStarted marks a failure after the response began to arrive.
var errResponseStarted = errors.New("upstream response cut short")

// exchange writes req and reads the response head, skipping informational
// answers other than 101. Each head may take maxResponseHeadBytes from the
// connection; a head an informational answer's trace hook did not see
// shares the bound with the next one, as in net/http's transport.
func (c *upstreamConn) exchange(req *http.Request) (*http.Response, error) {
	if err := req.Write(c.bw); err != nil {
		return nil, err
	}
	if err := c.bw.Flush(); err != nil {
		return nil, err
	}
	trace := httptrace.ContextClientTrace(req.Context())
	c.headLeft = maxResponseHeadBytes
	for n1xx := 0; ; n1xx++ {
		if n1xx > maxInformational {
			return nil, errors.Join(errResponseStarted, errTooManyInformational)
		}
		if _, err := c.br.Peek(1); err != nil {
			if n1xx > 0 { // an informational answer came: the response began
				return nil, errors.Join(errResponseStarted, headError(err))
			}
			return nil, err
		}
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			return nil, errors.Join(errResponseStarted, headError(err))
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			// Informational answers go to the ReverseProxy's trace,
			// which passes them to the client; 100 Continue concerns
			// this connection only.
			if trace != nil && trace.Got1xxResponse != nil && resp.StatusCode != http.StatusContinue {
				if err := trace.Got1xxResponse(resp.StatusCode, textproto.MIMEHeader(resp.Header)); err != nil {
					return nil, errors.Join(errResponseStarted, err)
				}
				c.headLeft = maxResponseHeadBytes // delivered: the next head has its own bound
			}
			continue
		}
		c.headLeft = math.MaxInt64 // the body's length is the body reader's business
		return resp, nil
	}
}

// headError says what was being read when a head went past its bound.
func headError(err error) error {
	if errors.Is(err, errResponseHeadTooLarge) {
		return fmt.Errorf("reading the response head: %w", errResponseHeadTooLarge)
	}
	return err
}

// get returns an idle connection to key or dials one. Every idle
// connection is first probed: one the upstream closed or wrote to while it
// was idle is closed, and the next one tried.
func (t *upstreamTransport) get(ctx context.Context, key string) (*upstreamConn, bool, error) {
	now := time.Now()
	for {
		t.mu.Lock()
		list := t.idle[key]
		var c *upstreamConn
		if n := len(list); n > 0 {
			c = list[n-1]
			list[n-1] = nil
			t.idle[key] = list[:n-1]
		}
		t.mu.Unlock()
		if c == nil {
			break
		}
		if t.idleTimeout > 0 && now.Sub(c.idleAt) > t.idleTimeout || !c.clean() {
			c.Close()
			continue
		}
		return c, true, nil
	}
	nc, err := t.dial(ctx, "tcp", key)
	if err != nil {
		return nil, false, err
	}
	c := &upstreamConn{Conn: nc, bw: bufio.NewWriterSize(nc, 4096), key: key}
	c.br = bufio.NewReaderSize((*headLimit)(c), 4096)
	return c, false, nil
}

// clean reports whether an idle connection may carry the next request: it
// is open, and nothing unread is on it, neither in its buffer nor on the
// socket (see peekClosed).
func (c *upstreamConn) clean() bool {
	if c.br.Buffered() > 0 {
		return false // bytes nobody asked for
	}
	return !peekClosed(c.Conn)
}

// put keeps c for the next request to its upstream, or closes it. The
// list is used last in, first out, so its oldest connection is at the
// front; one past the idle timeout is closed here, so that connections the
// upstream closed do not linger unused.
func (t *upstreamTransport) put(c *upstreamConn) {
	if c.br.Buffered() > 0 { // the upstream wrote more than the answer
		c.Close()
		return
	}
	c.idleAt = time.Now()
	key := c.key
	var expired *upstreamConn
	t.mu.Lock()
	list := t.idle[key]
	if len(list) > 0 && t.idleTimeout > 0 && c.idleAt.Sub(list[0].idleAt) > t.idleTimeout {
		expired = list[0]
		list = list[1:]
	}
	if len(list) < t.maxIdle {
		list = append(list, c)
		c = nil
	}
	t.idle[key] = list
	t.mu.Unlock()
	if expired != nil {
		expired.Close()
	}
	if c != nil {
		c.Close()
	}
}

// CloseIdleConnections closes the kept connections (and the fallback's).
func (t *upstreamTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[string][]*upstreamConn{}
	t.mu.Unlock()
	for _, list := range idle {
		for _, c := range list {
			c.Close()
		}
	}
	if ci, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// upstreamBody is a response body; at its end the connection goes back to
// the transport when the exchange allows it.
type upstreamBody struct {
	rc    io.ReadCloser
	c     *upstreamConn
	t     *upstreamTransport
	stop  func() bool
	keep  bool
	ended bool // Read saw the end or an error; Read and Buffered are called by one goroutine
	once  sync.Once
}

func (b *upstreamBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.ended = true
		b.done(true)
	} else if err != nil {
		b.ended = true
		b.done(false)
	}
	return n, err
}

// Buffered returns how many bytes of the connection are read and not yet
// handed out: a read of the body returns at once while there are some.
// After the body's end the connection may already serve another request.
func (b *upstreamBody) Buffered() int {
	if b.ended {
		return 0
	}
	return b.c.br.Buffered()
}

// Close before the end closes the connection first: closing net/http's
// body reads it to its end, which for a stream never comes.
func (b *upstreamBody) Close() error {
	b.done(false)
	return b.rc.Close()
}

// done ends the exchange once: the connection is kept when the body was
// read to its end, the upstream keeps it open, and no cancellation set its
// deadline.
func (b *upstreamBody) done(eof bool) {
	b.once.Do(func() {
		if b.stop() && eof && b.keep {
			b.t.put(b.c)
			return
		}
		b.c.Close()
	})
}
