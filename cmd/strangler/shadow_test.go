package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stranglerfig/strangler/shadow"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shadowBackends are a legacy that makes up a request id per answer and a
// target that answers order 2 with another total.
func shadowBackends(t *testing.T) (legacy, target *httptest.Server) {
	t.Helper()
	answer := func(w http.ResponseWriter, id, total, reqID string) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"data": {"id": %s, "total": %q}, "meta": {"requestId": %q}}`, id, total, reqID)
	}
	legacyMux := http.NewServeMux()
	legacyMux.HandleFunc("GET /api/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		var b [8]byte
		rand.Read(b[:])
		answer(w, r.PathValue("id"), "10.00", hex.EncodeToString(b[:]))
	})
	legacy = httptest.NewServer(legacyMux)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		total := "10.00"
		if r.PathValue("id") == "2" {
			total = "10.0"
		}
		answer(w, r.PathValue("id"), total, "fixed")
	})
	target = httptest.NewServer(mux)
	t.Cleanup(legacy.Close)
	t.Cleanup(target.Close)
	return legacy, target
}

// TestShadowCommands runs a facade with a route in mode shadow and reads its
// comparisons through the CLI: the report (text and JSON, with the --min
// gate), replay (sent again, and as curl commands) and noise (pin, clear).
func TestShadowCommands(t *testing.T) {
	t.Setenv(envAdminToken, routesTestToken)
	t.Setenv(envAdmin, "")
	legacy, target := shadowBackends(t)
	dir := t.TempDir()
	listen, admin := freeAddr(t), freeAddr(t)
	project := filepath.Join(dir, "strangler.yaml")
	writeFile(t, project, fmt.Sprintf(`listen: %s
legacy: %s
admin: {listen: %s}
state: routes.state.json
routes:
  - name: orders-read
    match: {path: /api/orders/{id}, methods: [GET]}
    target: %s
    mode: shadow
    shadow: {learn_sample: 100}
`, listen, legacy.URL, admin, target.URL))
	p := startProxy(t, project, listen, admin)

	for i := range 10 {
		resp, err := http.Get(fmt.Sprintf("http://%s/api/orders/%d", listen, i%5+1))
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	var rep shadow.ReportResponse
	require.Eventually(t, func() bool {
		code, out, _ := cli(t, "-c", project, "shadow", "report", "-o", "json")
		rep = shadow.ReportResponse{}
		return code == exitOK && json.Unmarshal([]byte(out), &rep) == nil && len(rep.Routes) == 1 && rep.Routes[0].Compared == 10
	}, 20*time.Second, 50*time.Millisecond, "ten comparisons reach the report")
	r := rep.Routes[0]
	assert.Equal(t, int64(8), r.Matched)
	assert.Equal(t, int64(2), r.Differed)
	assert.InDelta(t, 80.0, r.MatchRate, 0.001)
	require.NotEmpty(t, r.Paths)
	assert.Equal(t, "$.data.total", r.Paths[0].Path)
	assert.Equal(t, int64(2), r.Paths[0].Count)
	require.NotEmpty(t, r.Paths[0].Examples)
	assert.Equal(t, `"10.00"`, r.Paths[0].Examples[0].Legacy)
	assert.Equal(t, `"10.0"`, r.Paths[0].Examples[0].New)
	require.Len(t, r.Paths, 1, "the made-up request id is noise, silenced from the first comparison")
	require.Len(t, r.Noise, 1)
	assert.Equal(t, "$.meta.requestId", r.Noise[0].Path)

	code, out, errOut := cli(t, "-c", project, "shadow", "report", "orders-read")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "orders-read: 80.00% match (10 compared: 8 matched, 2 differed, 0 errors; 0 dropped)")
	assert.Regexp(t, `\$\.data\.total\s+2\s+legacy "10\.00", new "10\.0" \(\w+\)`, out)
	assert.Contains(t, out, "$.meta.requestId (seen 10 times)")

	code, _, errOut = cli(t, "-c", project, "shadow", "report", "orders-read", "--min", "90")
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, errOut, "orders-read matched 80.00% < 90.00%")
	code, _, _ = cli(t, "-c", project, "shadow", "report", "--min", "75")
	assert.Equal(t, exitOK, code)
	code, _, errOut = cli(t, "-c", project, "shadow", "report", "orders-write", "--min", "75")
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, errOut, `route: "orders-write" is not a route of the project file`)

	id := r.Paths[0].Examples[0].ID
	code, out, errOut = cli(t, "-c", project, "shadow", "replay", id)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "GET /api/orders/2 (route orders-read; legacy asked again): diff")
	assert.Regexp(t, `\$\.data\.total\s+changed\s+legacy "10\.00"\s+new "10\.0"`, out)
	assert.Regexp(t, `\$\.meta\.requestId\s+noise \(silenced\)`, out)

	code, out, errOut = cli(t, "-c", project, "shadow", "replay", id, "--curl")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "curl -sS -i -X 'GET'")
	assert.Contains(t, out, "'"+legacy.URL+"/api/orders/2'")
	assert.Contains(t, out, "'"+target.URL+"/api/orders/2'")

	code, _, errOut = cli(t, "-c", project, "shadow", "replay", "nosuchrecord")
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, errOut, "no such shadow record")

	code, out, errOut = cli(t, "-c", project, "shadow", "noise", "orders-read", "--pin", "$.data.updatedAt")
	require.Equal(t, exitOK, code, errOut)
	assert.Regexp(t, `orders-read\s+\$\.data\.updatedAt\s+0\s+true`, out)
	code, _, errOut = cli(t, "-c", project, "shadow", "noise", "orders-read", "--pin", "$.data[")
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, errOut, "$.data[")
	code, out, errOut = cli(t, "-c", project, "shadow", "noise", "orders-read", "--clear")
	require.Equal(t, exitOK, code, errOut)
	assert.NotContains(t, out, "$.meta.requestId", "clear forgets the learned path")
	assert.Contains(t, out, "$.data.updatedAt", "and keeps the pinned one")

	require.Equal(t, exitOK, p.stop(t))
	left, err := os.ReadDir(filepath.Join(dir, "shadow"))
	require.NoError(t, err, "the file store sits next to the project file")
	assert.NotEmpty(t, left)
	assert.False(t, strings.Contains(p.stderr.String(), routesTestToken))
}

// TestCheckRefusesABadComparisonRule: strangler check has the routes'
// comparison rules checked by the differ, at their line.
func TestCheckRefusesABadComparisonRule(t *testing.T) {
	project := filepath.Join(t.TempDir(), "strangler.yaml")
	writeFile(t, project, "legacy: http://127.0.0.1:9000\nroutes:\n  - name: a\n    match: {path: /a}\n    target: http://127.0.0.1:9100\n    mode: shadow\n    shadow: {ignore: [\"$.items[\"]}\n")
	code, _, errOut := runCLI(t, "check", "-c", project)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, `:7: routes[0].shadow.ignore[0]: "$.items[": unclosed bracket`)
}
