package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/proxy"
)

// RouteTraffic is the facade's side of the signals: each route's recent
// traffic and its breaker.
type RouteTraffic interface {
	Stats(span time.Duration) []proxy.RouteStats
	// RouteStats is one route's figures: what the controller reads for
	// each plan, without summing every other route's window.
	RouteStats(name string, span time.Duration) (proxy.RouteStats, bool)
	Routes() []proxy.RouteInfo
}

var _ RouteTraffic = (*proxy.Facade)(nil)

// Comparisons are the shadow engine's side: a route's comparisons over a
// window.
type Comparisons interface {
	Comparisons(route string, span time.Duration) ShadowCounts
}

// SyncLags are the sync pipelines' side: the largest lag of the pipelines
// carrying a route's tables. known is false when the route depends on no
// pipeline; an error means the lag could not be read (which holds a stage).
type SyncLags interface {
	SyncLag(ctx context.Context, route string) (lag time.Duration, known bool, err error)
}

// Signals are the live figures the rollout controller judges and the
// dashboard shows. Traffic is required; a nil Shadow or SyncLag leaves
// their gates out.
type Signals struct {
	Traffic RouteTraffic
	Shadow  Comparisons
	SyncLag SyncLags
}

// Stats returns every route's traffic, breaker and comparisons over span.
func (s Signals) Stats(span time.Duration) []RouteStatsView {
	stats := s.Traffic.Stats(span)
	breakers := map[string]string{}
	for _, ri := range s.Traffic.Routes() {
		breakers[ri.Name] = ri.Breaker
	}
	out := make([]RouteStatsView, len(stats))
	for i, rs := range stats {
		out[i] = RouteStatsView{RouteStats: rs, Breaker: breakers[rs.Route]}
		if s.Shadow != nil {
			out[i].Shadow = s.Shadow.Comparisons(rs.Route, span)
		}
		out[i].Shadow.MatchRate = matchRate(out[i].Shadow)
	}
	return out
}

func matchRate(c ShadowCounts) *float64 {
	if c.Compared == 0 {
		return nil
	}
	r := 100 * float64(c.Matched) / float64(c.Compared)
	return &r
}

// Rollout is the rollout controller: it moves each route with a rollout
// plan through its stages, judging its gates over a sliding window, and
// rolls the route back when a gate breaks. Every replica runs one; only the
// one that holds the lease (see Leaser) changes anything, through the
// route Controller, so that every replica applies the same changes.
type Rollout struct {
	ctl     *Controller
	signals Signals
	lease   Leaser // nil: this replica always leads
	log     *slog.Logger
	now     func() time.Time
	tick    time.Duration

	plans map[string]*plan
	order []string

	counters rolloutCounters

	mu      sync.Mutex
	leading bool
	views   map[string]RolloutView
	marks   map[string]*stageMark
	history historyCache
}

// plan is one route's rollout from the project file.
type plan struct {
	route    string
	stages   []config.Stage
	names    []string
	window   time.Duration
	gates    config.Gates
	abort    time.Duration // 0: instant
	compares bool          // the route compares answers in canary and new
}

// stageMark is when the route's current state began, and the ramp of an
// abort in progress.
type stageMark struct {
	state proxy.RouteState
	since time.Time
	// rampFrom and rampAt are the percent and time an abort's ramp began
	// (known to the replica that began it; another that takes over starts
	// its ramp where the route is).
	rampFrom float64
	rampAt   time.Time
}

type historyCache struct {
	version uint64
	last    map[string]HistoryEntry // each route's latest entry
}

// RolloutOption configures a Rollout.
type RolloutOption func(*Rollout) error

// WithRolloutLogger sets the controller's logger. Default slog.Default().
func WithRolloutLogger(l *slog.Logger) RolloutOption {
	return func(r *Rollout) error {
		if l == nil {
			return errors.New("rollout logger: nil")
		}
		r.log = l
		return nil
	}
}

// WithRolloutClock sets the controller's clock. Default time.Now. The
// signals keep their own clocks: tests give both.
func WithRolloutClock(now func() time.Time) RolloutOption {
	return func(r *Rollout) error {
		if now == nil {
			return errors.New("rollout clock: nil")
		}
		r.now = now
		return nil
	}
}

// WithLeaser elects the acting controller among replicas. Default: none,
// this replica always acts (one facade).
func WithLeaser(l Leaser) RolloutOption {
	return func(r *Rollout) error {
		if l == nil {
			return errors.New("rollout leaser: nil")
		}
		r.lease = l
		return nil
	}
}

