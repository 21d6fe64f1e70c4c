package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/stranglerfig/strangler/proxy/control"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stretchr/testify/require"
)

func pxBackend(t *testing.T, name string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Backend", name)
		io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// proxyProject writes a project file for `strangler proxy` and returns its
// path and the client and admin addresses.
func proxyProject(t *testing.T, dir, state string) (path, listen, admin string) {
	t.Helper()
	legacy, target := pxBackend(t, "legacy"), pxBackend(t, "new")
	listen, admin = freeAddr(t), freeAddr(t)
	y := fmt.Sprintf(`listen: %s
legacy: %s
admin:
  listen: %s
state: %s
proxy:
  shutdown_timeout: 2s
routes:
  - name: orders-read
    match: {path: /api/orders/{id}, methods: [GET]}
    target: %s
    mode: new
`, listen, legacy.URL, admin, state, target.URL)
	path = filepath.Join(dir, "strangler.yaml")
	require.NoError(t, os.WriteFile(path, []byte(y), 0o600))
	return path, listen, admin
}

// runningProxy is `strangler proxy` running in-process.
type runningProxy struct {
	cancel context.CancelFunc
	done   chan int
	stderr *lockedBuffer
	listen string
	admin  string
}

func startProxy(t *testing.T, project, listen, admin string) *runningProxy {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &runningProxy{cancel: cancel, done: make(chan int, 1), stderr: &lockedBuffer{}, listen: listen, admin: admin}
	go func() { p.done <- run(ctx, []string{"proxy", "-c", project}, io.Discard, p.stderr) }()
	t.Cleanup(func() { p.stop(t) })
	require.Eventually(t, func() bool {
		select {
		case code := <-p.done:
			p.done <- code
			return true // exited early; reported below
		default:
		}
		resp, err := http.Get("http://" + admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 5*time.Millisecond)
	select {
	case code := <-p.done:
		t.Fatalf("strangler proxy exited with %d:\n%s", code, p.stderr)
	default:
	}
	return p
}

// stop sends the equivalent of SIGTERM (the command's context is cancelled)
// and returns the exit code.
func (p *runningProxy) stop(t *testing.T) int {
	t.Helper()
	p.cancel()
	select {
	case code := <-p.done:
		p.done <- code
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("strangler proxy did not stop within 30s:\n%s", p.stderr)
		return -1
	}
}

func (p *runningProxy) backend(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + p.listen + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return resp.Header.Get("X-Backend")
}

func TestProxyCommandRollbackSurvivesRestart(t *testing.T) {
	t.Setenv(envAdminToken, routesTestToken)
	t.Setenv(envAdmin, "")
	dir := t.TempDir()
	project, listen, admin := proxyProject(t, dir, "routes.state.json")
	p := startProxy(t, project, listen, admin)
	require.Equal(t, "new", p.backend(t, "/api/orders/1"))
	require.Equal(t, "legacy", p.backend(t, "/elsewhere"))
	require.Contains(t, p.stderr.String(), "facade ready")
	require.NotContains(t, p.stderr.String(), "WITHOUT AUTHENTICATION")

	code, out, errOut := cli(t, "-c", project, "rollback", "orders-read", "--reason", "errors up")
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Equal(t, "legacy", p.backend(t, "/api/orders/1"), "the rollback is in force when the call returns")
	code, out, _ = cli(t, "-c", project, "routes", "list")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "orders-read  legacy")

	require.Equal(t, exitOK, p.stop(t))
	require.Contains(t, p.stderr.String(), "facade stopped")
	_, err := os.Stat(filepath.Join(dir, "routes.state.json"))
	require.NoError(t, err, "the state file sits next to the project file")

	p2 := startProxy(t, project, listen, admin)
	require.Equal(t, "legacy", p2.backend(t, "/api/orders/1"), "the rollback survives the restart")
	code, out, _ = cli(t, "-c", project, "routes", "history")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "errors up")
	require.Contains(t, out, "admin")
	require.NotContains(t, p2.stderr.String(), routesTestToken, "the token reached the log")

	// The override shows where it came from, and the restart warned that it
	// differs from the file.
	require.Contains(t, p2.stderr.String(), "route orders-read runs in mode legacy (override by admin at ")
	require.Contains(t, p2.stderr.String(), "`strangler routes reset orders-read` returns it to the file")
	code, out, _ = cli(t, "-c", project, "routes", "list")
	require.Equal(t, exitOK, code)
	require.Regexp(t, `orders-read\s+legacy\s.*override by admin at \S+ \(file: new\)`, out)
	code, out, _ = cli(t, "-c", project, "routes", "list", "-o", "json")
	require.Equal(t, exitOK, code)
	var listed control.RoutesResponse
	require.NoError(t, json.Unmarshal([]byte(out), &listed))
	require.Equal(t, control.SourceOverride, listed.Routes[0].Source)
	require.Equal(t, "new", listed.Routes[0].File.Mode)
	require.Equal(t, "errors up", listed.Routes[0].Override.Reason)

	code, out, errOut = cli(t, "-c", project, "routes", "reset", "--all", "--reason", "back to the file")
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Contains(t, out, "1 route(s) changed")
	require.Equal(t, "new", p2.backend(t, "/api/orders/1"), "the file's mode is in force once the reset returns")
	code, out, _ = cli(t, "-c", project, "routes", "list")
	require.Equal(t, exitOK, code)
	require.Regexp(t, `orders-read\s+new\s.*\sfile\n`, out)
	code, out, _ = cli(t, "-c", project, "routes", "history", "-o", "json")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, `"reset": true`)
	code, out, _ = cli(t, "-c", project, "routes", "history")
	require.Equal(t, exitOK, code)
	require.Regexp(t, `orders-read\s+legacy\s+new \(file, reset\)\s+admin\s+back to the file`, out)
	code, _, errOut = cli(t, "-c", project, "routes", "reset")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "routes reset: name at least one route, or give --all")
}

