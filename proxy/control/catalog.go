package control

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/proxy"
)

// The service catalog: which services there are, who owns them, the routes
// each serves and in which mode, the tables each depends on, the routes
// legacy still answers, and each service-level objective's standing over
// recent traffic. GET /catalog serves it (see WithCatalog), `strangler
// catalog` prints it. docs/catalog.md is its reference.

// DefaultSLOWindow is the span an objective is judged over when its route
// has no rollout window, and the span of the unmatched traffic figures.
const DefaultSLOWindow = time.Minute

// Traffic is what the catalog reads from the facade: its routes as they run
// and their recent traffic.
type Traffic interface {
	Stats(span time.Duration) []proxy.RouteStats
	UnmatchedStats(span time.Duration) proxy.RouteStats
	Routes() []proxy.RouteInfo
}

var _ Traffic = (*proxy.Facade)(nil)

// SLOTarget is a service-level objective; at least one of its two parts is
// set.
type SLOTarget struct {
	// Availability is the least share of requests, in percent (above 0, at
	// most 100), answered without a server error. Zero: no such objective.
	Availability float64
	// P99 is the longest 99th-percentile latency. Zero: no such objective.
	P99 time.Duration
}

// SLOFromConfig converts the project file's objective; nil stays nil.
func SLOFromConfig(s *config.SLO) *SLOTarget {
	if s == nil {
		return nil
	}
	return &SLOTarget{Availability: s.Availability, P99: s.P99.D()}
}

// CatalogService is the static part of one service of the catalog, as the
// project file and its recipe describe it.
type CatalogService struct {
	Name   string     // required; "" is the group of routes that name no service, made by NewCatalog
	Owner  string     // "" for none
	Recipe string     // the recipe file; "" for a service run elsewhere
	Listen string     // where `strangler serve` runs it; "" when unknown
	SLO    *SLOTarget // the service's objective over all its routes; nil for none
	Tables []string   // the tables its recipe's resources use (schema.table outside public)
	Sync   []TableSync
}

// TableSync says which sync pipeline carries one of a service's tables.
type TableSync struct {
	Table    string `json:"table"`    // as ServiceView.Tables names it
	Pipeline string `json:"pipeline"` // the pipeline's name
	Source   string `json:"source"`   // the legacy table it is copied from
}

// CatalogRouteSpec is the static part of one route of the catalog.
type CatalogRouteSpec struct {
	Name    string     // required
	Service string     // "" for none
	Owner   string     // "" for the service's
	Path    string     // the path template, or a prefix followed by "*"
	Methods []string   // empty: every method
	SLO     *SLOTarget // nil for the service's
	// Window is the span the route's objective is judged over: its rollout
	// window. Zero: DefaultSLOWindow.
	Window time.Duration
}

// Catalog is the static part of the catalog, built once from the project
// file and the recipes; Response adds the live figures. It is immutable
// and safe for concurrent use.
type Catalog struct {
	services []*catalogService // listed ones, then those only routes name, then ""
	routes   map[string]*catalogRoute
}

type catalogService struct {
	CatalogService
	routes []*catalogRoute
}

type catalogRoute struct {
	CatalogRouteSpec
	svc *catalogService
}

// NewCatalog builds the catalog of services and routes. A route naming a
// service that is not among services gets one, with no recipe (a service
// run elsewhere); routes naming none are gathered under the service "".
func NewCatalog(services []CatalogService, routes []CatalogRouteSpec) (*Catalog, error) {
	c := &Catalog{routes: map[string]*catalogRoute{}}
	byName := map[string]*catalogService{}
	for i, s := range services {
		switch {
		case s.Name == "":
			return nil, fmt.Errorf("new catalog: services[%d] has no name", i)
		case byName[s.Name] != nil:
			return nil, fmt.Errorf("new catalog: service %q is listed twice", s.Name)
		}
		if err := checkSLO(s.SLO); err != nil {
			return nil, fmt.Errorf("new catalog: service %q: %w", s.Name, err)
		}
		cs := &catalogService{CatalogService: s}
		cs.Tables = slices.Clone(s.Tables)
		cs.Sync = slices.Clone(s.Sync)
		byName[s.Name] = cs
		c.services = append(c.services, cs)
	}
	var none *catalogService
	for _, r := range routes {
		switch {
		case r.Name == "":
			return nil, errors.New("new catalog: a route has no name")
		case c.routes[r.Name] != nil:
			return nil, fmt.Errorf("new catalog: route %q is listed twice", r.Name)
		case r.Window < 0:
			return nil, fmt.Errorf("new catalog: route %q: window %v is negative", r.Name, r.Window)
		}
		if err := checkSLO(r.SLO); err != nil {
			return nil, fmt.Errorf("new catalog: route %q: %w", r.Name, err)
		}
		if r.Window == 0 {
			r.Window = DefaultSLOWindow
		}
		r.Methods = slices.Clone(r.Methods)
		svc := byName[r.Service]
		switch {
		case svc != nil:
		case r.Service == "":
			if none == nil {
				none = &catalogService{}
			}
			svc = none
		default:
			svc = &catalogService{CatalogService: CatalogService{Name: r.Service}}
			byName[r.Service] = svc
			c.services = append(c.services, svc)
		}
		cr := &catalogRoute{CatalogRouteSpec: r, svc: svc}
		svc.routes = append(svc.routes, cr)
		c.routes[r.Name] = cr
	}
	if none != nil {
		c.services = append(c.services, none)
	}
	return c, nil
}

