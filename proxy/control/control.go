package control

import (
	"context"
	"errors"
	"fmt"
	"github.com/stranglerfig/strangler/proxy"
	"log/slog"
	"slices"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stranglerfig/strangler/internal/config"
)

// MaxReason is the longest reason, in bytes, a change may carry.
const MaxReason = 1024

// Applier is what the controller drives: the facade's route table.
type Applier interface {
	// Apply swaps the run-time state in atomically.
	Apply(proxy.State) error
	// Routes describes every route, in project-file order.
	Routes() []proxy.RouteInfo // as the facade runs them
}

var _ Applier = (*proxy.Facade)(nil)

// Controller owns the run-time route state of one facade replica: it
// validates changes, stores them (the store decides what "at once on every
// replica" means) and applies them to the facade, and it applies changes
// that other replicas stored.
//
// The state it stores holds only the routes changed at run time (overrides
// of the project file); a route absent from it runs with the mode and
// percent the project file gives it. Until the first change nothing is
// written, and the project file's modes run at version 0.
type Controller struct {
	store  Store
	facade Applier
	log    *slog.Logger
	now    func() time.Time

	file     map[string]proxy.RouteState // the project file's modes, by route
	order    []string                    // route names in project-file order
	rollouts map[string]bool             // routes with a rollout plan

	mu    sync.Mutex  // serialises changes and remote applies
	state proxy.State // the state applied to the facade
}

// ControllerOption configures a Controller.
type ControllerOption func(*Controller) error

// WithControllerLogger sets the controller's logger. Default slog.Default().
func WithControllerLogger(l *slog.Logger) ControllerOption {
	return func(c *Controller) error {
		if l == nil {
			return errors.New("controller logger: nil")
		}
		c.log = l
		return nil
	}
}

// WithClock sets the clock stamping history entries. Default time.Now.
func WithClock(now func() time.Time) ControllerOption {
	return func(c *Controller) error {
		if now == nil {
			return errors.New("controller clock: nil")
		}
		c.now = now
		return nil
	}
}

// NewController returns a controller of the routes of cfg, storing in store
// and applying to facade. Call Load before serving.
func NewController(cfg *config.Config, store Store, facade Applier, opts ...ControllerOption) (*Controller, error) {
	if cfg == nil || store == nil || facade == nil {
		return nil, errors.New("new controller: config, store and facade are required")
	}
	c := &Controller{
		store: store, facade: facade, log: slog.Default(), now: time.Now,
		file:     make(map[string]proxy.RouteState, len(cfg.Routes)),
		rollouts: map[string]bool{},
		state:    proxy.State{Routes: map[string]proxy.RouteState{}},
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, fmt.Errorf("new controller: %w", err)
		}
	}
	for _, r := range cfg.Routes {
		c.file[r.Name] = proxy.RouteState{Mode: r.Mode, Percent: r.Percent}
		c.order = append(c.order, r.Name)
		if r.Rollout != nil {
			c.rollouts[r.Name] = true
		}
	}
	return c, nil
}

// Load reads the stored state and applies it to the facade. Stored routes
// the project file no longer defines are kept in the store but logged and
// not applied.
func (c *Controller) Load(ctx context.Context) error {
	st, err := c.store.Load(ctx)
	if err != nil {
		return fmt.Errorf("loading route state: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for name := range st.Routes {
		if _, ok := c.file[name]; !ok {
			c.log.Warn("stored route state names a route the project file does not define; ignored", "route", name)
		}
	}
	if err := c.applyLocked(st); err != nil {
		return fmt.Errorf("applying stored route state (version %d): %w", st.Version, err)
	}
	c.log.Info("route state loaded", "version", st.Version, "overrides", len(st.Routes))
	return nil
}

// State returns a copy of the state applied to the facade.
func (c *Controller) State() proxy.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state.Clone()
}

// Routes describes every route as the facade runs it, in project-file
// order, with where its mode comes from: the project file, or an override
// stored at run time (with the change that set it, from the history).
func (c *Controller) Routes(ctx context.Context) ([]RouteView, error) {
	st := c.State()
	infos := c.facade.Routes()
	out := make([]RouteView, len(infos))
	var last map[string]HistoryEntry
	if len(st.Routes) > 0 {
		h, err := c.History(ctx)
		if err != nil {
			return nil, err
		}
		last = make(map[string]HistoryEntry, len(st.Routes))
		for _, e := range h {
			if e.Version <= st.Version {
				last[e.Route] = e
			}
		}
	}
	for i, ri := range infos {
		v := RouteView{RouteInfo: ri, Source: SourceFile, File: c.file[ri.Name]}
		if rs, ok := st.Routes[ri.Name]; ok {
			v.Source = SourceOverride
			v.Hold = rs.Hold
			if e, ok := last[ri.Name]; ok && !e.Reset {
				v.Override = &OverrideView{At: e.At, Version: e.Version, Who: e.Who, Reason: e.Reason}
			}
		}
		out[i] = v
	}
	return out, nil
}

