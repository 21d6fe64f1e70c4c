package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echoUpgrade answers an Upgrade: websocket request with 101 and then echoes
// every line it reads, upper-cased, over the raw connection.
func echoUpgrade(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { echoUpgradeAs(name, w, r) }
}

func echoUpgradeAs(name string, w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "want an upgrade", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprint(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Upstream: "+name+"\r\n\r\n")
	brw.Flush()
	for {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := brw.ReadString('\n')
		if err != nil {
			return
		}
		brw.WriteString(strings.ToUpper(line))
		brw.Flush()
	}
}

func TestWebSocketPassThrough(t *testing.T) {
	legacy := newUpstream(t, "legacy", echoUpgrade("legacy"))
	target := newUpstream(t, "new", echoUpgrade("new"))
	cfg := projectFile(t, legacy.srv.URL, `
  - name: live
    match: {path: /ws}
    target: `+target.srv.URL+`
    mode: new
    timeout: 200ms
`)
	f, base := startFacade(t, cfg)
	for _, tc := range []struct{ name, path, from string }{
		{"to the target", "/ws", "new"},
		{"to legacy", "/legacy-ws", "legacy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
			require.NoError(t, err)
			defer conn.Close()
			require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
			fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", tc.path)
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
			assert.Equal(t, tc.from, resp.Header.Get("X-Upstream"))
			// Talk for longer than the route's timeout: it bounds the
			// handshake, not the conversation.
			for i := 0; i < 3; i++ {
				fmt.Fprintf(conn, "hello %d\n", i)
				line, err := br.ReadString('\n')
				require.NoError(t, err)
				assert.Equal(t, fmt.Sprintf("HELLO %d\n", i), line)
				time.Sleep(100 * time.Millisecond) // conversation pacing, not a wait for state
			}
		})
	}
	require.Eventually(t, func() bool {
		return counterValue(t, f, "strangler_requests_total", "live", "new", "101") == 1
	}, 5*time.Second, 10*time.Millisecond)
}

func TestServerSentEventsPassThrough(t *testing.T) {
	next := make(chan struct{})
	target := newUpstream(t, "new", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "data: event %d\n\n", i)
			http.NewResponseController(w).Flush()
			select {
			case <-next: // the client saw this event: send the next one
			case <-r.Context().Done():
				return
			}
		}
	})
	legacy := newUpstream(t, "legacy", nil)
	_, base := startFacade(t, projectFile(t, legacy.srv.URL, `
  - name: events
    match: {path: /events}
    target: `+target.srv.URL+`
    mode: new
    timeout: 300ms
    fallback: legacy
`))
	resp, err := newClient(t).Get(base + "/events")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	br := bufio.NewReader(resp.Body)
	for i := 0; i < 3; i++ {
		// Each event arrives before the upstream sends the next one: the
		// facade neither buffers the stream nor cuts it at the timeout.
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("data: event %d\n", i), line)
		_, err = br.ReadString('\n')
		require.NoError(t, err)
		if i == 1 {
			time.Sleep(400 * time.Millisecond) // outlast the route's timeout mid-stream
		}
		next <- struct{}{}
	}
	rest, err := io.ReadAll(br)
	require.NoError(t, err)
	assert.Empty(t, rest)
}