func checkSLO(s *SLOTarget) error {
	if s == nil {
		return nil
	}
	if a := s.Availability; math.IsNaN(a) || a < 0 || a > 100 {
		return fmt.Errorf("slo availability %v is not a percent between 0 and 100", a)
	}
	if s.P99 < 0 {
		return fmt.Errorf("slo p99 %v is negative", s.P99)
	}
	if s.Availability == 0 && s.P99 == 0 {
		return errors.New("slo names no objective")
	}
	return nil
}

// Pipelines returns the sync pipelines that carry the tables of route's
// service, in the order of the project file, or nil (an unknown route, a
// route of no service, or tables no pipeline carries). The rollout
// controller's sync-lag gate watches them.
func (c *Catalog) Pipelines(route string) []string {
	r := c.routes[route]
	if r == nil {
		return nil
	}
	var out []string
	for _, s := range r.svc.Sync {
		if !slices.Contains(out, s.Pipeline) {
			out = append(out, s.Pipeline)
		}
	}
	return out
}

// Response is the catalog with the live figures of t: the routes' modes
// as they run and each objective's standing over its window.
func (c *Catalog) Response(t Traffic) CatalogResponse {
	live := t.Routes()
	byName := make(map[string]proxy.RouteInfo, len(live))
	for _, ri := range live {
		byName[ri.Name] = ri
	}
	stats := map[time.Duration]map[string]proxy.RouteStats{}
	statsOver := func(w time.Duration) map[string]proxy.RouteStats {
		if m, ok := stats[w]; ok {
			return m
		}
		m := map[string]proxy.RouteStats{}
		for _, rs := range t.Stats(w) {
			m[rs.Route] = rs
		}
		stats[w] = m
		return m
	}
	resp := CatalogResponse{At: time.Now().UTC(), Window: DefaultSLOWindow.String(), Services: []ServiceView{}, Left: []LeftView{}}
	var unknown []proxy.RouteInfo // running routes the catalog was not built with
	for _, ri := range live {
		if c.routes[ri.Name] == nil {
			unknown = append(unknown, ri)
		}
	}
	for _, s := range c.services {
		sv := ServiceView{Name: s.Name, Owner: s.Owner, Recipe: s.Recipe, Listen: s.Listen, Routes: []CatalogRoute{},
			Tables: slices.Clone(s.Tables), Sync: slices.Clone(s.Sync)}
		if sv.Tables == nil {
			sv.Tables = []string{}
		}
		window := time.Duration(0)
		for _, r := range s.routes {
			window = max(window, r.Window)
		}
		if window == 0 {
			window = DefaultSLOWindow
		}
		var all tally
		for _, r := range s.routes {
			ri := byName[r.Name]
			cr := CatalogRoute{Name: r.Name, Owner: r.Owner, Mode: ri.Mode, Percent: ri.Percent, Path: r.Path, Methods: r.Methods}
			if cr.Owner == "" {
				cr.Owner = s.Owner
			}
			if slo := firstSet(r.SLO, s.SLO); slo != nil {
				var one tally
				one.add(statsOver(r.Window)[r.Name])
				cr.SLO = one.standing(slo, r.Window)
			}
			all.add(statsOver(window)[r.Name])
			sv.Routes = append(sv.Routes, cr)
		}
		if s.Name == "" {
			for _, ri := range unknown {
				sv.Routes = append(sv.Routes, CatalogRoute{Name: ri.Name, Mode: ri.Mode, Percent: ri.Percent})
			}
			unknown = nil
		}
		if s.SLO != nil {
			sv.SLO = all.standing(s.SLO, window)
		}
		resp.Services = append(resp.Services, sv)
	}
	if len(unknown) > 0 {
		sv := ServiceView{Routes: []CatalogRoute{}, Tables: []string{}}
		for _, ri := range unknown {
			sv.Routes = append(sv.Routes, CatalogRoute{Name: ri.Name, Mode: ri.Mode, Percent: ri.Percent})
		}
		resp.Services = append(resp.Services, sv)
	}
	for _, ri := range live {
		if ri.Mode == config.ModeNew {
			continue
		}
		lv := LeftView{Route: ri.Name, Mode: ri.Mode, Percent: 100}
		if ri.Mode == config.ModeCanary {
			lv.Percent = 100 - ri.Percent
		}
		if r := c.routes[ri.Name]; r != nil {
			lv.Service, lv.Path, lv.Methods = r.Service, r.Path, r.Methods
		}
		resp.Left = append(resp.Left, lv)
	}
	resp.Unmatched = t.UnmatchedStats(DefaultSLOWindow).Legacy
	return resp
}