func TestProxyCommandWithoutTokenOnLoopbackWarns(t *testing.T) {
	t.Setenv(envAdminToken, "")
	project, listen, admin := proxyProject(t, t.TempDir(), "routes.state.json")
	p := startProxy(t, project, listen, admin)
	require.Contains(t, p.stderr.String(), "ADMIN API WITHOUT AUTHENTICATION")
	code, _, errOut := cli(t, "--admin", "http://"+admin, "routes", "set", "orders-read", "--mode", "shadow")
	require.Equal(t, exitOK, code, errOut)
}

func TestProxyCommandRefusesToStart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		token  string
		edit   func(t *testing.T, project, dir string)
		stderr string
	}{
		{name: "bad project file", token: routesTestToken, edit: func(t *testing.T, project, _ string) {
			require.NoError(t, os.WriteFile(project, []byte("listen: nowhere\nroutes: 3\n"), 0o600))
		}, stderr: "strangler.yaml"},
		{name: "non-loopback admin without token", edit: func(t *testing.T, project, _ string) {
			b, err := os.ReadFile(project)
			require.NoError(t, err)
			y := strings.Replace(string(b), "admin:\n  listen: 127.0.0.1:", "admin:\n  listen: 0.0.0.0:", 1)
			require.NoError(t, os.WriteFile(project, []byte(y), 0o600))
		}, stderr: "needs a token"},
		{name: "malformed token list", token: "a:x,b", stderr: "expected name:token"},
		{name: "corrupt state file", token: routesTestToken, edit: func(t *testing.T, _, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "routes.state.json"), []byte(`{"version": 2, "routes": {"orders-read": {"mode": "sideways"}}}`), 0o600))
		}, stderr: "routes.orders-read.mode"},
		{name: "state directory missing", token: routesTestToken, edit: func(t *testing.T, project, _ string) {
			b, err := os.ReadFile(project)
			require.NoError(t, err)
			y := strings.Replace(string(b), "state: routes.state.json", "state: missing/dir/routes.state.json", 1)
			require.NoError(t, os.WriteFile(project, []byte(y), 0o600))
		}, stderr: "missing/dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(envAdminToken, tc.token)
			dir := t.TempDir()
			project, _, admin := proxyProject(t, dir, "routes.state.json")
			if tc.edit != nil {
				tc.edit(t, project, dir)
			}
			code, _, errOut := cli(t, "proxy", "-c", project)
			require.Equal(t, exitUsage, code, errOut)
			require.Contains(t, errOut, tc.stderr)
			_, err := net.DialTimeout("tcp", admin, time.Second)
			require.Error(t, err, "nothing listens after a refused start")
		})
	}
}

// TestProxyCommandReplicasOverPostgres runs two `strangler proxy` processes
// (in-process) sharing PostgreSQL state: a rollback through one reaches both.
func TestProxyCommandReplicasOverPostgres(t *testing.T) {
	t.Setenv(envAdminToken, routesTestToken)
	t.Setenv(envAdmin, "")
	dsn := dbtest.Postgres(t)
	var ps []*runningProxy
	for range 2 {
		project, listen, admin := proxyProject(t, t.TempDir(), dsn)
		ps = append(ps, startProxy(t, project, listen, admin))
	}
	for _, p := range ps {
		require.Equal(t, "new", p.backend(t, "/api/orders/1"))
	}
	code, out, errOut := cli(t, "--admin", "http://"+ps[0].admin, "rollback", "--all", "--reason", "incident")
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Eventually(t, func() bool {
		return ps[0].backend(t, "/api/orders/1") == "legacy" && ps[1].backend(t, "/api/orders/1") == "legacy"
	}, 10*time.Second, time.Millisecond)
	code, out, _ = cli(t, "--admin", "http://"+ps[1].admin, "routes", "list")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "orders-read  legacy  -        ")
	require.NotContains(t, ps[0].stderr.String(), "password")
}
