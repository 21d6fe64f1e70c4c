package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stranglerfig/strangler/proxy"
)

// The controller's tests drive it with an injected clock and synthetic
// signals: figures set by the test for each gate.

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeSignals are synthetic figures per route, the same for every span.
type fakeSignals struct {
	mu       sync.Mutex
	cfg      *config.Config
	stats    map[string]proxy.RouteStats
	breakers map[string]string
	shadow   map[string]ShadowCounts
	lag      map[string]time.Duration
	lagErr   error
}

func newFakeSignals(cfg *config.Config) *fakeSignals {
	return &fakeSignals{cfg: cfg, stats: map[string]proxy.RouteStats{}, breakers: map[string]string{},
		shadow: map[string]ShadowCounts{}, lag: map[string]time.Duration{}}
}

func (f *fakeSignals) Stats(span time.Duration) []proxy.RouteStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []proxy.RouteStats
	for _, r := range f.cfg.Routes {
		rs := f.stats[r.Name]
		rs.Route, rs.Window = r.Name, span
		out = append(out, rs)
	}
	return out
}

func (f *fakeSignals) RouteStats(name string, span time.Duration) (proxy.RouteStats, bool) {
	for _, rs := range f.Stats(span) {
		if rs.Route == name {
			return rs, true
		}
	}
	return proxy.RouteStats{}, false
}

func (f *fakeSignals) Routes() []proxy.RouteInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []proxy.RouteInfo
	for _, r := range f.cfg.Routes {
		b := f.breakers[r.Name]
		if b == "" {
			b = "closed"
		}
		out = append(out, proxy.RouteInfo{Name: r.Name, Breaker: b})
	}
	return out
}

func (f *fakeSignals) Comparisons(route string, _ time.Duration) ShadowCounts {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.shadow[route]
}

func (f *fakeSignals) SyncLag(_ context.Context, route string) (time.Duration, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lagErr != nil {
		return 0, false, f.lagErr
	}
	lag, ok := f.lag[route]
	return lag, ok, nil
}

// set replaces the figures of route.
func (f *fakeSignals) set(route string, legacy, target proxy.BackendStats, sc ShadowCounts) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range []*proxy.BackendStats{&legacy, &target} {
		if b.Requests > 0 {
			b.Rate = 100 * float64(b.Errors) / float64(b.Requests)
		}
	}
	f.stats[route] = proxy.RouteStats{Legacy: legacy, New: target}
	f.shadow[route] = sc
}

func (f *fakeSignals) setBreaker(route, state string) {
	f.mu.Lock()
	f.breakers[route] = state
	f.mu.Unlock()
}

func (f *fakeSignals) setLag(route string, d time.Duration) {
	f.mu.Lock()
	f.lag[route] = d
	f.mu.Unlock()
}

func rolloutConfig(t testing.TB, mode, rollout string) *config.Config {
	t.Helper()
	y := fmt.Sprintf(`
legacy: http://127.0.0.1:9
routes:
  - name: orders
    match: {path: /api/orders/{id}}
    target: http://127.0.0.1:9
    mode: %s
    rollout: %s
  - name: manual
    match: {path: /api/manual}
    target: http://127.0.0.1:9
`, mode, rollout)
	cfg, err := config.Parse("strangler.yaml", []byte(y), nil)
	require.NoError(t, err)
	return cfg
}

const stdRollout = `{stages: [shadow, 10, 50, new], window: 1m, gates: {min_requests: 100}}`

type rolloutRig struct {
	t   *testing.T
	cfg *config.Config
	clk *fakeClock
	sig *fakeSignals
	ctl *Controller
	ro  *Rollout
}

