package shadow

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stranglerfig/strangler/proxy"
	"github.com/stranglerfig/strangler/shadow/store"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// backend is a test upstream that records what it received.
type backend struct {
	srv  *httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func newBackend(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int64)) *backend {
	t.Helper()
	b := &backend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := b.hits.Add(1)
		b.mu.Lock()
		b.reqs = append(b.reqs, r)
		b.body = append(b.body, body)
		b.mu.Unlock()
		h(w, r, n)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) requests() ([]*http.Request, [][]byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*http.Request(nil), b.reqs...), append([][]byte(nil), b.body...)
}

func jsonAnswer(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, body)
}

// rig is a facade with a shadow engine on a file store, served on a real
// listener.
type rig struct {
	facade *proxy.Facade
	engine *Engine
	store  store.Store
	base   string
	reg    *prometheus.Registry
	client *http.Client
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func parseProject(t *testing.T, legacy, body string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("strangler.yaml", []byte("legacy: "+legacy+"\n"+body), nil)
	require.NoError(t, err)
	return cfg
}

func startRig(t *testing.T, cfg *config.Config, st store.Store) *rig {
	t.Helper()
	return startRigWith(t, cfg, st, nil, nil)
}

// startRigWith is startRig with more options for the engine and the facade.
func startRigWith(t *testing.T, cfg *config.Config, st store.Store, eopts []Option, fopts []proxy.Option) *rig {
	t.Helper()
	if st == nil {
		var err error
		st, err = store.OpenFile(t.TempDir(), store.Retention{})
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
	}
	e, err := New(cfg, st, append([]Option{WithLogger(quiet())}, eopts...)...)
	require.NoError(t, err)
	f, err := proxy.New(cfg, append([]proxy.Option{proxy.WithLogger(quiet()), proxy.WithShadower(e)}, fopts...)...)
	require.NoError(t, err)
	e.SetReplayer(f)
	require.NoError(t, f.Registry().Register(e))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Serve(ctx, ln, 5*time.Second) }()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		cancel()
		require.NoError(t, <-done)
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		require.NoError(t, e.Close(cctx))
		require.NoError(t, f.Close())
	})
	return &rig{facade: f, engine: e, store: st, base: "http://" + ln.Addr().String(), reg: f.Registry(),
		client: &http.Client{Timeout: 20 * time.Second, Transport: tr}}
}

func (r *rig) do(t *testing.T, method, path, body string) (int, string, time.Duration) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, r.base+path, rd)
	require.NoError(t, err)
	start := time.Now()
	resp, err := r.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), time.Since(start)
}

// report waits until the route counted n comparisons and drops in total,
// and returns its report.
func (r *rig) report(t *testing.T, route string, n int64) store.RouteReport {
	t.Helper()
	var rep store.RouteReport
	require.Eventually(t, func() bool {
		reps, err := r.engine.Report(context.Background(), route, store.ReportOptions{})
		require.NoError(t, err)
		if len(reps) != 1 {
			return false
		}
		rep = reps[0]
		return rep.Compared+rep.Dropped >= n
	}, 20*time.Second, 10*time.Millisecond, "route %s: %d comparisons expected", route, n)
	return rep
}

func (r *rig) counter(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matchLabels(m, labels) {
				if m.Counter != nil {
					return m.Counter.GetValue()
				}
				return m.Gauge.GetValue()
			}
		}
	}
	return 0
}

