package sync

import (
	"context"
	"fmt"
	"strings"
	gosync "sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// rateMeter measures a rate over the whole run and over a recent window.
type rateMeter struct {
	mu     gosync.Mutex
	start  time.Time
	total  int64
	window []rateSample
}

type rateSample struct {
	at    time.Time
	total int64
}

func newRateMeter() *rateMeter { return &rateMeter{start: time.Now()} }

func (r *rateMeter) add(n int64) {
	r.mu.Lock()
	r.total += n
	r.mu.Unlock()
}

func (r *rateMeter) overall() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := time.Since(r.start).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(r.total) / d
}

// sample records the running total of a counter and returns its rate over
// the last five seconds.
func (r *rateMeter) sample(now time.Time, total int64) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.window = append(r.window, rateSample{now, total})
	for len(r.window) > 2 && now.Sub(r.window[0].at) > 5*time.Second {
		r.window = r.window[1:]
	}
	first := r.window[0]
	d := now.Sub(first.at).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(total-first.total) / d
}

// KeptColumnsReason starts the reason of a streaming pipeline whose target
// keeps columns the source dropped (DROP COLUMN), followed by their names.
const KeptColumnsReason = "the target keeps columns the source dropped (nullable, no longer written): "

// Status returns the pipeline's live status, as this process sees it;
// for a both-ways pipeline its forward half's (see Halves for the other).
func (p *Pipeline) Status() Status {
	if p.pair != nil {
		return p.pair.fwd.Status()
	}
	s := Status{
		Pipeline:   p.cfg.Name,
		LagSeconds: float64(p.lagNanos.Load()) / 1e9,
		LagEvents:  p.pending.Load(),
		Changes:    p.applied.Load(),
		UpdatedAt:  time.Now(),
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s.Position = p.position
	s.Phase, s.Reason = p.phase, p.reason
	if s.Phase == PhaseStreaming && s.Reason == "" && len(p.kept) > 0 {
		s.Reason = KeptColumnsReason + strings.Join(p.kept, ", ")
	}
	if p.pause != nil {
		s.Phase, s.Reason, s.Statement, s.Todo = PhasePaused, p.pause.Reason, p.pause.Statement, p.pause.Todo
		if s.Statement != "" {
			s.pausedAt = p.pause.Resume
		}
	}
	p.fillDirection(&s)
	for _, t := range p.snapTables {
		ts := TableStatus{Table: t.Table, Rows: t.Rows, Total: t.Total, Snapshot: t.Done, Phase: PhaseSnapshot}
		switch {
		case t.Done:
			ts.Phase, ts.Percent = PhaseStreaming, 100
		case t.Total > 0:
			ts.Percent = min(99.9, 100*float64(t.Rows)/float64(t.Total))
		}
		s.Tables = append(s.Tables, ts)
	}
	sortTables(s.Tables)
	return s
}

// sampleStatus is the pipeline's status as the status loops write it:
// with the rate over the last seconds, the lag cleared when nothing is
// pending and the source has been quiet, and the gauges set.
func (p *Pipeline) sampleStatus(now time.Time, rate *rateMeter) Status {
	s := p.Status()
	s.RowsPerSec = rate.sample(now, s.Changes)
	if s.LagEvents == 0 && time.Since(time.Unix(0, p.lastRecv.Load())) > 2*p.o.FlushInterval {
		s.LagSeconds = 0
		p.lagNanos.Store(0)
	}
	if m := p.o.Metrics; m != nil {
		m.RowsPerSec.WithLabelValues(p.label).Set(s.RowsPerSec)
		m.Lag.WithLabelValues(p.label).Set(s.LagSeconds)
		m.LagEvents.WithLabelValues(p.label).Set(float64(s.LagEvents))
	}
	return s
}

// statusLoop writes the status row about once a second, over its own
// connection, until ctx is done. Failures are logged at debug level: the
// status is advisory, and the pipeline logs the outage itself.
func (p *Pipeline) statusLoop(ctx context.Context) {
	if p.reverse() {
		p.reverseStatusLoop(ctx)
		return
	}
	rate := &rateMeter{}
	tick := time.NewTicker(p.o.StatusInterval)
	defer tick.Stop()
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.WithoutCancel(ctx))
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			// Sampled and written under statusMu: a paused status is never
			// written after a resume moved on (see tryResume).
			p.resume.statusMu.Lock()
			func() {
				defer p.resume.statusMu.Unlock()
				s := p.sampleStatus(now, rate)
				if s.Phase == PhaseStarting {
					return // nothing to say yet; a paused state stays as stored
				}
				if conn == nil || conn.IsClosed() {
					c, err := connectTarget(ctx, p.dstDSN)
					if err != nil {
						p.log.Debug("writing status", "error", err)
						return
					}
					conn = c
				}
				wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err := saveStatus(wctx, conn, s)
				cancel()
				if err != nil {
					p.log.Debug("writing status", "error", err)
					conn.Close(context.WithoutCancel(ctx))
					conn = nil
				}
			}()
		}
	}
}

// writeFinalStatus records why the pipeline stopped. A pause must reach
// the target, so it is retried for a while.
func (p *Pipeline) writeFinalStatus(ctx context.Context, runErr error) {
	if ph := p.currentPhase(); ph != PhasePaused && ph != PhaseStopped {
		reason := ""
		if runErr != nil {
			reason = runErr.Error()
		}
		p.setPhase(PhaseStopped, reason)
	}
	if p.reverse() {
		p.writeReverseFinalStatus(ctx)
		return
	}
	s := p.Status()
	deadline := time.Now().Add(30 * time.Second)
	if s.Phase != PhasePaused {
		deadline = time.Now().Add(3 * time.Second)
	}
	for {
		err := func() error {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			conn, err := connectTarget(cctx, p.dstDSN)
			if err != nil {
				return err
			}
			defer conn.Close(cctx)
			if err := EnsureCheckpointSchema(cctx, conn); err != nil {
				return err
			}
			return saveStatus(cctx, conn, s)
		}()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			p.log.Error(fmt.Sprintf("could not record the %s state in the target: %v", s.Phase, err))
			return
		}
		time.Sleep(time.Second)
	}
}