func newRolloutRig(t *testing.T, cfg *config.Config) *rolloutRig {
	t.Helper()
	clk := &fakeClock{t: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := NewFileStore(t.TempDir() + "/routes.state.json")
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	ctl, err := NewController(cfg, store, &recordingFacade{cfg: cfg}, WithClock(clk.now), WithControllerLogger(quiet))
	require.NoError(t, err)
	require.NoError(t, ctl.Load(context.Background()))
	sig := newFakeSignals(cfg)
	ro, err := NewRollout(cfg, ctl, Signals{Traffic: sig, Shadow: sig, SyncLag: sig}, WithRolloutClock(clk.now), WithRolloutLogger(quiet))
	require.NoError(t, err)
	ro.setLeading(true)
	return &rolloutRig{t: t, cfg: cfg, clk: clk, sig: sig, ctl: ctl, ro: ro}
}

// step advances the clock by d and judges once.
func (r *rolloutRig) step(d time.Duration) RolloutView {
	r.t.Helper()
	r.clk.add(d)
	require.NoError(r.t, r.ro.Step(context.Background()))
	return r.view()
}

func (r *rolloutRig) view() RolloutView {
	for _, v := range r.ro.View().Routes {
		if v.Route == "orders" {
			return v
		}
	}
	r.t.Fatal("no rollout view of orders")
	return RolloutView{}
}

func (r *rolloutRig) state() proxy.RouteState { return r.ctl.effective(r.ctl.State(), "orders") }

func (r *rolloutRig) history() []HistoryEntry {
	h, err := r.ctl.History(context.Background())
	require.NoError(r.t, err)
	return h
}

func (r *rolloutRig) last() HistoryEntry {
	h := r.history()
	require.NotEmpty(r.t, h)
	return h[len(h)-1]
}

// healthy are figures every gate of stdRollout holds on.
func (r *rolloutRig) healthy() {
	r.sig.set("orders", proxy.BackendStats{Requests: 900, P99: 10}, proxy.BackendStats{Requests: 150, P99: 11},
		ShadowCounts{Compared: 150, Matched: 150})
}

func TestRolloutAdvancesThroughEveryStage(t *testing.T) {
	r := newRolloutRig(t, rolloutConfig(t, "legacy", stdRollout))
	r.healthy()
	v := r.step(0)
	assert.Equal(t, proxy.RouteState{Mode: "shadow"}, r.state(), "a route in legacy starts with the first stage")
	assert.Equal(t, RolloutAdvance, v.Status)
	assert.Equal(t, RolloutWho, r.last().Who)

	v = r.step(30 * time.Second)
	assert.Equal(t, RolloutWaiting, v.Status, "the stage has not lasted a window")
	assert.Equal(t, 0, v.Stage)
	assert.Equal(t, proxy.RouteState{Mode: "shadow"}, r.state())

	want := []proxy.RouteState{{Mode: "canary", Percent: 10}, {Mode: "canary", Percent: 50}, {Mode: "new"}}
	for i, w := range want {
		r.step(31 * time.Second)
		require.Equal(t, w, r.state(), "stage %d", i+1)
		e := r.last()
		assert.Equal(t, RolloutWho, e.Who)
		assert.Contains(t, e.Reason, "held for 1m0s")
		assert.Contains(t, e.Reason, "min_requests: 150 of 100")
		r.step(30 * time.Second)
	}
	v = r.step(61 * time.Second)
	assert.Equal(t, RolloutDone, v.Status)
	assert.Equal(t, 3, v.Stage)
	assert.Equal(t, proxy.RouteState{Mode: "new"}, r.state())
	assert.Len(t, r.history(), 4, "start and three advances, nothing else")
	assert.Equal(t, 4.0, counterValue(t, r.ro.counters.advances.WithLabelValues("orders")))
	for _, g := range v.Gates {
		assert.False(t, g.Broken, "%s", g.Gate)
	}
}

func TestRolloutHoldsOnThinTraffic(t *testing.T) {
	r := newRolloutRig(t, rolloutConfig(t, "canary\n    percent: 10", stdRollout))
	r.sig.set("orders", proxy.BackendStats{Requests: 200, P99: 10}, proxy.BackendStats{Requests: 20, Errors: 5, P99: 10},
		ShadowCounts{Compared: 2, Matched: 1})
	r.step(0)
	v := r.step(2 * time.Minute)
	assert.Equal(t, RolloutThin, v.Status)
	assert.Contains(t, v.Message, "20 of 100 requests to the target")
	assert.Equal(t, proxy.RouteState{Mode: "canary", Percent: 10}, r.state(), "neither advanced nor rolled back: 5 errors of 20 is too little to judge")
	assert.Empty(t, r.history())
}

func TestRolloutRollsBackOnEachGate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mode   string
		set    func(*rolloutRig)
		reason string
	}{
		{"match rate in shadow", "shadow", func(r *rolloutRig) {
			r.sig.set("orders", proxy.BackendStats{}, proxy.BackendStats{}, ShadowCounts{Compared: 200, Matched: 190, Diffs: 10})
		}, "match_rate: 95.00% of 200 comparisons matched"},
		{"match rate in canary", "canary\n    percent: 10", func(r *rolloutRig) {
			r.sig.set("orders", proxy.BackendStats{Requests: 900, P99: 10}, proxy.BackendStats{Requests: 150, P99: 10}, ShadowCounts{Compared: 15, Matched: 12})
		}, "match_rate: 80.00% of 15 comparisons matched"},
		{"error rate", "canary\n    percent: 10", func(r *rolloutRig) {
			r.sig.set("orders", proxy.BackendStats{Requests: 900, P99: 10}, proxy.BackendStats{Requests: 150, Errors: 9, P99: 10}, ShadowCounts{Compared: 15, Matched: 15})
		}, "error_rate: 9 of 150 requests failed"},
		{"p99 ratio", "canary\n    percent: 50", func(r *rolloutRig) {
			r.sig.set("orders", proxy.BackendStats{Requests: 900, P99: 10}, proxy.BackendStats{Requests: 150, P99: 25}, ShadowCounts{Compared: 15, Matched: 15})
		}, "p99_ratio: target p99 25ms, legacy 10ms"},
		{"breaker open", "new", func(r *rolloutRig) {
			r.sig.set("orders", proxy.BackendStats{}, proxy.BackendStats{Requests: 3, Errors: 3}, ShadowCounts{})
			r.sig.setBreaker("orders", "open")
		}, "breaker: the target's breaker is open"},
		{"sync lag", "canary\n    percent: 10", func(r *rolloutRig) {
			r.healthy()
			r.sig.setLag("orders", time.Minute)
		}, "sync_lag: 60.0s behind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRolloutRig(t, rolloutConfig(t, tc.mode, stdRollout))
			tc.set(r)
			v := r.step(5 * time.Second)
			assert.Equal(t, RolloutAborted, v.Status, "judged at once, before the window ends")
			assert.Contains(t, v.Message, "rolled back: gate broken")
			assert.Equal(t, proxy.RouteState{Mode: "legacy", Hold: HoldAborted}, r.state())
			e := r.last()
			assert.Equal(t, RolloutWho, e.Who)
			assert.Contains(t, e.Reason, "rollout: rolled back: gate broken")
			assert.Contains(t, e.Reason, tc.reason)

			assert.Equal(t, 1.0, counterValue(t, r.ro.counters.aborts.WithLabelValues("orders", strings.Split(tc.reason, ":")[0])), "counted by the broken gate")

			v = r.step(10 * time.Minute)
			assert.Equal(t, RolloutAborted, v.Status, "stays rolled back")
			assert.Len(t, r.history(), 1)
		})
	}
}

