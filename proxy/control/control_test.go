package control

import (
	"context"
	"errors"
	"github.com/stranglerfig/strangler/proxy"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func newController(t *testing.T, store Store) (*Controller, *recordingFacade) {
	t.Helper()
	cfg := testConfig(t)
	f := &recordingFacade{cfg: cfg}
	clock := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	c, err := NewController(cfg, store, f, WithControllerLogger(testLogger(t)), WithClock(func() time.Time { return clock }))
	require.NoError(t, err)
	require.NoError(t, c.Load(context.Background()))
	return c, f
}

func TestControllerChange(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ch        Change
		wantErr   any // *FieldError, *UnknownRouteError or a sentinel
		field     string
		wantMoved map[string]proxy.RouteState
	}{
		{name: "canary percent", ch: Change{Routes: []string{"orders-read"}, Mode: "canary", Percent: ptr(50.0)},
			wantMoved: map[string]proxy.RouteState{"orders-read": {Mode: "canary", Percent: 50}}},
		{name: "canary keeps percent", ch: Change{Routes: []string{"customers"}, Mode: "canary"},
			wantMoved: map[string]proxy.RouteState{"customers": {Mode: "canary", Percent: 0}}},
		{name: "new drops percent", ch: Change{Routes: []string{"orders-read"}, Mode: "new"},
			wantMoved: map[string]proxy.RouteState{"orders-read": {Mode: "new"}}},
		{name: "all to legacy", ch: Change{All: true, Mode: "legacy", Reason: "incident 42"},
			wantMoved: map[string]proxy.RouteState{"orders-read": {Mode: "legacy"}, "customers": {Mode: "legacy"}}},
		{name: "no-op", ch: Change{Routes: []string{"reports"}, Mode: "legacy"}, wantMoved: map[string]proxy.RouteState{}},
		{name: "bad mode", ch: Change{Routes: []string{"reports"}, Mode: "sideways"}, wantErr: &FieldError{}, field: "mode"},
		{name: "percent out of range", ch: Change{Routes: []string{"reports"}, Mode: "canary", Percent: ptr(101.0)}, wantErr: &FieldError{}, field: "percent"},
		{name: "negative percent", ch: Change{Routes: []string{"reports"}, Mode: "canary", Percent: ptr(-1.0)}, wantErr: &FieldError{}, field: "percent"},
		{name: "percent without canary", ch: Change{Routes: []string{"reports"}, Mode: "new", Percent: ptr(10.0)}, wantErr: &FieldError{}, field: "percent"},
		{name: "reason too long", ch: Change{Routes: []string{"reports"}, Mode: "new", Reason: string(make([]byte, MaxReason+1))}, wantErr: &FieldError{}, field: "reason"},
		{name: "reason control char", ch: Change{Routes: []string{"reports"}, Mode: "new", Reason: "a\x1b[31m"}, wantErr: &FieldError{}, field: "reason"},
		{name: "no routes", ch: Change{Mode: "new"}, wantErr: &FieldError{}, field: "routes"},
		{name: "routes and all", ch: Change{Routes: []string{"reports"}, All: true, Mode: "legacy"}, wantErr: &FieldError{}, field: "routes"},
		{name: "unknown route", ch: Change{Routes: []string{"reports", "nope"}, Mode: "new"}, wantErr: &UnknownRouteError{}},
		{name: "stale version", ch: Change{Routes: []string{"reports"}, Mode: "new", ExpectVersion: 7}, wantErr: ErrVersionMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			store := newFileStore(t)
			c, f := newController(t, store)
			applied := f.applied
			res, err := c.Change(ctx, tc.ch)
			if tc.wantErr != nil {
				require.Error(t, err)
				switch want := tc.wantErr.(type) {
				case *FieldError:
					var fe *FieldError
					require.ErrorAs(t, err, &fe)
					require.Equal(t, tc.field, fe.Field)
				case *UnknownRouteError:
					var ue *UnknownRouteError
					require.ErrorAs(t, err, &ue)
					require.Equal(t, "nope", ue.Name)
				case error:
					require.ErrorIs(t, err, want)
				}
				require.Equal(t, applied, f.applied, "a refused change applied something")
				st, lerr := store.Load(ctx)
				require.NoError(t, lerr)
				require.Zero(t, st.Version, "a refused change stored something")
				return
			}
			require.NoError(t, err)
			require.Len(t, res.Changed, len(tc.wantMoved))
			if len(tc.wantMoved) == 0 {
				require.Zero(t, res.Version)
				return
			}
			require.Equal(t, uint64(1), res.Version)
			for _, e := range res.Changed {
				require.Equal(t, tc.wantMoved[e.Route], e.To, e.Route)
				require.Equal(t, tc.ch.Reason, e.Reason)
				require.Equal(t, uint64(1), e.Version)
				require.Equal(t, f.mode(e.Route), e.To, "facade runs the new state")
			}
			st, err := store.Load(ctx)
			require.NoError(t, err)
			require.Equal(t, c.State(), st)
			h, err := c.History(ctx)
			require.NoError(t, err)
			require.Equal(t, res.Changed, h)
		})
	}
}

