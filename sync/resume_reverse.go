package sync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ReverseResumeTable holds the pause and the resume requests of
// new-to-legacy pipelines, in the legacy MySQL database (see resume.go).
const ReverseResumeTable = "strangler_sync_resume"

const reverseResumeDDL = `CREATE TABLE IF NOT EXISTS strangler_sync_resume (
	pipeline     varchar(190) NOT NULL PRIMARY KEY,
	pause_key    varchar(255) NOT NULL,
	todo         text NOT NULL,
	paused_at    datetime(6) NOT NULL,
	requested_at datetime(6) NULL,
	taken_at     datetime(6) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`

func ensureReverseResumeSchema(ctx context.Context, q sqlExecer) error {
	if _, err := q.ExecContext(ctx, reverseResumeDDL); err != nil {
		return fmt.Errorf("creating the table %s in the legacy database: %w", ReverseResumeTable, err)
	}
	return nil
}

// MySQL assigns left to right: pause_key changes last.
const reverseNotePauseSQL = `INSERT INTO strangler_sync_resume (pipeline, pause_key, todo, paused_at) VALUES (?, ?, ?, UTC_TIMESTAMP(6))
ON DUPLICATE KEY UPDATE todo = VALUES(todo),
	paused_at = IF(pause_key = VALUES(pause_key), paused_at, UTC_TIMESTAMP(6)),
	requested_at = IF(pause_key IN (VALUES(pause_key), ''), requested_at, NULL),
	taken_at = IF(pause_key IN (VALUES(pause_key), ''), taken_at, NULL),
	pause_key = VALUES(pause_key)`

const reverseTakeResumeSQL = `UPDATE strangler_sync_resume SET taken_at = UTC_TIMESTAMP(6)
WHERE pipeline = ? AND requested_at IS NOT NULL AND taken_at IS NULL`

// readReversePauseTodo returns what a new-to-legacy pipeline's recorded
// pause says to do; "" when nothing is recorded.
func readReversePauseTodo(ctx context.Context, db *sql.DB, pipeline string) (string, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`,
		ReverseResumeTable).Scan(&n); err != nil || n == 0 {
		return "", err
	}
	var todo string
	err := db.QueryRowContext(ctx, `SELECT todo FROM strangler_sync_resume WHERE pipeline = ?`, pipeline).Scan(&todo)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("reading the pause of pipeline %q from the legacy database: %w", pipeline, err)
	}
	return todo, nil
}

// RequestReverseResume records a request to resume a paused new-to-legacy
// pipeline in the legacy database (db is a connection to it); see
// RequestResume.
func RequestReverseResume(ctx context.Context, db *sql.DB, pipeline string) (ResumeRequest, error) {
	st, err := ReadReverseStatus(ctx, db, pipeline)
	if err != nil {
		return ResumeRequest{}, err
	}
	if st.Phase != PhasePaused {
		return ResumeRequest{}, &NotPausedError{Pipeline: pipeline, Phase: st.Phase}
	}
	req := ResumeRequest{Status: st}
	if err := ensureReverseResumeSchema(ctx, db); err != nil {
		return req, err
	}
	var micros int64
	if err := db.QueryRowContext(ctx, `SELECT TIMESTAMPDIFF(MICROSECOND, updated_at, UTC_TIMESTAMP(6)) FROM strangler_sync_status WHERE pipeline = ?`,
		pipeline).Scan(&micros); err != nil {
		return req, fmt.Errorf("reading the status of pipeline %q from the legacy database: %w", pipeline, err)
	}
	req.StatusAge = time.Duration(micros) * time.Microsecond
	if err := db.QueryRowContext(ctx, `SELECT pause_key FROM strangler_sync_resume WHERE pipeline = ?`, pipeline).Scan(&req.key); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return req, fmt.Errorf("reading the pause of pipeline %q from the legacy database: %w", pipeline, err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO strangler_sync_resume (pipeline, pause_key, todo, paused_at, requested_at)
		VALUES (?, '', '', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE requested_at = UTC_TIMESTAMP(6), taken_at = NULL`, pipeline); err != nil {
		return req, fmt.Errorf("recording the resume request of pipeline %q in %s of the legacy database: %w", pipeline, ReverseResumeTable, err)
	}
	return req, nil
}

// ReverseResumeTaken reports whether a new-to-legacy pipeline took the
// request (see ResumeTaken).
func ReverseResumeTaken(ctx context.Context, db *sql.DB, req ResumeRequest) (bool, error) {
	var key string
	var taken bool
	err := db.QueryRowContext(ctx, `SELECT pause_key, taken_at IS NOT NULL FROM strangler_sync_resume WHERE pipeline = ?`, req.Status.Pipeline).Scan(&key, &taken)
	if err != nil {
		return false, fmt.Errorf("reading the resume request of pipeline %q from the legacy database: %w", req.Status.Pipeline, err)
	}
	return taken || (key != req.key && req.key != ""), nil
}

// myPauseStore keeps a new-to-legacy pipeline's pause in the legacy
// database.
type myPauseStore struct {
	p  *Pipeline
	db *sql.DB
}

func (s *myPauseStore) connect(ctx context.Context) (*sql.DB, error) {
	if s.db != nil {
		return s.db, nil
	}
	db, _, err := s.p.openLegacy(ctx)
	if err != nil {
		return nil, err
	}
	if err := ensureReverseResumeSchema(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	s.db = db
	return db, nil
}

func (s *myPauseStore) drop() {
	if s.db != nil {
		s.db.Close()
		s.db = nil
	}
}

func (s *myPauseStore) note(ctx context.Context, pe *PausedError) error {
	db, err := s.connect(ctx)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, reverseNotePauseSQL, s.p.cfg.Name, pauseKey(pe), pe.Todo); err != nil {
		s.drop()
		return fmt.Errorf("recording the pause of pipeline %q in %s of the legacy database: %w", s.p.cfg.Name, ReverseResumeTable, err)
	}
	return nil
}

func (s *myPauseStore) take(ctx context.Context, _ *PausedError, st Status) (bool, error) {
	db, err := s.connect(ctx)
	if err != nil {
		return false, err
	}
	ok, err := func() (bool, error) {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return false, fmt.Errorf("beginning a legacy MySQL transaction: %w", err)
		}
		defer tx.Rollback()
		res, err := tx.ExecContext(ctx, reverseTakeResumeSQL, s.p.cfg.Name)
		if err != nil {
			return false, fmt.Errorf("taking the resume request of pipeline %q: %w", s.p.cfg.Name, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return false, err
		}
		if err := saveReverseStatus(ctx, tx, st); err != nil {
			return false, err
		}
		if err := tx.Commit(); err != nil {
			return false, fmt.Errorf("committing the resume of pipeline %q: %w", s.p.cfg.Name, err)
		}
		return true, nil
	}()
	if err != nil {
		s.drop()
	}
	return ok, err
}

func (s *myPauseStore) close() { s.drop() }
