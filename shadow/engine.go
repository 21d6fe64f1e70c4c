package shadow

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"go.opentelemetry.io/otel/trace"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/proxy"
	"github.com/stranglerfig/strangler/shadow/compare"
	"github.com/stranglerfig/strangler/shadow/store"
)

// Reasons a copy is dropped by the engine itself, beside those the facade
// gives (proxy.Skip*).
const (
	DropQueueFull  = "queue_full"  // shadow.queue copies were waiting
	DropQueueBytes = "queue_bytes" // the waiting copies held shadow.queue_bytes
	DropClosing    = "closing"     // the engine was closing
	DropNoRoute    = "no_route"    // the copy names a route the engine has no rules for
)

// Engine is the shadow engine: a proxy.Shadower that queues the facade's
// copies (bounded by count and bytes), sends each to the other side through
// the facade, compares the two answers under the route's rules, learns
// which fields of legacy's answers change by themselves, and keeps the
// results in a store.
type Engine struct {
	store   store.Store
	log     *slog.Logger
	routes  map[string]*routeRules
	metrics *engineMetrics
	tracer  trace.Tracer // see WithTracerProvider; nil: no traces
	windows *windows
	noise   *noiseCache

	queue    chan *proxy.ShadowCopy
	bytes    atomic.Int64
	maxBytes int64

	ctx     context.Context // the workers' context: cancelled when Close gives up
	cancel  context.CancelFunc
	mu      sync.RWMutex // held for reading by Shadow while it enqueues, for writing by Close
	closed  bool
	workers sync.WaitGroup
	bg      sync.WaitGroup

	replayer Replayer
}

// Replayer builds a copy of a stored request for Replay; *proxy.Facade is
// one.
type Replayer interface {
	ShadowRequest(route, method, path, rawQuery string, h http.Header, body []byte) (*proxy.ShadowCopy, error)
}

// routeRules are one route's compiled comparison rules.
type routeRules struct {
	cmp         *compare.Comparer
	learn       bool
	learnSample float64
}

// Option configures an Engine.
type Option func(*Engine) error

// WithLogger sets the engine's logger. Default slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(e *Engine) error {
		if l == nil {
			return errors.New("shadow engine logger: nil")
		}
		e.log = l
		return nil
	}
}

// New starts an engine for the routes of cfg, keeping its results in st
// (which the caller closes, after Close). Each route's rules are compiled
// once; a bad rule is refused, naming the route.
func New(cfg *config.Config, st store.Store, opts ...Option) (*Engine, error) {
	if cfg == nil || st == nil {
		return nil, errors.New("starting the shadow engine: a config and a store are required")
	}
	e := &Engine{store: st, log: slog.Default(), routes: map[string]*routeRules{}}
	for _, o := range opts {
		if err := o(e); err != nil {
			return nil, fmt.Errorf("starting the shadow engine: %w", err)
		}
	}
	for i := range cfg.Routes {
		r := &cfg.Routes[i]
		rr, err := compileRules(r.Shadow)
		if err != nil {
			return nil, fmt.Errorf("starting the shadow engine: routes[%d] (%s).shadow: %w", i, r.Name, err)
		}
		e.routes[r.Name] = rr
	}
	queue := cfg.Shadow.Queue
	if queue <= 0 {
		queue = config.DefaultShadowQueue
	}
	e.maxBytes = cfg.Shadow.QueueBytes
	if e.maxBytes <= 0 {
		e.maxBytes = config.DefaultShadowQueueBytes
	}
	workers := cfg.Shadow.Workers
	if workers <= 0 {
		workers = config.DefaultShadowWorkers
	}
	e.queue = make(chan *proxy.ShadowCopy, queue)
	e.metrics = newEngineMetrics(e)
	e.windows = newWindows(cfg)
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.noise = newNoiseCache(st, e.log)
	if err := e.noise.refresh(e.ctx); err != nil {
		e.log.Warn("reading learned noise from the shadow store", "error", err.Error())
	}
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		e.noise.run(e.ctx)
	}()
	for range workers {
		e.workers.Add(1)
		go e.work()
	}
	return e, nil
}

