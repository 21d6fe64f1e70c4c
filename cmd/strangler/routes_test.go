package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/proxy"
	"github.com/stretchr/testify/require"
)

const routesTestToken = "tok-ops-0123456789abcdef"

// routesProject is a project file with two routes; %s is the legacy and
// new backends' URL.
const routesProject = `
legacy: %s
routes:
  - name: orders-read
    match: {path: /api/orders/{id}, methods: [GET]}
    target: %s
    mode: canary
    percent: 30
    sticky: header:X-User-Id
  - name: customers
    match: {path: /api/customers}
    target: %s
    mode: shadow
`

// adminServer runs the real admin API (facade, controller, file store)
// on a loopback httptest listener.
func adminServer(t *testing.T, tokens string) (*httptest.Server, *proxy.Controller) {
	t.Helper()
	yaml := strings.ReplaceAll(routesProject, "%s", "http://127.0.0.1:9")
	cfg, err := config.Parse("strangler.yaml", []byte(yaml))
	require.NoError(t, err)
	store, err := proxy.NewFileStore(filepath.Join(t.TempDir(), "routes.state.json"))
	require.NoError(t, err)
	f, err := proxy.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	ctl, err := proxy.NewController(cfg, store, f)
	require.NoError(t, err)
	require.NoError(t, ctl.Load(context.Background()))
	ts, err := proxy.ParseTokens(tokens)
	require.NoError(t, err)
	admin, err := proxy.NewAdmin(ctl, ts, proxy.WithGatherer(f.Registry()))
	require.NoError(t, err)
	srv := httptest.NewServer(admin)
	t.Cleanup(srv.Close)
	return srv, ctl
}

// cli runs the CLI in-process and returns its exit code and output.
func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code = run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRoutesCommands(t *testing.T) {
	srv, ctl := adminServer(t, "ops:"+routesTestToken)
	t.Setenv(envAdminToken, routesTestToken)
	t.Setenv(envAdmin, "")
	admin := []string{"--admin", srv.URL}

	steps := []struct {
		name     string
		args     []string
		code     int
		stdout   []string // substrings of stdout
		stderr   []string // substrings of stderr
		wantVers uint64   // state version after the step
	}{
		{name: "list", args: []string{"routes", "list"}, code: exitOK,
			stdout: []string{"NAME", "MODE", "PERCENT", "TARGET", "BREAKER", "VERSION", "orders-read  canary  30", "customers    shadow  -"}},
		{name: "set canary", args: []string{"routes", "set", "orders-read", "--mode", "canary", "--percent", "50", "--reason", "step up"}, code: exitOK,
			stdout: []string{"1 route(s) changed, version 1", "orders-read  canary  50"}, wantVers: 1},
		{name: "set new with expected version", args: []string{"routes", "set", "customers", "--mode", "new", "--expect-version", "1"}, code: exitOK,
			stdout: []string{"version 2", "customers    new"}, wantVers: 2},
		{name: "stale version", args: []string{"routes", "set", "customers", "--mode", "legacy", "--expect-version", "1"}, code: exitFailed,
			stderr: []string{"409", "expect_version"}, wantVers: 2},
		{name: "percent without canary", args: []string{"routes", "set", "customers", "--mode", "new", "--percent", "5"}, code: exitFailed,
			stderr: []string{"400", "percent: only applies to mode canary"}, wantVers: 2},
		{name: "bad mode", args: []string{"routes", "set", "customers", "--mode", "sideways"}, code: exitFailed,
			stderr: []string{"mode:"}, wantVers: 2},
		{name: "unknown route", args: []string{"routes", "set", "nope", "--mode", "new"}, code: exitFailed,
			stderr: []string{"404", `route "nope" is not defined`}, wantVers: 2},
		{name: "mode missing", args: []string{"routes", "set", "customers"}, code: exitUsage,
			stderr: []string{"--mode is required"}, wantVers: 2},
		{name: "rollback one", args: []string{"rollback", "orders-read", "--reason", "errors up"}, code: exitOK,
			stdout: []string{"1 route(s) changed, version 3", "orders-read  legacy"}, wantVers: 3},
		{name: "rollback again is a no-op", args: []string{"rollback", "orders-read"}, code: exitOK,
			stdout: []string{"nothing to change (version 3)"}, wantVers: 3},
		{name: "rollback all", args: []string{"rollback", "--all", "--reason", "incident 7"}, code: exitOK,
			stdout: []string{"1 route(s) changed, version 4", "customers    legacy"}, wantVers: 4},
		{name: "rollback names and all", args: []string{"rollback", "--all", "customers"}, code: exitUsage,
			stderr: []string{"not both"}, wantVers: 4},
		{name: "rollback nothing", args: []string{"rollback"}, code: exitUsage,
			stderr: []string{"name at least one route"}, wantVers: 4},
		{name: "history", args: []string{"routes", "history"}, code: exitOK,
			stdout: []string{"WHEN", "VERSION", "ROUTE", "FROM", "TO", "WHO", "REASON", "canary 30%", "canary 50%", "ops", "step up", "errors up", "incident 7"}, wantVers: 4},
		{name: "bad output", args: []string{"routes", "list", "-o", "yaml"}, code: exitUsage,
			stderr: []string{`-o "yaml"`}, wantVers: 4},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			code, out, errOut := cli(t, append(admin, s.args...)...)
			require.Equal(t, s.code, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
			for _, want := range s.stdout {
				require.Contains(t, out, want)
			}
			for _, want := range s.stderr {
				require.Contains(t, errOut, want)
			}
			require.Equal(t, s.wantVers, ctl.State().Version)
		})
	}

	t.Run("list json", func(t *testing.T) {
		code, out, errOut := cli(t, append(admin, "routes", "list", "-o", "json")...)
		require.Equal(t, exitOK, code, errOut)
		var resp proxy.RoutesResponse
		require.NoError(t, json.Unmarshal([]byte(out), &resp))
		require.Equal(t, uint64(4), resp.Version)
		require.Len(t, resp.Routes, 2)
		require.Equal(t, "legacy", resp.Routes[0].Mode)
		require.Equal(t, "closed", resp.Routes[0].Breaker)
		require.Equal(t, uint64(4), resp.Routes[0].Version)
	})
	t.Run("history json", func(t *testing.T) {
		code, out, errOut := cli(t, append(admin, "routes", "history", "-o", "json")...)
		require.Equal(t, exitOK, code, errOut)
		var resp proxy.HistoryResponse
		require.NoError(t, json.Unmarshal([]byte(out), &resp))
		require.Len(t, resp.History, 4)
		require.Equal(t, "ops", resp.History[0].Who)
		require.Equal(t, proxy.RouteState{Mode: "canary", Percent: 50}, resp.History[0].To)
	})
}