// matchLabels reports whether m's label values are want, in any order
// (the registry sorts labels by name).
func matchLabels(m *dto.Metric, want []string) bool {
	var have []string
	for _, l := range m.GetLabel() {
		have = append(have, l.GetValue())
	}
	return assert.ObjectsAreEqual(sorted(have), sorted(want))
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestSlowOrFailingTargetLeavesClientsAlone: a target that takes 300 ms
// or fails changes neither the client's answers nor makes it wait: the
// comparison happens after the answer went out.
func TestSlowOrFailingTargetLeavesClientsAlone(t *testing.T) {
	legacy := newBackend(t, func(w http.ResponseWriter, r *http.Request, _ int64) { jsonAnswer(w, `{"id":1}`) })
	slow := newBackend(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		time.Sleep(300 * time.Millisecond)
		jsonAnswer(w, `{"id":1}`)
	})
	failing := newBackend(t, func(w http.ResponseWriter, r *http.Request, _ int64) { w.WriteHeader(http.StatusInternalServerError) })
	cfg := parseProject(t, legacy.srv.URL, `routes:
  - name: slow
    match: {path: "/slow/{id}"}
    target: `+slow.srv.URL+`
    mode: shadow
    shadow: {learn_noise: false}
  - name: failing
    match: {path: "/failing/{id}"}
    target: `+failing.srv.URL+`
    mode: shadow
    breaker: {consecutive_failures: 1000}
    shadow: {learn_noise: false}
`)
	r := startRig(t, cfg, nil)
	for _, route := range []string{"slow", "failing"} {
		for i := range 8 {
			code, body, took := r.do(t, "GET", "/"+route+"/"+strconv.Itoa(i), "")
			require.Equal(t, 200, code)
			require.Equal(t, `{"id":1}`, body, "the client gets legacy's answer")
			require.Less(t, took, 250*time.Millisecond, "the client never waits for the shadow target")
		}
	}
	slowRep := r.report(t, "slow", 8)
	assert.Equal(t, int64(8), slowRep.Matched)
	failRep := r.report(t, "failing", 8)
	assert.Equal(t, int64(8), failRep.Differed, "a 500 against legacy's 200 differs in status")
	var paths []string
	for _, p := range failRep.Paths {
		paths = append(paths, p.Path)
		assert.Equal(t, int64(8), p.Count, p.Path)
	}
	assert.Contains(t, paths, "status")
	assert.Equal(t, 8.0, r.counter(t, "strangler_shadow_comparisons_total", "failing", "diff"))
	assert.Equal(t, 8.0, r.counter(t, "strangler_shadow_comparisons_total", "slow", "match"))
	assert.Equal(t, 1.0, r.counter(t, "strangler_shadow_match_ratio", "slow"))
}

// TestQueueOverflowDropsAndCounts: with the one worker held by a slow
// target and a queue of two, further copies are dropped and counted, in
// the metrics and in the report.
func TestQueueOverflowDropsAndCounts(t *testing.T) {
	legacy := newBackend(t, func(w http.ResponseWriter, r *http.Request, _ int64) { jsonAnswer(w, `{}`) })
	release := make(chan struct{})
	held := newBackend(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		<-release
		jsonAnswer(w, `{}`)
	})
	cfg := parseProject(t, legacy.srv.URL, `shadow: {queue: 2, workers: 1}
routes:
  - name: carts
    match: {path: "/carts/{id}"}
    target: `+held.srv.URL+`
    mode: shadow
    shadow: {learn_noise: false}
`)
	r := startRig(t, cfg, nil)
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	r.do(t, "GET", "/carts/0", "")
	require.Eventually(t, func() bool { return held.hits.Load() == 1 }, 5*time.Second, time.Millisecond, "the worker holds the first copy")
	for i := 1; i <= 6; i++ {
		r.do(t, "GET", "/carts/"+strconv.Itoa(i), "")
	}
	assert.Equal(t, 4.0, r.counter(t, "strangler_shadow_comparisons_total", "carts", "dropped"), "two wait, four are dropped")
	assert.Equal(t, 2.0, r.counter(t, "strangler_shadow_queue_depth"))
	close(release)
	rep := r.report(t, "carts", 7)
	assert.Equal(t, int64(3), rep.Matched)
	assert.Equal(t, int64(4), rep.Dropped)
	assert.Equal(t, map[string]int64{DropQueueFull: 4}, rep.Drops)
}

