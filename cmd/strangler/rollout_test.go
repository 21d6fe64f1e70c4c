package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/proxy/control"
)

// TestRolloutEndToEnd runs `strangler proxy` with a rollout plan in front
// of real listeners: the controller moves the route through its stages on
// healthy traffic; when the target starts answering 500 mid-canary the
// controller rolls the route back within one window, clients never see an
// error (the route falls back to legacy), and the reason is in `routes
// history`.
func TestRolloutEndToEnd(t *testing.T) {
	t.Setenv(envAdminToken, routesTestToken)
	t.Setenv(envAdmin, "")
	legacy := pxBackend(t, "legacy")
	var failing atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Backend", "new")
		if failing.Load() {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "new")
	}))
	t.Cleanup(target.Close)
	const window = 3 * time.Second
	listen, admin := freeAddr(t), freeAddr(t)
	dir := t.TempDir()
	project := filepath.Join(dir, "strangler.yaml")
	require.NoError(t, os.WriteFile(project, []byte(fmt.Sprintf(`listen: %s
legacy: %s
admin: {listen: %s}
routes:
  - name: orders-read
    match: {path: /api/orders/{id}, methods: [GET]}
    target: %s
    fallback: legacy
    shadow: {sample: 0}
    rollout:
      stages: [10, 50, new]
      window: %s
      gates: {min_requests: 10, error_rate: 5, p99_ratio: 50}
`, listen, legacy.URL, admin, target.URL, window)), 0o600))
	p := startProxy(t, project, listen, admin)

	// Clients, all the time: none may fail.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent, failed atomic.Int64
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				resp, err := http.Get("http://" + listen + "/api/orders/" + strconv.Itoa(w*100000+i))
				sent.Add(1)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()

	mode := func() (string, float64, string) {
		var resp control.RoutesResponse
		_, err := newTestAdminClient(t, admin).call(http.MethodGet, "/routes", &resp)
		require.NoError(t, err)
		r := resp.Routes[0]
		return r.Mode, r.Percent, r.Hold
	}
	require.Eventually(t, func() bool { m, pct, _ := mode(); return m == "canary" && pct == 10 }, 10*time.Second, 20*time.Millisecond,
		"the controller starts the route in its first stage")
	rolloutView := func() string {
		var ro control.RolloutResponse
		newTestAdminClient(t, admin).call(http.MethodGet, "/rollout", &ro)
		b, _ := json.Marshal(ro)
		return string(b)
	}
	if !assert.Eventually(t, func() bool { m, pct, _ := mode(); return m == "canary" && pct == 50 }, 6*window, 20*time.Millisecond,
		"healthy for a window: the next stage") {
		t.Fatalf("the controller's view: %s", rolloutView())
	}

	failing.Store(true)
	broke := time.Now()
	require.Eventually(t, func() bool { m, _, hold := mode(); return m == "legacy" && hold == control.HoldAborted }, window, 10*time.Millisecond,
		"the controller rolls the route back within one window")
	took := time.Since(broke)
	t.Logf("rolled back %v after the target started failing; %d requests sent", took, sent.Load())

	var ro control.RolloutResponse
	_, err := newTestAdminClient(t, admin).call(http.MethodGet, "/rollout", &ro)
	require.NoError(t, err)
	require.True(t, ro.Leader)
	require.Equal(t, control.RolloutAborted, ro.Routes[0].Status)

	code, out, errOut := cli(t, "-c", project, "routes", "history")
	require.Equal(t, exitOK, code, errOut)
	t.Logf("routes history:\n%s", out)
	assert.Regexp(t, `orders-read\s+canary 10%\s+canary 50%\s+rollout\s+rollout: stage 10% held for 3s`, out)
	assert.Regexp(t, `orders-read\s+canary 50%\s+legacy \(rollout aborted\)\s+rollout\s+rollout: rolled back: gate broken over the last`, out)
	assert.Contains(t, out, "requests failed")

	code, out, errOut = cli(t, "-c", project, "routes", "resume", "orders-read", "--reason", "fixed")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "1 route(s) changed")
	failing.Store(false)
	require.Eventually(t, func() bool { m, pct, _ := mode(); return m == "canary" && pct == 10 }, 10*time.Second, 20*time.Millisecond,
		"resumed: the controller starts again from the first stage")
	for _, want := range []string{"canary", "new"} {
		code, _, errOut = cli(t, "-c", project, "routes", "promote", "orders-read")
		require.Equal(t, exitOK, code, errOut)
		m, _, _ := mode()
		assert.Equal(t, want, m)
	}
	code, _, errOut = cli(t, "-c", project, "routes", "promote", "orders-read")
	assert.Equal(t, exitFailed, code, "a refused change exits 1")
	assert.Contains(t, errOut, "last stage")

	close(stop)
	wg.Wait()
	stop = make(chan struct{})
	assert.Zero(t, failed.Load(), "no client request failed because of the migration (%d sent)", sent.Load())
	require.NotContains(t, p.stderr.String(), routesTestToken)
}

// testAdminClient calls the admin API with the test token.
type testAdminClient struct {
	t    *testing.T
	base string
}

func newTestAdminClient(t *testing.T, addr string) testAdminClient {
	return testAdminClient{t: t, base: "http://" + addr}
}

func (c testAdminClient) call(method, path string, out any) (int, error) {
	req, err := http.NewRequest(method, c.base+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+routesTestToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
}
