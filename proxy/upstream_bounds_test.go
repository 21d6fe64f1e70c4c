package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeHuge writes n bytes of filler in 64 KiB pieces.
func writeHuge(w io.Writer, n int) error {
	piece := []byte(strings.Repeat("a", 64<<10))
	for n > 0 {
		k := min(n, len(piece))
		if _, err := w.Write(piece[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// writeForever writes msg until the write fails (the facade closed the
// connection) or the connection's deadline passes.
func writeForever(w io.Writer, msg string) error {
	b := []byte(strings.Repeat(msg, max(1, 4096/len(msg))))
	for {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
}

// The head of an answer (status line, headers, informational answers) is
// bounded: beyond 1 MiB for one head or 16 informational answers, the
// client gets 502 and the upstream connection is closed, on both ways to
// the upstream. Heads within the bounds pass.
func TestUpstreamResponseHeadIsBounded(t *testing.T) {
	const answer = "Content-Length: 2\r\n\r\nok"
	cases := []struct {
		name   string
		answer func(c *rawConn) error
		status int
		min1xx int // informational answers the client must see at least
		max1xx int // and at most
	}{
		{name: "64 MiB header", status: http.StatusBadGateway, answer: func(c *rawConn) error {
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Big: "); err != nil {
				return err
			}
			if err := writeHuge(c, 64<<20); err != nil {
				return err
			}
			_, err := io.WriteString(c, "\r\n"+answer)
			return err
		}},
		{name: "2 MiB header", status: http.StatusBadGateway, answer: func(c *rawConn) error {
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Big: "); err != nil {
				return err
			}
			if err := writeHuge(c, 2<<20); err != nil {
				return err
			}
			_, err := io.WriteString(c, "\r\n"+answer)
			return err
		}},
		{name: "endless header lines", status: http.StatusBadGateway, answer: func(c *rawConn) error {
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\n"); err != nil {
				return err
			}
			return writeForever(c, "X-Line: 0123456789\r\n")
		}},
		{name: "header of 900 KiB passes", status: http.StatusOK, answer: func(c *rawConn) error {
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Big: "); err != nil {
				return err
			}
			if err := writeHuge(c, 900<<10); err != nil {
				return err
			}
			_, err := io.WriteString(c, "\r\n"+answer)
			return err
		}},
		{name: "endless 103 Early Hints", status: http.StatusBadGateway, min1xx: maxInformational, max1xx: maxInformational,
			answer: func(c *rawConn) error {
				return writeForever(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n")
			}},
		{name: "endless 100 Continue", status: http.StatusBadGateway, max1xx: maxInformational, answer: func(c *rawConn) error {
			return writeForever(c, "HTTP/1.1 100 Continue\r\n\r\n")
		}},
		{name: "one 103 of 2 MiB", status: http.StatusBadGateway, answer: func(c *rawConn) error {
			if _, err := io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: "); err != nil {
				return err
			}
			if err := writeHuge(c, 2<<20); err != nil {
				return err
			}
			_, err := io.WriteString(c, "\r\n\r\nHTTP/1.1 200 OK\r\n"+answer)
			return err
		}},
		{name: "three 103 then the answer pass", status: http.StatusOK, min1xx: 3, max1xx: 3, answer: func(c *rawConn) error {
			_, err := io.WriteString(c, strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", 3)+
				"HTTP/1.1 200 OK\r\n"+answer)
			return err
		}},
	}
	for _, p := range upstreamPaths {
		for _, tc := range cases {
			t.Run(p.name+"/"+tc.name, func(t *testing.T) {
				u := newRawUpstream(t, func(c *rawConn) error {
					if _, err := c.readRequest(); err != nil {
						return err
					}
					if err := tc.answer(c); err != nil {
						return err
					}
					_, err := io.Copy(io.Discard, c.br) // until the facade closes
					return err
				})
				_, base := startFacade(t, projectFile(t, u.URL(), ""))
				var got1xx atomic.Int64
				var rd io.Reader
				if p.body != "" {
					rd = strings.NewReader(p.body)
				}
				req, err := http.NewRequest(p.method, base+"/", rd)
				require.NoError(t, err)
				req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
					Got1xxResponse: func(int, textproto.MIMEHeader) error { got1xx.Add(1); return nil },
				}))
				resp, err := newClient(t).Do(req)
				require.NoError(t, err)
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.NoError(t, err)
				require.Equal(t, tc.status, resp.StatusCode, "body: %.200s", body)
				n := int(got1xx.Load())
				assert.GreaterOrEqual(t, n, tc.min1xx, "informational answers passed on")
				assert.LessOrEqual(t, n, tc.max1xx, "informational answers passed on")
				if tc.status == http.StatusOK {
					assert.Equal(t, "ok", string(body))
					return
				}
				u.waitClosedByFacade(t, 0)
				assert.Equal(t, 1, u.accepted(), "the facade did not try again")
			})
		}
	}
}

func TestBoundInformationalPassesOtherHooks(t *testing.T) {
	var got, connected atomic.Int64
	u := newRawUpstream(t, func(c *rawConn) error {
		if _, err := c.readRequest(); err != nil {
			return err
		}
		_, err := fmt.Fprint(c, "HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return err
	})
	req, err := http.NewRequest(http.MethodGet, u.URL(), nil)
	require.NoError(t, err)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		Got1xxResponse: func(int, textproto.MIMEHeader) error { got.Add(1); return nil },
		GotConn:        func(httptrace.GotConnInfo) { connected.Add(1) },
	}))
	tr := NewTransport()
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := boundInformational(tr).RoundTrip(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, "ok", string(b))
	assert.EqualValues(t, 1, got.Load())
	assert.EqualValues(t, 1, connected.Load(), "hooks other than Got1xxResponse are the request's own")
}

// The own client counts informational answers itself too, also those it
// passes to no hook (a 100 Continue, any 1xx without a trace).
func TestUpstreamTransportCountsInformational(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  string
		n    int
		ok   bool
	}{
		{"16 100 Continue", "HTTP/1.1 100 Continue\r\n\r\n", maxInformational, true},
		{"17 100 Continue", "HTTP/1.1 100 Continue\r\n\r\n", maxInformational + 1, false},
		{"17 103 without a trace", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", maxInformational + 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newRawUpstream(t, func(c *rawConn) error {
				if _, err := c.readRequest(); err != nil {
					return err
				}
				_, err := io.WriteString(c, strings.Repeat(tc.msg, tc.n)+"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				if err != nil {
					return err
				}
				_, err = io.Copy(io.Discard, c.br)
				return err
			})
			tr := newTestUpstreamTransport(t)
			code, body, err := roundTrip(t, tr, httptest.NewRequest(http.MethodGet, u.URL()+"/", nil))
			if tc.ok {
				require.NoError(t, err)
				assert.Equal(t, http.StatusOK, code)
				assert.Equal(t, "ok", body)
				return
			}
			require.ErrorIs(t, err, errTooManyInformational)
			u.waitClosedByFacade(t, 0)
		})
	}
}
