package proxy

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// facadeMetrics are the facade's Prometheus metrics, named as DESIGN.md's
// contracts say.
type facadeMetrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec   // strangler_requests_total{route,backend,code}
	duration *prometheus.HistogramVec // strangler_request_duration_seconds{route,backend}
	breaker  *prometheus.GaugeVec     // strangler_breaker_state{route}
	fallback *prometheus.CounterVec   // strangler_fallbacks_total{route,reason}
	version  prometheus.Gauge         // strangler_route_version
	refused  prometheus.Counter       // strangler_ingress_refused_total

	rateLimited  *prometheus.CounterVec // strangler_rate_limited_total{route}
	authFailures *prometheus.CounterVec // strangler_auth_failures_total{route,reason}

	unmatched *routeMetrics // route="": legacy only, no breaker, no shadow
}

// Reasons of strangler_fallbacks_total.
const (
	fallbackBreakerOpen = "breaker_open" // the breaker refused the attempt
	fallbackUnreachable = "unreachable"  // the target refused the connection
	fallbackTimeout     = "timeout"      // a safe request timed out on the target
	fallbackStatus5xx   = "target_5xx"   // a safe request got a 5xx from the target
	fallbackError       = "target_error" // a safe request failed otherwise
)

func newFacadeMetrics() *facadeMetrics {
	m := &facadeMetrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_requests_total",
			Help: "Requests answered by the facade, by route (\"\" when unmatched), backend (legacy|new) and status code.",
		}, []string{"route", "backend", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "strangler_request_duration_seconds",
			Help:    "Time from the request's arrival to the end of its answer, by route and backend.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "backend"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strangler_breaker_state",
			Help: "State of the route target's circuit breaker: 0 closed, 1 half-open, 2 open.",
		}, []string{"route"}),
		fallback: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_fallbacks_total",
			Help: "Requests answered by legacy after their target failed or was refused, by route and reason (breaker_open|unreachable|timeout|target_5xx|target_error).",
		}, []string{"route", "reason"}),
		version: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "strangler_route_version",
			Help: "Version of the route table in use; it increments on every route change.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strangler_ingress_refused_total",
			Help: "Client requests answered 400 on ingress, before matching, for a path no backend could be trusted to read as the facade does.",
		}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_rate_limited_total",
			Help: "Requests answered 429 by the route's rate limit (each replica counts its own), by route.",
		}, []string{"route"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_auth_failures_total",
			Help: "Requests refused by the route's authentication check (401, 403, or 503 when the check could not be made), by route and reason (docs/gateway.md lists them).",
		}, []string{"route", "reason"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.breaker, m.fallback, m.version, m.refused, m.rateLimited, m.authFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Unmatched requests only ever go to legacy: no new-backend, breaker or
	// shadow series exist for route "".
	m.unmatched = &routeMetrics{legacy: newBackendMetrics(m, "", backendLegacy)}
	return m
}

// routeMetrics are one route's metric children, resolved once so that the
// hot path touches no label maps.
type routeMetrics struct {
	legacy, new *backendMetrics
	breaker     prometheus.Gauge
	fallbacks   *prometheus.CounterVec // curried with the route
}

func (m *facadeMetrics) forRoute(name string) *routeMetrics {
	rm := &routeMetrics{
		legacy:    newBackendMetrics(m, name, backendLegacy),
		new:       newBackendMetrics(m, name, backendNew),
		breaker:   m.breaker.WithLabelValues(name),
		fallbacks: m.fallback.MustCurryWith(prometheus.Labels{"route": name}),
	}
	rm.breaker.Set(0)
	return rm
}

func (rm *routeMetrics) backend(b backend) *backendMetrics {
	if b == backendNew {
		return rm.new
	}
	return rm.legacy
}

// fellBack counts one request answered by legacy after its target failed.
func (rm *routeMetrics) fellBack(reason string) { rm.fallbacks.WithLabelValues(reason).Inc() }

// backend is where a request was answered.
type backend uint8

const (
	backendLegacy backend = iota
	backendNew
)

func (b backend) String() string {
	if b == backendNew {
		return "new"
	}
	return "legacy"
}

// backendMetrics are the children of one route and backend. Counters by
// status code are created on first use and then found without locking.
type backendMetrics struct {
	vec      *prometheus.CounterVec
	route    string
	backend  string
	histVec  *prometheus.HistogramVec
	duration atomic.Pointer[prometheus.Observer] // created on first use: no empty series

	mu    sync.Mutex
	codes atomic.Pointer[map[int]prometheus.Counter]
}

func newBackendMetrics(m *facadeMetrics, route string, b backend) *backendMetrics {
	bm := &backendMetrics{vec: m.requests, route: route, backend: b.String(), histVec: m.duration}
	empty := map[int]prometheus.Counter{}
	bm.codes.Store(&empty)
	return bm
}

// observe records one request's duration.
func (bm *backendMetrics) observe(seconds float64) {
	if o := bm.duration.Load(); o != nil {
		(*o).Observe(seconds)
		return
	}
	o := bm.histVec.WithLabelValues(bm.route, bm.backend)
	bm.duration.CompareAndSwap(nil, &o)
	o.Observe(seconds)
}

// counter returns the request counter for a status code.
func (bm *backendMetrics) counter(code int) prometheus.Counter {
	if c, ok := (*bm.codes.Load())[code]; ok {
		return c
	}
	bm.mu.Lock()
	defer bm.mu.Unlock()
	old := *bm.codes.Load()
	if c, ok := old[code]; ok {
		return c
	}
	next := make(map[int]prometheus.Counter, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	c := bm.vec.WithLabelValues(bm.route, bm.backend, strconv.Itoa(code))
	next[code] = c
	bm.codes.Store(&next)
	return c
}
