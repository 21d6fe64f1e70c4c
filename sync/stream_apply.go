package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// MaxApplyAttempts is how many times in a row the changes after one
// position may fail to apply the same way (the same SQLSTATE, a timeout,
// a lost connection) before the pipeline stops with a *BatchFailedError
// instead of trying again.
const MaxApplyAttempts = 5

// defaultPieceRows bounds the row changes the stream holds in memory: a
// source transaction with more is applied in pieces of this many, inside
// one target transaction (the pipeline's batch_size, when larger, is the
// bound instead).
const defaultPieceRows = 10000

// BatchFailedError stops a pipeline whose changes after Pos failed to
// apply the same way MaxApplyAttempts times in a row: trying again would
// loop. The position stays at Pos; the next `sync run` tries again.
type BatchFailedError struct {
	Pos      Position // the last position applied: the failing changes come after it
	Attempts int
	Cause    string // what the attempts had in common: "SQLSTATE 57014", "timeout", "lost connection"
	Err      error  // the last attempt's error
}

// Error names the position, the attempts, the cause and the last error.
func (e *BatchFailedError) Error() string {
	return fmt.Sprintf("applying the changes after %s failed %d times in a row (%s); stopped instead of trying again: %v",
		e.Pos, e.Attempts, e.Cause, e.Err)
}

func (e *BatchFailedError) Unwrap() error { return e.Err }

// applyFailures counts the failed attempts to apply the changes after one
// position, across sessions.
type applyFailures struct {
	pos   Position
	cause string
	n     int
}

// failureCause classes an apply error for "failed the same way".
func failureCause(err error) string {
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe):
		return "SQLSTATE " + pe.Code
	case errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err):
		return "timeout"
	}
	return "lost connection"
}

// applyFailed records a failed attempt to apply what follows the current
// position. Errors retrying cannot fix are returned as they are; a
// retryable one is returned for the session to start over, until it is
// the MaxApplyAttempts-th failure in a row at this position and for this
// cause: then the pipeline stops, loudly.
func (p *Pipeline) applyFailed(err error) error {
	if !retryable(err) {
		return err
	}
	pos, cause := p.currentPosition(), failureCause(err)
	p.mu.Lock()
	f := &p.failures
	if f.n > 0 && f.pos == pos && f.cause == cause {
		f.n++
	} else {
		*f = applyFailures{pos: pos, cause: cause, n: 1}
	}
	n := f.n
	p.mu.Unlock()
	if n >= MaxApplyAttempts {
		return permanent(&BatchFailedError{Pos: pos, Attempts: n, Cause: cause, Err: err})
	}
	p.log.Warn(fmt.Sprintf("applying the changes after %s failed (attempt %d of %d, %s): %v", pos, n, MaxApplyAttempts, cause, err))
	return targetErr(err)
}

// appliedOK clears the failure count: the position moved.
func (p *Pipeline) appliedOK() {
	p.mu.Lock()
	p.failures = applyFailures{}
	p.mu.Unlock()
}

// applyLoop applies what the decoder hands over, in order.
func (p *Pipeline) applyLoop(ctx context.Context, a *applier, items <-chan applyItem) error {
	defer a.rollback(ctx)
	if p.both != nil {
		a.both = p
	}
	for it := range items {
		if it.batch != nil {
			if err := p.applyBatch(ctx, a, it.batch); err != nil {
				return err
			}
			continue
		}
		d := it.ddl
		if d.pause != nil {
			// Pieces of the transaction the pause stops before go back.
			a.rollback(ctx)
			close(d.reply)
			d.pause.Pos = p.currentPosition()
			return d.pause
		}
		stmts := d.action.Apply
		renamed := d.table != nil && d.action.Map != nil && d.action.Map.Name != d.table.m.Name
		if renamed {
			// The snapshot's row follows the table, in the same transaction
			// as the position: the next start finds the table copied.
			stmts = append(slices.Clone(stmts), fmt.Sprintf(`UPDATE strangler.sync_snapshot SET table_name = %s WHERE pipeline = %s AND table_name = %s`,
				pgString(d.action.Map.Name), pgString(p.cfg.Name), pgString(d.table.m.Name)))
		}
		actx, cancel := context.WithTimeout(ctx, p.txTimeout)
		err := applyIndexes(actx, a, d.action.Concurrent)
		if err == nil {
			err = a.applyDDL(actx, stmts, d.ev.Pos, d.ev.Time)
		}
		cancel()
		if err != nil {
			if retryable(err) {
				return p.applyFailed(err)
			}
			return &PausedError{Pipeline: p.cfg.Name, Statement: d.ev.Statement, Pos: p.currentPosition(), Resume: d.ev.Pos,
				Reason: fmt.Sprintf("applying it to the target failed: %v", err)}
		}
		p.appliedOK()
		p.setPosition(d.ev.Pos)
		done := slices.Clone(d.action.Apply)
		for _, ix := range d.action.Concurrent {
			done = append(done, ix.SQL(true))
		}
		p.log.Info(fmt.Sprintf("DDL applied to the target: %q -> %s", d.ev.Statement, strings.Join(done, "; ")), "decision", d.action.Reason)
		if d.table != nil {
			p.ddlApplied(d.table.m, d.action)
		}
		var nt *table
		if d.action.Map != nil {
			// The map after the change, as the statement defines it at this
			// point of the log (not the source's current schema, which may be
			// further ahead).
			reloaded, err := newTable(d.action.Map)
			if err == nil {
				err = reloaded.loadOIDs(ctx, a.conn)
			}
			if err != nil {
				close(d.reply)
				if retryable(err) {
					return targetErr(err)
				}
				return permanent(fmt.Errorf("after DDL %q: %w", d.ev.Statement, err))
			}
			if d.table != nil {
				reloaded.idx, reloaded.gen = d.table.idx, d.table.gen+1
				reloaded.wantBefore = d.table.wantBefore
			}
			nt = reloaded
		}
		d.reply <- nt
	}
	return nil
}