// WithRolloutTick sets how often Run judges the gates. Default 1s.
func WithRolloutTick(d time.Duration) RolloutOption {
	return func(r *Rollout) error {
		if d <= 0 {
			return fmt.Errorf("rollout tick %v: must be positive", d)
		}
		r.tick = d
		return nil
	}
}

// NewRollout returns the rollout controller of cfg's routes, changing them
// through ctl and judging them on signals.
func NewRollout(cfg *config.Config, ctl *Controller, signals Signals, opts ...RolloutOption) (*Rollout, error) {
	if cfg == nil || ctl == nil || signals.Traffic == nil {
		return nil, errors.New("new rollout controller: config, route controller and traffic are required")
	}
	r := &Rollout{
		ctl: ctl, signals: signals, log: slog.Default(), now: time.Now, tick: time.Second,
		plans: map[string]*plan{}, views: map[string]RolloutView{}, marks: map[string]*stageMark{},
		counters: newRolloutCounters(),
	}
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, fmt.Errorf("new rollout controller: %w", err)
		}
	}
	for _, rc := range cfg.Routes {
		ro := rc.Rollout
		if ro == nil {
			continue
		}
		p := &plan{route: rc.Name, stages: ro.Stages, window: ro.Window.D(), gates: ro.Gates, abort: ro.Abort.D(),
			compares: rc.Shadow == nil || rc.Shadow.Sample == nil || *rc.Shadow.Sample > 0}
		for _, s := range ro.Stages {
			p.names = append(p.names, s.String())
		}
		r.plans[rc.Name] = p
		r.order = append(r.order, rc.Name)
	}
	return r, nil
}

// Run judges every plan once per tick, leading when the lease allows,
// until ctx is done.
func (r *Rollout) Run(ctx context.Context) error {
	if len(r.plans) == 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	if r.lease == nil {
		r.setLeading(true)
	} else {
		go r.campaign(ctx)
	}
	t := time.NewTicker(r.tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if err := r.Step(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("rollout controller step", "error", err.Error())
		}
	}
}

func (r *Rollout) campaign(ctx context.Context) {
	for ctx.Err() == nil {
		lost, err := r.lease.Lead(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("rollout lease", "error", err.Error())
			}
			select {
			case <-ctx.Done():
			case <-time.After(leaseRetry):
			}
			continue
		}
		r.setLeading(true)
		r.log.Info("rollout controller leads: this replica moves the routes")
		<-lost
		r.setLeading(false)
		if ctx.Err() == nil {
			r.log.Warn("rollout controller lost its lease; another replica may lead now")
		}
	}
}

func (r *Rollout) setLeading(v bool) {
	r.mu.Lock()
	r.leading = v
	r.mu.Unlock()
}

// Leading reports whether this replica's controller acts.
func (r *Rollout) Leading() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leading
}

// Step judges every plan once and, when this replica leads, makes the
// changes due. Run calls it once per tick; tests call it with their clock.
func (r *Rollout) Step(ctx context.Context) error {
	st := r.ctl.State()
	last, err := r.lastEntries(ctx, st.Version)
	if err != nil {
		return err
	}
	now := r.now()
	leading := r.Leading()
	var errs []error
	for _, name := range r.order {
		p := r.plans[name]
		cur := r.ctl.effective(st, name)
		mark := r.mark(name, cur, last[name], now)
		v, act := r.judge(ctx, p, cur, mark, now)
		if leading && act != nil {
			if err := r.act(ctx, p, cur, mark, act, now); err != nil {
				errs = append(errs, err)
				v.Message += "; the change failed: " + err.Error()
			} else if act.to.Hold == HoldAborted {
				v.Status, v.Message = RolloutAborted, strings.TrimPrefix(act.reason, "rollout: ")
			} else if act.to.Hold == HoldAborting {
				v.Status = RolloutAborting
			}
		}
		r.mu.Lock()
		r.views[name] = v
		r.mu.Unlock()
	}
	return errors.Join(errs...)
}

// lastEntries returns each route's latest history entry, read again only
// when the state version moved.
func (r *Rollout) lastEntries(ctx context.Context, version uint64) (map[string]HistoryEntry, error) {
	r.mu.Lock()
	hc := r.history
	r.mu.Unlock()
	if hc.last != nil && hc.version == version {
		return hc.last, nil
	}
	last := map[string]HistoryEntry{}
	if version > 0 {
		h, err := r.ctl.History(ctx)
		if err != nil {
			return nil, err
		}
		for _, e := range h {
			if e.Version <= version {
				last[e.Route] = e
			}
		}
	}
	r.mu.Lock()
	r.history = historyCache{version: version, last: last}
	r.mu.Unlock()
	return last, nil
}

