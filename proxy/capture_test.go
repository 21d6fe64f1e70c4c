package proxy

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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
func readCaptures(t *testing.T, cfg *config.Config, file string) []CaptureRecord {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(filepath.Dir(cfg.File), file))
	require.NoError(t, err)
	var recs []CaptureRecord
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var rec CaptureRecord
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec))
		recs = append(recs, rec)
	}
	require.NoError(t, sc.Err())
	return recs
}