func TestRolloutHoldsOnUnjudgedGates(t *testing.T) {
	r := newRolloutRig(t, rolloutConfig(t, "canary\n    percent: 10", stdRollout))
	r.healthy()
	r.sig.setBreaker("orders", "half-open")
	r.step(0)
	v := r.step(61 * time.Second)
	assert.Equal(t, RolloutHolding, v.Status)
	assert.Contains(t, v.Message, "half-open")

	r.sig.setBreaker("orders", "closed")
	r.sig.mu.Lock()
	r.sig.lagErr = errors.New("sync status unreadable")
	r.sig.mu.Unlock()
	v = r.step(time.Second)
	assert.Equal(t, RolloutHolding, v.Status)
	assert.Contains(t, v.Message, "sync status unreadable")
	assert.Empty(t, r.history())
}

func TestRolloutRampsDown(t *testing.T) {
	r := newRolloutRig(t, rolloutConfig(t, "canary\n    percent: 50", `{stages: [10, 50, new], window: 1m, gates: {min_requests: 100}, abort: 2m}`))
	r.sig.set("orders", proxy.BackendStats{Requests: 900, P99: 10}, proxy.BackendStats{Requests: 150, Errors: 30, P99: 10}, ShadowCounts{})
	v := r.step(time.Second)
	assert.Equal(t, RolloutAborting, v.Status)
	assert.Equal(t, proxy.RouteState{Mode: "canary", Percent: 50, Hold: HoldAborting}, r.state())
	assert.Contains(t, r.last().Reason, "ramping down over 2m0s")

	var seen []float64
	for range 11 {
		v = r.step(10 * time.Second)
		st := r.state()
		require.Equal(t, "canary", st.Mode, "still ramping after %d steps", len(seen))
		assert.Equal(t, RolloutAborting, v.Status)
		seen = append(seen, st.Percent)
	}
	assert.Equal(t, []float64{47.5, 42.5, 37.5, 35, 30, 25, 22.5, 17.5, 12.5, 10, 5}, seen,
		"the share falls with the time left, in steps of a twentieth")
	r.step(10 * time.Second)
	assert.Equal(t, proxy.RouteState{Mode: "legacy", Hold: HoldAborted}, r.state(), "legacy after 2m")
	assert.Equal(t, "rollout: ramp down done", r.last().Reason)
}

