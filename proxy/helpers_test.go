package proxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
)

// upstream is a real HTTP server that says who it is and counts what it got.
type upstream struct {
	name string
	srv  *httptest.Server
	hits atomic.Int64

	mu   sync.Mutex
	last *http.Request // a clone of the last request
	body []byte        // the last request body
	byM  map[string]int64
}

func newUpstream(t *testing.T, name string, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{name: name, byM: map[string]int64{}}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.hits.Add(1)
		u.mu.Lock()
		u.last = r.Clone(context.Background())
		u.body = body
		u.byM[r.Method]++
		u.mu.Unlock()
		w.Header().Set("X-Upstream", name)
		if h != nil {
			h(w, r)
			return
		}
		fmt.Fprintf(w, "%s %s %s", name, r.Method, r.URL.RequestURI())
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) lastRequest() (*http.Request, []byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last, u.body
}

func (u *upstream) method(m string) int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.byM[m]
}

// projectFile renders a project file with legacy and the given routes
// block (YAML, indented by two spaces under routes:).
func projectFile(t *testing.T, legacy string, routes string) *config.Config {
	t.Helper()
	data := "legacy: " + legacy + "\nroutes:\n" + routes
	cfg, err := config.Parse(t.Name()+".yaml", []byte(data), nil)
	require.NoError(t, err, "project file:\n%s", data)
	cfg.File = t.TempDir() + "/strangler.yaml"
	return cfg
}

// quietLogger drops the access log and warnings; errors go to stderr.
func quietLogger(*testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// startFacade runs a facade for cfg behind a real listener through Serve.
func startFacade(t *testing.T, cfg *config.Config, opts ...Option) (*Facade, string) {
	t.Helper()
	opts = append([]Option{WithLogger(quietLogger(t))}, opts...)
	f, err := New(cfg, opts...)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Serve(ctx, ln, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, f.Close())
	})
	return f, "http://" + ln.Addr().String()
}

// newClient returns a client with its own connections and a deadline. Its
// idle connections are closed when the test ends, before the facades it
// talks to shut down (cleanups run last first): a connection the transport
// dialled but never used counts as busy for 5 s in http.Server.Shutdown.
func newClient(t testing.TB) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Timeout: 20 * time.Second, Transport: tr}
}

// get sends one request and returns status, body and the answering upstream.
func do(t *testing.T, c *http.Client, method, url string, body string, hdr map[string]string) (int, string, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	for k, v := range hdr {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Header.Get("X-Upstream")
}
