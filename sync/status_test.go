package sync

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStatusAfterPermanentStop: a pipeline that stops for good while
// streaming says so, with the reason, in its live status, in the phase
// metric and in the status row `sync status` reads.
func TestStatusAfterPermanentStop(t *testing.T) {
	if testing.Short() {
		t.Skip("needs MariaDB and PostgreSQL")
	}
	phases := []string{PhaseStarting, PhaseSnapshot, PhaseStreaming, PhaseWaiting, PhasePaused, PhaseStopped}
	requirePhaseMetric := func(t *testing.T, m *Metrics, pipeline, want string) {
		t.Helper()
		for _, ph := range phases {
			var mm dto.Metric
			require.NoError(t, m.Phase.WithLabelValues(pipeline, ph).Write(&mm))
			v := mm.GetGauge().GetValue()
			if ph == want {
				assert.Equal(t, 1.0, v, "strangler_sync_phase{phase=%q}", ph)
			} else {
				assert.Zero(t, v, "strangler_sync_phase{phase=%q}", ph)
			}
		}
	}

	t.Run("an error the target gives about the data", func(t *testing.T) {
		e := newEnv(t)
		e.exec(`CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)`, `INSERT INTO accounts VALUES (1, 10)`)
		m, err := NewMetrics(prometheus.NewRegistry())
		require.NoError(t, err)
		p, _ := e.start(pipelineConfig("strict", "accounts"), Options{Metrics: m})
		waitPhase(t, p, PhaseStreaming, time.Minute)
		requirePhaseMetric(t, m, "strict", PhaseStreaming)
		_, err = e.dst.Exec(context.Background(), `ALTER TABLE accounts ADD CONSTRAINT positive CHECK (balance >= 0)`)
		require.NoError(t, err)
		e.exec(`UPDATE accounts SET balance = -5 WHERE id = 1`)

		err = p.Wait()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "positive")
		st := p.Status()
		assert.Equal(t, PhaseStopped, st.Phase)
		assert.Contains(t, st.Reason, `violates check constraint "positive"`)
		requirePhaseMetric(t, m, "strict", PhaseStopped)
		stored, err := ReadStatus(context.Background(), e.dst, "strict")
		require.NoError(t, err)
		assert.Equal(t, PhaseStopped, stored.Phase)
		assert.Equal(t, st.Reason, stored.Reason)
	})

	t.Run("a DDL pause", func(t *testing.T) {
		e := newEnv(t)
		e.exec(`CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL, note text)`)
		m, err := NewMetrics(prometheus.NewRegistry())
		require.NoError(t, err)
		p, _ := e.start(pipelineConfig("ddl", "accounts"), Options{Metrics: m})
		waitPhase(t, p, PhaseStreaming, time.Minute)
		e.exec(`ALTER TABLE accounts MODIFY balance smallint NOT NULL`)

		waitPhase(t, p, PhasePaused, 30*time.Second)
		st := p.Status()
		assert.Contains(t, st.Reason, "MODIFY balance smallint")
		assert.Contains(t, st.Statement, "MODIFY balance smallint")
		assert.Equal(t, `ALTER TABLE "public"."accounts" ALTER COLUMN "balance" TYPE smallint`, st.Todo)
		requirePhaseMetric(t, m, "ddl", PhasePaused)
		require.Eventually(t, func() bool {
			stored, err := ReadStatus(context.Background(), e.dst, "ddl")
			return err == nil && stored.Phase == PhasePaused && stored.Todo == st.Todo && time.Since(stored.UpdatedAt) < 5*time.Second
		}, 10*time.Second, 20*time.Millisecond, "the paused pipeline keeps its status row fresh")
	})
}
