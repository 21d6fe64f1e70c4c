package recipes

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are a service's Prometheus metrics, in its own registry.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	reloads  *prometheus.CounterVec
	events   *prometheus.CounterVec
	attempts *prometheus.CounterVec
	consumed *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, service string) (*metrics, error) {
	labels := prometheus.Labels{"service": service}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strangler_recipe_requests_total",
			Help: "Requests served by a recipe service, by endpoint and status code.", ConstLabels: labels}, []string{"endpoint", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "strangler_recipe_request_duration_seconds",
			Help: "Time to serve a request, by endpoint.", ConstLabels: labels,
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"endpoint"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strangler_recipe_reloads_total",
			Help: "Recipe reloads, by result (ok, refused).", ConstLabels: labels}, []string{"result"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strangler_recipe_events_delivered_total",
			Help: "Domain events delivered from the outbox, by sink (webhook, nats).", ConstLabels: labels}, []string{"sink"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strangler_recipe_event_failures_total",
			Help: "Failed event delivery attempts, by sink.", ConstLabels: labels}, []string{"sink"}),
		consumed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strangler_recipe_events_consumed_total",
			Help: "Events of a subscription handled, by result (applied, duplicate, retried, dead_lettered).", ConstLabels: labels},
			[]string{"subscription", "result"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.reloads, m.events, m.attempts, m.consumed} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	return m, nil
}