// History returns the audit log, oldest first.
func (c *Controller) History(ctx context.Context) ([]HistoryEntry, error) {
	h, err := c.store.History(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading route history: %w", err)
	}
	return h, nil
}

// Watch applies the changes other replicas store until ctx is done.
func (c *Controller) Watch(ctx context.Context) error {
	return c.store.Watch(ctx, c.applyRemote)
}

// applyRemote applies a state another writer stored when it is newer than
// the one applied. Versions only grow, so an older one is a read that raced
// with this replica's own write and is ignored.
func (c *Controller) applyRemote(st proxy.State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.Version == c.state.Version {
		return
	}
	if st.Version < c.state.Version {
		// A watcher's read that raced with this replica's own newer write;
		// or a store that was reset, which needs a restart to be followed.
		c.log.Debug("ignoring stored route state older than the applied one", "stored", st.Version, "applied", c.state.Version)
		return
	}
	if err := c.applyLocked(st); err != nil {
		c.log.Error("applying stored route state; keeping the last good state", "version", st.Version, "err", err)
		return
	}
	c.log.Info("route state changed by another writer", "version", st.Version)
}

func (c *Controller) applyLocked(st proxy.State) error {
	if st.Routes == nil {
		st.Routes = map[string]proxy.RouteState{}
	}
	if err := c.facade.Apply(st.Clone()); err != nil {
		return err
	}
	c.state = st.Clone()
	return nil
}

// effective is the mode and percent a route runs with under st.
func (c *Controller) effective(st proxy.State, name string) proxy.RouteState {
	return st.Of(name, c.file[name])
}

// Result is the outcome of a change.
type Result struct {
	Version uint64         `json:"version"` // the state version after the change
	Changed []HistoryEntry `json:"changed"` // one entry per route that moved; empty for a no-op
}