// TestQueueBoundedByBytes: copies of about 10 kB each against a byte bound
// of 35,000: the fourth waiting copy is dropped, long before the count
// bound.
func TestQueueBoundedByBytes(t *testing.T) {
	big := strings.Repeat("b", 10000)
	legacy := newBackend(t, func(w http.ResponseWriter, r *http.Request, _ int64) { io.WriteString(w, big) })
	release := make(chan struct{})
	held := newBackend(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		<-release
		io.WriteString(w, big)
	})
	cfg := parseProject(t, legacy.srv.URL, `shadow: {queue: 100, queue_bytes: 35000, workers: 1}
routes:
  - name: carts
    match: {path: "/carts/{id}"}
    target: `+held.srv.URL+`
    mode: shadow
    shadow: {learn_noise: false}
`)
	r := startRig(t, cfg, nil)
	r.do(t, "GET", "/carts/0", "")
	require.Eventually(t, func() bool { return held.hits.Load() == 1 }, 5*time.Second, time.Millisecond)
	for i := 1; i <= 6; i++ {
		r.do(t, "GET", "/carts/"+strconv.Itoa(i), "")
	}
	assert.Equal(t, 3.0, r.counter(t, "strangler_shadow_queue_depth"), "three copies of ~10 kB fit in 35,000 bytes")
	assert.Equal(t, 3.0, r.counter(t, "strangler_shadow_comparisons_total", "carts", "dropped"))
	held10k := r.counter(t, "strangler_shadow_queue_bytes")
	assert.Greater(t, held10k, 30000.0)
	assert.LessOrEqual(t, held10k, 35000.0)
	close(release)
	rep := r.report(t, "carts", 7)
	assert.Equal(t, map[string]int64{DropQueueBytes: 3}, rep.Drops)
	assert.Equal(t, 0.0, r.counter(t, "strangler_shadow_queue_bytes"), "the bytes are released when a worker takes a copy")
}

// TestWritesShadowedOnlyWhenAllowed: a POST is sent to the target only on
// a route with shadow.writes, and then with X-Strangler-Shadow: 1; on the
// other route it is counted as dropped (unsafe_method).
func TestWritesShadowedOnlyWhenAllowed(t *testing.T) {
	legacy := newBackend(t, func(w http.ResponseWriter, r *http.Request, _ int64) { jsonAnswer(w, `{"ok":true}`) })
	target := newBackend(t, func(w http.ResponseWriter, r *http.Request, _ int64) { jsonAnswer(w, `{"ok":true}`) })
	cfg := parseProject(t, legacy.srv.URL, `routes:
  - name: reads
    match: {path: "/orders/{id}"}
    target: `+target.srv.URL+`
    mode: shadow
  - name: writes
    match: {path: "/carts/{id}"}
    target: `+target.srv.URL+`
    mode: shadow
    shadow: {writes: true}
`)
	r := startRig(t, cfg, nil)
	r.do(t, "POST", "/orders/1", `{"a":1}`)
	r.do(t, "POST", "/carts/1", `{"qty":2}`)
	reads := r.report(t, "reads", 1)
	assert.Equal(t, map[string]int64{proxy.SkipUnsafe: 1}, reads.Drops)
	writes := r.report(t, "writes", 1)
	assert.Equal(t, int64(1), writes.Matched)
	reqs, bodies := target.requests()
	require.Len(t, reqs, 1, "only the allowed write reached the target")
	assert.Equal(t, "POST", reqs[0].Method)
	assert.Equal(t, "/carts/1", reqs[0].URL.Path)
	assert.Equal(t, "1", reqs[0].Header.Get(proxy.ShadowHeader))
	assert.Equal(t, `{"qty":2}`, string(bodies[0]))
	_ = legacy
}

