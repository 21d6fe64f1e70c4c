package proxy

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/httpstatus"
)

// gateBench is a facade with one route whose gate is under test, and a
// request for it.
func gateBench(b *testing.B, route string, files map[string][]byte) (*Facade, *route) {
	b.Helper()
	src := "legacy: http://127.0.0.1:1\nproxy: {trusted_proxies: [10.0.0.0/8]}\nroutes:\n  - name: r\n    match: {prefix: /api/}\n    target: http://127.0.0.1:1\n" + route
	cfg, err := config.Parse("bench.yaml", []byte(src), nil)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	cfg.File = filepath.Join(dir, "strangler.yaml")
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	f, err := New(cfg, WithLogger(quietLogger(nil)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return f, f.routes[0]
}

// runGate measures the gate on one request, as ServeHTTP runs it.
func runGate(b *testing.B, f *Facade, rt *route, req *http.Request) {
	w := httptest.NewRecorder()
	x := &exchange{f: f, rt: rt, rec: httpstatus.Recorder{ResponseWriter: w}, reqID: "id", reqIDs: []string{"id"}}
	b.ReportAllocs()
	for b.Loop() {
		x.start = time.Now()
		if !f.gate(x, req) {
			b.Fatalf("refused: %d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkAuthJWT: the JWT check on the gate path: a token seen before
// (the cache: what a client sending the same token pays), and a token
// verified each time (RS256 with a 2048-bit key, ES256), with a claim
// passed on as a header; then the check with a rate limit, as the facade
// bench runs it.
func BenchmarkAuthJWT(b *testing.B) {
	rsaKey, ecKey := newRSAKey(b, "rsa"), newECKey(b, "ec")
	files := map[string][]byte{"jwks.json": jwksJSON(b, rsaKey, ecKey)}
	jwtRoute := func(extra string) string {
		return "    auth:\n      jwt: {jwks: jwks.json, issuer: https://id.example, audience: shop, claims_to_headers: {sub: X-User-Id}" + extra + "}\n"
	}
	now := time.Now()
	for _, bm := range []struct {
		name  string
		route string
		key   *signingKey
	}{
		{"cached", jwtRoute(""), rsaKey},
		{"verify-RS256", jwtRoute(", cache: -1"), rsaKey},
		{"verify-ES256", jwtRoute(", cache: -1"), ecKey},
		{"cached+limit", jwtRoute("") + "    rate_limit: {rps: 1000000000, burst: 1000000000, key: \"claim:sub\"}\n", rsaKey},
	} {
		b.Run(bm.name, func(b *testing.B) {
			f, rt := gateBench(b, bm.route, files)
			req := httptest.NewRequest("GET", "/api/x", nil)
			req.Header.Set("Authorization", "Bearer "+bm.key.sign(b, claims(now), nil))
			runGate(b, f, rt, req)
		})
	}
}

// BenchmarkRateLimit: the rate limit on the gate path, per route and per
// key (a header among 10,000 keys; the client address behind a trusted
// proxy).
func BenchmarkRateLimit(b *testing.B) {
	for _, bm := range []struct {
		name string
		key  string
	}{
		{"route", ""},
		{"header", `, key: "header:X-Api-Key"`},
		{"client", ", key: client"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			f, rt := gateBench(b, "    rate_limit: {rps: 1000000000, burst: 1000000000"+bm.key+"}\n", nil)
			for i := range 10000 { // a full set of buckets
				r := httptest.NewRequest("GET", "/api/x", nil)
				r.Header.Set("X-Api-Key", "key-"+strconv.Itoa(i))
				rt.gate.limit.take(r, nil)
			}
			req := httptest.NewRequest("GET", "/api/x", nil)
			req.Header.Set("X-Api-Key", "key-42")
			req.RemoteAddr = "10.0.0.1:1234"
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			runGate(b, f, rt, req)
		})
	}
}
