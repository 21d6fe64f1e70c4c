package proxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// upstreamPaths are the ways a request goes to its upstream: without a
// body through the facade's own client, with one through net/http's
// transport.
var upstreamPaths = []struct {
	name    string
	method  string
	body    string
	netHTTP bool
}{
	{"GET through the own client", http.MethodGet, "", false},
	{"POST without a body through the own client", http.MethodPost, "", false},
	{"POST with a body through net/http", http.MethodPost, "item=1", true},
}

// An upstream that writes bytes nobody asked for on a kept connection
// (an extra answer, an unsolicited 408) must not have them delivered as
// the next client's answer: the next request goes on a clean connection
// and its client gets the upstream's answer to it.
func TestUpstreamStrayBytesNeverAnswerTheNextRequest(t *testing.T) {
	const extra = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray"
	const timeout408 = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n"
	strays := []struct {
		name       string
		bytes      string
		withAnswer bool // in the same write as the first answer, else once the connection is idle
		closeAfter bool // the upstream closes its side of the connection after them
	}{
		{name: "extra answer written with the first", bytes: extra, withAnswer: true},
		{name: "extra answer on the idle connection", bytes: extra},
		{name: "unsolicited 408 on the idle connection", bytes: timeout408},
		{name: "unsolicited 408 then close", bytes: timeout408, closeAfter: true},
	}
	for _, p := range upstreamPaths {
		for _, s := range strays {
			t.Run(p.name+"/"+s.name, func(t *testing.T) {
				var mu sync.Mutex
				var seen []string
				writeStray, strayWritten := make(chan struct{}), make(chan struct{})
				u := newRawUpstream(t, func(c *rawConn) error {
					for {
						req, err := c.readRequest()
						if err != nil {
							return err
						}
						mu.Lock()
						seen = append(seen, req.Method+" "+req.URL.Path)
						mu.Unlock()
						ans := "real answer to " + req.Method + " " + req.URL.Path
						out := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(ans), ans)
						first := req.URL.Path == "/first"
						if first && s.withAnswer {
							out += s.bytes
						}
						if _, err := io.WriteString(c, out); err != nil {
							return err
						}
						if !first {
							continue
						}
						if !s.withAnswer {
							select {
							case <-writeStray:
							case <-time.After(15 * time.Second):
								return fmt.Errorf("never told to write the stray bytes")
							}
							if _, err := io.WriteString(c, s.bytes); err != nil {
								return err
							}
						}
						close(strayWritten)
						if s.closeAfter {
							// Closed for writing: the facade sees the end
							// of the connection; its own close ends the
							// handler, which the test waits for.
							if err := c.Conn.(*net.TCPConn).CloseWrite(); err != nil {
								return err
							}
							_, err := io.Copy(io.Discard, c.br)
							return err
						}
					}
				})
				cfg := projectFile(t, u.URL(), "")
				f, base := startFacade(t, cfg)
				c := newClient(t)

				code, body, _ := do(t, c, p.method, base+"/first", p.body, nil)
				require.Equal(t, http.StatusOK, code)
				require.Equal(t, "real answer to "+p.method+" /first", body)
				close(writeStray)
				<-strayWritten
				// Wait until the stray bytes reached the facade's side:
				// net/http's reader closes the connection on them; the
				// own client closes it, or keeps it with the bytes unread
				// on it until the next request looks.
				own, _ := f.transport.(*upstreamTransport)
				require.Eventually(t, func() bool {
					if u.ended(0) {
						return true
					}
					if p.netHTTP || own == nil {
						return false
					}
					kept := keptConns(own)
					for _, kc := range kept {
						if kc.br.Buffered() == 0 && !peekClosed(kc.Conn) {
							return false
						}
					}
					return len(kept) > 0
				}, 10*time.Second, time.Millisecond, "the stray bytes never reached the facade")

				code, body, _ = do(t, c, p.method, base+"/second", p.body, nil)
				assert.Equal(t, http.StatusOK, code)
				assert.Equal(t, "real answer to "+p.method+" /second", body, "the second client got the stray bytes")
				mu.Lock()
				defer mu.Unlock()
				assert.Equal(t, []string{p.method + " /first", p.method + " /second"}, seen,
					"each request reached the upstream exactly once")
			})
		}
	}
}