func TestControllerHistoryFromAndTo(t *testing.T) {
	ctx := context.Background()
	c, _ := newController(t, newFileStore(t))
	_, err := c.Change(ctx, Change{Routes: []string{"orders-read"}, Mode: "new", Who: "alice", Reason: "go"})
	require.NoError(t, err)
	_, err = c.Change(ctx, Change{Routes: []string{"orders-read"}, Mode: "legacy", Who: "bob", Reason: "errors up", ExpectVersion: 1})
	require.NoError(t, err)
	h, err := c.History(ctx)
	require.NoError(t, err)
	require.Equal(t, []HistoryEntry{
		{At: h[0].At, Version: 1, Route: "orders-read", From: proxy.RouteState{Mode: "canary", Percent: 30}, To: proxy.RouteState{Mode: "new"}, Reason: "go", Who: "alice"},
		{At: h[1].At, Version: 2, Route: "orders-read", From: proxy.RouteState{Mode: "new"}, To: proxy.RouteState{Mode: "legacy"}, Reason: "errors up", Who: "bob"},
	}, h)
	require.Equal(t, time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), h[0].At)
}

func TestControllerSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	store := newFileStore(t)
	c, _ := newController(t, store)
	_, err := c.Change(ctx, Change{Routes: []string{"customers"}, Mode: "new"})
	require.NoError(t, err)
	restarted, f := newController(t, store)
	require.Equal(t, uint64(1), restarted.State().Version)
	require.Equal(t, proxy.RouteState{Mode: "new"}, f.mode("customers"))
}

// TestControllerTwoWritersOneStore: two controllers (two processes) on one
// file: a change by one is refused by the store for the other, which then
// reloads and retries (no expected version) or reports the mismatch.
func TestControllerTwoWritersOneStore(t *testing.T) {
	ctx := context.Background()
	store := newFileStore(t)
	a, _ := newController(t, store)
	b, fb := newController(t, store)
	_, err := a.Change(ctx, Change{Routes: []string{"customers"}, Mode: "new"})
	require.NoError(t, err)

	_, err = b.Change(ctx, Change{Routes: []string{"reports"}, Mode: "new", ExpectVersion: 0})
	require.NoError(t, err, "b reloads and retries")
	require.Equal(t, uint64(2), b.State().Version)
	require.Equal(t, proxy.RouteState{Mode: "new"}, fb.mode("customers"), "b applied a's change while reloading")

	_, err = a.Change(ctx, Change{Routes: []string{"reports"}, Mode: "legacy", ExpectVersion: 1})
	require.ErrorIs(t, err, ErrVersionMismatch)

	// A rollback that looks like a no-op on a stale replica still rolls back.
	_, err = b.Change(ctx, Change{Routes: []string{"customers"}, Mode: "legacy"})
	require.NoError(t, err)
	res, err := a.Change(ctx, Change{Routes: []string{"reports"}, Mode: "legacy"})
	require.NoError(t, err)
	require.Equal(t, uint64(4), res.Version)
	require.Len(t, res.Changed, 1)
}

func TestControllerConcurrentChanges(t *testing.T) {
	ctx := context.Background()
	c, f := newController(t, newFileStore(t))
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			mode := []string{"legacy", "new"}[i%2]
			_, err := c.Change(ctx, Change{Routes: []string{"reports", "customers"}, Mode: mode})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	h, err := c.History(ctx)
	require.NoError(t, err)
	require.Equal(t, c.State().Version, h[len(h)-1].Version)
	require.Equal(t, c.State().Routes["reports"], f.mode("reports"))
}

type failingFacade struct{ recordingFacade }

func (f *failingFacade) Apply(proxy.State) error { return errors.New("boom") }

func TestControllerLoadRefusesWhatTheFacadeRefuses(t *testing.T) {
	cfg := testConfig(t)
	c, err := NewController(cfg, newFileStore(t), &failingFacade{recordingFacade{cfg: cfg}})
	require.NoError(t, err)
	require.ErrorContains(t, c.Load(context.Background()), "boom")
}

func TestControllerApplyRemote(t *testing.T) {
	c, f := newController(t, newFileStore(t))
	c.applyRemote(proxy.State{Version: 4, Routes: map[string]proxy.RouteState{"reports": {Mode: "new"}}})
	require.Equal(t, uint64(4), c.State().Version)
	require.Equal(t, proxy.RouteState{Mode: "new"}, f.mode("reports"))
	n := f.applied
	c.applyRemote(proxy.State{Version: 4, Routes: map[string]proxy.RouteState{}})
	require.Equal(t, n, f.applied, "the same version is not applied twice")
	c.applyRemote(proxy.State{Version: 3, Routes: map[string]proxy.RouteState{}})
	require.Equal(t, n, f.applied, "an older version (a read that raced with a newer write) is ignored")
	require.Equal(t, uint64(4), c.State().Version)
}