func TestRoutesAuthAndDiscovery(t *testing.T) {
	srv, ctl := adminServer(t, routesTestToken)
	dir := t.TempDir()
	project := filepath.Join(dir, "strangler.yaml")
	addr := strings.TrimPrefix(srv.URL, "http://")
	require.NoError(t, os.WriteFile(project, []byte("admin:\n  listen: "+addr+"\n  token_env: MY_ADMIN_TOKEN\n"), 0o600))

	for _, tc := range []struct {
		name       string
		env        map[string]string
		args       []string
		code       int
		stderr     string
		wantChange bool
	}{
		{name: "no token", env: map[string]string{envAdmin: srv.URL}, code: exitFailed, stderr: "401"},
		{name: "wrong token", env: map[string]string{envAdmin: srv.URL, envAdminToken: "nope"}, code: exitFailed, stderr: "missing or wrong bearer token"},
		{name: "token list", env: map[string]string{envAdmin: srv.URL, envAdminToken: "a:x,b:y"}, code: exitUsage, stderr: "holds a list"},
		{name: "url from env", env: map[string]string{envAdmin: srv.URL, envAdminToken: routesTestToken}, code: exitOK, wantChange: true},
		{name: "url from project file, token from its token_env", env: map[string]string{"MY_ADMIN_TOKEN": routesTestToken},
			args: []string{"-c", project}, code: exitOK, wantChange: true},
		{name: "flag beats env", env: map[string]string{envAdmin: "http://127.0.0.1:1", envAdminToken: routesTestToken},
			args: []string{"--admin", srv.URL}, code: exitOK, wantChange: true},
		{name: "unreachable", env: map[string]string{envAdminToken: routesTestToken}, args: []string{"--admin", "http://127.0.0.1:1"},
			code: exitUsage, stderr: "calling the admin API"},
		{name: "no admin anywhere", env: map[string]string{}, args: []string{"-c", filepath.Join(dir, "missing.yaml")},
			code: exitUsage, stderr: "missing.yaml"},
		{name: "bad url", env: map[string]string{}, args: []string{"--admin", "ftp://x"}, code: exitUsage, stderr: "want http(s)://host:port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{envAdmin, envAdminToken, "MY_ADMIN_TOKEN"} {
				t.Setenv(k, tc.env[k])
			}
			before := ctl.State().Version
			mode := []string{"legacy", "new"}[before%2]
			args := append(tc.args, "routes", "set", "customers", "--mode", mode)
			code, out, errOut := cli(t, args...)
			require.Equal(t, tc.code, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
			require.Contains(t, errOut, tc.stderr)
			require.NotContains(t, errOut, routesTestToken, "the token leaked into the output")
			if tc.wantChange {
				require.Equal(t, before+1, ctl.State().Version)
			} else {
				require.Equal(t, before, ctl.State().Version, "a refused call changed the state")
			}
		})
	}
}
