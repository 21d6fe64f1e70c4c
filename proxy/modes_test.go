package proxy

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestModes(t *testing.T) {
	legacy := newUpstream(t, "legacy", nil)
	target := newUpstream(t, "new", nil)
	routes := `
  - name: orders
    match: {path: "/api/orders/{id}", methods: [GET, POST]}
    target: ` + target.srv.URL + `
    rewrite: "/orders/{id}"
  - name: reports
    match: {prefix: /api/reports/}
    target: ` + target.srv.URL + `/v2
    rewrite: /reports/
  - name: admin-host
    match: {path: /admin, host: "admin.example.com"}
    target: ` + target.srv.URL + `
  - name: beta
    match: {path: /beta, headers: {X-Beta: "on"}}
    target: ` + target.srv.URL + `
`
	cfg := projectFile(t, legacy.srv.URL, routes)
	f, base := startFacade(t, cfg)
	c := newClient(t)

	set := func(mode string, pct float64) {
		t.Helper()
		st := State{Version: f.Version() + 1, Routes: map[string]RouteState{}}
		for _, r := range cfg.Routes {
			st.Routes[r.Name] = RouteState{Mode: mode, Percent: pct}
		}
		require.NoError(t, f.Apply(st))
	}

	tests := []struct {
		name, mode       string
		percent          float64
		method, path     string
		hdr              map[string]string
		wantFrom, wantIs string
	}{
		{"legacy mode answers from legacy", "legacy", 0, "GET", "/api/orders/7", nil, "legacy", "legacy GET /api/orders/7"},
		{"new mode answers from target, path rewritten", "new", 0, "GET", "/api/orders/7?x=1", nil, "new", "new GET /orders/7?x=1"},
		{"new mode, method not in route goes to legacy", "new", 0, "DELETE", "/api/orders/7", nil, "legacy", "legacy DELETE /api/orders/7"},
		{"new mode, unmatched path goes to legacy", "new", 0, "GET", "/api/customers/7", nil, "legacy", "legacy GET /api/customers/7"},
		{"prefix rewrite keeps the rest, under the target's base path", "new", 0, "GET", "/api/reports/2024/q1", nil, "new", "new GET /v2/reports/2024/q1"},
		{"host template matches", "new", 0, "GET", "/admin", map[string]string{"Host": "admin.example.com"}, "new", "new GET /admin"},
		{"other host goes to legacy", "new", 0, "GET", "/admin", map[string]string{"Host": "www.example.com"}, "legacy", "legacy GET /admin"},
		{"header matches", "new", 0, "GET", "/beta", map[string]string{"X-Beta": "on"}, "new", "new GET /beta"},
		{"header missing goes to legacy", "new", 0, "GET", "/beta", nil, "legacy", "legacy GET /beta"},
		{"canary 0 answers from legacy", "canary", 0, "GET", "/api/orders/1", nil, "legacy", "legacy GET /api/orders/1"},
		{"canary 100 answers from target", "canary", 100, "GET", "/api/orders/1", nil, "new", "new GET /orders/1"},
		{"shadow answers from legacy", "shadow", 0, "GET", "/api/orders/9", nil, "legacy", "legacy GET /api/orders/9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set(tc.mode, tc.percent)
			code, body, from := do(t, c, tc.method, base+tc.path, "", tc.hdr)
			assert.Equal(t, http.StatusOK, code)
			assert.Equal(t, tc.wantFrom, from)
			assert.Equal(t, tc.wantIs, body)
		})
	}
}

func TestCanaryShareWithoutSticky(t *testing.T) {
	legacy := newUpstream(t, "legacy", nil)
	target := newUpstream(t, "new", nil)
	cfg := projectFile(t, legacy.srv.URL, `
  - name: orders
    match: {path: "/api/orders/{id}"}
    target: `+target.srv.URL+`
    mode: canary
    percent: 25
`)
	_, base := startFacade(t, cfg)
	c := newClient(t)
	const n = 2000
	for i := 0; i < n; i++ {
		code, _, _ := do(t, c, "GET", base+"/api/orders/1", "", nil)
		require.Equal(t, http.StatusOK, code)
	}
	share := float64(target.hits.Load()) / n * 100
	// 2000 draws at p=0.25: the standard deviation is ~1 point; 5 is > 4 sigma.
	assert.InDelta(t, 25, share, 5, "share of target answers")
	assert.Equal(t, int64(n), legacy.hits.Load()+target.hits.Load())
}