func TestRolloutManualOverride(t *testing.T) {
	ctx := context.Background()
	r := newRolloutRig(t, rolloutConfig(t, "shadow", stdRollout))
	r.healthy()

	t.Run("a change by hand pauses", func(t *testing.T) {
		_, err := r.ctl.Change(ctx, Change{Routes: []string{"orders"}, Mode: "canary", Percent: ptr(25.0), Who: "alice"})
		require.NoError(t, err)
		assert.Equal(t, proxy.RouteState{Mode: "canary", Percent: 25, Hold: HoldPaused}, r.state())
		v := r.step(5 * time.Minute)
		assert.Equal(t, RolloutPaused, v.Status)
		assert.Equal(t, 1, v.Stage, "between 10% and 50%")
		assert.Equal(t, proxy.RouteState{Mode: "canary", Percent: 25, Hold: HoldPaused}, r.state(), "the controller leaves it alone")
	})
	t.Run("resume hands it back", func(t *testing.T) {
		_, err := r.ro.Resume(ctx, "orders", "alice", "looks fine")
		require.NoError(t, err)
		assert.Equal(t, proxy.RouteState{Mode: "canary", Percent: 25}, r.state())
		r.step(time.Second)
		r.step(61 * time.Second)
		assert.Equal(t, proxy.RouteState{Mode: "canary", Percent: 50}, r.state(), "the next stage above 25%")
	})
	t.Run("pause and promote", func(t *testing.T) {
		_, err := r.ro.Pause(ctx, "orders", "bob", "")
		require.NoError(t, err)
		assert.Equal(t, HoldPaused, r.state().Hold)
		_, err = r.ro.Promote(ctx, "orders", "bob", "ship it")
		require.NoError(t, err)
		assert.Equal(t, proxy.RouteState{Mode: "new"}, r.state(), "promote moves one stage and hands the route back")
		assert.Equal(t, "promoted to stage new by hand. ship it", r.last().Reason)
		_, err = r.ro.Promote(ctx, "orders", "bob", "")
		assert.ErrorIs(t, err, ErrLastStage)
	})
	t.Run("a rollback by hand pauses too", func(t *testing.T) {
		_, err := r.ctl.Change(ctx, Change{All: true, Mode: "legacy", Who: "carol"})
		require.NoError(t, err)
		assert.Equal(t, proxy.RouteState{Mode: "legacy", Hold: HoldPaused}, r.state())
		r.step(time.Minute)
		assert.Equal(t, "legacy", r.state().Mode, "a paused route in legacy does not start again")
	})
	t.Run("routes without a plan", func(t *testing.T) {
		_, err := r.ro.Pause(ctx, "manual", "bob", "")
		assert.ErrorIs(t, err, ErrNoRollout)
		var ue *UnknownRouteError
		_, err = r.ro.Promote(ctx, "nope", "bob", "")
		assert.ErrorAs(t, err, &ue)
		_, err = r.ctl.Change(ctx, Change{Routes: []string{"manual"}, Mode: "new", Who: "alice"})
		require.NoError(t, err)
		assert.Equal(t, proxy.RouteState{Mode: "new"}, r.ctl.effective(r.ctl.State(), "manual"), "no mark on a route without a plan")
	})
}

// leaderRig is one replica's controller, running on real time.
type leaderRig struct {
	ro     *Rollout
	ctl    *Controller
	cancel context.CancelFunc
	done   chan struct{}
}

