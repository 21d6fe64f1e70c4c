package control

import (
	"context"
	"github.com/stranglerfig/strangler/proxy"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func newFileStore(t *testing.T, opts ...FileStoreOption) *FileStore {
	t.Helper()
	s, err := NewFileStore(filepath.Join(t.TempDir(), "routes.state.json"), append([]FileStoreOption{WithFileLogger(testLogger(t))}, opts...)...)
	require.NoError(t, err)
	return s
}

func entry(v uint64, route, from, to string) HistoryEntry {
	return HistoryEntry{At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Version: v, Route: route,
		From: proxy.RouteState{Mode: from}, To: proxy.RouteState{Mode: to}, Reason: "test", Who: "ops"}
}

func TestFileStoreEmptyThenApplyAndReopen(t *testing.T) {
	ctx := context.Background()
	s := newFileStore(t)
	st, err := s.Load(ctx)
	require.NoError(t, err)
	require.Zero(t, st.Version)
	require.Empty(t, st.Routes)
	_, err = os.Stat(s.Path())
	require.ErrorIs(t, err, os.ErrNotExist, "loading must not create the file")

	next := proxy.State{Version: 1, Routes: map[string]proxy.RouteState{"orders-read": {Mode: "new"}}}
	require.NoError(t, s.Apply(ctx, 0, next, []HistoryEntry{entry(1, "orders-read", "canary", "new")}))
	next2 := proxy.State{Version: 2, Routes: map[string]proxy.RouteState{"orders-read": {Mode: "legacy"}}}
	require.NoError(t, s.Apply(ctx, 1, next2, []HistoryEntry{entry(2, "orders-read", "new", "legacy")}))

	// A new store on the same path is a restarted process.
	reopened, err := NewFileStore(s.Path())
	require.NoError(t, err)
	st, err = reopened.Load(ctx)
	require.NoError(t, err)
	require.Equal(t, next2, st)
	h, err := reopened.History(ctx)
	require.NoError(t, err)
	require.Len(t, h, 2)
	require.Equal(t, "new", h[0].To.Mode)
	require.Equal(t, "legacy", h[1].To.Mode)
	require.Equal(t, "ops", h[1].Who)

	fi, err := os.Stat(s.Path())
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	left, err := filepath.Glob(filepath.Join(filepath.Dir(s.Path()), ".*tmp*"))
	require.NoError(t, err)
	require.Empty(t, left, "temporary files left behind")
}

func TestFileStoreVersionMismatch(t *testing.T) {
	ctx := context.Background()
	s := newFileStore(t)
	require.NoError(t, s.Apply(ctx, 0, proxy.State{Version: 1, Routes: map[string]proxy.RouteState{"a": {Mode: "new"}}}, nil))
	before, err := os.ReadFile(s.Path())
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		prev uint64
	}{{"stale", 0}, {"ahead", 5}} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Apply(ctx, tc.prev, proxy.State{Version: tc.prev + 1, Routes: map[string]proxy.RouteState{"a": {Mode: "legacy"}}}, nil)
			require.ErrorIs(t, err, ErrVersionMismatch)
			after, err := os.ReadFile(s.Path())
			require.NoError(t, err)
			require.Equal(t, before, after, "a refused write changed the file")
		})
	}
	require.Error(t, s.Apply(ctx, 1, proxy.State{Version: 3}, nil), "a version that does not follow prev is refused")
}

func TestFileStoreCorruptFileRefused(t *testing.T) {
	for _, tc := range []struct {
		name, content, want string
	}{
		{"truncated", `{"version": 3, "routes": {"a": {"mode": "new"`, "truncated"},
		{"syntax", "{\n\"version\": 3,\n oops}", "line 3"},
		{"bad mode", `{"version": 3, "routes": {"a": {"mode": "sideways", "percent": 0}}}`, "routes.a.mode"},
		{"bad percent", `{"version": 3, "routes": {"a": {"mode": "canary", "percent": 250}}}`, "routes.a.percent"},
		{"unknown field", `{"version": 3, "rutes": {}}`, "rutes"},
		{"negative version", `{"version": -1}`, "version"},
		{"trailing", `{"version": 1} {"version": 2}`, "trailing"},
		{"empty", ``, "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := newFileStore(t)
			require.NoError(t, os.WriteFile(s.Path(), []byte(tc.content), 0o600))
			_, err := s.Load(ctx)
			require.Error(t, err)
			require.Contains(t, err.Error(), s.Path(), "the error names the file")
			require.Contains(t, err.Error(), tc.want)
			err = s.Apply(ctx, 3, proxy.State{Version: 4}, nil)
			require.Error(t, err, "a corrupt file is never overwritten")
			got, rerr := os.ReadFile(s.Path())
			require.NoError(t, rerr)
			require.Equal(t, tc.content, string(got))
		})
	}
}

func TestFileStoreHistoryLimit(t *testing.T) {
	ctx := context.Background()
	s := newFileStore(t, WithHistoryLimit(3))
	for v := uint64(1); v <= 5; v++ {
		require.NoError(t, s.Apply(ctx, v-1, proxy.State{Version: v, Routes: map[string]proxy.RouteState{}}, []HistoryEntry{entry(v, "a", "legacy", "new")}))
	}
	h, err := s.History(ctx)
	require.NoError(t, err)
	require.Len(t, h, 3)
	require.Equal(t, uint64(3), h[0].Version)
	require.Equal(t, uint64(5), h[2].Version)
}

func TestFileStoreWatchSeesOtherWriter(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newFileStore(t, WithFilePoll(5*time.Millisecond))
	other, err := NewFileStore(s.Path()) // another process on the same file
	require.NoError(t, err)
	var seen atomic.Uint64
	var calls atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- s.Watch(ctx, func(st proxy.State) { seen.Store(st.Version); calls.Add(1) })
	}()
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 5*time.Second, time.Millisecond, "Watch calls fn once at start")
	for v := uint64(1); v <= 3; v++ {
		require.NoError(t, other.Apply(ctx, v-1, proxy.State{Version: v, Routes: map[string]proxy.RouteState{"a": {Mode: "new"}}}, nil))
		require.Eventually(t, func() bool { return seen.Load() == v }, 5*time.Second, time.Millisecond)
	}
	// A corrupt write is logged and skipped; the next good one is seen.
	require.NoError(t, os.WriteFile(s.Path(), []byte("{garbage"), 0o600))
	require.NoError(t, writeFileAtomic(s.Path(), []byte(`{"version": 9, "routes": {}}`)))
	require.Eventually(t, func() bool { return seen.Load() == 9 }, 5*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

func TestNewFileStoreMissingDirectory(t *testing.T) {
	_, err := NewFileStore(filepath.Join(t.TempDir(), "nope", "state.json"))
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "nope"))
}
