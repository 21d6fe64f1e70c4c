package store_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stranglerfig/strangler/shadow/store"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// opener opens a fresh, empty store for t, closed when t ends.
type opener func(t *testing.T, ret store.Retention, opts ...store.Option) store.Store

func openFile(t *testing.T, ret store.Retention, opts ...store.Option) store.Store {
	t.Helper()
	st, err := store.OpenFile(t.TempDir(), ret, append([]store.Option{store.WithLogger(quiet())}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.Close()) })
	return st
}

func openPostgres(t *testing.T, ret store.Retention, opts ...store.Option) store.Store {
	t.Helper()
	dsn := dbtest.Postgres(t)
	st, err := store.OpenPostgres(context.Background(), dsn, ret, append([]store.Option{store.WithLogger(quiet())}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.Close()) })
	return st
}

func TestFileStoreContract(t *testing.T)     { runContract(t, openFile) }
func TestPostgresStoreContract(t *testing.T) { runContract(t, openPostgres) }

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	// PostgreSQL keeps microseconds.
	return &clock{t: time.Now().UTC().Truncate(time.Microsecond)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// logBuffer collects log output; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

var ctx = context.Background()

func match(route string, at time.Time) *store.Record {
	return &store.Record{Route: route, At: at, Result: store.ResultMatch, Primary: store.SideLegacy}
}

func diff(id, route string, at time.Time, diffs ...store.Diff) *store.Record {
	return &store.Record{
		ID: id, Route: route, At: at, Result: store.ResultDiff, Primary: store.SideLegacy,
		Request: store.Request{Method: "GET", Path: "/" + route + "/" + id},
		Legacy:  &store.Answer{Status: 200, Body: store.Body{Text: `{"v":1}`}},
		New:     &store.Answer{Status: 200, Body: store.Body{Text: `{"v":2}`}},
		Diffs:   diffs,
	}
}

func failed(id, route string, at time.Time, msg string) *store.Record {
	return &store.Record{
		ID: id, Route: route, At: at, Result: store.ResultError, Primary: store.SideLegacy, Error: msg,
		Request: store.Request{Method: "GET", Path: "/" + route + "/" + id},
		Legacy:  &store.Answer{Status: 200, Body: store.Body{Text: `{}`}},
	}
}

func d(path, legacy, newer string) store.Diff {
	return store.Diff{Path: path, Kind: "changed", Legacy: legacy, New: newer}
}

func add(t *testing.T, st store.Store, recs ...*store.Record) {
	t.Helper()
	for _, r := range recs {
		require.NoError(t, st.Add(ctx, r))
	}
}

func flush(t *testing.T, st store.Store) {
	t.Helper()
	require.NoError(t, st.Flush(ctx))
}

func report(t *testing.T, st store.Store, route string, opt store.ReportOptions) []store.RouteReport {
	t.Helper()
	flush(t, st)
	reps, err := st.Report(ctx, route, opt)
	require.NoError(t, err)
	return reps
}

func one(t *testing.T, st store.Store, route string, opt store.ReportOptions) store.RouteReport {
	t.Helper()
	reps := report(t, st, route, opt)
	require.Len(t, reps, 1, "the report of route %s", route)
	return reps[0]
}

func exampleIDs(ps store.PathStat) []string {
	var ids []string
	for _, e := range ps.Examples {
		ids = append(ids, e.ID)
	}
	return ids
}

func assertNotFound(t *testing.T, st store.Store, id string) {
	t.Helper()
	_, err := st.Get(ctx, id)
	assert.ErrorIs(t, err, store.ErrNotFound, "record %s", id)
}

func assertFound(t *testing.T, st store.Store, id string) *store.Record {
	t.Helper()
	r, err := st.Get(ctx, id)
	if assert.NoError(t, err, "record %s", id) {
		assert.Equal(t, id, r.ID)
	}
	return r
}

// parallel runs f as a parallel subtest of t.
func parallel(t *testing.T, name string, f func(t *testing.T)) {
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		f(t)
	})
}

