package sync

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// reverseStatusLoop writes the status row to the legacy database and reads
// the slot's figures from PostgreSQL about once a second, over connections
// of its own. Failures are logged at debug level: the status is advisory.
func (p *Pipeline) reverseStatusLoop(ctx context.Context) {
	rate := &rateMeter{}
	tick := time.NewTicker(p.o.StatusInterval)
	defer tick.Stop()
	var my *sql.DB
	var pg *pgx.Conn
	defer func() {
		if my != nil {
			my.Close()
		}
		if pg != nil {
			pg.Close(context.WithoutCancel(ctx))
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if pg == nil || pg.IsClosed() {
				if c, err := connectTarget(ctx, p.dstDSN); err == nil {
					pg = c
				} else {
					p.log.Debug("reading the slot", "error", err)
				}
			}
			if pg != nil {
				sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				st, err := ReadSlotStatus(sctx, pg, p.cfg.Name)
				cancel()
				if err != nil {
					p.log.Debug("reading the slot", "error", err)
					pg.Close(context.WithoutCancel(ctx))
					pg = nil
				} else {
					p.rev.slot.Store(&st)
					if m := p.o.Metrics; m != nil && m.SlotLagBytes != nil && m.RetainedWALBytes != nil {
						m.SlotLagBytes.WithLabelValues(p.label).Set(float64(st.LagBytes))
						m.RetainedWALBytes.WithLabelValues(p.label).Set(float64(st.RetainedWALBytes))
					}
				}
			}
			// Under statusMu, as in statusLoop.
			p.resume.statusMu.Lock()
			func() {
				defer p.resume.statusMu.Unlock()
				s := p.sampleStatus(now, rate)
				if s.Phase == PhaseStarting {
					return
				}
				if my == nil {
					db, _, err := p.openLegacy(ctx)
					if err != nil {
						p.log.Debug("writing status", "error", err)
						return
					}
					my = db
				}
				wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err := saveReverseStatus(wctx, my, s)
				cancel()
				if err != nil {
					p.log.Debug("writing status", "error", err)
					my.Close()
					my = nil
				}
			}()
		}
	}
}

// writeReverseFinalStatus records in the legacy database why the pipeline
// stopped.
func (p *Pipeline) writeReverseFinalStatus(ctx context.Context) {
	s := p.Status()
	deadline := time.Now().Add(3 * time.Second)
	if s.Phase == PhasePaused {
		deadline = time.Now().Add(30 * time.Second)
	}
	for {
		err := func() error {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			db, _, err := p.openLegacy(cctx)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := ensureReverseSchema(cctx, db); err != nil {
				return err
			}
			return saveReverseStatus(cctx, db, s)
		}()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			p.log.Error(fmt.Sprintf("could not record the %s state in the legacy database: %v", s.Phase, err))
			return
		}
		t := time.NewTimer(time.Second)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}