// mark returns when the route's current state began: the time of the
// change that set it, or the first time this replica saw it.
func (r *Rollout) mark(name string, cur proxy.RouteState, last HistoryEntry, now time.Time) *stageMark {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.marks[name]
	if m != nil && m.state == cur {
		return m
	}
	since := now
	if last.Route == name && last.To == cur && !last.At.IsZero() && !last.At.After(now) {
		since = last.At
	}
	nm := &stageMark{state: cur, since: since}
	if m != nil && cur.Hold == HoldAborting && m.state.Hold == HoldAborting {
		nm.rampFrom, nm.rampAt = m.rampFrom, m.rampAt // a step of the same ramp
	}
	r.marks[name] = nm
	return nm
}

// action is a change the controller wants.
type action struct {
	to      proxy.RouteState
	reason  string
	abort   bool   // a breach: the first step back
	gate    string // the first broken gate of an abort
	advance bool   // a start or the next stage
}

// stageOf is the index of the stage the route is at: -1 before the first
// (legacy); between two canary percents, the lower one's.
func (p *plan) stageOf(cur proxy.RouteState) int {
	switch cur.Mode {
	case config.ModeLegacy:
		return -1
	case config.ModeShadow:
		for i, s := range p.stages {
			if s.Mode == config.ModeShadow {
				return i
			}
		}
		return -1
	case config.ModeNew:
		return len(p.stages) - 1
	}
	at := -1
	for i, s := range p.stages {
		switch {
		case s.Mode == config.ModeShadow:
			at = i
		case s.Mode == config.ModeCanary && s.Percent <= cur.Percent:
			at = i
		}
	}
	return at
}

// stateOf is the route state of stage i.
func (p *plan) stateOf(i int) proxy.RouteState {
	s := p.stages[i]
	if s.Mode == config.ModeCanary {
		return proxy.RouteState{Mode: config.ModeCanary, Percent: s.Percent}
	}
	return proxy.RouteState{Mode: s.Mode}
}

// judge works out the route's rollout view and the change due, if any.
func (r *Rollout) judge(ctx context.Context, p *plan, cur proxy.RouteState, m *stageMark, now time.Time) (RolloutView, *action) {
	v := RolloutView{Route: p.route, Stages: p.names, Stage: p.stageOf(cur), Since: m.since,
		Window: p.window.String(), Abort: config.Abort(p.abort).String(), Gates: []GateView{}}
	switch cur.Hold {
	case HoldPaused:
		v.Status, v.Message = RolloutPaused, "paused by hand; `strangler routes resume "+p.route+"` hands it back to the controller"
		return v, nil
	case HoldAborted:
		v.Status, v.Message = RolloutAborted, "rolled back by the controller; `strangler routes resume "+p.route+"` starts again from the first stage"
		return v, nil
	case HoldAborting:
		return r.ramp(p, cur, m, now, v)
	}
	if v.Stage < 0 && cur.Mode == config.ModeLegacy {
		next := p.stateOf(0)
		v.Status, v.Message = RolloutAdvance, "starting: first stage "+p.names[0]
		return v, &action{to: next, reason: "rollout: starting with stage " + p.names[0], advance: true}
	}
	elapsed := now.Sub(m.since)
	span := min(max(elapsed, 0), p.window)
	v.Gates = r.gates(ctx, p, cur, span)
	var broken, unjudged []string
	first := ""
	thin := false
	for _, g := range v.Gates {
		switch {
		case g.Broken:
			if first == "" {
				first = g.Gate
			}
			broken = append(broken, g.Gate+": "+g.Detail)
		case !g.OK && g.Gate == "min_requests":
			thin = true
		case !g.OK:
			unjudged = append(unjudged, g.Gate+": "+g.Detail)
		}
	}
	last := v.Stage == len(p.stages)-1
	switch {
	case len(broken) > 0:
		v.Status = RolloutBreached
		v.Message = "gate broken over the last " + span.Round(time.Second).String() + ": " + strings.Join(broken, "; ")
		a := r.abortAction(p, cur, v.Message)
		a.gate = first
		return v, a
	case thin && elapsed >= p.window:
		v.Status, v.Message = RolloutThin, "holding: too little traffic to judge ("+gateDetail(v.Gates, "min_requests")+")"
	case len(unjudged) > 0 && elapsed >= p.window:
		v.Status, v.Message = RolloutHolding, "holding: "+strings.Join(unjudged, "; ")
	case elapsed < p.window:
		v.Status = RolloutWaiting
		v.Message = fmt.Sprintf("in stage %s for %s of %s; no gate broken so far", p.names[max(v.Stage, 0)], elapsed.Round(time.Second), p.window)
		if last {
			v.Status, v.Message = RolloutDone, "in the last stage; still watched: a broken gate rolls it back"
		}
	case last:
		v.Status, v.Message = RolloutDone, "in the last stage; every gate held over the window; still watched"
	default:
		next := v.Stage + 1
		v.Status = RolloutAdvance
		v.Message = "every gate held for " + p.window.String() + ": next stage " + p.names[next]
		return v, &action{advance: true, to: p.stateOf(next), reason: "rollout: stage " + p.names[max(v.Stage, 0)] + " held for " + p.window.String() + " (" + gateFigures(v.Gates) + "); next stage " + p.names[next]}
	}
	return v, nil
}

