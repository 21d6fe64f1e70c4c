package shadow

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// resultDropped is the result label of a copy that was not compared.
const resultDropped = "dropped"

// engineMetrics are the engine's Prometheus metrics; the Engine is their
// prometheus.Collector.
type engineMetrics struct {
	comparisons *prometheus.CounterVec // strangler_shadow_comparisons_total{route,result}
	ratio       *prometheus.GaugeVec   // strangler_shadow_match_ratio{route}
	duration    prometheus.Histogram   // strangler_shadow_compare_duration_seconds
	depth       prometheus.GaugeFunc   // strangler_shadow_queue_depth
	bytes       prometheus.GaugeFunc   // strangler_shadow_queue_bytes

	mu     sync.Mutex
	counts map[string]*[2]float64 // route -> {matched, compared} since start
}

func newEngineMetrics(e *Engine) *engineMetrics {
	return &engineMetrics{
		comparisons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_shadow_comparisons_total",
			Help: "Shadow comparisons by route and result (match|diff|error|dropped).",
		}, []string{"route", "result"}),
		ratio: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strangler_shadow_match_ratio",
			Help: "Share (0 to 1) of the route's comparisons by this process that matched, since it started; errors count as not matched.",
		}, []string{"route"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "strangler_shadow_compare_duration_seconds",
			Help:    "Time to compare two answers (the comparison only, not the requests).",
			Buckets: []float64{1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, .001, .005, .01, .05},
		}),
		depth: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "strangler_shadow_queue_depth",
			Help: "Copies waiting for a shadow worker.",
		}, func() float64 { return float64(len(e.queue)) }),
		bytes: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "strangler_shadow_queue_bytes",
			Help: "Bytes held by the copies waiting for a shadow worker.",
		}, func() float64 { return float64(e.bytes.Load()) }),
		counts: map[string]*[2]float64{},
	}
}

func (m *engineMetrics) result(route, result string) {
	m.comparisons.WithLabelValues(route, result).Inc()
	if result == resultDropped {
		return
	}
	m.mu.Lock()
	c := m.counts[route]
	if c == nil {
		c = &[2]float64{}
		m.counts[route] = c
	}
	if result == "match" {
		c[0]++
	}
	c[1]++
	ratio := c[0] / c[1]
	m.mu.Unlock()
	m.ratio.WithLabelValues(route).Set(ratio)
}

func (m *engineMetrics) compared(d time.Duration) { m.duration.Observe(d.Seconds()) }

// Describe implements prometheus.Collector.
func (e *Engine) Describe(ch chan<- *prometheus.Desc) {
	m := e.metrics
	m.comparisons.Describe(ch)
	m.ratio.Describe(ch)
	m.duration.Describe(ch)
	m.depth.Describe(ch)
	m.bytes.Describe(ch)
}

// Collect implements prometheus.Collector.
func (e *Engine) Collect(ch chan<- prometheus.Metric) {
	m := e.metrics
	m.comparisons.Collect(ch)
	m.ratio.Collect(ch)
	m.duration.Collect(ch)
	m.depth.Collect(ch)
	m.bytes.Collect(ch)
}
