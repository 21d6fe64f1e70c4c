package control

import "github.com/prometheus/client_golang/prometheus"

// The rollout controller's metrics; the Rollout is their collector.
var (
	rolloutStageDesc = prometheus.NewDesc("strangler_rollout_stage",
		"Index of the stage each route with a rollout plan is in (0 the first; -1 before it, in legacy), as this replica judges it.",
		[]string{"route"}, nil)
	rolloutLeaderDesc = prometheus.NewDesc("strangler_rollout_leader",
		"1 when this replica's rollout controller is the one that acts, else 0.", nil, nil)
)

// rolloutCounters count what the leading controller did.
type rolloutCounters struct {
	advances *prometheus.CounterVec // strangler_rollout_advances_total{route}
	aborts   *prometheus.CounterVec // strangler_rollout_aborts_total{route,gate}
}

func newRolloutCounters() rolloutCounters {
	return rolloutCounters{
		advances: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_rollout_advances_total",
			Help: "Stages the rollout controller moved routes into (a start included), by route.",
		}, []string{"route"}),
		aborts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_rollout_aborts_total",
			Help: "Rollbacks the rollout controller began, by route and the first broken gate.",
		}, []string{"route", "gate"}),
	}
}

// Describe implements prometheus.Collector.
func (r *Rollout) Describe(ch chan<- *prometheus.Desc) {
	ch <- rolloutStageDesc
	ch <- rolloutLeaderDesc
	r.counters.advances.Describe(ch)
	r.counters.aborts.Describe(ch)
}

// Collect implements prometheus.Collector.
func (r *Rollout) Collect(ch chan<- prometheus.Metric) {
	v := r.View()
	for _, rv := range v.Routes {
		ch <- prometheus.MustNewConstMetric(rolloutStageDesc, prometheus.GaugeValue, float64(rv.Stage), rv.Route)
	}
	leader := 0.0
	if v.Leader {
		leader = 1
	}
	ch <- prometheus.MustNewConstMetric(rolloutLeaderDesc, prometheus.GaugeValue, leader)
	r.counters.advances.Collect(ch)
	r.counters.aborts.Collect(ch)
}

var _ prometheus.Collector = (*Rollout)(nil)