// TestLearnedNoise: legacy answers with a request id that is random per
// answer; asked twice, the engine learns it as noise, so that it goes
// silent while a real difference (the price) still shows.
func TestLearnedNoise(t *testing.T) {
	legacy := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int64) {
		jsonAnswer(w, fmt.Sprintf(`{"data":{"id":7,"price":"10.00"},"meta":{"request_id":"legacy-%d"}}`, n))
	})
	target := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int64) {
		jsonAnswer(w, fmt.Sprintf(`{"meta":{"request_id":"new-%d"},"data":{"price":"10.0","id":7}}`, n))
	})
	cfg := parseProject(t, legacy.srv.URL, `shadow: {workers: 1}
routes:
  - name: orders
    match: {path: "/orders/{id}"}
    target: `+target.srv.URL+`
    mode: shadow
    shadow: {learn_sample: 100}
`)
	r := startRig(t, cfg, nil)
	const n = 10
	for i := range n {
		r.do(t, "GET", "/orders/"+strconv.Itoa(i), "")
	}
	rep := r.report(t, "orders", n)
	assert.Equal(t, int64(n), rep.Differed, "the price differs in every answer")
	var paths []string
	for _, p := range rep.Paths {
		paths = append(paths, p.Path)
	}
	assert.Contains(t, paths, "$.data.price")
	require.Len(t, rep.Noise, 1)
	assert.Equal(t, "$.meta.request_id", rep.Noise[0].Path)
	assert.GreaterOrEqual(t, rep.Noise[0].Count, int64(n))
	for _, p := range rep.Paths {
		if p.Path == "$.meta.request_id" {
			assert.LessOrEqual(t, p.Count, int64(NoiseThreshold), "silenced once learned")
		}
	}
	// The newest record lists the price and names the silenced path.
	require.NotEmpty(t, rep.Paths[0].Examples)
	rec, err := r.engine.Record(context.Background(), rep.Paths[0].Examples[0].ID)
	require.NoError(t, err)
	require.Len(t, rec.Diffs, 1)
	assert.Equal(t, store.Diff{Path: "$.data.price", Kind: "changed", Legacy: `"10.00"`, New: `"10.0"`}, rec.Diffs[0])
	assert.Equal(t, []string{"$.meta.request_id"}, rec.Noise)
	assert.Greater(t, legacy.hits.Load(), int64(n), "legacy was asked twice")

	// Clearing forgets it; pinning brings it back for good.
	_, err = r.engine.ChangeNoise(context.Background(), NoiseChange{Route: "orders", Action: "clear"})
	require.NoError(t, err)
	assert.Nil(t, r.engine.noise.patterns("orders"))
	ns, err := r.engine.ChangeNoise(context.Background(), NoiseChange{Route: "orders", Action: "pin", Path: "$.meta.request_id"})
	require.NoError(t, err)
	require.Len(t, ns, 1)
	assert.True(t, ns[0].Pinned)
	assert.True(t, r.engine.noise.patterns("orders").Match("$.meta.request_id"))
}

// TestCanaryComparesBothDirections: during a canary, the answers of either
// side are compared with the other's; every record names which side
// answered the client.
func TestCanaryComparesBothDirections(t *testing.T) {
	legacy := newBackend(t, func(w http.ResponseWriter, r *http.Request, _ int64) { jsonAnswer(w, `{"side":"x","n":1}`) })
	target := newBackend(t, func(w http.ResponseWriter, r *http.Request, _ int64) { jsonAnswer(w, `{"side":"y","n":1}`) })
	cfg := parseProject(t, legacy.srv.URL, `routes:
  - name: orders
    match: {path: "/orders/{id}"}
    target: `+target.srv.URL+`
    mode: canary
    percent: 50
    shadow: {sample: 100, learn_noise: false}
`)
	r := startRig(t, cfg, nil)
	const n = 60
	for i := range n {
		r.do(t, "GET", "/orders/"+strconv.Itoa(i), "")
	}
	rep := r.report(t, "orders", n)
	assert.Equal(t, int64(n), rep.Differed)
	require.Len(t, rep.Paths, 1)
	assert.Equal(t, "$.side", rep.Paths[0].Path)
	for _, ex := range rep.Paths[0].Examples {
		rec, err := r.engine.Record(context.Background(), ex.ID)
		require.NoError(t, err)
		assert.Equal(t, `"x"`, rec.Diffs[0].Legacy, "legacy's value is always on the legacy side, whichever answered")
		assert.Equal(t, `"y"`, rec.Diffs[0].New)
	}
	assert.Equal(t, int64(2*n), legacy.hits.Load()+target.hits.Load(), "each request reached both sides once")
	byLegacy := r.counter(t, "strangler_requests_total", "orders", "legacy", "200")
	byNew := r.counter(t, "strangler_requests_total", "orders", "new", "200")
	assert.Equal(t, float64(n), byLegacy+byNew)
	assert.Positive(t, byLegacy, "legacy answered some clients, and their requests were compared")
	assert.Positive(t, byNew, "the target answered others, and theirs were compared too")
}