// abortAction is the first step back after a breach: legacy at once, or a
// ramp from where the target's share is.
func (r *Rollout) abortAction(p *plan, cur proxy.RouteState, why string) *action {
	reason := "rollout: rolled back: " + why
	if p.abort == 0 || cur.Mode == config.ModeShadow {
		return &action{to: proxy.RouteState{Mode: config.ModeLegacy, Hold: HoldAborted}, reason: reason, abort: true}
	}
	pct := cur.Percent
	if cur.Mode == config.ModeNew {
		pct = 100
	}
	return &action{to: proxy.RouteState{Mode: config.ModeCanary, Percent: pct, Hold: HoldAborting},
		reason: "rollout: ramping down over " + p.abort.String() + ": " + why, abort: true}
}

// p99SlackMillis is the difference of p99 latencies, in milliseconds,
// below which the p99_ratio gate does not break: between two answers of
// well under a millisecond a ratio says nothing.
const p99SlackMillis = 5

// rampSteps is the number of steps an abort's ramp takes.
const rampSteps = 20

// ramp is the view and the next step of an abort in progress.
func (r *Rollout) ramp(p *plan, cur proxy.RouteState, m *stageMark, now time.Time, v RolloutView) (RolloutView, *action) {
	if m.rampAt.IsZero() {
		// Taken over from another replica, or after a restart: the ramp
		// goes on from here.
		m.rampFrom, m.rampAt = cur.Percent, now
	}
	left := m.rampFrom * (1 - float64(now.Sub(m.rampAt))/float64(p.abort))
	v.Status = RolloutAborting
	v.Message = fmt.Sprintf("ramping down after a broken gate: %.4g%% now, legacy by %s", cur.Percent, m.rampAt.Add(p.abort).Format(time.RFC3339))
	if left <= 0 || p.abort <= 0 {
		return v, &action{to: proxy.RouteState{Mode: config.ModeLegacy, Hold: HoldAborted}, reason: "rollout: ramp down done"}
	}
	step := m.rampFrom / rampSteps
	next := math.Ceil(left/step) * step
	if next >= cur.Percent {
		return v, nil
	}
	next = math.Round(next*100) / 100
	return v, &action{to: proxy.RouteState{Mode: config.ModeCanary, Percent: next, Hold: HoldAborting},
		reason: fmt.Sprintf("rollout: ramping down: %.4g%%", next)}
}

// act stores the change due.
func (r *Rollout) act(ctx context.Context, p *plan, cur proxy.RouteState, m *stageMark, a *action, now time.Time) error {
	ch := Change{Routes: []string{p.route}, Mode: a.to.Mode, Reason: a.reason, Who: RolloutWho, Hold: &a.to.Hold}
	if a.to.Mode == config.ModeCanary {
		pct := a.to.Percent
		ch.Percent = &pct
	}
	if len(ch.Reason) > MaxReason {
		ch.Reason = ch.Reason[:MaxReason-3] + "..."
	}
	if _, err := r.ctl.Change(ctx, ch); err != nil {
		return fmt.Errorf("rollout of route %s: %w", p.route, err)
	}
	lvl := slog.LevelInfo
	switch {
	case a.abort:
		lvl = slog.LevelWarn
		r.counters.aborts.WithLabelValues(p.route, a.gate).Inc()
	case a.advance:
		r.counters.advances.WithLabelValues(p.route).Inc()
	}
	r.log.Log(ctx, lvl, "rollout moved a route", "route", p.route, "from", cur.Mode, "from_percent", cur.Percent,
		"to", a.to.Mode, "to_percent", a.to.Percent, "reason", ch.Reason)
	if a.abort && a.to.Hold == HoldAborting {
		r.mu.Lock()
		r.marks[p.route] = &stageMark{state: a.to, since: now, rampFrom: a.to.Percent, rampAt: now}
		r.mu.Unlock()
	}
	return nil
}

