package control

import (
	"context"
	"github.com/stranglerfig/strangler/proxy"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stretchr/testify/require"
)

func openPG(t *testing.T, dsn string) *PostgresStore {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := OpenPostgresStore(ctx, dsn, WithPostgresLogger(testLogger(t)))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPostgresStoreApplyLoadHistory(t *testing.T) {
	ctx := context.Background()
	dsn := dbtest.Postgres(t)
	s := openPG(t, dsn)
	st, err := s.Load(ctx)
	require.NoError(t, err)
	require.Equal(t, proxy.State{Routes: map[string]proxy.RouteState{}}, st)

	next := proxy.State{Version: 1, Routes: map[string]proxy.RouteState{"orders-read": {Mode: "canary", Percent: 12.5}}}
	e := entry(1, "orders-read", "legacy", "canary")
	e.To.Percent = 12.5
	require.NoError(t, s.Apply(ctx, 0, next, []HistoryEntry{e}))
	for _, tc := range []struct {
		name string
		prev uint64
	}{{"stale", 0}, {"ahead", 4}} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Apply(ctx, tc.prev, proxy.State{Version: tc.prev + 1, Routes: map[string]proxy.RouteState{}}, []HistoryEntry{entry(tc.prev+1, "x", "a", "b")})
			require.ErrorIs(t, err, ErrVersionMismatch)
		})
	}

	// A second store on the same database is a restarted (or another) replica;
	// opening it again also runs the schema creation again.
	other := openPG(t, dsn)
	st, err = other.Load(ctx)
	require.NoError(t, err)
	require.Equal(t, next, st)
	h, err := other.History(ctx)
	require.NoError(t, err)
	require.Equal(t, []HistoryEntry{e}, h, "refused changes left no history")
}

func TestPostgresStoreCorruptRowRefused(t *testing.T) {
	ctx := context.Background()
	dsn := dbtest.Postgres(t)
	s := openPG(t, dsn)
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `UPDATE strangler_route_state SET version = 3, routes = '{"a": {"mode": "sideways"}}'`)
	require.NoError(t, err)
	_, err = s.Load(ctx)
	require.ErrorContains(t, err, "routes.a.mode")
}

// watchPG runs s.Watch and records the versions it delivers; stop ends it
// (once; later calls return the same error).
func watchPG(t *testing.T, s *PostgresStore) (seen *atomic.Uint64, calls *atomic.Int32, stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	seen, calls = new(atomic.Uint64), new(atomic.Int32)
	done := make(chan struct{})
	var werr error
	go func() {
		defer close(done)
		werr = s.Watch(ctx, func(st proxy.State) { seen.Store(st.Version); calls.Add(1) })
	}()
	stop = func() error { cancel(); <-done; return werr }
	t.Cleanup(func() { stop() })
	return seen, calls, stop
}

func TestPostgresStoreWatchAndResync(t *testing.T) {
	ctx := context.Background()
	dsn := dbtest.Postgres(t)
	writer := openPG(t, dsn)
	reader := openPG(t, dsn)
	seen, calls, stop := watchPG(t, reader)
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 10*time.Second, time.Millisecond, "Watch delivers the state on connect")

	apply := func(v uint64) {
		t.Helper()
		require.NoError(t, writer.Apply(ctx, v-1, proxy.State{Version: v, Routes: map[string]proxy.RouteState{"a": {Mode: []string{"legacy", "new"}[v%2]}}}, nil))
	}
	t.Run("notify", func(t *testing.T) {
		for v := uint64(1); v <= 3; v++ {
			apply(v)
			require.Eventually(t, func() bool { return seen.Load() == v }, 10*time.Second, time.Millisecond)
		}
	})

	t.Run("backend terminated", func(t *testing.T) {
		conn, err := pgx.Connect(ctx, dsn)
		require.NoError(t, err)
		defer conn.Close(ctx)
		before := calls.Load()
		var n int
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = $1 AND datname = current_database()`, ListenerApplicationName).Scan(&n))
		require.Equal(t, 1, n, "one listener backend terminated")
		apply(4) // most likely while the listener is away: only the resync can deliver it
		require.Eventually(t, func() bool { return seen.Load() == 4 }, 10*time.Second, time.Millisecond)
		require.Eventually(t, func() bool { return calls.Load() > before }, 10*time.Second, time.Millisecond, "the listener reconnected")
	})

	t.Run("changed while not watching", func(t *testing.T) {
		require.ErrorIs(t, stop(), context.Canceled)
		apply(5)
		seen2, _, _ := watchPG(t, reader)
		require.Eventually(t, func() bool { return seen2.Load() == 5 }, 10*time.Second, time.Millisecond, "a (re)connecting watcher loads the state")
	})
}

func TestPostgresStoreServerRestart(t *testing.T) {
	ctx, cancelAll := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancelAll()
	srv := dbtest.PostgresServer(t)
	dsn := dbtest.Postgres(t)
	writer := openPG(t, dsn)
	reader := openPG(t, dsn)
	seen, _, _ := watchPG(t, reader)
	require.NoError(t, writer.Apply(ctx, 0, proxy.State{Version: 1, Routes: map[string]proxy.RouteState{}}, nil))
	require.Eventually(t, func() bool { return seen.Load() == 1 }, 10*time.Second, time.Millisecond)

	require.NoError(t, srv.Stop(ctx))
	require.Error(t, writer.Apply(ctx, 1, proxy.State{Version: 2, Routes: map[string]proxy.RouteState{}}, nil), "no server, no change")
	require.NoError(t, srv.Start(ctx))
	require.NoError(t, writer.Apply(ctx, 1, proxy.State{Version: 2, Routes: map[string]proxy.RouteState{"a": {Mode: "new"}}}, nil), "the writer reconnects")
	require.Eventually(t, func() bool { return seen.Load() == 2 }, 30*time.Second, 5*time.Millisecond, "the watcher reconnects and resyncs")
}
