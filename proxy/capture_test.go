package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"github.com/stranglerfig/strangler/proxy/capture"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
)

func TestCaptureRedacts(t *testing.T) {
	legacy := newUpstream(t, "legacy", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "session=s3cr3t-session")
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":7,"owner":{"name":"ann","password":"s3cr3t-pw"},"items":[{"token":"s3cr3t-tok"}]}`))
	})
	cfg := projectFile(t, legacy.srv.URL, `
  - name: orders
    match: {path: "/api/orders/{id}"}
    target: http://127.0.0.1:1
    capture: {sample: 1, max: 3, file: caps/orders.jsonl, redact: [X-Api-Key, password, token]}
`)
	f, err := New(cfg, WithLogger(quietLogger(t)))
	require.NoError(t, err)
	srv := httptest.NewServer(f)
	c := newClient(t)
	for i := 0; i < 5; i++ {
		code, _, _ := do(t, c, "POST", srv.URL+"/api/orders/7?v=1", `{"password":"s3cr3t-pw","qty":1}`, map[string]string{
			"Authorization": "Bearer s3cr3t-bearer", "Cookie": "session=s3cr3t-session",
			"X-Api-Key": "s3cr3t-key", "Content-Type": "application/json",
		})
		require.Equal(t, http.StatusOK, code)
	}
	srv.Close()
	require.NoError(t, f.Close())

	data, err := os.ReadFile(filepath.Join(filepath.Dir(cfg.File), "caps/orders.jsonl"))
	require.NoError(t, err)
	assert.NotContains(t, string(data), "s3cr3t", "no secret reaches the capture file")
	recs := readCaptures(t, cfg, "caps/orders.jsonl")
	require.Len(t, recs, 3, "capture.max bounds the records")
	rec := recs[0]
	assert.Equal(t, "orders", rec.Route)
	assert.Equal(t, "POST", rec.Request.Method)
	assert.Equal(t, "/api/orders/7", rec.Request.Path)
	assert.Equal(t, "v=1", rec.Request.Query)
	assert.Equal(t, map[string]string{"id": "7"}, rec.Request.Vars)
	assert.NotEmpty(t, rec.RequestID)
	for _, h := range []string{"Authorization", "Cookie", "X-Api-Key"} {
		assert.Equal(t, []string{Redacted}, rec.Request.Header[h], h)
	}
	assert.Equal(t, []string{Redacted}, rec.Response.Header["Set-Cookie"])
	assert.JSONEq(t, `{"password":"[REDACTED]","qty":1}`, rec.Request.Body)
	assert.Equal(t, http.StatusOK, rec.Response.Status)
	assert.JSONEq(t, `{"id":7,"owner":{"name":"ann","password":"[REDACTED]"},"items":[{"token":"[REDACTED]"}]}`, rec.Response.Body)
	_, legacyBody := legacy.lastRequest()
	assert.Equal(t, `{"password":"s3cr3t-pw","qty":1}`, string(legacyBody), "legacy gets the body unchanged")
}

// readCaptures reads back a route's capture file (a path relative to the
// project file).
func readCaptures(t *testing.T, cfg *config.Config, file string) []capture.Record {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(filepath.Dir(cfg.File), file))
	require.NoError(t, err)
	var recs []capture.Record
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var rec capture.Record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec))
		recs = append(recs, rec)
	}
	require.NoError(t, sc.Err())
	return recs
}

// TestCaptureRedactsEverywhere sends secrets in every place a request can
// carry them, under always-redacted names and under names of the route's
// capture.redact, and reads the capture file, the access log and the
// redacted shadow copies back.
func TestCaptureRedactsEverywhere(t *testing.T) {
	legacy := newUpstream(t, "legacy", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "sid=s3cr3t-cookie")
		w.Header().Set("X-Auth-Token", "s3cr3t-resp-header")
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true,"session":{"refresh_token":"s3cr3t-resp-json"}}`))
	})
	cfg := projectFile(t, legacy.srv.URL, `
  - name: reset
    match: {path: "/api/reset/{token}/{step}"}
    target: http://127.0.0.1:1
    mode: shadow
    shadow: {writes: true}
    capture: {sample: 1, file: caps/reset.jsonl, redact: [X-Session, PIN]}
