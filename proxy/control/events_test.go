package control

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stranglerfig/strangler/proxy"
	"github.com/stretchr/testify/require"
)

// eventsFixture is an admin API with a feed over a real facade's figures,
// served with short read and write timeouts: a stream must outlive them.
type eventsFixture struct {
	srv *httptest.Server
	ctl *Controller
}

func newEventsFixture(t *testing.T, tokens string) *eventsFixture {
	t.Helper()
	cfg := testConfig(t)
	facade, err := proxy.New(cfg, proxy.WithLogger(testLogger(t)))
	require.NoError(t, err)
	t.Cleanup(func() { facade.Close() })
	ctl, err := NewController(cfg, newFileStore(t), facade, WithControllerLogger(testLogger(t)))
	require.NoError(t, err)
	require.NoError(t, ctl.Load(context.Background()))
	feed, err := NewFeed(ctl, Signals{Traffic: facade}, nil, 0)
	require.NoError(t, err)
	ts, err := ParseTokens(tokens)
	require.NoError(t, err)
	a, err := NewAdmin(ctl, ts, WithAdminLogger(testLogger(t)), WithFeed(feed))
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(a)
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Config.WriteTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	return &eventsFixture{srv: srv, ctl: ctl}
}

// stream is one open GET /events.
type stream struct {
	resp *http.Response
	r    *bufio.Reader
}

func (f *eventsFixture) open(t *testing.T, ctx context.Context, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+"/events", nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := f.srv.Client().Do(req)
	require.NoError(t, err)
	return resp
}

func (f *eventsFixture) stream(t *testing.T, token string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	resp := f.open(t, ctx, token)
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return &stream{resp: resp, r: bufio.NewReader(resp.Body)}
}

// next reads the next event, skipping comments, within d.
func (s *stream) next(t *testing.T, d time.Duration) (string, Snapshot) {
	t.Helper()
	type frame struct {
		name, data string
		err        error
	}
	got := make(chan frame, 1)
	go func() {
		var f frame
		for {
			line, err := s.r.ReadString('\n')
			if err != nil {
				got <- frame{err: err}
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "" && f.data != "":
				got <- f
				return
			case strings.HasPrefix(line, ":"), line == "":
			case strings.HasPrefix(line, "event: "):
				f.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				f.data += strings.TrimPrefix(line, "data: ")
			default:
				got <- frame{err: fmt.Errorf("unexpected line %q", line)}
				return
			}
		}
	}()
	select {
	case f := <-got:
		require.NoError(t, f.err)
		var snap Snapshot
		require.NoError(t, json.Unmarshal([]byte(f.data), &snap), f.data)
		return f.name, snap
	case <-time.After(d):
		t.Fatalf("no event within %v", d)
		return "", Snapshot{}
	}
}

func TestEventsStream(t *testing.T) {
	f := newEventsFixture(t, "alice:"+aliceToken)
	s := f.stream(t, aliceToken)
	h := s.resp.Header
	require.Equal(t, "text/event-stream", h.Get("Content-Type"))
	require.Equal(t, "no-store", h.Get("Cache-Control"))
	require.Equal(t, "no", h.Get("X-Accel-Buffering"))

	// One snapshot at once: the routes, their figures.
	name, first := s.next(t, 2*time.Second)
	require.Equal(t, "snapshot", name)
	require.Len(t, first.Routes, 3)
	require.Len(t, first.Stats, 3)
	require.Equal(t, DefaultFeedWindow.String(), first.Window)

	// A route change is sent at once, not at the next second.
	changed := time.Now()
	_, err := f.ctl.Change(context.Background(), Change{Routes: []string{"orders-read"}, Mode: "legacy", Reason: "events test", Who: "alice"})
	require.NoError(t, err)
	_, snap := s.next(t, 2*time.Second)
	require.Less(t, time.Since(changed), 700*time.Millisecond, "the change's snapshot waited for the next tick")
	require.Greater(t, snap.Version, first.Version)
	require.Equal(t, "legacy", snap.Routes[0].Mode)
	require.Equal(t, SourceOverride, snap.Routes[0].Source)

	// Then one a second, past the server's read and write timeouts.
	for range 2 {
		name, next := s.next(t, 2*time.Second)
		require.Equal(t, "snapshot", name)
		require.Equal(t, snap.Version, next.Version)
	}
}

func TestEventsRefused(t *testing.T) {
	f := newEventsFixture(t, "alice:"+aliceToken)
	for _, tc := range []struct{ name, token string }{{"no token", ""}, {"wrong token", bobToken}} {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.open(t, context.Background(), tc.token)
			defer resp.Body.Close()
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			require.Equal(t, ProblemContentType, resp.Header.Get("Content-Type"))
		})
	}

	// Without a feed there is no stream.
	a := newAdminFixture(t, "alice:"+aliceToken)
	code, _ := a.do(t, http.MethodGet, "/events", aliceToken, "")
	require.Equal(t, http.StatusNotFound, code)
}

func TestEventsLimit(t *testing.T) {
	f := newEventsFixture(t, "")
	streams := make([]*stream, MaxEventStreams)
	for i := range streams {
		streams[i] = f.stream(t, "")
		s := streams[i]
		s.next(t, 2*time.Second)
	}
	resp := f.open(t, context.Background(), "")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, string(body))
	require.Equal(t, ProblemContentType, resp.Header.Get("Content-Type"))
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	require.Contains(t, string(body), "dashboard streams are open already")

	// A stream that ends gives its place back.
	streams[0].resp.Body.Close()
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		resp := f.open(t, ctx, "")
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 5*time.Second, 20*time.Millisecond)
}

// A server that shuts down ends its streams, so that Shutdown need not
// wait for the dashboards to go away.
func TestEventsEndOnShutdown(t *testing.T) {
	f := newEventsFixture(t, "")
	s := f.stream(t, "")
	s.next(t, 2*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var shutdownErr error
	wg.Go(func() { shutdownErr = f.srv.Config.Shutdown(ctx) })
	_, err := io.Copy(io.Discard, s.r)
	require.NoError(t, err, "the stream ends cleanly")
	wg.Wait()
	require.NoError(t, shutdownErr)
}