func TestShadowCopies(t *testing.T) {
	legacy := newUpstream(t, "legacy", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"id":7}`))
	})
	target := newUpstream(t, "new", nil)
	cfg := projectFile(t, legacy.srv.URL, `
  - name: orders
    match: {path: "/api/orders/{id}"}
    target: `+target.srv.URL+`/base
    rewrite: "/orders/{id}"
    mode: shadow
  - name: writes
    match: {path: "/api/carts/{id}"}
    target: `+target.srv.URL+`
    mode: shadow
    shadow: {writes: true}
`)
	rec := &recordingShadower{}
	_, base := startFacade(t, cfg, WithShadower(rec))
	c := newClient(t)

	t.Run("a GET is copied with legacy's answer", func(t *testing.T) {
		code, body, from := do(t, c, "GET", base+"/api/orders/7?full=1", "", map[string]string{"X-Request-Id": "req-1"})
		require.Equal(t, http.StatusCreated, code)
		require.Equal(t, `{"id":7}`, body)
		require.Equal(t, "legacy", from)
		cp := rec.waitFor(t, 1)
		assert.Equal(t, "orders", cp.Route)
		assert.Equal(t, "req-1", cp.RequestID)
		assert.Equal(t, "GET", cp.Method)
		assert.Equal(t, target.srv.URL+"/base/orders/7?full=1", cp.URL.String())
		assert.Equal(t, http.StatusCreated, cp.Answer.Status)
		assert.Equal(t, `{"id":7}`, string(cp.Answer.Body))
		assert.Empty(t, cp.Header.Get(ShadowHeader))
	})
	t.Run("a POST is not copied unless the route allows writes", func(t *testing.T) {
		do(t, c, "POST", base+"/api/orders/7", `{"a":1}`, nil)
		code, _, _ := do(t, c, "POST", base+"/api/carts/3", `{"qty":2}`, nil)
		require.Equal(t, http.StatusCreated, code)
		cp := rec.waitFor(t, 2)
		assert.Equal(t, "writes", cp.Route)
		assert.Equal(t, `{"qty":2}`, string(cp.Body))
		assert.Equal(t, "1", cp.Header.Get(ShadowHeader))
		_, legacyBody := legacy.lastRequest()
		assert.Equal(t, `{"qty":2}`, string(legacyBody), "legacy got the whole body")
		assert.Equal(t, 2, rec.count())
	})
	assert.Zero(t, target.hits.Load(), "the facade itself never sends shadow copies")
}

func TestHeaders(t *testing.T) {
	legacy := newUpstream(t, "legacy", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/echo-id" {
			w.Header().Set("X-Request-Id", r.Header.Get("X-Request-Id"))
		}
		w.Header().Set("Connection", "X-Private")
		w.Header().Set("X-Private", "secret")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Write([]byte("ok"))
	})
	cfg := projectFile(t, legacy.srv.URL, "  []\n")
	_, base := startFacade(t, cfg)
	c := newClient(t)

	t.Run("forwarded, trace and hop-by-hop headers", func(t *testing.T) {
		req, _ := http.NewRequest("GET", base+"/x", nil)
		req.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
		req.Header.Set("X-Request-Id", "abc")
		req.Header.Set("X-Forwarded-For", "10.0.0.1")
		req.Header.Set("Connection", "X-Hop")
		req.Header.Set("X-Hop", "1")
		req.Header.Set("Proxy-Authorization", "Basic Zm9v")
		req.Host = "shop.example.com"
		resp, err := c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		got, _ := legacy.lastRequest()
		assert.Equal(t, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", got.Header.Get("Traceparent"))
		assert.Equal(t, "abc", got.Header.Get("X-Request-Id"))
		assert.Equal(t, "abc", resp.Header.Get("X-Request-Id"))
		assert.Equal(t, "127.0.0.1", got.Header.Get("X-Forwarded-For"), "no peer is trusted by default: the client's own is replaced")
		assert.Equal(t, "shop.example.com", got.Header.Get("X-Forwarded-Host"))
		assert.Equal(t, "http", got.Header.Get("X-Forwarded-Proto"))
		assert.Empty(t, got.Header.Get("X-Hop"), "header named by Connection is stripped")
		assert.Empty(t, got.Header.Get("Proxy-Authorization"))
		assert.Empty(t, resp.Header.Get("X-Private"), "response header named by Connection is stripped")
		assert.Empty(t, resp.Header.Get("Keep-Alive"))
	})
	t.Run("a request id is created when absent", func(t *testing.T) {
		resp, err := c.Get(base + "/y")
		require.NoError(t, err)
		resp.Body.Close()
		got, _ := legacy.lastRequest()
		id := got.Header.Get("X-Request-Id")
		assert.NotEmpty(t, id)
		assert.Equal(t, id, resp.Header.Get("X-Request-Id"))
		resp2, err := c.Get(base + "/y")
		require.NoError(t, err)
		resp2.Body.Close()
		assert.NotEqual(t, id, resp2.Header.Get("X-Request-Id"))
	})
	t.Run("an upstream that echoes the request id does not double it", func(t *testing.T) {
		req, _ := http.NewRequest("GET", base+"/echo-id", nil)
		req.Header.Set("X-Request-Id", "abc")
		resp, err := c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, []string{"abc"}, resp.Header.Values("X-Request-Id"))
	})
	t.Run("h2c to the client", func(t *testing.T) {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		h2 := &http.Client{Transport: &http.Transport{Protocols: &p}}
		resp, err := h2.Get(base + "/h2")
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, 2, resp.ProtoMajor)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})
	t.Run("the body is passed unchanged", func(t *testing.T) {
		big := strings.Repeat("0123456789", 100000)
		code, _, _ := do(t, c, "PUT", base+"/upload", big, nil)
		require.Equal(t, http.StatusOK, code)
		_, body := legacy.lastRequest()
		assert.Equal(t, big, string(body))
	})
}
