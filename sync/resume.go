package sync

import (
	"context"
	"errors"
	"fmt"
	gosync "sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A paused pipeline stays in its process: it keeps its status row fresh
// and, every Options.StatusInterval, looks for a resume request that
// `strangler sync resume NAME` recorded where the pipeline's status lives
// (legacy-to-new: strangler.sync_resume in the target PostgreSQL database;
// new-to-legacy: strangler_sync_resume in the legacy MySQL database).
//
// One row per pipeline: pause_key names the pause the row is about (the
// position after the paused statement, or the position of the value), todo
// what to do before resuming, paused_at when the pipeline first recorded
// that pause, requested_at the last request, taken_at when a pipeline took
// it. A new pause (another key) clears a request left over from an earlier
// one. Taking a request of a DDL pause moves the position past the
// statement in the same transaction, as --accept-ddl does at a start; a
// value pause is retried from the last applied position. A request that no
// running process takes stays, and the next run takes it when it finds the
// pipeline paused.

// resumeState is a pipeline's share of pause and resume.
type resumeState struct {
	// statusMu orders status writes with a resume: a status sampled while
	// paused is written before the resume moves on, never after.
	statusMu gosync.Mutex
}

const resumeDDL = `CREATE TABLE IF NOT EXISTS strangler.sync_resume (
	pipeline     text PRIMARY KEY,
	pause_key    text NOT NULL DEFAULT '',
	todo         text NOT NULL DEFAULT '',
	paused_at    timestamptz NOT NULL DEFAULT now(),
	requested_at timestamptz,
	taken_at     timestamptz)`

// ensureResumeSchema creates strangler.sync_resume (and the checkpoint
// schema) if missing.
func ensureResumeSchema(ctx context.Context, q querier) error {
	if err := EnsureCheckpointSchema(ctx, q); err != nil {
		return err
	}
	if _, err := q.Exec(ctx, resumeDDL); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "42P07") {
			return nil // created by another pipeline at the same moment
		}
		return fmt.Errorf("creating the table strangler.sync_resume: %w", err)
	}
	return nil
}

// pauseKey names a pause: the same pause found again (a restart, a retry
// that meets the same value) keeps its request.
func pauseKey(pe *PausedError) string {
	switch {
	case pe.Statement != "":
		return "ddl " + pe.Resume.String()
	case pe.LSN != "" && pe.Pos.IsZero():
		return "value LSN " + pe.LSN
	default:
		return "value " + pe.Pos.String()
	}
}

// notePauseSQL records a pause; a request for the same pause (or one made
// before the pause was recorded, with no key) is kept, any other cleared.
const notePauseSQL = `INSERT INTO strangler.sync_resume AS r (pipeline, pause_key, todo, paused_at) VALUES ($1, $2, $3, now())
ON CONFLICT (pipeline) DO UPDATE SET todo = EXCLUDED.todo,
	paused_at = CASE WHEN r.pause_key = EXCLUDED.pause_key THEN r.paused_at ELSE now() END,
	requested_at = CASE WHEN r.pause_key IN (EXCLUDED.pause_key, '') THEN r.requested_at END,
	taken_at = CASE WHEN r.pause_key IN (EXCLUDED.pause_key, '') THEN r.taken_at END,
	pause_key = EXCLUDED.pause_key`

const takeResumeSQL = `UPDATE strangler.sync_resume SET taken_at = now()
WHERE pipeline = $1 AND requested_at IS NOT NULL AND taken_at IS NULL`

