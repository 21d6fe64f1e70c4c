package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNormalizePath(t *testing.T) {
	tests := []struct {
		in, want string // want "": refused
	}{
		{"/", "/"},
		{"/api/orders/7", "/api/orders/7"},
		{"/api/orders/", "/api/orders/"},
		{"//", "/"},
		{"/api//orders///7", "/api/orders/7"},
		{"/api/orders//", "/api/orders/"},
		{"/api/v2/../../admin/secret", "/admin/secret"},
		{"/a/./b/../c/", "/a/c/"},
		{"/a/b/..", "/a/"},
		{"/a/b/.", "/a/b/"},
		{"/..", "/"},
		{"/../x", "/x"},
		{"/../../../etc/passwd", "/etc/passwd"},
		{"/a/..//../b", "/b"},
		{"/.well-known/x", "/.well-known/x"},
		{"/a/...", "/a/..."},
		{"/a/..b/c", "/a/..b/c"},
		{"/%2e%2e/x", "/x"},
		{"/api/v2/%2E%2e/%2e./admin", "/admin"},
		{"/a/%2e/b", "/a/b"},
		{"/a%2eb", "/a.b"},
		{"/caf%c3%a9", "/caf%C3%A9"},
		{"/a%3Bb/c", "/a%3Bb/c"},
		{"/a;v=1/b", "/a;v=1/b"},
		{"/a/%25/b", "/a/%25/b"},
		{"/a%2Fb", ""},
		{"/a%2fb", ""},
		{"/a%5cb", ""},
		{"/a\\b", ""},
		{"/a/..;/b", ""},
		{"/a/.;x/b", ""},
		{"/a%zz", ""},
		{"/a%2", ""},
		{"a/b", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := normalizePath(tt.in)
			if tt.want == "" {
				var pe *pathError
				require.ErrorAs(t, err, &pe, "got %q", got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			again, err := normalizePath(got)
			require.NoError(t, err)
			assert.Equal(t, got, again, "normalising is idempotent")
		})
	}
}

func TestNormalizeRequestPath(t *testing.T) {
	tests := []struct {
		method, target string
		path, escaped  string // path "": refused
	}{
		{"GET", "/api/v2/../../admin/secret", "/admin/secret", "/admin/secret"},
		{"GET", "/a//b?q=1", "/a/b", "/a/b"},
		{"GET", "/caf%C3%A9/../x%3Bb", "/x;b", "/x%3Bb"},
		{"GET", "/%2e%2e/caf%c3%a9", "/café", "/caf%C3%A9"},
		{"GET", "http://shop.example/a/../b", "/b", "/b"},
		{"GET", "http://shop.example", "/", "/"},
		{"OPTIONS", "*", "*", "*"},
		{"GET", "*", "", ""},
		{"GET", "/a%2Fb", "", ""},
		{"GET", "/a%2Fb/caf\xc3\xa9", "", ""}, // RawPath not valid for EscapedPath
		{"GET", "/a%5Cb", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(tt.method + " " + tt.target + " HTTP/1.1\r\nHost: shop.example\r\n\r\n")))
			require.NoError(t, err)
			err = normalizeRequestPath(req)
			if tt.path == "" {
				var pe *pathError
				require.ErrorAs(t, err, &pe)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.path, req.URL.Path)
			assert.Equal(t, tt.escaped, req.URL.EscapedPath())
		})
	}
}