// Change validates ch, stores the next state and applies it. A change that
// moves no route stores nothing and keeps the version. Errors: *FieldError
// for bad input, *UnknownRouteError, ErrVersionMismatch when
// ch.ExpectVersion is stale; nothing is changed on any error.
func (c *Controller) Change(ctx context.Context, ch Change) (Result, error) {
	names, err := c.validate(ch)
	if err != nil {
		return Result{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Another replica may have stored a change this one has not applied yet;
	// then the store refuses and the state is reloaded. A caller that named
	// the version it expects gets the mismatch; others are retried.
	for attempt := 0; ; attempt++ {
		if ch.ExpectVersion != 0 && ch.ExpectVersion != c.state.Version {
			return Result{}, fmt.Errorf("changing routes: expected version %d, state is at %d: %w", ch.ExpectVersion, c.state.Version, ErrVersionMismatch)
		}
		next, entries := c.next(ch, names)
		var err error
		if len(entries) == 0 {
			// Nothing moves by this replica's state; make sure it is not
			// stale before answering that nothing needs to change.
			err = c.checkCurrent(ctx)
			if err == nil {
				return Result{Version: c.state.Version, Changed: []HistoryEntry{}}, nil
			}
		} else {
			err = c.store.Apply(ctx, c.state.Version, next, entries)
		}
		if err == nil {
			if aerr := c.applyLocked(next); aerr != nil {
				// Stored but not applied here: the facade refused a state
				// this controller validated, which is a bug; say so loudly.
				c.log.Error("route change stored but not applied by the facade", "version", next.Version, "err", aerr)
				return Result{}, fmt.Errorf("applying route state version %d: %w", next.Version, aerr)
			}
			for _, e := range entries {
				c.log.Info("route changed", "route", e.Route, "from", e.From.Mode, "to", e.To.Mode, "percent", e.To.Percent, "version", e.Version, "who", e.Who, "reason", e.Reason)
			}
			return Result{Version: next.Version, Changed: entries}, nil
		}
		if !errors.Is(err, ErrVersionMismatch) || attempt >= 5 {
			return Result{}, fmt.Errorf("storing route change: %w", err)
		}
		st, lerr := c.store.Load(ctx)
		if lerr != nil {
			return Result{}, fmt.Errorf("reloading route state after a concurrent change: %w", lerr)
		}
		if aerr := c.applyLocked(st); aerr != nil {
			return Result{}, fmt.Errorf("applying reloaded route state version %d: %w", st.Version, aerr)
		}
	}
}

// checkCurrent returns ErrVersionMismatch when the store holds another
// version than the one applied.
func (c *Controller) checkCurrent(ctx context.Context) error {
	st, err := c.store.Load(ctx)
	if err != nil {
		return fmt.Errorf("reading route state: %w", err)
	}
	if st.Version != c.state.Version {
		return fmt.Errorf("stored version %d, applied %d: %w", st.Version, c.state.Version, ErrVersionMismatch)
	}
	return nil
}

// validate checks ch against the project file and returns the route names
// it moves, in project-file order.
func (c *Controller) validate(ch Change) ([]string, error) {
	keep := ch.Hold != nil && ch.Mode == "" && ch.Percent == nil // a mark only
	switch {
	case ch.Reset && (ch.Mode != "" || ch.Percent != nil || ch.Hold != nil):
		return nil, &FieldError{Field: "mode", Msg: "a reset returns routes to the project file's mode; give no mode or percent"}
	case !ch.Reset && !keep:
		if err := config.CheckMode(ch.Mode); err != nil {
			return nil, &FieldError{Field: "mode", Msg: err.Error()}
		}
	}
	if p := ch.Percent; p != nil {
		if err := config.CheckPercent(*p); err != nil {
			return nil, &FieldError{Field: "percent", Msg: err.Error()}
		}
		if ch.Mode != config.ModeCanary && *p != 0 {
			return nil, &FieldError{Field: "percent", Msg: fmt.Sprintf("only applies to mode canary, not %s", ch.Mode)}
		}
	}
	if len(ch.Reason) > MaxReason {
		return nil, &FieldError{Field: "reason", Msg: fmt.Sprintf("is %d bytes long; at most %d", len(ch.Reason), MaxReason)}
	}
	if !utf8.ValidString(ch.Reason) || hasControl(ch.Reason) {
		return nil, &FieldError{Field: "reason", Msg: "must be valid UTF-8 text without control characters"}
	}
	if ch.All {
		if len(ch.Routes) > 0 {
			return nil, &FieldError{Field: "routes", Msg: "cannot be given together with all"}
		}
		return slices.Clone(c.order), nil
	}
	if len(ch.Routes) == 0 {
		return nil, &FieldError{Field: "routes", Msg: "name at least one route, or all"}
	}
	want := make(map[string]bool, len(ch.Routes))
	for _, n := range ch.Routes {
		if _, ok := c.file[n]; !ok {
			return nil, &UnknownRouteError{Name: n}
		}
		want[n] = true
	}
	var names []string
	for _, n := range c.order {
		if want[n] {
			names = append(names, n)
		}
	}
	return names, nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// next computes the state after ch and the history entries of the routes
// that move. Only canary keeps a percent: a nil percent keeps the current
// one, and other modes run at 0.
func (c *Controller) next(ch Change, names []string) (proxy.State, []HistoryEntry) {
	next := c.state.Clone()
	next.Version++
	at := c.now().UTC()
	var entries []HistoryEntry
	for _, n := range names {
		from := c.effective(c.state, n)
		if ch.Reset {
			if _, ok := next.Routes[n]; !ok {
				continue // no override to drop
			}
			delete(next.Routes, n)
			entries = append(entries, HistoryEntry{At: at, Version: next.Version, Route: n, From: from, To: c.file[n], Reason: ch.Reason, Who: ch.Who, Reset: true})
			continue
		}
		to := proxy.RouteState{Mode: ch.Mode}
		switch {
		case ch.Mode == "": // a mark only: the mode and percent stay
			to = proxy.RouteState{Mode: from.Mode, Percent: from.Percent}
		case ch.Mode == config.ModeCanary:
			to.Percent = from.Percent
			if ch.Percent != nil {
				to.Percent = *ch.Percent
			}
		}
		switch {
		case ch.Hold != nil:
			to.Hold = *ch.Hold
		case c.rollouts[n] && ch.Who != RolloutWho:
			to.Hold = HoldPaused // a change by hand pauses the route's controller
		}
		if to == from {
			continue
		}
		next.Routes[n] = to
		entries = append(entries, HistoryEntry{At: at, Version: next.Version, Route: n, From: from, To: to, Reason: ch.Reason, Who: ch.Who})
	}
	return next, entries
}