// firstSet returns the first of its arguments that is not nil.
func firstSet[T any](a, b *T) *T {
	if a != nil {
		return a
	}
	return b
}

// tally adds up what the clients of one or more routes got over a window,
// from whichever backend answered them.
type tally struct {
	requests, errors int64
	backends         []backendTally // for the p99
}

type backendTally struct {
	answered int64
	p99      float64 // milliseconds; 0 without answers
}

// add counts one route's window. A target attempt that failed and that
// legacy then answered (a fallback) is counted by the facade for both
// backends, as a failed request of the target and as legacy's answer; the
// client saw one request, answered by legacy, so it is counted once, as
// legacy's.
func (t *tally) add(rs proxy.RouteStats) {
	fellBack := rs.Fallbacks
	target := max(rs.New.Requests-fellBack, 0)
	t.requests += rs.Legacy.Requests + target
	t.errors += rs.Legacy.Errors + max(rs.New.Errors-fellBack, 0)
	t.backends = append(t.backends, backendTally{rs.Legacy.Requests, rs.Legacy.P99}, backendTally{target, rs.New.P99})
}

// minP99Share is the least share of the answers, in percent, a backend
// must have given for its p99 to count in the combined p99.
const minP99Share = 1

// p99 estimates the 99th percentile of all the answers from the backends'
// own: the largest p99 among the backends that gave at least 1% of the
// answers. The combined p99 lies between the smallest and the largest of
// the backends' p99s; taking the largest errs on the side of a missed
// objective, and leaving out a backend with under 1% of the answers (a
// canary's first percent) keeps its few slow answers from standing for
// the whole route, when they can move the combined p99 only within the
// other backends' slowest 1%.
func (t *tally) p99() (float64, bool) {
	var total int64
	for _, b := range t.backends {
		if b.p99 > 0 {
			total += b.answered
		}
	}
	p, ok := 0.0, false
	for _, b := range t.backends {
		if b.p99 > 0 && b.answered*100 >= minP99Share*total {
			p, ok = max(p, b.p99), true
		}
	}
	return p, ok
}

// standing judges slo on the tally of window.
func (t *tally) standing(slo *SLOTarget, window time.Duration) *SLOStanding {
	s := &SLOStanding{Availability: slo.Availability, Window: window.String(), Requests: t.requests, Errors: t.errors}
	if slo.P99 > 0 {
		s.P99Ms = float64(slo.P99) / float64(time.Millisecond)
	}
	if t.requests == 0 {
		s.Detail = "no requests in the last " + window.String()
		return s
	}
	a := 100 * float64(t.requests-t.errors) / float64(t.requests)
	s.MeasuredAvailability = &a
	if p, ok := t.p99(); ok {
		s.MeasuredP99Ms = &p
	}
	met, judged := true, true
	parts := []string{fmt.Sprintf("%d requests, %d failed", t.requests, t.errors)}
	if slo.Availability > 0 {
		ok := a+1e-9 >= slo.Availability
		met = met && ok
		parts = append(parts, fmt.Sprintf("availability %s%% %s %s%%", percent(a), judge(ok, ">=", "<"), percent(slo.Availability)))
	}
	if slo.P99 > 0 {
		switch p := s.MeasuredP99Ms; {
		case p == nil:
			judged = false
			parts = append(parts, "p99 unknown: no answer had a latency")
		default:
			ok := *p <= s.P99Ms
			met = met && ok
			parts = append(parts, fmt.Sprintf("p99 %s %s %s", millis(*p), judge(ok, "<=", ">"), millis(s.P99Ms)))
		}
	}
	switch {
	case !met:
		s.Met = ptrTo(false)
		parts = append(parts, "missed")
	case judged:
		s.Met = ptrTo(true)
		parts = append(parts, "met")
	}
	s.Detail = strings.Join(parts, "; ")
	return s
}

