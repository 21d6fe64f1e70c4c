package control

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/stranglerfig/strangler/proxy"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stretchr/testify/require"
)

// backendPair starts the legacy and new services of the replica tests:
// each answers 200 with X-Backend naming itself.
func backendPair(t testing.TB) (legacy, target *httptest.Server) {
	t.Helper()
	mk := func(name string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("X-Backend", name)
			io.WriteString(w, name)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	return mk("legacy"), mk("new")
}

func replicaConfig(t testing.TB, legacy, target string) *config.Config {
	t.Helper()
	y := fmt.Sprintf(`
legacy: %s
routes:
  - name: orders
    match: {path: /api/orders/{id}}
    target: %s
  - name: customers
    match: {path: /api/customers}
    target: %s
`, legacy, target, target)
	cfg, err := config.Parse("strangler.yaml", []byte(y), nil)
	require.NoError(t, err)
	return cfg
}

// replica is one facade process: facade, controller watching the store, and
// the admin API, each on a real loopback listener.
type replica struct {
	facade *proxy.Facade
	ctl    *Controller
	admin  *httptest.Server
	client *httptest.Server
}

func newReplica(t testing.TB, cfg *config.Config, store Store) *replica {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	f, err := proxy.New(cfg, proxy.WithLogger(quiet))
	require.NoError(t, err)
	ctl, err := NewController(cfg, store, f, WithControllerLogger(quiet))
	require.NoError(t, err)
	require.NoError(t, ctl.Load(context.Background()))
	ts, err := ParseTokens("alice:" + aliceToken)
	require.NoError(t, err)
	a, err := NewAdmin(ctl, ts, WithAdminLogger(quiet), WithGatherer(f.Registry()))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); ctl.Watch(ctx) }()
	r := &replica{facade: f, ctl: ctl, admin: httptest.NewServer(a), client: httptest.NewServer(f)}
	t.Cleanup(func() {
		cancel()
		<-done
		r.admin.Close()
		r.client.Close()
		f.Close()
		store.Close()
	})
	return r
}

func pgReplicas(t testing.TB, dsn string, n int) []*replica {
	t.Helper()
	legacy, target := backendPair(t)
	cfg := replicaConfig(t, legacy.URL, target.URL)
	out := make([]*replica, n)
	for i := range out {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		s, err := OpenPostgresStore(ctx, dsn, WithPostgresLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		cancel()
		require.NoError(t, err)
		out[i] = newReplica(t, cfg, s)
	}
	return out
}

// serves returns the backend that answers path on r's facade, without the
// network (the facade's handler directly).
func (r *replica) serves(path string) string {
	rec := httptest.NewRecorder()
	r.facade.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Header().Get("X-Backend")
}

// post calls the replica's admin API and returns status and body.
func (r *replica) post(t testing.TB, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.admin.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+aliceToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func (r *replica) get(t testing.TB, path string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.admin.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+aliceToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func TestReplicasShareRollbackOverPostgres(t *testing.T) {
	dsn := dbtest.Postgres(t)
	rs := pgReplicas(t, dsn, 2)
	a, b := rs[0], rs[1]
	both := func(want string) func() bool {
		return func() bool { return a.serves("/api/orders/1") == want && b.serves("/api/orders/1") == want }
	}
	require.True(t, both("legacy")(), "the project file's mode at start")

	code, body := a.post(t, "/routes/orders", `{"mode": "new", "reason": "cut over"}`)
	require.Equal(t, http.StatusOK, code, body)
	require.Eventually(t, both("new"), 10*time.Second, time.Millisecond, "both replicas serve the new service")

	code, body = b.post(t, "/rollback", `{"routes": ["orders"], "reason": "errors up"}`)
	require.Equal(t, http.StatusOK, code, body)
	require.Eventually(t, both("legacy"), 10*time.Second, time.Millisecond, "both replicas serve legacy after the rollback")
	require.Equal(t, "legacy", b.serves("/unmatched"))

	for _, r := range rs {
		var rr RoutesResponse
		require.NoError(t, json.Unmarshal([]byte(r.get(t, "/routes")), &rr))
		require.Equal(t, uint64(2), rr.Version)
		require.Equal(t, "legacy", rr.Routes[0].Mode)
		require.Equal(t, uint64(2), rr.Routes[0].Version)
		require.Contains(t, r.get(t, "/metrics"), "strangler_route_version 2")
		var hr HistoryResponse
		require.NoError(t, json.Unmarshal([]byte(r.get(t, "/history")), &hr))
		require.Len(t, hr.History, 2)
		require.Equal(t, "errors up", hr.History[1].Reason)
		require.Equal(t, "alice", hr.History[1].Who)
	}

	t.Run("disconnected replicas resync", func(t *testing.T) {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn)
		require.NoError(t, err)
		defer conn.Close(ctx)
		var n int
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = $1 AND datname = current_database()`, ListenerApplicationName).Scan(&n))
		require.Equal(t, 2, n, "both listeners terminated")
		// Written at once by a third writer, before the listeners are back.
		other, err := OpenPostgresStore(ctx, dsn)
		require.NoError(t, err)
		defer other.Close()
		require.NoError(t, other.Apply(ctx, 2, proxy.State{Version: 3, Routes: map[string]proxy.RouteState{"orders": {Mode: "new"}}}, nil))
		require.Eventually(t, both("new"), 10*time.Second, time.Millisecond, "both replicas reconnect and resync")
		require.Equal(t, uint64(3), a.ctl.State().Version)
		require.Equal(t, uint64(3), b.facade.Version())
	})
}

func TestReplicasShareRollbackOverFile(t *testing.T) {
	legacy, target := backendPair(t)
	cfg := replicaConfig(t, legacy.URL, target.URL)
	path := t.TempDir() + "/routes.state.json"
	var rs []*replica
	for range 2 {
		s, err := NewFileStore(path, WithFilePoll(10*time.Millisecond))
		require.NoError(t, err)
		rs = append(rs, newReplica(t, cfg, s))
	}
	code, body := rs[0].post(t, "/routes/customers", `{"mode": "new"}`)
	require.Equal(t, http.StatusOK, code, body)
	require.Eventually(t, func() bool { return rs[1].serves("/api/customers") == "new" }, 10*time.Second, time.Millisecond)
	code, body = rs[1].post(t, "/rollback", `{"all": true}`)
	require.Equal(t, http.StatusOK, code, body)
	require.Eventually(t, func() bool { return rs[0].serves("/api/customers") == "legacy" }, 10*time.Second, time.Millisecond)
}