`)
	cfg.Proxy.MaxBodyCopy = 512
	var logBuf lockedBuffer
	rec := &recordingShadower{}
	f, err := New(cfg, WithLogger(slog.New(slog.NewJSONHandler(&logBuf, nil))), WithShadower(rec))
	require.NoError(t, err)
	srv := httptest.NewServer(f)
	c := newClient(t)

	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	require.NoError(t, mw.WriteField("user", "ann"))
	require.NoError(t, mw.WriteField("Password", "s3cr3t-multipart"))
	require.NoError(t, mw.Close())
	type sent struct {
		name, method, path, ctype, body string
		hdr                             map[string]string
	}
	requests := []sent{
		{"query and headers", "GET", "/api/reset/s3cr3t-path/2?api_key=s3cr3t-q1&Password=s3cr3t-q2&pin=s3cr3t-q3&page=2", "", "",
			map[string]string{"X-Auth-Token": "s3cr3t-h1", "X-Amz-Security-Token": "s3cr3t-h2", "x-session": "s3cr3t-h3", "Accept": "application/json"}},
		{"form body", "POST", "/api/reset/s3cr3t-path/3", "application/x-www-form-urlencoded", "user=ann&password=s3cr3t-f1&PIN=s3cr3t-f2&keep=1", nil},
		{"nested JSON", "POST", "/api/reset/s3cr3t-path/4", "application/json",
			`{"user":{"name":"ann","profile":{"client_secret":"s3cr3t-j1"}},"list":[{"Pin":"s3cr3t-j2"},{"n":1}]}`, nil},
		{"multipart form", "POST", "/api/reset/s3cr3t-path/5", mw.FormDataContentType(), mp.String(), nil},
		{"truncated JSON", "POST", "/api/reset/s3cr3t-path/6", "application/json",
			`{"pad":"` + strings.Repeat("x", 600) + `","password":"s3cr3t-cut"}`, nil},
	}
	for _, r := range requests {
		hdr := map[string]string{}
		for k, v := range r.hdr {
			hdr[k] = v
		}
		if r.ctype != "" {
			hdr["Content-Type"] = r.ctype
		}
		code, _, _ := do(t, c, r.method, srv.URL+r.path, r.body, hdr)
		require.Equal(t, http.StatusOK, code, r.name)
		_, got := legacy.lastRequest()
		assert.Equal(t, r.body, string(got), "%s: legacy gets the body unchanged", r.name)
	}
	rec.waitFor(t, 4) // the truncated body is not shadowed
	srv.Close()
	require.NoError(t, f.Close())

	data, err := os.ReadFile(filepath.Join(filepath.Dir(cfg.File), "caps/reset.jsonl"))
	require.NoError(t, err)
	assert.NotContains(t, string(data), "s3cr3t", "no secret in the capture file")
	assert.NotContains(t, logBuf.String(), "s3cr3t", "no secret in the log")
	recs := readCaptures(t, cfg, "caps/reset.jsonl")
	require.Len(t, recs, len(requests))

	t.Run("path variable", func(t *testing.T) {
		assert.Equal(t, "/api/reset/[REDACTED]/2", recs[0].Request.Path)
		assert.Equal(t, map[string]string{"token": Redacted, "step": "2"}, recs[0].Request.Vars)
	})
	t.Run("query", func(t *testing.T) {
		q, err := url.ParseQuery(recs[0].Request.Query)
		require.NoError(t, err)
		assert.Equal(t, url.Values{"api_key": {Redacted}, "Password": {Redacted}, "pin": {Redacted}, "page": {"2"}}, q)
	})
	t.Run("headers", func(t *testing.T) {
		h := recs[0].Request.Header
		for _, name := range []string{"X-Auth-Token", "X-Amz-Security-Token", "X-Session"} {
			assert.Equal(t, []string{Redacted}, h[name], name)
		}
		assert.Equal(t, []string{"application/json"}, h["Accept"])
		assert.Equal(t, []string{Redacted}, recs[0].Response.Header["Set-Cookie"])
		assert.Equal(t, []string{Redacted}, recs[0].Response.Header["X-Auth-Token"])
	})
	t.Run("form body", func(t *testing.T) {
		q, err := url.ParseQuery(recs[1].Request.Body)
		require.NoError(t, err)
		assert.Equal(t, url.Values{"user": {"ann"}, "password": {Redacted}, "PIN": {Redacted}, "keep": {"1"}}, q)
	})
	t.Run("nested JSON", func(t *testing.T) {
		assert.JSONEq(t, `{"user":{"name":"ann","profile":{"client_secret":"[REDACTED]"}},"list":[{"Pin":"[REDACTED]"},{"n":1}]}`, recs[2].Request.Body)
		assert.JSONEq(t, `{"ok":true,"session":{"refresh_token":"[REDACTED]"}}`, recs[2].Response.Body)
	})
	t.Run("multipart form", func(t *testing.T) {
		rd := multipart.NewReader(strings.NewReader(recs[3].Request.Body), mw.Boundary())
		form, err := rd.ReadForm(1 << 20)
		require.NoError(t, err)
		assert.Equal(t, map[string][]string{"user": {"ann"}, "Password": {Redacted}}, form.Value)
	})
	t.Run("a JSON body cut short is redacted whole", func(t *testing.T) {
		assert.True(t, recs[4].Request.Truncated)
		assert.Equal(t, Redacted, recs[4].Request.Body)
	})
	t.Run("shadow copies: sent whole, stored redacted", func(t *testing.T) {
		cp := rec.waitFor(t, 1)
		assert.Equal(t, "s3cr3t-h1", cp.Header.Get("X-Auth-Token"), "the copy sent to the target is whole")
		assert.Contains(t, cp.URL.Path, "s3cr3t-path")
		for i := 1; i <= 4; i++ {
			red := rec.waitFor(t, i).Redacted()
			b, err := json.Marshal(struct {
				URL    string
				Header http.Header
				Body   string
				Answer ShadowResponse
			}{red.URL.String(), red.Header, string(red.Body), red.Answer})
			require.NoError(t, err)
			assert.NotContains(t, string(b), "s3cr3t", "redacted copy %d: %s", i, b)
		}
		red := cp.Redacted()
		assert.Equal(t, "/api/reset/[REDACTED]/2", red.URL.Path)
		assert.Equal(t, "2", red.URL.Query().Get("page"))
		assert.Equal(t, "s3cr3t-h1", cp.Header.Get("X-Auth-Token"), "Redacted leaves the copy whole")
	})
}

// lockedBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
