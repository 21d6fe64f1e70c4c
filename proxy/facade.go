package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/stranglerfig/strangler/internal/config"
)

// Facade is the routing facade: an http.Handler that sends each request to
// legacy or to its route's target according to the route table in use.
//
// The route table is immutable; Apply builds a new one and swaps it in
// atomically, so a request finishes on the table it started with.
type Facade struct {
	cfg       *config.Config
	log       *slog.Logger
	transport http.RoundTripper
	shadower  Shadower

	legacy  *url.URL
	trusted trustedProxies // proxy.trusted_proxies
	routes  []*route       // static part of every route, in project-file order
	index   *routeIndex
	rp      *httputil.ReverseProxy
	metrics *facadeMetrics
	nop     *NopShadower // the default shadower, when none was given

	maxBodyCopy   int64
	timeout       time.Duration
	flushInterval time.Duration // see WithFlushInterval
	statsWindow   time.Duration // see WithStatsWindow
	unmatched     *routeWindows // recent traffic no route matched
	tracer        trace.Tracer  // see WithTracerProvider; nil: no traces
	identity      *routeGate    // every route's identity headers, stripped from every request; nil: none

	table atomic.Pointer[routeTable]
	ids   requestIDs

	closeOnce sync.Once
	applyMu   sync.Mutex
}

// Option configures a Facade; each checks its own argument.
type Option func(*Facade) error

// WithLogger sets the logger of the access log and of errors. Default: JSON
// lines on standard error. The access log is written at level Info, so a
// logger whose handler is not enabled for Info turns it off.
func WithLogger(l *slog.Logger) Option {
	return func(f *Facade) error {
		if l == nil {
			return errors.New("facade logger: nil")
		}
		f.log = l
		return nil
	}
}

// WithShadower sets where shadow copies go. Default: a NopShadower, which
// counts them.
func WithShadower(s Shadower) Option {
	return func(f *Facade) error {
		if s == nil {
			return errors.New("facade shadower: nil")
		}
		f.shadower = s
		return nil
	}
}

// WithTransport sets the round tripper used for legacy and every target.
// Default: the facade's own HTTP/1.1 client for plain-HTTP upstreams, with
// NewTransport() for the rest.
func WithTransport(rt http.RoundTripper) Option {
	return func(f *Facade) error {
		if rt == nil {
			return errors.New("facade transport: nil")
		}
		f.transport = rt
		return nil
	}
}

// WithStatsWindow sets the longest window Stats answers for: the facade
// keeps each route's traffic of that long, per backend, in 120 slots (each
// at least 100ms). Default: the project file's config.Config.StatsWindow.
func WithStatsWindow(d time.Duration) Option {
	return func(f *Facade) error {
		if d <= 0 {
			return fmt.Errorf("facade stats window %v: must be positive", d)
		}
		f.statsWindow = d
		return nil
	}
}