// TestReplay sends a stored request to both sides again.
func TestReplay(t *testing.T) {
	var price atomic.Value
	price.Store(`"9.99"`)
	legacy := newBackend(t, func(w http.ResponseWriter, r *http.Request, _ int64) { jsonAnswer(w, `{"price":"10.00"}`) })
	target := newBackend(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		jsonAnswer(w, `{"price":`+price.Load().(string)+`}`)
	})
	cfg := parseProject(t, legacy.srv.URL, `routes:
  - name: orders
    match: {path: "/orders/{id}"}
    target: `+target.srv.URL+`
    mode: shadow
    shadow: {learn_noise: false}
`)
	r := startRig(t, cfg, nil)
	r.do(t, "GET", "/orders/5?full=1", "")
	rep := r.report(t, "orders", 1)
	require.Len(t, rep.Paths, 1)
	id := rep.Paths[0].Examples[0].ID
	out, err := r.engine.Replay(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, "sent", out.LegacyFrom)
	assert.Equal(t, store.ResultDiff, out.Record.Result)
	price.Store(`"10.00"`)
	out, err = r.engine.Replay(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, store.ResultMatch, out.Record.Result, "fixed on the target: the replay matches")
	reqs, _ := target.requests()
	last := reqs[len(reqs)-1]
	assert.Equal(t, "/orders/5", last.URL.Path)
	assert.Equal(t, "full=1", last.URL.RawQuery)
	after := r.report(t, "orders", 1)
	assert.Equal(t, int64(1), after.Compared, "replays are not counted")
	_, err = r.engine.Replay(context.Background(), "nosuchid")
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestTwoReplicasOneReport: two facades on one PostgreSQL shadow store
// report together.
func TestTwoReplicasOneReport(t *testing.T) {
	dsn := dbtest.Postgres(t)
	legacy := newBackend(t, func(w http.ResponseWriter, r *http.Request, _ int64) { jsonAnswer(w, `{"total":"5.00"}`) })
	target := newBackend(t, func(w http.ResponseWriter, r *http.Request, _ int64) { jsonAnswer(w, `{"total":"5.01"}`) })
	cfg := parseProject(t, legacy.srv.URL, `routes:
  - name: orders
    match: {path: "/orders/{id}"}
    target: `+target.srv.URL+`
    mode: shadow
    shadow: {learn_noise: false}
`)
	open := func() store.Store {
		st, err := store.OpenPostgres(context.Background(), dsn, store.Retention{})
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		return st
	}
	a := startRig(t, cfg, open())
	b := startRig(t, cfg, open())
	for i := range 5 {
		a.do(t, "GET", "/orders/"+strconv.Itoa(i), "")
	}
	for i := range 7 {
		b.do(t, "GET", "/orders/"+strconv.Itoa(i), "")
	}
	rep := a.report(t, "orders", 12)
	assert.Equal(t, int64(12), rep.Differed, "replica a sees b's comparisons")
	repB := b.report(t, "orders", 12)
	assert.Equal(t, rep.Differed, repB.Differed)
	require.Len(t, rep.Paths, 1)
	assert.Equal(t, int64(12), rep.Paths[0].Count)
}