// gates judges the gates of the route's stage over span.
func (r *Rollout) gates(ctx context.Context, p *plan, cur proxy.RouteState, span time.Duration) []GateView {
	g := p.gates
	rs, _ := r.signals.Traffic.RouteStats(p.route, span)
	breaker := ""
	for _, ri := range r.signals.Traffic.Routes() {
		if ri.Name == p.route {
			breaker = ri.Breaker
		}
	}
	var sc ShadowCounts
	if r.signals.Shadow != nil {
		sc = r.signals.Shadow.Comparisons(p.route, span)
	}
	shadowStage := cur.Mode == config.ModeShadow
	var out []GateView

	// How many requests the stage's figures stand on.
	n := rs.New.Requests
	what := "requests to the target"
	if shadowStage {
		n, what = sc.Compared, "comparisons"
	}
	enough := n >= int64(g.MinRequests)
	out = append(out, GateView{Gate: "min_requests", Value: fp(float64(n)), Threshold: float64(g.MinRequests), OK: enough,
		Detail: fmt.Sprintf("%d of %d %s", n, g.MinRequests, what)})

	// The match rate: every comparison in shadow; in canary and new the
	// sampled ones, judged once there are a tenth of min_requests.
	if r.signals.Shadow != nil && (shadowStage || p.compares) {
		need := int64(g.MinRequests)
		if !shadowStage {
			need = max(int64(math.Ceil(float64(g.MinRequests)/10)), 1)
		}
		gv := GateView{Gate: "match_rate", Threshold: g.MatchRate}
		if mr := matchRate(sc); mr != nil {
			gv.Value = mr
			gv.Detail = fmt.Sprintf("%.2f%% of %d comparisons matched", *mr, sc.Compared)
			if sc.Compared >= need {
				gv.OK, gv.Broken = *mr >= g.MatchRate, *mr < g.MatchRate
			} else {
				gv.Detail += fmt.Sprintf("; %d needed to judge", need)
			}
		} else {
			gv.Detail = "no comparisons yet"
		}
		out = append(out, gv)
	}

	if !shadowStage {
		// The target's errors: judged on enough requests.
		ev := GateView{Gate: "error_rate", Threshold: g.ErrorRate, Value: fp(rs.New.Rate),
			Detail: fmt.Sprintf("%d of %d requests failed", rs.New.Errors, rs.New.Requests)}
		if enough {
			ev.OK, ev.Broken = rs.New.Rate <= g.ErrorRate, rs.New.Rate > g.ErrorRate
		}
		out = append(out, ev)

		// Latency against legacy's over the same window; with no legacy
		// answers (mode new) there is nothing to compare with.
		pv := GateView{Gate: "p99_ratio", Threshold: g.P99Ratio}
		switch {
		case rs.Legacy.Requests-rs.Fallbacks < int64(max(g.MinRequests/10, 1)) || rs.Legacy.P99 == 0:
			pv.OK = true
			pv.Detail = fmt.Sprintf("target p99 %.3gms; too few legacy answers to compare with", rs.New.P99)
		case rs.New.P99 == 0:
			pv.Detail = "no answers from the target yet"
		default:
			ratio := rs.New.P99 / rs.Legacy.P99
			pv.Value = fp(ratio)
			pv.Detail = fmt.Sprintf("target p99 %.3gms, legacy %.3gms", rs.New.P99, rs.Legacy.P99)
			slow := ratio > g.P99Ratio && rs.New.P99-rs.Legacy.P99 > p99SlackMillis
			if enough {
				pv.OK, pv.Broken = !slow, slow
			}
		}
		out = append(out, pv)

		// The breaker: open breaks the stage, half-open holds it.
		bv := GateView{Gate: "breaker", Detail: breaker}
		switch breaker {
		case "open":
			bv.Broken, bv.Detail = true, "the target's breaker is open"
		case "half-open":
			bv.Detail = "the target's breaker is half-open"
		default:
			bv.OK = true
		}
		out = append(out, bv)
	}

	if r.signals.SyncLag != nil {
		lag, known, err := r.signals.SyncLag.SyncLag(ctx, p.route)
		lv := GateView{Gate: "sync_lag", Threshold: g.SyncLag.D().Seconds()}
		switch {
		case err != nil:
			lv.Detail = "the sync lag could not be read: " + err.Error()
		case known:
			lv.Value = fp(lag.Seconds())
			lv.OK, lv.Broken = lag <= g.SyncLag.D(), lag > g.SyncLag.D()
			lv.Detail = fmt.Sprintf("%.1fs behind", lag.Seconds())
		}
		if err != nil || known {
			out = append(out, lv)
		}
	}
	return out
}