// New builds a facade for the routes of cfg, with their modes and percents
// from the project file. cfg must come from config.Load or config.Parse.
func New(cfg *config.Config, opts ...Option) (*Facade, error) {
	if cfg == nil {
		return nil, errors.New("building facade: nil config")
	}
	f := &Facade{
		cfg:           cfg,
		maxBodyCopy:   cfg.Proxy.MaxBodyCopy,
		timeout:       cfg.Proxy.Timeout.D(),
		flushInterval: -1,
	}
	for _, o := range opts {
		if err := o(f); err != nil {
			return nil, fmt.Errorf("building facade: %w", err)
		}
	}
	if f.log == nil {
		f.log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if f.transport == nil {
		// Plain-HTTP upstreams go through the facade's own client,
		// the rest through the tuned net/http transport.
		f.transport = newUpstreamTransport(NewTransport())
	}
	if f.shadower == nil {
		f.nop = &NopShadower{}
		f.shadower = f.nop
	}
	if f.maxBodyCopy <= 0 {
		f.maxBodyCopy = config.DefaultMaxBodyCopy
	}
	if f.timeout <= 0 {
		f.timeout = config.DefaultTimeout
	}
	if f.statsWindow == 0 {
		f.statsWindow = cfg.StatsWindow()
	}
	if cfg.Legacy == "" {
		return nil, errors.New("building facade: legacy: no legacy URL in the project file")
	}
	trusted, err := parseTrustedProxies(cfg.Proxy.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("building facade: %w", err)
	}
	f.trusted = trusted
	legacy, err := parseUpstream(cfg.Legacy)
	if err != nil {
		return nil, fmt.Errorf("building facade: legacy: %w", err)
	}
	f.legacy = legacy
	f.metrics = newFacadeMetrics()
	f.unmatched = newRouteWindows(f.statsWindow)
	for i := range cfg.Routes {
		rt, err := f.compileRoute(i, &cfg.Routes[i])
		if err != nil {
			f.closeCaptures()
			return nil, fmt.Errorf("building facade: routes[%d] (%s): %w", i, cfg.Routes[i].Name, err)
		}
		f.routes = append(f.routes, rt)
	}
	f.index = buildIndex(f.routes)
	f.identity = identityOfAll(f.routes)
	f.rp = f.newReverseProxy()
	if err := f.install(State{}); err != nil {
		f.closeCaptures()
		return nil, fmt.Errorf("building facade: %w", err)
	}
	return f, nil
}

// parseUpstream checks an upstream base URL.
func parseUpstream(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("parsing upstream URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("upstream URL %q: want http://host[:port][/path]", s)
	}
	return u, nil
}

// Apply builds a new immutable table from the project file's routes and s
// (routes absent from s keep the file's mode and percent; names in s that
// the file does not know are ignored) and swaps it in atomically. A state
// with a bad mode or percent is refused and changes nothing.
func (f *Facade) Apply(s State) error {
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	if err := f.install(s); err != nil {
		return fmt.Errorf("applying route state version %d: %w", s.Version, err)
	}
	return nil
}

// install builds and swaps in the table for s.
func (f *Facade) install(s State) error {
	t := &routeTable{version: s.Version, entries: make([]routeEntry, len(f.routes))}
	for i, rt := range f.routes {
		rs := s.Of(rt.name, RouteState{Mode: rt.cfg.Mode, Percent: rt.cfg.Percent})
		if err := config.CheckMode(rs.Mode); err != nil {
			return fmt.Errorf("route %q: mode %w", rt.name, err)
		}
		if err := config.CheckPercent(rs.Percent); err != nil {
			return fmt.Errorf("route %q: percent %w", rt.name, err)
		}
		t.entries[i] = routeEntry{route: rt, mode: modeOf(rs.Mode), percent: rs.Percent}
	}
	f.table.Store(t)
	f.metrics.version.Set(float64(s.Version))
	return nil
}

// Routes describes every route, in project-file order.
func (f *Facade) Routes() []RouteInfo {
	t := f.table.Load()
	out := make([]RouteInfo, len(t.entries))
	for i := range t.entries {
		e := &t.entries[i]
		out[i] = RouteInfo{
			Name:     e.route.name,
			Mode:     e.mode.String(),
			Percent:  e.percent,
			Target:   e.route.target.String(),
			Breaker:  e.route.breaker.State().String(),
			Version:  t.version,
			Sticky:   e.route.cfg.Sticky,
			Fallback: e.route.cfg.Fallback,
		}
	}
	return out
}

// Stats returns every route's traffic over the last span (at most the
// stats window, see WithStatsWindow), in project-file order.
func (f *Facade) Stats(span time.Duration) []RouteStats {
	span = min(span, f.statsWindow)
	now := time.Now()
	out := make([]RouteStats, len(f.routes))
	for i, rt := range f.routes {
		out[i] = rt.windows.read(rt.name, now, span)
	}
	return out
}

// RouteStats returns one route's traffic over the last span (at most the
// stats window); false for a route the project file does not define.
func (f *Facade) RouteStats(name string, span time.Duration) (RouteStats, bool) {
	for _, rt := range f.routes {
		if rt.name == name {
			return rt.windows.read(name, time.Now(), min(span, f.statsWindow)), true
		}
	}
	return RouteStats{}, false
}

// UnmatchedStats returns the traffic no route matched (legacy answers all
// of it) over the last span.
func (f *Facade) UnmatchedStats(span time.Duration) RouteStats {
	return f.unmatched.read("", time.Now(), min(span, f.statsWindow))
}

// StatsWindow is the longest span Stats answers for.
func (f *Facade) StatsWindow() time.Duration { return f.statsWindow }

// Version returns the version of the route table in use.
func (f *Facade) Version() uint64 { return f.table.Load().version }

// Registry returns the registry holding every facade metric; the admin API
// serves it at /metrics.
func (f *Facade) Registry() *prometheus.Registry { return f.metrics.reg }

// ShadowCopies returns the number of copies the default NopShadower received,
// or 0 when another shadower was given.
func (f *Facade) ShadowCopies() uint64 {
	if f.nop == nil {
		return 0
	}
	return f.nop.Copies()
}

// Close flushes and closes capture files and closes idle upstream
// connections. It does not close the shadower, which belongs to whoever
// made it.
// Requests still being served must have finished (see Serve).
func (f *Facade) Close() error {
	var err error
	f.closeOnce.Do(func() {
		err = f.closeCaptures()
		if ci, ok := f.transport.(interface{ CloseIdleConnections() }); ok {
			ci.CloseIdleConnections()
		}
	})
	return err
}

func (f *Facade) closeCaptures() error {
	var errs []error
	for _, rt := range f.routes {
		if rt.capture != nil {
			errs = append(errs, rt.capture.Close())
		}
	}
	return errors.Join(errs...)
}

// RouteInfo describes one route as the facade runs it.
type RouteInfo struct {
	Name     string  `json:"name"`
	Mode     string  `json:"mode"`
	Percent  float64 `json:"percent"`
	Target   string  `json:"target"`
	Breaker  string  `json:"breaker"` // closed | half-open | open
	Version  uint64  `json:"version"` // version of the table the route is in
	Sticky   string  `json:"sticky,omitempty"`
	Fallback string  `json:"fallback"`
}

// routeTable is one immutable version of the run-time route state.
type routeTable struct {
	version uint64
	entries []routeEntry // parallel to Facade.routes
}

// routeEntry is a route with its run-time mode and percent.
type routeEntry struct {
	route   *route
	mode    routeMode
	percent float64
}

// routeMode is a route mode as a small integer for the hot path.
type routeMode uint8

const (
	modeLegacy routeMode = iota
	modeShadow
	modeCanary
	modeNew
)

func (m routeMode) String() string {
	switch m {
	case modeShadow:
		return config.ModeShadow
	case modeCanary:
		return config.ModeCanary
	case modeNew:
		return config.ModeNew
	}
	return config.ModeLegacy
}

func modeOf(s string) routeMode {
	switch s {
	case config.ModeShadow:
		return modeShadow
	case config.ModeCanary:
		return modeCanary
	case config.ModeNew:
		return modeNew
	}
	return modeLegacy
}