// TestCloseFinishesOrCountsInFlight: Close lets queued copies finish; when
// its context ends first, what is left is counted dropped (closing).
func TestCloseFinishesOrCountsInFlight(t *testing.T) {
	legacy := newBackend(t, func(w http.ResponseWriter, r *http.Request, _ int64) { jsonAnswer(w, `{}`) })
	slow := newBackend(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
		jsonAnswer(w, `{}`)
	})
	cfg := parseProject(t, legacy.srv.URL, `shadow: {workers: 1}
routes:
  - name: carts
    match: {path: "/carts/{id}"}
    target: `+slow.srv.URL+`
    mode: shadow
    shadow: {learn_noise: false}
`)
	st, err := store.OpenFile(t.TempDir(), store.Retention{})
	require.NoError(t, err)
	defer st.Close()
	e, err := New(cfg, st, WithLogger(quiet()))
	require.NoError(t, err)
	f, err := proxy.New(cfg, proxy.WithLogger(quiet()), proxy.WithShadower(e))
	require.NoError(t, err)
	defer f.Close()
	h := httptest.NewServer(f)
	defer h.Close()
	for i := range 4 {
		resp, err := http.Get(h.URL + "/carts/" + strconv.Itoa(i))
		require.NoError(t, err)
		resp.Body.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	require.Error(t, e.Close(ctx), "the copies could not finish in time")
	e.Shadow(&proxy.ShadowCopy{Route: "carts"}) // after Close: dropped
	reps, err := st.Report(context.Background(), "carts", store.ReportOptions{})
	require.NoError(t, err)
	require.Len(t, reps, 1)
	assert.Equal(t, int64(5), reps[0].Dropped+reps[0].Compared)
	assert.Equal(t, int64(5), reps[0].Drops[DropClosing], "the copy in flight, the three queued and the one after Close")
}

// TestStoredRecordsAreRedacted: what the diff store keeps of a differing
// comparison (the request and both answers) carries no credential: not the
// client's Authorization or Cookie, not a token in the query, not a
// password in a JSON body, not a Set-Cookie of an answer.
func TestStoredRecordsAreRedacted(t *testing.T) {
	legacy := newBackend(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		w.Header().Set("Set-Cookie", "session=legacy-cookie-secret")
		jsonAnswer(w, `{"total":"1.00","password":"legacy-password-secret"}`)
	})
	target := newBackend(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		w.Header().Set("Set-Cookie", "session=new-cookie-secret")
		jsonAnswer(w, `{"total":"2.00","password":"new-password-secret"}`)
	})
	cfg := parseProject(t, legacy.srv.URL, `routes:
  - name: carts
    match: {path: "/carts/{id}"}
    target: `+target.srv.URL+`
    mode: shadow
    shadow: {writes: true, learn_noise: false}
`)
	r := startRig(t, cfg, nil)
	req, err := http.NewRequest("POST", r.base+"/carts/1?token=query-token-secret&page=2", strings.NewReader(`{"qty":2,"password":"body-password-secret"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer header-token-secret")
	req.Header.Set("Cookie", "session=client-cookie-secret")
	resp, err := r.client.Do(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	rep := r.report(t, "carts", 1)
	require.Equal(t, int64(1), rep.Differed)
	require.NotEmpty(t, rep.Paths)
	require.NotEmpty(t, rep.Paths[0].Examples)
	rec, err := r.engine.Record(context.Background(), rep.Paths[0].Examples[0].ID)
	require.NoError(t, err)
	stored, err := json.Marshal(rec)
	require.NoError(t, err)
	for _, secret := range []string{"header-token-secret", "client-cookie-secret", "query-token-secret",
		"body-password-secret", "legacy-cookie-secret", "new-cookie-secret", "legacy-password-secret", "new-password-secret"} {
		assert.NotContains(t, string(stored), secret)
	}
	assert.Contains(t, rec.Diffs, store.Diff{Path: "$.password", Kind: "changed", Legacy: `"[REDACTED]"`, New: `"[REDACTED]"`})
	assert.Contains(t, rec.Diffs, store.Diff{Path: "$.total", Kind: "changed", Legacy: `"1.00"`, New: `"2.00"`})
	assert.Contains(t, rec.Request.Query, "page=2", "what is not secret is kept")
	assert.Contains(t, rec.Request.Body.Text, `"qty":2`)
	_, reqs := target.requests()
	require.Len(t, reqs, 1)
	assert.Contains(t, string(reqs[0]), "body-password-secret", "the target received the request as it was; only the store is redacted")
}