// applyBatch applies one batch or piece, each with its own deadline. The
// counters, the position and the metrics move when a target transaction
// commits, with everything its pieces applied.
func (p *Pipeline) applyBatch(ctx context.Context, a *applier, b *batch) error {
	actx, cancel := context.WithTimeout(ctx, p.txTimeout)
	held := a.held
	err := a.apply(actx, b)
	cancel()
	if err != nil {
		return p.applyFailed(err)
	}
	if b.piece {
		p.pieces.Add(1)
		return nil
	}
	p.appliedOK()
	now := time.Now()
	changes, firstRecv := b.changes+held.changes, b.firstRecv
	if held.pieces > 0 {
		firstRecv = held.firstRecv
	}
	p.pending.Add(-int64(changes))
	p.applied.Add(int64(changes))
	p.setPosition(b.pos)
	lag := time.Duration(0)
	if !b.eventTime.IsZero() && changes > 0 {
		// Binlog timestamps are whole seconds. When the batch arrived within
		// the second of its commit, the receive time is the better clock.
		lag = max(0, now.Sub(b.eventTime))
		if recv := firstRecv.Sub(b.eventTime); recv >= 0 && recv < time.Second {
			lag = now.Sub(firstRecv)
		}
	}
	p.lagNanos.Store(int64(lag))
	if m := p.o.Metrics; m != nil {
		count := func(t *table, ops *[4]int64) {
			for op := OpInsert; op <= OpDelete; op++ {
				if n := ops[op]; n > 0 {
					m.Changes.WithLabelValues(p.label, t.m.Name, op.String()).Add(float64(n))
				}
			}
		}
		for t, ops := range held.ops {
			count(t, ops)
		}
		for _, tb := range b.order {
			count(tb.t, &tb.ops)
		}
		m.Lag.WithLabelValues(p.label).Set(lag.Seconds())
	}
	if p.o.AfterApply != nil {
		p.o.AfterApply(AppliedBatch{Changes: changes, Transactions: b.txns, Position: b.pos, EventTime: b.eventTime, Received: firstRecv, Committed: now})
	}
	return nil
}

// applyIndexes runs index changes outside a transaction, before the
// transaction that moves the position past their statement. Each is
// idempotent, so a retry after a crash between the two is harmless; an
// index a failed CREATE INDEX CONCURRENTLY left invalid is dropped first,
// since IF NOT EXISTS would keep it.
func applyIndexes(ctx context.Context, a *applier, changes []IndexChange) error {
	for _, ix := range changes {
		if ix.Create {
			var valid bool
			err := a.conn.QueryRow(ctx, `SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)`, ix.Index).Scan(&valid)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
			case err != nil:
				return fmt.Errorf("looking up index %s: %w", ix.Index, err)
			case !valid:
				drop := IndexChange{Index: ix.Index}.SQL(true)
				if _, err := a.conn.Exec(ctx, drop); err != nil {
					return fmt.Errorf("applying %q to the target: %w", drop, err)
				}
			}
		}
		if _, err := a.conn.Exec(ctx, ix.SQL(true)); err != nil {
			return fmt.Errorf("applying %q to the target: %w", ix.SQL(true), err)
		}
	}
	return nil
}

// ddlApplied records what an applied DDL changed for the status: target
// columns kept after a DROP COLUMN, a table's new source name.
func (p *Pipeline) ddlApplied(old *TableMap, a DDLAction) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.Map != nil && a.Map.Name != old.Name {
		if st, ok := p.snapTables[old.Name]; ok {
			delete(p.snapTables, old.Name)
			st.Table = a.Map.Name
			p.snapTables[a.Map.Name] = st
		}
	}
	for _, c := range a.Kept {
		p.keptLocked(old.TargetTable() + "." + pgIdent(c))
	}
}

// keptLocked notes a target column the source no longer has; p.mu is held.
func (p *Pipeline) keptLocked(col string) {
	if !slices.Contains(p.kept, col) {
		p.kept = append(p.kept, col)
	}
}
