package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/stranglerfig/strangler/internal/config"
)

// benchRoutes is a project file with n routes /api/svc{i}/items/{id}.
func benchRoutes(b *testing.B, upstream string, n int) *config.Config {
	var sb strings.Builder
	fmt.Fprintf(&sb, "legacy: %s\nroutes:\n", upstream)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "  - name: svc%d\n    match: {path: \"/api/svc%d/items/{id}\", methods: [GET]}\n    target: %s\n    mode: new\n", i, i, upstream)
	}
	cfg, err := config.Parse("bench.yaml", []byte(sb.String()), nil)
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// BenchmarkMatch compares finding the 500th route through the index with
// gorilla/mux's linear scan.
func BenchmarkMatch(b *testing.B) {
	const n = 500
	cfg := benchRoutes(b, "http://127.0.0.1:1", n)
	f, err := New(cfg, WithLogger(quietLogger(nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	router := mux.NewRouter()
	for i := 0; i < n; i++ {
		router.Path(fmt.Sprintf("/api/svc%d/items/{id}", i)).Methods("GET")
	}
	req := httptest.NewRequest("GET", fmt.Sprintf("/api/svc%d/items/42", n-1), nil)
	b.Run("index", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if i := f.index.match(req); i != n-1 {
				b.Fatal(i)
			}
		}
	})
	b.Run("mux-linear", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m mux.RouteMatch
			if !router.Match(req, &m) {
				b.Fatal("no match")
			}
		}
	})
}

// BenchmarkServeHTTP compares one request through the facade (500 routes,
// the hit one last, mode new) with a bare httputil.ReverseProxy, both with
// the same tuned transport, to a real upstream; the client side is an
// in-memory recorder so the figures are the proxies' own work.
func BenchmarkServeHTTP(b *testing.B) {
	body := strings.Repeat("x", 512)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	path := "/api/svc499/items/42"
	f, err := New(benchRoutes(b, up.URL, 500), WithLogger(quietLogger(nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	bare := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() },
		Transport: NewTransport(),
	}
	pooled := &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() },
		Transport:  NewTransport(),
		BufferPool: newBufferPool(),
	}
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"bare-bufferpool", pooled}, {"facade-500", f}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("GET", path, nil)
				w := httptest.NewRecorder()
				tc.h.ServeHTTP(w, req)
				if w.Code != http.StatusOK || w.Body.Len() != len(body) {
					b.Fatalf("status %d, %d bytes", w.Code, w.Body.Len())
				}
			}
		})
	}
}

// BenchmarkIngress measures what ingress adds to every request: internal
// header stripping and path normalisation, for a path already normal (the
// common case) and for one with dot segments and doubled slashes.
func BenchmarkIngress(b *testing.B) {
	for _, path := range []string{"/api/svc499/items/42", "/api/svc499//x/../items/./42"} {
		b.Run(path, func(b *testing.B) {
			req := httptest.NewRequest("GET", path, nil)
			for _, h := range []string{"Accept", "Accept-Encoding", "Accept-Language", "User-Agent", "Cookie",
				"Authorization", "X-Request-Id", "Traceparent", "Content-Type", "X-Forwarded-For"} {
				req.Header.Set(h, "v")
			}
			u := *req.URL
			b.ReportAllocs()
			for b.Loop() {
				*req.URL = u
				if err := ingress(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
