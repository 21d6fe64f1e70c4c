package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rawUpstream is an upstream written by hand on a net.Listener: each
// connection it accepts is served by handle, which reads requests and
// writes whatever bytes the test wants, stray ones included.
type rawUpstream struct {
	ln     net.Listener
	handle func(c *rawConn) error

	mu    sync.Mutex
	conns []*rawConn
	wg    sync.WaitGroup
}

// rawConn is one accepted connection; done is closed when its handler
// returned, err is what it returned (the peer's close, mostly).
type rawConn struct {
	net.Conn
	br   *bufio.Reader
	n    int // 0 for the first connection accepted
	done chan struct{}
	err  error
}

func newRawUpstream(t *testing.T, handle func(c *rawConn) error) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	u := &rawUpstream{ln: ln, handle: handle}
	u.wg.Add(1)
	go u.accept()
	t.Cleanup(func() {
		ln.Close()
		u.mu.Lock()
		for _, c := range u.conns {
			c.Close()
		}
		u.mu.Unlock()
		u.wg.Wait()
	})
	return u
}

func (u *rawUpstream) URL() string { return "http://" + u.ln.Addr().String() }

func (u *rawUpstream) accept() {
	defer u.wg.Done()
	for {
		nc, err := u.ln.Accept()
		if err != nil {
			return
		}
		// No handler may hang the test: every read and write has a bound.
		_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
		u.mu.Lock()
		c := &rawConn{Conn: nc, br: bufio.NewReader(nc), n: len(u.conns), done: make(chan struct{})}
		u.conns = append(u.conns, c)
		u.mu.Unlock()
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			defer nc.Close()
			c.err = u.handle(c)
			close(c.done)
		}()
	}
}

// conn returns the i-th connection accepted, or nil.
func (u *rawUpstream) conn(i int) *rawConn {
	u.mu.Lock()
	defer u.mu.Unlock()
	if i < len(u.conns) {
		return u.conns[i]
	}
	return nil
}

func (u *rawUpstream) accepted() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.conns)
}

// ended reports whether the i-th connection's handler returned.
func (u *rawUpstream) ended(i int) bool {
	c := u.conn(i)
	if c == nil {
		return false
	}
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// waitClosedByFacade waits until the i-th connection's handler returned
// because the facade closed the connection (not because a deadline of the
// handler itself passed).
func (u *rawUpstream) waitClosedByFacade(t *testing.T, i int) {
	t.Helper()
	c := u.conn(i)
	require.NotNil(t, c, "connection %d was never made", i)
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("the facade did not close upstream connection %d", i)
	}
	var ne net.Error
	require.False(t, errors.As(c.err, &ne) && ne.Timeout(), "upstream connection %d ended by its own deadline: %v", i, c.err)
}

// readRequest reads one request and its body.
func (c *rawConn) readRequest() (*http.Request, error) {
	req, err := http.ReadRequest(c.br)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, req.Body); err != nil {
		return nil, err
	}
	return req, nil
}