// takeResume takes the pipeline's pending resume request, if any.
func takeResume(ctx context.Context, q querier, pipeline string) (bool, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('strangler.sync_resume') IS NOT NULL`).Scan(&exists); err != nil {
		return false, fmt.Errorf("reading the resume requests of pipeline %q: %w", pipeline, err)
	}
	if !exists {
		return false, nil
	}
	tag, err := q.Exec(ctx, takeResumeSQL, pipeline)
	if err != nil {
		return false, fmt.Errorf("taking the resume request of pipeline %q: %w", pipeline, err)
	}
	return tag.RowsAffected() > 0, nil
}

// readPauseTodo returns what the pipeline's recorded pause says to do
// before resuming; "" when nothing is recorded.
func readPauseTodo(ctx context.Context, q querier, pipeline string) (string, error) {
	var todo string
	err := q.QueryRow(ctx, `SELECT CASE WHEN to_regclass('strangler.sync_resume') IS NULL THEN '' ELSE
		(SELECT todo FROM strangler.sync_resume WHERE pipeline = $1) END`, pipeline).Scan(&todo)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("reading the pause of pipeline %q: %w", pipeline, err)
	}
	return todo, nil
}

// NotPausedError is the answer to a resume request for a pipeline that is
// not paused.
type NotPausedError struct {
	Pipeline, Phase string
}

func (e *NotPausedError) Error() string {
	return fmt.Sprintf("pipeline %q is not paused (phase %s): there is nothing to resume", e.Pipeline, e.Phase)
}

// ResumeRequest is a recorded request to resume a paused pipeline.
type ResumeRequest struct {
	// Status is the pipeline's paused status the request answers.
	Status Status
	// StatusAge is how long ago the pipeline last wrote its status, by the
	// database's clock: a running pipeline writes it every status interval
	// (1s by default), paused or not.
	StatusAge time.Duration
	key       string
}

// RequestResume records a request to resume a paused legacy-to-new
// pipeline in the target database (q is a connection to it). The running
// pipeline takes it within its status interval (ResumeTaken reports that);
// without one, the next run takes it at its start. A pipeline that is not
// paused gets a *NotPausedError.
func RequestResume(ctx context.Context, q querier, pipeline string) (ResumeRequest, error) {
	st, err := ReadStatus(ctx, q, pipeline)
	if err != nil {
		return ResumeRequest{}, err
	}
	if st.Phase != PhasePaused {
		return ResumeRequest{}, &NotPausedError{Pipeline: pipeline, Phase: st.Phase}
	}
	req := ResumeRequest{Status: st}
	if err := ensureResumeSchema(ctx, q); err != nil {
		return req, err
	}
	var age float64
	if err := q.QueryRow(ctx, `SELECT COALESCE(extract(epoch FROM now() - updated_at), 0)::float8 FROM strangler.sync_status WHERE pipeline = $1`, pipeline).Scan(&age); err != nil {
		return req, fmt.Errorf("reading the status of pipeline %q: %w", pipeline, err)
	}
	req.StatusAge = time.Duration(age * float64(time.Second))
	err = q.QueryRow(ctx, `INSERT INTO strangler.sync_resume AS r (pipeline, requested_at) VALUES ($1, now())
		ON CONFLICT (pipeline) DO UPDATE SET requested_at = now(), taken_at = NULL RETURNING pause_key`, pipeline).Scan(&req.key)
	if err != nil {
		return req, fmt.Errorf("recording the resume request of pipeline %q in strangler.sync_resume: %w", pipeline, err)
	}
	return req, nil
}

// ResumeTaken reports whether a pipeline took the request: it moved past
// the paused statement (or retries the value), or has since paused anew.
func ResumeTaken(ctx context.Context, q querier, req ResumeRequest) (bool, error) {
	var key string
	var taken bool
	err := q.QueryRow(ctx, `SELECT pause_key, taken_at IS NOT NULL FROM strangler.sync_resume WHERE pipeline = $1`, req.Status.Pipeline).Scan(&key, &taken)
	if err != nil {
		return false, fmt.Errorf("reading the resume request of pipeline %q: %w", req.Status.Pipeline, err)
	}
	return taken || (key != req.key && req.key != ""), nil
}

// pauseStore is where a paused pipeline records its pause and takes a
// resume request: the target PostgreSQL database, or for new-to-legacy
// the legacy MySQL one.
type pauseStore interface {
	// note records the pause (key and todo).
	note(ctx context.Context, pe *PausedError) error
	// take takes a pending request and, in the same transaction, records
	// s (the status after the resume) and, for a DDL pause, the position
	// after the statement. False: no request.
	take(ctx context.Context, pe *PausedError, s Status) (bool, error)
	close()
}

var (
	_ pauseStore = (*pgPauseStore)(nil)
	_ pauseStore = (*myPauseStore)(nil)
)

func (p *Pipeline) pauseStore() pauseStore {
	if p.reverse() {
		return &myPauseStore{p: p}
	}
	return &pgPauseStore{p: p}
}

// pgPauseStore keeps a legacy-to-new pipeline's pause in the target.
type pgPauseStore struct {
	p    *Pipeline
	conn *pgx.Conn
}

func (s *pgPauseStore) connect(ctx context.Context) (*pgx.Conn, error) {
	if s.conn != nil && !s.conn.IsClosed() {
		return s.conn, nil
	}
	c, err := connectTarget(ctx, s.p.dstDSN)
	if err != nil {
		return nil, err
	}
	if err := ensureResumeSchema(ctx, c); err != nil {
		c.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	s.conn = c
	return c, nil
}

func (s *pgPauseStore) drop(ctx context.Context) {
	if s.conn != nil {
		s.conn.Close(context.WithoutCancel(ctx))
		s.conn = nil
	}
}

func (s *pgPauseStore) note(ctx context.Context, pe *PausedError) error {
	c, err := s.connect(ctx)
	if err != nil {
		return err
	}
	if _, err := c.Exec(ctx, notePauseSQL, s.p.cfg.Name, pauseKey(pe), pe.Todo); err != nil {
		s.drop(ctx)
		return fmt.Errorf("recording the pause of pipeline %q in strangler.sync_resume: %w", s.p.cfg.Name, err)
	}
	return nil
}

func (s *pgPauseStore) take(ctx context.Context, pe *PausedError, st Status) (bool, error) {
	c, err := s.connect(ctx)
	if err != nil {
		return false, err
	}
	ok, err := takeTx(ctx, c, s.p.cfg.Name, pe, st)
	if err != nil {
		s.drop(ctx)
	}
	return ok, err
}

// takeTx takes a pending request on the target in one transaction with the
// status and, for a DDL pause, the position after the statement.
func takeTx(ctx context.Context, c *pgx.Conn, pipeline string, pe *PausedError, st Status) (bool, error) {
	tx, err := c.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("beginning a target transaction: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	ok, err := takeResume(ctx, tx, pipeline)
	if err != nil || !ok {
		return false, err
	}
	if pe.Statement != "" && !pe.Resume.IsZero() {
		if err := savePosition(ctx, tx, pipeline, Position{File: pe.Resume.File, Pos: pe.Resume.Pos}, time.Time{}); err != nil {
			return false, err
		}
	}
	if err := saveStatus(ctx, tx, st); err != nil {
		return false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("committing the resume of pipeline %q: %w", pipeline, err)
	}
	return true, nil
}

func (s *pgPauseStore) close() { s.drop(context.Background()) }

// waitResume keeps a paused pipeline waiting for a resume request: it
// records the pause, then looks for a request every status interval. It
// returns nil once it took one (the pipeline is no longer paused: the
// caller starts a new session), ctx.Err() when ctx is done (still paused).
func (p *Pipeline) waitResume(ctx context.Context, pe *PausedError) error {
	store := p.pauseStore()
	defer store.close()
	tick := time.NewTicker(p.o.StatusInterval)
	defer tick.Stop()
	noted := false
	for {
		if !noted {
			if err := store.note(ctx, pe); err != nil {
				p.log.Debug("recording the pause", "error", err)
			} else {
				noted = true
			}
		}
		if noted {
			ok, err := p.tryResume(ctx, store, pe)
			if err != nil {
				p.log.Debug("looking for a resume request", "error", err)
			}
			if ok {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// tryResume takes a pending resume request and leaves the paused phase, with
// the status loop held off so that no paused status is written after it.
func (p *Pipeline) tryResume(ctx context.Context, store pauseStore, pe *PausedError) (bool, error) {
	p.resume.statusMu.Lock()
	defer p.resume.statusMu.Unlock()
	st := p.Status()
	st.Phase, st.Reason, st.Statement, st.Todo, st.pausedAt = PhaseStarting, "", "", "", Position{}
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	ok, err := store.take(tctx, pe, st)
	cancel()
	if err != nil || !ok {
		return false, err
	}
	p.mu.Lock()
	p.pause = nil
	p.mu.Unlock()
	p.setPhase(PhaseStarting, "")
	if pe.Statement != "" && !pe.Resume.IsZero() {
		p.setPosition(pe.Resume)
		p.log.Warn(fmt.Sprintf("resumed by request: DDL %q passed, streaming goes on after it, at %s", pe.Statement, pe.Resume))
	} else {
		p.log.Warn("resumed by request: trying again from the last applied position")
	}
	return true, nil
}