func fp(v float64) *float64 { return &v }

func gateDetail(gs []GateView, name string) string {
	for _, g := range gs {
		if g.Gate == name {
			return g.Detail
		}
	}
	return ""
}

// gateFigures writes the gates' figures for the history.
func gateFigures(gs []GateView) string {
	var parts []string
	for _, g := range gs {
		if g.Detail != "" {
			parts = append(parts, g.Gate+": "+g.Detail)
		}
	}
	return strings.Join(parts, ", ")
}

// View returns the rollout of every route with a plan, as last judged.
func (r *Rollout) View() RolloutResponse {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := RolloutResponse{Leader: r.leading, Routes: []RolloutView{}}
	for _, n := range r.order {
		v, ok := r.views[n]
		if !ok {
			p := r.plans[n]
			v = RolloutView{Route: n, Stages: p.names, Stage: -1, Status: RolloutWaiting, Message: "not judged yet",
				Window: p.window.String(), Abort: config.Abort(p.abort).String(), Gates: []GateView{}}
		}
		out.Routes = append(out.Routes, v)
	}
	return out
}

// Rollout errors of pause, resume and promote.
var (
	// ErrNoRollout refuses pause, resume or promote of a route without a
	// rollout plan.
	ErrNoRollout = errors.New("the route has no rollout plan in the project file")
	// ErrLastStage refuses to promote a route in its last stage.
	ErrLastStage = errors.New("the route is in its rollout's last stage")
)

// Pause stops the controller moving the route; the route keeps its mode.
func (r *Rollout) Pause(ctx context.Context, route, who, reason string) (Result, error) {
	return r.mark1(ctx, route, who, reason, HoldPaused)
}

// Resume hands the route back to the controller: from its current stage,
// or from the first after a rollback.
func (r *Rollout) Resume(ctx context.Context, route, who, reason string) (Result, error) {
	return r.mark1(ctx, route, who, reason, HoldNone)
}

func (r *Rollout) mark1(ctx context.Context, route, who, reason, hold string) (Result, error) {
	if _, err := r.planOf(route); err != nil {
		return Result{}, err
	}
	return r.ctl.Change(ctx, Change{Routes: []string{route}, Hold: &hold, Who: who, Reason: reason})
}

// Promote moves the route to its next stage now, whatever its gates say;
// the controller goes on from there.
func (r *Rollout) Promote(ctx context.Context, route, who, reason string) (Result, error) {
	p, err := r.planOf(route)
	if err != nil {
		return Result{}, err
	}
	cur := r.ctl.effective(r.ctl.State(), route)
	i := p.stageOf(cur)
	if i >= len(p.stages)-1 {
		return Result{}, fmt.Errorf("promoting route %s: %w (%s)", route, ErrLastStage, p.names[len(p.names)-1])
	}
	to := p.stateOf(i + 1)
	none := HoldNone
	ch := Change{Routes: []string{route}, Mode: to.Mode, Hold: &none, Who: who,
		Reason: strings.TrimSpace("promoted to stage " + p.names[i+1] + " by hand. " + reason)}
	if to.Mode == config.ModeCanary {
		ch.Percent = &to.Percent
	}
	return r.ctl.Change(ctx, ch)
}

func (r *Rollout) planOf(route string) (*plan, error) {
	if _, ok := r.ctl.file[route]; !ok {
		return nil, &UnknownRouteError{Name: route}
	}
	p := r.plans[route]
	if p == nil {
		return nil, fmt.Errorf("route %s: %w", route, ErrNoRollout)
	}
	return p, nil
}