// compileRules turns a route's shadow settings into a comparer.
func compileRules(rs *config.RouteShadow) (*routeRules, error) {
	if rs == nil {
		rs = &config.RouteShadow{}
	}
	cmp, err := compare.Compile(Rules(rs))
	if err != nil {
		return nil, err
	}
	rr := &routeRules{cmp: cmp, learn: rs.LearnNoise == nil || *rs.LearnNoise, learnSample: rs.LearnSample}
	if rr.learnSample <= 0 {
		rr.learnSample = config.DefaultLearnSample
	}
	return rr, nil
}

// SetReplayer names what builds the copies Replay sends: the facade.
func (e *Engine) SetReplayer(r Replayer) { e.replayer = r }

var _ proxy.Shadower = (*Engine)(nil)

// Shadow queues c, or drops and counts it: when it carries nothing to send
// (c.Skip), when the queue holds shadow.queue copies, when c would take the
// bytes the waiting copies hold over shadow.queue_bytes, or once Close was
// called. It never blocks.
func (e *Engine) Shadow(c *proxy.ShadowCopy) {
	if c.Skip != "" {
		e.drop(c.Route, c.Skip)
		return
	}
	if _, ok := e.routes[c.Route]; !ok {
		e.drop(c.Route, DropNoRoute)
		return
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		e.drop(c.Route, DropClosing)
		return
	}
	n := c.Size()
	if e.bytes.Add(n) > e.maxBytes {
		e.bytes.Add(-n)
		e.drop(c.Route, DropQueueBytes)
		return
	}
	select {
	case e.queue <- c:
	default:
		e.bytes.Add(-n)
		e.drop(c.Route, DropQueueFull)
	}
}

func (e *Engine) drop(route, reason string) {
	e.metrics.result(route, resultDropped)
	e.windows.add(route, resultDropped)
	if err := e.store.Dropped(context.Background(), route, reason, 1); err != nil {
		e.log.Warn("counting a dropped shadow copy", "route", route, "error", err.Error())
	}
}

// Close stops taking copies and lets the workers finish those queued and
// in flight until ctx is done; what is left then is cancelled and counted
// dropped (reason closing). It flushes the store but does not close it.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.queue)
	e.mu.Unlock()

	done := make(chan struct{})
	go func() { e.workers.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("closing the shadow engine: %w; the copies left are counted dropped", ctx.Err())
		e.cancel() // in-flight sends fail; queued copies are drained as dropped
		<-done
	}
	e.cancel()
	e.bg.Wait()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return errors.Join(err, e.store.Flush(fctx))
}

// work takes copies off the queue until it is closed.
func (e *Engine) work() {
	defer e.workers.Done()
	for c := range e.queue {
		e.bytes.Add(-c.Size())
		if e.ctx.Err() != nil {
			e.drop(c.Route, DropClosing)
			continue
		}
		e.process(e.ctx, c)
	}
}

// process sends one copy, compares the answers and records the result.
func (e *Engine) process(ctx context.Context, c *proxy.ShadowCopy) {
	if e.tracer != nil && c.TraceParent != "" {
		var span trace.Span
		ctx, span = e.startSpan(ctx, c)
		defer span.End()
	}
	rr := e.routes[c.Route]
	other, err := c.Send(ctx)
	if err != nil && ctx.Err() != nil {
		e.drop(c.Route, DropClosing)
		return
	}
	var unsteady map[string]bool
	if err == nil && rr.learn && c.Primary == proxy.SideLegacy && mrand.Float64()*100 < rr.learnSample {
		unsteady = e.learn(ctx, c, rr)
	}
	rec := e.compare(c, other, err, rr, unsteady)
	e.record(ctx, rec)
	if e.tracer != nil {
		endSpan(ctx, rec)
	}
}

