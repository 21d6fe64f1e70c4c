package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stranglerfig/strangler/proxy/control"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/dbconn"
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
func adminServer(t *testing.T, tokens string) (*httptest.Server, *control.Controller) {
	t.Helper()
	return wrappedAdminServer(t, tokens, func(h http.Handler) http.Handler { return h })
}

// wrappedAdminServer is adminServer with wrap around the admin handler.
func wrappedAdminServer(t *testing.T, tokens string, wrap func(http.Handler) http.Handler) (*httptest.Server, *control.Controller) {
	t.Helper()
	yaml := strings.ReplaceAll(routesProject, "%s", "http://127.0.0.1:9")
	cfg, err := config.Parse("strangler.yaml", []byte(yaml), dbconn.Parser{})
	require.NoError(t, err)
	store, err := control.NewFileStore(filepath.Join(t.TempDir(), "routes.state.json"))
	require.NoError(t, err)
	f, err := proxy.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	ctl, err := control.NewController(cfg, store, f)
	require.NoError(t, err)
	require.NoError(t, ctl.Load(context.Background()))
	ts, err := control.ParseTokens(tokens)
	require.NoError(t, err)
	admin, err := control.NewAdmin(ctl, ts, control.WithGatherer(f.Registry()))
	require.NoError(t, err)
	srv := httptest.NewServer(wrap(admin))
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
		var resp control.RoutesResponse
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
		var resp control.HistoryResponse
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

// headerLog records the method, path and Authorization header of every
// request a server receives.
type headerLog struct {
	mu   sync.Mutex
	seen []string // "METHOD PATH auth=VALUE"
}

func (l *headerLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.seen = append(l.seen, r.Method+" "+r.URL.Path+" auth="+r.Header.Get("Authorization"))
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (l *headerLog) requests() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seen)
}

// TestAdminClientChecksWhatAnswers points the CLI, token set, at servers
// that are not the admin API: none of them receives the token, and the
// CLI says what answered.
func TestAdminClientChecksWhatAnswers(t *testing.T) {
	realAdmin, ctl := adminServer(t, routesTestToken)
	t.Setenv(envAdminToken, routesTestToken)
	t.Setenv(envAdmin, "")
	for _, tc := range []struct {
		name     string
		handler  http.HandlerFunc
		answered string
	}{
		{"legacy page", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "<h1>Not found</h1>")
		}, "404 text/html; charset=utf-8"},
		{"catch-all page", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>shop</html>")
		}, "200 text/html"},
		{"another JSON API", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"service":"orders","version":"2.1"}`)
		}, `200 application/json: service is "orders"`},
		{"JSON that is not an object", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `[1, 2]`)
		}, "200 application/json, not a version document"},
		{"redirect to the admin API", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, realAdmin.URL+r.URL.Path, http.StatusFound)
		}, "302"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log headerLog
			other := httptest.NewServer(log.wrap(tc.handler))
			defer other.Close()
			for _, args := range [][]string{
				{"routes", "set", "customers", "--mode", "new"},
				{"routes", "list"},
				{"routes", "history"},
				{"rollback", "--all"},
			} {
				code, out, errOut := cli(t, append([]string{"--admin", other.URL}, args...)...)
				require.Equal(t, exitUsage, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
				require.Contains(t, errOut, other.URL+" is not a strangler admin API (GET /version answered "+tc.answered)
				require.Contains(t, errOut, "check --admin or STRANGLER_ADMIN")
				require.NotContains(t, errOut, routesTestToken)
			}
			reqs := log.requests()
			require.Len(t, reqs, 4, "one GET /version per command, nothing else")
			for _, r := range reqs {
				require.Equal(t, "GET /version auth=", r)
			}
		})
	}
	require.Zero(t, ctl.State().Version, "the real admin API was changed through a redirect")

	t.Run("a newer admin API", func(t *testing.T) {
		var log headerLog
		newer := httptest.NewServer(log.wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"service":"strangler-admin","api":2,"version":"v9.0.0"}`)
		})))
		defer newer.Close()
		code, _, errOut := cli(t, "--admin", newer.URL, "routes", "list")
		require.Equal(t, exitUsage, code, errOut)
		require.Contains(t, errOut, "the admin API at "+newer.URL+" (strangler v9.0.0) does not match this client: it speaks admin API version 2, this client speaks 1")
		require.Equal(t, []string{"GET /version auth="}, log.requests())
	})
}

// TestAdminClientSendsTokenAfterIdentity runs the CLI against the real
// admin API: it asks GET /version without the token, then sends the token.
func TestAdminClientSendsTokenAfterIdentity(t *testing.T) {
	var log headerLog
	srv, ctl := wrappedAdminServer(t, routesTestToken, log.wrap)
	t.Setenv(envAdminToken, routesTestToken)
	t.Setenv(envAdmin, srv.URL)
	code, out, errOut := cli(t, "routes", "set", "customers", "--mode", "new")
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Equal(t, []string{"GET /version auth=", "POST /routes/customers auth=Bearer " + routesTestToken}, log.requests())
	require.Equal(t, uint64(1), ctl.State().Version)
}

func TestDialable(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:9901": "127.0.0.1:9901", ":9901": "127.0.0.1:9901", "0.0.0.0:9901": "127.0.0.1:9901",
		"[::]:9901": "[::1]:9901", "admin.internal:9901": "admin.internal:9901", "[::1]:9901": "[::1]:9901",
	} {
		require.Equal(t, want, dialable(in), in)
	}
}