func runLeaderRig(t *testing.T, cfg *config.Config, store interface {
	Store
	Leaser() Leaser
}, sig *fakeSignals) *leaderRig {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctl, err := NewController(cfg, store, &recordingFacade{cfg: cfg}, WithControllerLogger(quiet))
	require.NoError(t, err)
	require.NoError(t, ctl.Load(context.Background()))
	ro, err := NewRollout(cfg, ctl, Signals{Traffic: sig, Shadow: sig}, WithLeaser(store.Leaser()),
		WithRolloutTick(20*time.Millisecond), WithRolloutLogger(quiet))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	l := &leaderRig{ro: ro, ctl: ctl, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(l.done); ro.Run(ctx) }()
	go func() { ctl.Watch(ctx) }()
	t.Cleanup(func() { l.stop(); store.Close() })
	return l
}

func (l *leaderRig) stop() {
	l.cancel()
	<-l.done
}

// checkOneLeader runs two replicas' controllers on stores sharing state:
// exactly one leads, only it moves the route, and when it dies the other
// takes over within seconds. kill ends the leader as its death would.
func checkOneLeader(t *testing.T, open func() interface {
	Store
	Leaser() Leaser
}, kill func(*leaderRig)) {
	cfg := rolloutConfig(t, "legacy", `{stages: [shadow, new], window: 1s, gates: {min_requests: 10}}`)
	sig := newFakeSignals(cfg)
	a := runLeaderRig(t, cfg, open(), sig)
	b := runLeaderRig(t, cfg, open(), sig)
	require.Eventually(t, func() bool { return a.ro.Leading() != b.ro.Leading() }, 10*time.Second, 10*time.Millisecond, "one leader")
	leader, other := a, b
	if b.ro.Leading() {
		leader, other = b, a
	}
	require.Eventually(t, func() bool { return leader.ctl.State().Routes["orders"].Mode == "shadow" }, 10*time.Second, 10*time.Millisecond)
	// Let both judge a few ticks more: neither moves the route again,
	// since its comparisons are too few.
	time.Sleep(200 * time.Millisecond)
	h, err := leader.ctl.History(context.Background())
	require.NoError(t, err)
	require.Len(t, h, 1, "exactly one controller started the rollout")
	assert.False(t, other.ro.Leading())

	kill(leader)
	start := time.Now()
	require.Eventually(t, other.ro.Leading, 10*time.Second, 10*time.Millisecond, "the other replica takes over")
	t.Logf("takeover after %v", time.Since(start))
	sig.set("orders", proxy.BackendStats{}, proxy.BackendStats{}, ShadowCounts{Compared: 50, Matched: 50})
	require.Eventually(t, func() bool { return other.ctl.State().Routes["orders"].Mode == "new" }, 10*time.Second, 10*time.Millisecond,
		"the new leader moves the route on")
}

func TestRolloutOneLeaderOverFile(t *testing.T) {
	path := t.TempDir() + "/routes.state.json"
	checkOneLeader(t, func() interface {
		Store
		Leaser() Leaser
	} {
		s, err := NewFileStore(path, WithFilePoll(10*time.Millisecond))
		require.NoError(t, err)
		return s
	}, (*leaderRig).stop)
}

func TestRolloutOneLeaderOverPostgres(t *testing.T) {
	dsn := dbtest.Postgres(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	checkOneLeader(t, func() interface {
		Store
		Leaser() Leaser
	} {
		s, err := OpenPostgresStore(ctx, dsn, WithPostgresLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		require.NoError(t, err)
		return s
	}, func(l *leaderRig) {
		// The leader's process dies: the server ends its session, and
		// with it the lock. Its controller stops too (a dead process
		// judges nothing).
		var n int
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = 'strangler-rollout-lease' AND datname = current_database()`).Scan(&n))
		require.Equal(t, 1, n, "one lease connection: the leader's")
		l.stop()
	})
}

func TestRolloutViewBeforeFirstStep(t *testing.T) {
	r := newRolloutRig(t, rolloutConfig(t, "legacy", stdRollout))
	v := r.view()
	assert.Equal(t, -1, v.Stage)
	assert.Equal(t, []string{"shadow", "10%", "50%", "new"}, v.Stages)
	assert.Equal(t, "instant", v.Abort)
	assert.True(t, strings.HasPrefix(v.Message, "not judged"))
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}