// compare builds the record of one comparison: legacy's answer against the
// new service's, whichever answered the client. A differing path is
// silenced when it is noise of the route, or when legacy itself answered
// this very request twice with different values there (unsteady, from
// learn). Only a diff or an error carries the (redacted) request and
// answers.
func (e *Engine) compare(c *proxy.ShadowCopy, other proxy.ShadowResponse, sendErr error, rr *routeRules, unsteady map[string]bool) *store.Record {
	rec := &store.Record{ID: newID(), Route: c.Route, At: c.At, RequestID: c.RequestID, Primary: c.Primary}
	switch {
	case sendErr != nil:
		rec.Result, rec.Error = store.ResultError, fmt.Sprintf("%s: %v", c.To, sendErr)
		fill(rec, c, nil)
		return rec
	case other.Truncated:
		rec.Result, rec.Error = store.ResultError, fmt.Sprintf("%s: the answer is longer than shadow.max_body (%d bytes)", c.To, c.Rules.MaxBody)
		fill(rec, c, &other)
		return rec
	}
	legacy, newer := c.Answer, other
	if c.Primary == proxy.SideNew {
		legacy, newer = other, c.Answer
	}
	start := time.Now()
	res := rr.cmp.Compare(responseOf(legacy), responseOf(newer), nil)
	if len(res.Diffs) > 0 {
		noise := e.noise.patterns(c.Route)
		for _, d := range res.Diffs {
			if unsteady[compare.Generalize(d.Path)] || noise != nil && noise.Match(d.Path) {
				rec.Noise = append(rec.Noise, d.Path)
				continue
			}
			rec.Diffs = append(rec.Diffs, diffOf(c, d))
		}
	}
	rec.More = res.More
	e.metrics.compared(time.Since(start))
	if len(rec.Diffs) == 0 && rec.More == 0 {
		rec.Result = store.ResultMatch
		return rec
	}
	rec.Result = store.ResultDiff
	fill(rec, c, &other)
	return rec
}

// redactedValue stands for a redacted value in a diff, as JSON text.
var redactedValue = strconv.Quote(proxy.Redacted)

// diffOf is the stored form of a diff: its values are redacted when a
// name along its path is (a password field, a Set-Cookie header), as the
// stored answers are.
func diffOf(c *proxy.ShadowCopy, d compare.Diff) store.Diff {
	out := store.Diff{Path: d.Path, Kind: d.Kind, Legacy: d.A, New: d.B}
	for _, name := range compare.Names(d.Path) {
		if c.Redacts(name) {
			if out.Legacy != "" {
				out.Legacy = redactedValue
			}
			if out.New != "" {
				out.New = redactedValue
			}
			break
		}
	}
	return out
}

// fill gives a record the redacted request and answers: the client's, and
// the other side's when it answered.
func fill(rec *store.Record, c *proxy.ShadowCopy, other *proxy.ShadowResponse) {
	red := c.Redacted()
	rec.Request = requestOf(red)
	primary := answerOf(red.Answer)
	var second *store.Answer
	if other != nil {
		second = answerOf(c.RedactAnswer(*other))
	}
	if c.Primary == proxy.SideLegacy {
		rec.Legacy, rec.New = primary, second
	} else {
		rec.Legacy, rec.New = second, primary
	}
}

// learn asks legacy the same request again: every path whose value differs
// between its two answers is noise of the route. It returns those paths,
// generalised.
func (e *Engine) learn(ctx context.Context, c *proxy.ShadowCopy, rr *routeRules) map[string]bool {
	again, err := c.Again(ctx)
	if err != nil || again.Truncated || again.Status != c.Answer.Status {
		return nil
	}
	res := rr.cmp.Compare(responseOf(c.Answer), responseOf(again), nil)
	seen := map[string]bool{}
	for _, d := range res.Diffs {
		p := compare.Generalize(d.Path)
		if seen[p] {
			continue
		}
		seen[p] = true
		e.noise.learned(c.Route, p)
		if err := e.store.LearnNoise(ctx, c.Route, p, 1); err != nil {
			e.log.Warn("recording learned noise", "route", c.Route, "path", p, "error", err.Error())
		}
	}
	return seen
}

// record counts a comparison in the metrics and the store.
func (e *Engine) record(ctx context.Context, rec *store.Record) {
	e.metrics.result(rec.Route, string(rec.Result))
	e.windows.add(rec.Route, string(rec.Result))
	if err := e.store.Add(ctx, rec); err != nil {
		e.log.Warn("recording a shadow comparison", "route", rec.Route, "error", err.Error())
	}
	if rec.Result == store.ResultDiff && e.log.Enabled(ctx, slog.LevelDebug) {
		e.log.Debug("shadow diff", "route", rec.Route, "id", rec.ID, "paths", len(rec.Diffs))
	}
}

func responseOf(a proxy.ShadowResponse) compare.Response {
	return compare.Response{Status: a.Status, Header: a.Header, Body: a.Body}
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns a random, URL-safe record id.
func newID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}
