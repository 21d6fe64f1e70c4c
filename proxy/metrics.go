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
	shadow   *prometheus.CounterVec   // strangler_shadow_comparisons_total{route,result}
	version  prometheus.Gauge         // strangler_route_version
	refused  prometheus.Counter       // strangler_ingress_refused_total

	unmatched *routeMetrics // route=""
}

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
		shadow: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_shadow_comparisons_total",
			Help: "Shadow comparisons by route and result (match|diff|error|dropped).",
		}, []string{"route", "result"}),
		version: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "strangler_route_version",
			Help: "Version of the route table in use; it increments on every route change.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strangler_ingress_refused_total",
			Help: "Client requests answered 400 on ingress, before matching, for a path no backend could be trusted to read as the facade does.",
		}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.breaker, m.shadow, m.version, m.refused,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.unmatched = &routeMetrics{
		legacy:   newBackendMetrics(m, "", backendLegacy),
		new:      newBackendMetrics(m, "", backendNew),
		breaker:  m.breaker.WithLabelValues(""),
		dropped:  m.shadow.WithLabelValues("", "dropped"),
		routeTag: "",
	}
	return m
}

// routeMetrics are one route's metric children, resolved once so that the
// hot path touches no label maps.
type routeMetrics struct {
	legacy, new *backendMetrics
	breaker     prometheus.Gauge
	dropped     prometheus.Counter
	routeTag    string
}

func (m *facadeMetrics) forRoute(name string) *routeMetrics {
	rm := &routeMetrics{
		legacy:   newBackendMetrics(m, name, backendLegacy),
		new:      newBackendMetrics(m, name, backendNew),
		breaker:  m.breaker.WithLabelValues(name),
		dropped:  m.shadow.WithLabelValues(name, "dropped"),
		routeTag: name,
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
	duration prometheus.Observer

	mu    sync.Mutex
	codes atomic.Pointer[map[int]prometheus.Counter]
}

func newBackendMetrics(m *facadeMetrics, route string, b backend) *backendMetrics {
	bm := &backendMetrics{vec: m.requests, route: route, backend: b.String(),
		duration: m.duration.WithLabelValues(route, b.String())}
	empty := map[int]prometheus.Counter{}
	bm.codes.Store(&empty)
	return bm
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