// runContract checks the documented semantics of store.Store on fresh
// stores from open.
func runContract(t *testing.T, open opener) {
	parallel(t, "counts and match rate", func(t *testing.T) {
		c := newClock()
		st := open(t, store.Retention{}, store.WithClock(c.Now))
		base := c.Now()
		add(t, st, match("a", base.Add(-5*time.Second)), match("a", base), match("a", base),
			diff("d1", "a", base.Add(-time.Second), d("$.x", "1", "2")),
			failed("e1", "a", base.Add(-2*time.Second), "new: connection refused"),
			match("b", base), match("b", base))
		reps := report(t, st, "", store.ReportOptions{})
		require.Len(t, reps, 2)
		a, b := reps[0], reps[1]
		assert.Equal(t, "a", a.Route)
		assert.Equal(t, int64(5), a.Compared)
		assert.Equal(t, int64(3), a.Matched)
		assert.Equal(t, int64(1), a.Differed)
		assert.Equal(t, int64(1), a.Errors)
		assert.InDelta(t, 60.0, a.MatchRate, 1e-9)
		assert.True(t, a.First.Equal(base.Add(-5*time.Second)), "first %s", a.First)
		assert.True(t, a.Last.Equal(base), "last %s", a.Last)
		assert.Equal(t, "b", b.Route)
		assert.Equal(t, int64(2), b.Compared)
		assert.InDelta(t, 100.0, b.MatchRate, 1e-9)
		assert.Zero(t, b.Dropped)
		assert.Nil(t, b.Drops)
	})

	parallel(t, "drops by reason", func(t *testing.T) {
		c := newClock()
		st := open(t, store.Retention{}, store.WithClock(c.Now))
		add(t, st, match("a", c.Now()))
		require.NoError(t, st.Dropped(ctx, "a", "queue_full", 2))
		require.NoError(t, st.Dropped(ctx, "a", "too_large", 1))
		require.NoError(t, st.Dropped(ctx, "a", "queue_full", 3))
		require.NoError(t, st.Dropped(ctx, "c", "closing", 1))
		require.NoError(t, st.Dropped(ctx, "c", "closing", 0))
		require.Error(t, st.Dropped(ctx, "c", "closing", -1))
		reps := report(t, st, "", store.ReportOptions{})
		require.Len(t, reps, 2)
		assert.Equal(t, int64(6), reps[0].Dropped)
		assert.Equal(t, map[string]int64{"queue_full": 5, "too_large": 1}, reps[0].Drops)
		assert.Equal(t, int64(1), reps[0].Compared, "drops are not compared")
		assert.Equal(t, "c", reps[1].Route, "a route with drops only is reported")
		assert.Zero(t, reps[1].Compared)
		assert.Zero(t, reps[1].MatchRate)
		assert.Equal(t, map[string]int64{"closing": 1}, reps[1].Drops)
		assert.False(t, reps[1].First.IsZero())
	})

	parallel(t, "generalised paths and examples", func(t *testing.T) {
		c := newClock()
		st := open(t, store.Retention{}, store.WithClock(c.Now))
		base := c.Now()
		add(t, st,
			diff("r1", "a", base.Add(-2*time.Second),
				d("$.items[0].price", `"1.00"`, `"1.0"`),
				d("$.items[1].price", `"3.00"`, `"3.0"`),
				d("$.items[id=42].name", `"a"`, `"b"`),
				d(`$["a [b]"].c`, `1`, `2`),
				store.Diff{Path: "header:Content-Type", Kind: "header", Legacy: "application/json", New: "text/plain"}),
			diff("r2", "a", base.Add(-time.Second),
				d("$.items[5].price", `"5.00"`, `"5.0"`),
				store.Diff{Path: "$.items[#2]", Kind: "missing", Legacy: `{"id":7}`, New: ""}))
		rep := one(t, st, "a", store.ReportOptions{})
		var paths []string
		counts := map[string]int64{}
		for _, p := range rep.Paths {
			paths = append(paths, p.Path)
			counts[p.Path] = p.Count
		}
		assert.Equal(t, []string{"$.items[*].price", "$.items[*]", "$.items[*].name", `$["a [b]"].c`, "header:Content-Type"}, paths,
			"most frequent first, ties by path")
		assert.Equal(t, int64(2), counts["$.items[*].price"], "counted once per record")
		price := rep.Paths[0]
		assert.Equal(t, []store.Example{
			{ID: "r2", Path: "$.items[5].price", Legacy: `"5.00"`, New: `"5.0"`},
			{ID: "r1", Path: "$.items[0].price", Legacy: `"1.00"`, New: `"1.0"`},
		}, price.Examples, "newest first, the concrete path and both values")
		assert.Equal(t, []store.Example{{ID: "r2", Path: "$.items[#2]", Legacy: `{"id":7}`, New: ""}}, rep.Paths[1].Examples)
		assert.Equal(t, []store.Example{{ID: "r1", Path: "header:Content-Type", Legacy: "application/json", New: "text/plain"}}, rep.Paths[4].Examples)
	})

	parallel(t, "get round trip", func(t *testing.T) {
		c := newClock()
		st := open(t, store.Retention{}, store.WithClock(c.Now))
		rec := &store.Record{
			ID: "full1", Route: "orders", At: c.Now().Add(-time.Second), RequestID: "req-1",
			Result: store.ResultDiff, Primary: store.SideNew,
			Request: store.Request{
				Method: "POST", Path: "/orders/1", Target: "/v2/orders/1", Query: "a=1&b=%C3%A9",
				Header: http.Header{"Content-Type": {"application/json"}, "X-Multi": {"a", "b"}, "Authorization": {"[redacted]"}},
				Body:   store.Body{Text: `{"q":"é","n":1}`},
			},
			Legacy: &store.Answer{Status: 200, Header: http.Header{"Content-Type": {"application/json"}},
				Body: store.Body{Text: `{"price":"10.00","tags":["<&>"]}`}, DurationMS: 12.5},
			New: &store.Answer{Status: 201, Body: store.Body{Base64: "AAEC/w==", Truncated: true}, DurationMS: 3.25},
			Diffs: []store.Diff{
				{Path: "$.price", Kind: "changed", Legacy: `"10.00"`, New: `"10.0"`},
				{Path: "status", Kind: "status", Legacy: "200", New: "201"},
			},
			More:  2,
			Noise: []string{"$.meta.request_id"},
		}
		add(t, st, rec)
		e := failed("err1", "orders", c.Now(), "new: dial tcp 127.0.0.1:9: connection refused")
		e.New = nil
		add(t, st, e, match("orders", c.Now()))
		flush(t, st)
		for _, want := range []*store.Record{rec, e} {
			got := assertFound(t, st, want.ID)
			require.NotNil(t, got)
			assert.True(t, want.At.Equal(got.At), "at %s, want %s", got.At, want.At)
			got.At = want.At
			assert.Equal(t, want, got)
		}
		assertNotFound(t, st, "never-stored")
		_, err := st.Get(ctx, "never-stored")
		assert.Contains(t, err.Error(), "never-stored")
	})

	parallel(t, "noise", func(t *testing.T) {
		c := newClock()
		st := open(t, store.Retention{}, store.WithClock(c.Now))
		add(t, st, match("a", c.Now()))
		require.NoError(t, st.LearnNoise(ctx, "a", "$.x", 2))
		require.NoError(t, st.LearnNoise(ctx, "a", "$.x", 1))
		require.NoError(t, st.LearnNoise(ctx, "a", "$.y", 1))
		require.NoError(t, st.LearnNoise(ctx, "b", "$.q", 5))
		flush(t, st)
		require.NoError(t, st.PinNoise(ctx, "a", "$.y"))
		require.NoError(t, st.PinNoise(ctx, "a", "$.z"))
		require.Error(t, st.LearnNoise(ctx, "a", "", 1))
		require.Error(t, st.PinNoise(ctx, "a", ""))
		flush(t, st)
		all, err := st.Noise(ctx, "")
		require.NoError(t, err)
		type row struct {
			route, path string
			n           int64
			pinned      bool
		}
		rows := func(ns []store.Noise) []row {
			var out []row
			for _, n := range ns {
				out = append(out, row{n.Route, n.Path, n.Count, n.Pinned})
				assert.True(t, n.Since.Equal(c.Now()), "since %s", n.Since)
			}
			return out
		}
		assert.Equal(t, []row{{"a", "$.x", 3, false}, {"a", "$.y", 1, true}, {"a", "$.z", 0, true}, {"b", "$.q", 5, false}}, rows(all))

		rep := one(t, st, "a", store.ReportOptions{})
		assert.Equal(t, []row{{"a", "$.x", 3, false}, {"a", "$.y", 1, true}, {"a", "$.z", 0, true}}, rows(rep.Noise))

		require.NoError(t, st.ClearNoise(ctx, "a", ""))
		flush(t, st)
		got, err := st.Noise(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, []row{{"a", "$.y", 1, true}, {"a", "$.z", 0, true}}, rows(got), "clear without a path keeps the pinned")

		require.NoError(t, st.ClearNoise(ctx, "a", "$.y"))
		require.NoError(t, st.LearnNoise(ctx, "a", "$.x", 1))
		flush(t, st)
		got, err = st.Noise(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, []row{{"a", "$.x", 1, false}, {"a", "$.z", 0, true}}, rows(got), "clear with a path forgets it, pinned or not")

		got, err = st.Noise(ctx, "b")
		require.NoError(t, err)
		assert.Equal(t, []row{{"b", "$.q", 5, false}}, rows(got))
		got, err = st.Noise(ctx, "nope")
		require.NoError(t, err)
		assert.Empty(t, got)
		assert.Empty(t, report(t, st, "b", store.ReportOptions{}), "noise is no count: b has no report")
	})

	parallel(t, "route filter", func(t *testing.T) {
		c := newClock()
		st := open(t, store.Retention{}, store.WithClock(c.Now))
		add(t, st, match("a", c.Now()), match("b", c.Now()), diff("x", "b", c.Now(), d("$.v", "1", "2")))
		reps := report(t, st, "b", store.ReportOptions{})
		require.Len(t, reps, 1)
		assert.Equal(t, "b", reps[0].Route)
		assert.Equal(t, int64(2), reps[0].Compared)
		none := report(t, st, "nope", store.ReportOptions{})
		assert.NotNil(t, none)
		assert.Empty(t, none)
		empty := openEmpty(t, open)
		reps, err := empty.Report(ctx, "", store.ReportOptions{})
		require.NoError(t, err)
		assert.Empty(t, reps)
	})

	parallel(t, "top paths and examples limits", func(t *testing.T) {
		c := newClock()
		st := open(t, store.Retention{}, store.WithClock(c.Now))
		base := c.Now().Add(-time.Minute)
		// Record k differs at $.p00 ... $.pk: $.pj is counted 12-j times.
		for k := range 12 {
			var diffs []store.Diff
			for j := 0; j <= k; j++ {
				diffs = append(diffs, d(fmt.Sprintf("$.p%02d", j), "1", "2"))
			}
			add(t, st, diff(fmt.Sprintf("k%02d", k), "lim", base.Add(time.Duration(k)*time.Second), diffs...))
		}
		add(t, st, diff("ties", "lim", base, d("$.b", "1", "2"), d("$.a", "1", "2")))

		rep := one(t, st, "lim", store.ReportOptions{})
		require.Len(t, rep.Paths, 10, "default top paths")
		for j, p := range rep.Paths {
			assert.Equal(t, fmt.Sprintf("$.p%02d", j), p.Path)
			assert.Equal(t, int64(12-j), p.Count)
		}
		assert.Equal(t, []string{"k11", "k10", "k09"}, exampleIDs(rep.Paths[0]), "default three examples, newest first")

		rep = one(t, st, "lim", store.ReportOptions{TopPaths: 2, Examples: 1})
		require.Len(t, rep.Paths, 2)
		assert.Equal(t, []string{"k11"}, exampleIDs(rep.Paths[0]))

		rep = one(t, st, "lim", store.ReportOptions{TopPaths: 50, Examples: 10})
		require.Len(t, rep.Paths, 14)
		var last []string
		for _, p := range rep.Paths[11:] {
			last = append(last, p.Path)
			assert.Equal(t, int64(1), p.Count)
		}
		assert.Equal(t, []string{"$.a", "$.b", "$.p11"}, last, "ties by path")
		assert.Len(t, rep.Paths[0].Examples, 3, "at most three examples are kept per path")
	})

	parallel(t, "recent errors", func(t *testing.T) {
		c := newClock()
		st := open(t, store.Retention{}, store.WithClock(c.Now))
		for k := range 7 {
			add(t, st, failed(fmt.Sprintf("e%d", k), "a", c.Now().Add(time.Duration(k-10)*time.Second), fmt.Sprintf("boom %d", k)))
		}
		rep := one(t, st, "a", store.ReportOptions{})
		require.Len(t, rep.RecentErrors, 5)
		for i, e := range rep.RecentErrors {
			k := 6 - i
			assert.Equal(t, fmt.Sprintf("e%d", k), e.ID)
			assert.Equal(t, fmt.Sprintf("boom %d", k), e.Error)
			assert.True(t, e.At.Equal(c.Now().Add(time.Duration(k-10)*time.Second)))
		}
		assert.Equal(t, int64(7), rep.Errors)
	})

	parallel(t, "retention by max", func(t *testing.T) {
		c := newClock()
		st := open(t, store.Retention{Max: 4}, store.WithClock(c.Now))
		for k := range 10 {
			add(t, st, diff(fmt.Sprintf("m%d", k), "a", c.Now().Add(time.Duration(k-10)*time.Second), d("$.v", "1", "2")))
		}
		flush(t, st)
		for k := range 10 {
			if id := fmt.Sprintf("m%d", k); k >= 6 {
				assertFound(t, st, id)
			} else {
				assertNotFound(t, st, id)
			}
		}
		rep := one(t, st, "a", store.ReportOptions{})
		assert.Equal(t, int64(10), rep.Differed, "retention bounds records, not counts")
		require.Len(t, rep.Paths, 1)
		assert.Equal(t, int64(10), rep.Paths[0].Count)
		assert.Equal(t, []string{"m9", "m8", "m7"}, exampleIDs(rep.Paths[0]))
	})

	parallel(t, "retention by age", func(t *testing.T) {
		c := newClock()
		st := open(t, store.Retention{Age: time.Hour}, store.WithClock(c.Now))
		add(t, st,
			diff("old", "a", c.Now().Add(-2*time.Hour), d("$.v", "1", "2")),
			diff("d1", "a", c.Now().Add(-30*time.Minute), d("$.v", "1", "2")),
			failed("e1", "a", c.Now().Add(-30*time.Minute), "boom"))
		assertNotFound(t, st, "old")
		rep := one(t, st, "a", store.ReportOptions{})
		assert.Equal(t, []string{"d1"}, exampleIDs(rep.Paths[0]))
		require.Len(t, rep.RecentErrors, 1)
		assertFound(t, st, "d1")
		assertFound(t, st, "e1")

		c.Advance(45 * time.Minute) // d1 and e1 are 75 minutes old
		flush(t, st)
		assertNotFound(t, st, "d1")
		assertNotFound(t, st, "e1")
		rep = one(t, st, "a", store.ReportOptions{})
		assert.Empty(t, rep.Paths[0].Examples)
		assert.Empty(t, rep.RecentErrors)
		assert.Equal(t, int64(2), rep.Differed)
		assert.Equal(t, int64(1), rep.Errors)
		assert.Equal(t, int64(2), rep.Paths[0].Count)

		add(t, st, diff("d2", "a", c.Now(), d("$.v", "3", "4")))
		rep = one(t, st, "a", store.ReportOptions{})
		assert.Equal(t, []string{"d2"}, exampleIDs(rep.Paths[0]))
		assertFound(t, st, "d2")
	})

	parallel(t, "concurrent adds", func(t *testing.T) {
		st := open(t, store.Retention{})
		const workers, each = 16, 150
		var wg sync.WaitGroup
		stop := make(chan struct{})
		readerDone := make(chan struct{})
		go func() { // reads and flushes while the workers add
			defer close(readerDone)
			for {
				select {
				case <-stop:
					return
				default:
				}
				assert.NoError(t, st.Flush(ctx))
				_, err := st.Report(ctx, "", store.ReportOptions{})
				assert.NoError(t, err)
				_, err = st.Noise(ctx, "")
				assert.NoError(t, err)
				_, _ = st.Get(ctx, "w0-0")
			}
		}()
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					now := time.Now()
					var r *store.Record
					switch i % 3 {
					case 0:
						r = diff(fmt.Sprintf("w%d-%d", w, i), "c", now, d(fmt.Sprintf("$.items[%d].x", i), "1", "2"))
					case 1:
						r = match("c", now)
					default:
						r = failed(fmt.Sprintf("w%d-%d", w, i), "c", now, "boom")
					}
					assert.NoError(t, st.Add(ctx, r))
					if i%10 == 0 {
						assert.NoError(t, st.Dropped(ctx, "c", "queue_full", 1))
						assert.NoError(t, st.LearnNoise(ctx, "c", "$.t", 1))
					}
				}
			}()
		}
		wg.Wait()
		close(stop)
		<-readerDone
		rep := one(t, st, "c", store.ReportOptions{})
		assert.Equal(t, int64(workers*each), rep.Compared)
		assert.Equal(t, int64(workers*50), rep.Differed)
		assert.Equal(t, int64(workers*50), rep.Matched)
		assert.Equal(t, int64(workers*50), rep.Errors)
		assert.Equal(t, int64(workers*15), rep.Dropped)
		require.Len(t, rep.Paths, 1)
		assert.Equal(t, "$.items[*].x", rep.Paths[0].Path)
		assert.Equal(t, int64(workers*50), rep.Paths[0].Count)
		require.Len(t, rep.Noise, 1)
		assert.Equal(t, int64(workers*15), rep.Noise[0].Count)
		for w := range workers {
			assertFound(t, st, fmt.Sprintf("w%d-%d", w, each-1))
			assertFound(t, st, fmt.Sprintf("w%d-0", w))
		}
	})

	parallel(t, "bad input and closed", func(t *testing.T) {
		st := open(t, store.Retention{})
		require.Error(t, st.Add(ctx, nil))
		require.Error(t, st.Add(ctx, &store.Record{Route: "a", Result: "maybe"}))
		require.Error(t, st.Add(ctx, &store.Record{Route: "a", Result: store.ResultDiff}), "a kept record needs an id")
		require.NoError(t, st.Close())
		require.NoError(t, st.Close(), "closing twice")
		require.Error(t, st.Add(ctx, match("a", time.Now())))
		require.Error(t, st.Dropped(ctx, "a", "closing", 1))
		_, err := st.Report(ctx, "", store.ReportOptions{})
		require.Error(t, err)
	})
}

// openEmpty opens another fresh store of the same kind.
func openEmpty(t *testing.T, open opener) store.Store { return open(t, store.Retention{}) }