func judge(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

// percent writes a percent cut (not rounded) to three decimals, so that
// 99.9996 is not shown as the 100 it is not.
func percent(v float64) string {
	return strconv.FormatFloat(math.Floor(v*1000)/1000, 'f', -1, 64)
}

func millis(ms float64) string {
	return time.Duration(math.Round(ms * float64(time.Millisecond))).Round(time.Microsecond).String()
}

func ptrTo[T any](v T) *T { return &v }

// CatalogResponse is the body of GET /catalog.
type CatalogResponse struct {
	At time.Time `json:"at"`
	// Window is the span of Unmatched ("1m0s"); each objective names its
	// own.
	Window string `json:"window"`
	// Services are the listed services in project-file order, then those
	// only routes name, then "" (the routes that name no service) when
	// there are such routes.
	Services []ServiceView `json:"services"`
	// Left are the routes legacy still answers, wholly or in part: every
	// route whose mode is not new, in project-file order.
	Left []LeftView `json:"left"`
	// Unmatched is the traffic no route matched, which legacy answers.
	Unmatched proxy.BackendStats `json:"unmatched"`
}

// ServiceView is one service of the catalog.
type ServiceView struct {
	Name   string `json:"name"` // "" for the routes that name no service
	Owner  string `json:"owner,omitempty"`
	Recipe string `json:"recipe,omitempty"` // the recipe file; absent for a service run elsewhere
	Listen string `json:"listen,omitempty"`
	// Routes are the routes it serves, in project-file order.
	Routes []CatalogRoute `json:"routes"`
	// Tables are the tables its recipe's resources use (schema.table
	// outside the public schema), in resource order.
	Tables []string `json:"tables"`
	// Sync says which sync pipelines carry which of Tables.
	Sync []TableSync `json:"sync,omitempty"`
	// SLO is the standing of the service's objective over all its routes,
	// over the longest of their windows; absent without an objective.
	SLO *SLOStanding `json:"slo,omitempty"`
}

// CatalogRoute is one route of a service.
type CatalogRoute struct {
	Name    string   `json:"name"`
	Owner   string   `json:"owner,omitempty"` // the route's, else its service's
	Mode    string   `json:"mode"`            // as it runs now
	Percent float64  `json:"percent"`         // the canary share the target answers (mode canary)
	Path    string   `json:"path"`            // the path template, or a prefix followed by "*"
	Methods []string `json:"methods,omitempty"`
	// SLO is the standing of the route's objective (its own, else its
	// service's) over its window; absent without an objective.
	SLO *SLOStanding `json:"slo,omitempty"`
}

// SLOStanding is an objective and how the traffic of its window stands
// against it. The figures are what clients got, from whichever backend
// answered them (docs/catalog.md, "The arithmetic").
type SLOStanding struct {
	Availability float64 `json:"availability,omitempty"` // target, percent; absent: none
	P99Ms        float64 `json:"p99_ms,omitempty"`       // target, milliseconds; absent: none
	Window       string  `json:"window"`                 // the span judged ("1m0s")
	Requests     int64   `json:"requests"`               // answered to clients over the window
	Errors       int64   `json:"errors"`                 // of Requests, answered with a 5xx
	// MeasuredAvailability is (Requests - Errors) / Requests, in percent;
	// absent without requests.
	MeasuredAvailability *float64 `json:"measured_availability,omitempty"`
	// MeasuredP99Ms is the combined p99 of the backends' answers, in
	// milliseconds; absent without answers.
	MeasuredP99Ms *float64 `json:"measured_p99_ms,omitempty"`
	// Met reports whether every objective held; absent when it cannot be
	// judged (no requests, or no latency to judge p99 on).
	Met    *bool  `json:"met,omitempty"`
	Detail string `json:"detail"` // in plain words
}

// LeftView is one route legacy still answers.
type LeftView struct {
	Route   string `json:"route"`
	Service string `json:"service,omitempty"`
	Mode    string `json:"mode"` // legacy, shadow or canary
	// Percent is the share of the route's requests legacy answers: 100 in
	// modes legacy and shadow, 100 minus the canary percent in canary.
	Percent float64  `json:"legacy_percent"`
	Path    string   `json:"path,omitempty"`
	Methods []string `json:"methods,omitempty"`
}

// WithCatalog serves the catalog c, with the live figures of t (the
// facade), at GET /catalog. Default: GET /catalog answers 404.
func WithCatalog(c *Catalog, t Traffic) AdminOption {
	return func(a *Admin) error {
		if c == nil || t == nil {
			return errors.New("admin catalog: want a catalog and the facade's traffic")
		}
		a.catalog = func() CatalogResponse { return c.Response(t) }
		return nil
	}
}

func (a *Admin) catalogHandler(w http.ResponseWriter, _ *http.Request, _ string) {
	writeJSON(w, http.StatusOK, a.catalog())
}
