package sync

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the sync pipelines' Prometheus metrics:
//
//   - strangler_sync_changes_total{pipeline,table,op}: row changes applied
//     to the target (op: insert, update, delete, snapshot).
//   - strangler_sync_lag_seconds{pipeline}: age of the last applied source
//     commit when it was applied, 0 when caught up (binlog timestamps have
//     whole-second resolution).
//   - strangler_sync_lag_events{pipeline}: row changes received from the
//     source and not yet applied.
//   - strangler_sync_rows_per_second{pipeline}: rows (snapshot) or changes
//     (streaming) applied per second over the last few seconds.
//   - strangler_sync_phase{pipeline,phase}: 1 for the pipeline's current
//     phase (starting, snapshot, streaming, waiting, paused, stopped), 0 for
//     the phases it was in before.
//   - strangler_sync_slot_lag_bytes{pipeline} (new-to-legacy): WAL written
//     after the position the replication slot confirmed (bytes).
//   - strangler_sync_slot_retained_wal_bytes{pipeline} (new-to-legacy):
//     WAL the server keeps for the slot (bytes).
//   - strangler_sync_conflicts_total{pipeline,table,winner} (both ways):
//     conflicts resolved, by the side that won (legacy, new).
//
// The new-to-legacy half of a both-ways pipeline NAME reports as pipeline
// "NAME:new-to-legacy".
type Metrics struct {
	Changes          *prometheus.CounterVec
	Lag              *prometheus.GaugeVec
	LagEvents        *prometheus.GaugeVec
	RowsPerSec       *prometheus.GaugeVec
	Phase            *prometheus.GaugeVec
	SlotLagBytes     *prometheus.GaugeVec
	RetainedWALBytes *prometheus.GaugeVec
	Conflicts        *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with r (nil: not
// registered).
func NewMetrics(r prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_sync_changes_total",
			Help: "Row changes applied to the target, by pipeline, source table and op (insert, update, delete, snapshot).",
		}, []string{"pipeline", "table", "op"}),
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strangler_sync_lag_seconds",
			Help: "Seconds between a source commit and its application to the target; 0 when caught up.",
		}, []string{"pipeline"}),
		LagEvents: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strangler_sync_lag_events",
			Help: "Row changes received from the source and not yet applied to the target.",
		}, []string{"pipeline"}),
		RowsPerSec: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strangler_sync_rows_per_second",
			Help: "Rows (snapshot) or changes (streaming) applied per second, recent average.",
		}, []string{"pipeline"}),
		Phase: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strangler_sync_phase",
			Help: "1 for the pipeline's current phase (starting, snapshot, streaming, waiting, paused, stopped), 0 for earlier ones.",
		}, []string{"pipeline", "phase"}),
		SlotLagBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strangler_sync_slot_lag_bytes",
			Help: "New-to-legacy: bytes of WAL after the position the pipeline's replication slot confirmed (pg_current_wal_lsn() - confirmed_flush_lsn).",
		}, []string{"pipeline"}),
		RetainedWALBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strangler_sync_slot_retained_wal_bytes",
			Help: "New-to-legacy: bytes of WAL PostgreSQL keeps for the pipeline's replication slot (pg_current_wal_lsn() - restart_lsn).",
		}, []string{"pipeline"}),
		Conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_sync_conflicts_total",
			Help: "Both ways: rows changed on both sides before either change arrived, by the side whose version won.",
		}, []string{"pipeline", "table", "winner"}),
	}
	if r != nil {
		for _, c := range []prometheus.Collector{m.Changes, m.Lag, m.LagEvents, m.RowsPerSec, m.Phase, m.SlotLagBytes, m.RetainedWALBytes, m.Conflicts} {
			if err := r.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
