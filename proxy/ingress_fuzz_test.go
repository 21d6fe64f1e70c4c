package proxy

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/wire"
)

// stubTransport answers every request itself and keeps the last one.
type stubTransport struct {
	mu   sync.Mutex
	last *http.Request
}

func (s *stubTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	s.last = r
	s.mu.Unlock()
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"text/plain"}}, Body: io.NopCloser(strings.NewReader("ok")),
		ContentLength: 2, Request: r}, nil
}

func (s *stubTransport) take() *http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.last
	s.last = nil
	return r
}

// pathLog keeps the path of the last access log line: the path the facade
// matched.
type pathLog struct {
	mu   sync.Mutex
	path string
	seen bool
}

func (l *pathLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *pathLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *pathLog) WithGroup(string) slog.Handler            { return l }
func (l *pathLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "request" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "path" {
			l.mu.Lock()
			l.path, l.seen = a.Value.String(), true
			l.mu.Unlock()
		}
		return true
	})
	return nil
}

func (l *pathLog) take() (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.path, l.seen
	l.path, l.seen = "", false
	return p, ok
}

var bRoute = regexp.MustCompile(`^/b/[^/]+$`)

// FuzzIngress sends requests with any request target and two headers of
// any name and value through a facade (prefix route /a/ and path route
// /b/{id} on the target, the rest on legacy) and checks that: normalising a
// path is idempotent and leaves no dot segment and no "//"; the path the
// facade matched is the path it forwarded, and the request went to the
// backend that path selects; no internal header reaches a backend.
func FuzzIngress(f *testing.F) {
	f.Add("/api/v2/../../admin/secret", "X-Strangler-Shadow", "1", "x-strangler-anything", "x")
	f.Add("/a/../b/7", "X_Strangler_Shadow", "1", "X-Forwarded-For", "10.0.0.1")
	f.Add("//a//x/%2e%2e/y", "Host", "other", "Connection", "X-Strangler-Shadow")
	f.Add("/a/%2E./b/%3B..;", "Forwarded", "for=1.2.3.4", "X-Strangler-Dry-Run", "1")
	f.Add("http://shop.example/b/x/../y?q=1", "Content-Length", "0", "Te", "trailers")

	cfg, err := config.Parse("fuzz.yaml", []byte(`legacy: http://legacy.invalid
routes:
  - name: a
    match: {prefix: /a/}
    target: http://new.invalid
    mode: new
  - name: b
    match: {path: "/b/{id}"}
    target: http://new.invalid
    mode: new
`), nil)
	if err != nil {
		f.Fatal(err)
	}
	tr := &stubTransport{}
	log := &pathLog{}
	fc, err := New(cfg, WithTransport(tr), WithLogger(slog.New(log)))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { fc.Close() })

	f.Fuzz(func(t *testing.T, target, h1, v1, h2, v2 string) {
		if norm, err := normalizePath(target); err == nil {
			checkNormal(t, target, norm)
		}
		raw := "GET " + target + " HTTP/1.1\r\nHost: shop.example\r\n" + h1 + ": " + v1 + "\r\n" + h2 + ": " + v2 + "\r\n\r\n"
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return // net/http's server refuses it before the facade sees it
		}
		req.RemoteAddr = "192.0.2.1:4321"
		rawPath := req.URL.EscapedPath()
		tr.take()
		log.take()
		w := httptest.NewRecorder()
		fc.ServeHTTP(w, req)
		out := tr.take()
		matched, logged := log.take()
		if out == nil {
			if w.Code != http.StatusBadRequest {
				t.Fatalf("%q: nothing forwarded, answered %d", target, w.Code)
			}
			return
		}
		if !logged {
			t.Fatalf("%q: no access log line", target)
		}
		for name := range out.Header {
			if wire.IsInternal(name) {
				t.Fatalf("%q: internal header %s reached %s", target, name, out.URL.Host)
			}
		}
		if out.URL.Path == "*" {
			return
		}
		fwd := out.URL.EscapedPath()
		checkNormal(t, rawPath, fwd)
		if out.URL.Path != matched {
			t.Fatalf("%q: matched %q, forwarded %q", target, matched, out.URL.Path)
		}
		wantHost := "legacy.invalid"
		if strings.HasPrefix(out.URL.Path, "/a/") || bRoute.MatchString(out.URL.Path) {
			wantHost = "new.invalid"
		}
		if out.URL.Host != wantHost {
			t.Fatalf("%q: forwarded %q to %s, its path selects %s", target, out.URL.Path, out.URL.Host, wantHost)
		}
	})
}

// checkNormal fails unless norm is a normal path: a fixed point of
// normalizePath, without "//" or dot segments.
func checkNormal(t *testing.T, in, norm string) {
	t.Helper()
	again, err := normalizePath(norm)
	if err != nil || again != norm {
		t.Fatalf("%q normalised to %q, which normalises to %q (%v)", in, norm, again, err)
	}
	if strings.Contains(norm, "//") {
		t.Fatalf("%q normalised to %q, which holds //", in, norm)
	}
	for _, seg := range strings.Split(norm, "/") {
		if seg == "." || seg == ".." || strings.EqualFold(seg, "%2e") || strings.EqualFold(seg, "%2e%2e") ||
			strings.EqualFold(seg, ".%2e") || strings.EqualFold(seg, "%2e.") {
			t.Fatalf("%q normalised to %q, which holds the dot segment %q", in, norm, seg)
		}
	}
}