// rawRequest sends one HTTP/1.1 request as written, so that no client
// library cleans its path, and returns the response.
func rawRequest(t *testing.T, base, head string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(conn, head)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

func TestIngressPathEndToEnd(t *testing.T) {
	legacy := newUpstream(t, "legacy", nil)
	target := newUpstream(t, "new", nil)
	rec := &recordingShadower{}
	cfg := projectFile(t, legacy.srv.URL, `
  - name: api-v2
    match: {prefix: /api/v2/}
    target: `+target.srv.URL+`
    mode: new
  - name: reports
    match: {path: "/reports/{id}"}
    target: `+target.srv.URL+`
    mode: shadow
    capture: {sample: 1, file: caps/reports.jsonl}
`)
	f, base := startFacade(t, cfg, WithShadower(rec))

	t.Run("dot segments climb out of a prefix route", func(t *testing.T) {
		resp, body := rawRequest(t, base, "GET /api/v2/../../admin/secret HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n")
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "legacy GET /admin/secret", body, "legacy answers, for the normalised path")
		assert.Zero(t, target.hits.Load(), "the /api/v2/ route's target never sees it")
	})
	t.Run("encoded dots and doubled slashes", func(t *testing.T) {
		resp, body := rawRequest(t, base, "GET //api//v2/x/%2e%2e/orders?q=1 HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n")
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "new GET /api/v2/orders?q=1", body, "matched and forwarded as /api/v2/orders")
	})
	t.Run("shadow copy and capture get the normalised path", func(t *testing.T) {
		resp, body := rawRequest(t, base, "GET /x/..//reports/./7 HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n")
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "legacy GET /reports/7", body)
		cp := rec.waitFor(t, 1)
		assert.Equal(t, "/reports/7", cp.URL.Path)
		assert.Equal(t, "reports", cp.Route)
	})
	for _, bad := range []string{"/api/v2/a%2Fb", "/api/v2/a%5c..%5cadmin", "/api/v2/..;/admin"} {
		t.Run("refused "+bad, func(t *testing.T) {
			before := legacy.hits.Load() + target.hits.Load()
			resp, body := rawRequest(t, base, "GET "+bad+" HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n")
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Contains(t, body, "request path")
			assert.Equal(t, before, legacy.hits.Load()+target.hits.Load(), "no backend sees it")
		})
	}
	require.NoError(t, f.Close()) // flushes the capture
	caps := readCaptures(t, cfg, "caps/reports.jsonl")
	require.Len(t, caps, 1)
	assert.Equal(t, "/reports/7", caps[0].Request.Path)
	assert.Equal(t, map[string]string{"id": "7"}, caps[0].Request.Vars)
}

func TestIngressStripsInternalHeaders(t *testing.T) {
	legacy := newUpstream(t, "legacy", nil)
	target := newUpstream(t, "new", nil)
	rec := &recordingShadower{}
	cfg := projectFile(t, legacy.srv.URL, `
  - name: orders
    match: {path: "/api/orders"}
    target: `+target.srv.URL+`
    mode: new
  - name: carts
    match: {path: "/api/carts"}
    target: `+target.srv.URL+`
    mode: shadow
    shadow: {writes: true}
`)
	_, base := startFacade(t, cfg, WithShadower(rec))
	c := newClient(t)
	send := func(t *testing.T, method, path string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(`{"qty":1}`))
		require.NoError(t, err)
		req.Header.Set("X-Strangler-Shadow", "1")
		req.Header["x-strangler-anything"] = []string{"client"} // sent as written, lower case
		req.Header["X_Strangler_Dry_Run"] = []string{"1"}
		resp, err := c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	noInternal := func(t *testing.T, who string, h http.Header) {
		t.Helper()
		for name := range h {
			assert.False(t, strings.HasPrefix(strings.ToLower(strings.ReplaceAll(name, "_", "-")), "x-strangler-"),
				"%s got the client's %s", who, name)
		}
	}

	t.Run("unmatched POST reaches legacy without them", func(t *testing.T) {
		send(t, "POST", "/elsewhere")
		got, body := legacy.lastRequest()
		assert.Equal(t, `{"qty":1}`, string(body))
		noInternal(t, "legacy", got.Header)
	})
	t.Run("POST on a new route reaches the target without them", func(t *testing.T) {
		send(t, "POST", "/api/orders")
		got, body := target.lastRequest()
		assert.Equal(t, `{"qty":1}`, string(body), "the target got the write")
		noInternal(t, "target", got.Header)
	})
	t.Run("the shadow copy of an allowed POST carries the facade's own", func(t *testing.T) {
		send(t, "POST", "/api/carts")
		got, _ := legacy.lastRequest()
		noInternal(t, "legacy", got.Header)
		cp := rec.waitFor(t, 1)
		assert.Equal(t, []string{"1"}, cp.Header[ShadowHeader])
		cp.Header.Del(ShadowHeader)
		noInternal(t, "the shadow copy", cp.Header)
	})
	t.Run("the shadow copy of a GET carries none", func(t *testing.T) {
		send(t, "GET", "/api/carts")
		cp := rec.waitFor(t, 2)
		noInternal(t, "the shadow copy", cp.Header)
	})
}
