package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// CheckpointSchema is the PostgreSQL schema, in the target database, that
// holds the pipelines' positions, snapshot progress and status.
const CheckpointSchema = "strangler"

// checkpointDDL creates the checkpoint tables. Every statement is idempotent.
//
//   - sync_position: the binlog position up to which the target holds every
//     change, one row per pipeline. It is written in the same transaction as
//     the changes it covers, so it never runs ahead of or behind the data.
//   - sync_snapshot: per pipeline and table, the key of the last row copied
//     by the snapshot (JSON array of the key columns' text), whether the
//     copy is done, rows copied and the source's row estimate. Written in
//     the same transaction as the chunk it covers.
//   - sync_status: what `strangler sync status` shows: phase, pause reason
//     and statement, lag, rates. Written about once a second; advisory only.
var checkpointDDL = []string{
	`CREATE SCHEMA IF NOT EXISTS strangler`,
	`CREATE TABLE IF NOT EXISTS strangler.sync_position (
		pipeline   text PRIMARY KEY,
		file       text NOT NULL,
		pos        bigint NOT NULL,
		gtid       text NOT NULL DEFAULT '',
		gtid_set   boolean NOT NULL DEFAULT false,
		event_time timestamptz,
		updated_at timestamptz NOT NULL DEFAULT now())`,
	// gtid_set marks a gtid that is the GTID set of everything applied
	// (see gtid.go); rows of earlier builds hold the last GTID alone,
	// which is not a position to resume from. The catalog is asked
	// first, so that a start never waits for the table's lock.
	`DO $$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM information_schema.columns
			WHERE table_schema = 'strangler' AND table_name = 'sync_position' AND column_name = 'gtid_set') THEN
			ALTER TABLE strangler.sync_position ADD COLUMN IF NOT EXISTS gtid_set boolean NOT NULL DEFAULT false;
		END IF;
	END $$`,
	`CREATE TABLE IF NOT EXISTS strangler.sync_snapshot (
		pipeline   text NOT NULL,
		table_name text NOT NULL,
		last_key   text,
		done       boolean NOT NULL DEFAULT false,
		rows       bigint NOT NULL DEFAULT 0,
		total      bigint NOT NULL DEFAULT 0,
		updated_at timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (pipeline, table_name))`,
	`CREATE TABLE IF NOT EXISTS strangler.sync_status (
		pipeline     text PRIMARY KEY,
		phase        text NOT NULL,
		reason       text NOT NULL DEFAULT '',
		statement    text NOT NULL DEFAULT '',
		paused_file  text NOT NULL DEFAULT '',
		paused_pos   bigint NOT NULL DEFAULT 0,
		lag_seconds  double precision NOT NULL DEFAULT 0,
		lag_events   bigint NOT NULL DEFAULT 0,
		rows_per_sec double precision NOT NULL DEFAULT 0,
		changes      bigint NOT NULL DEFAULT 0,
		updated_at   timestamptz NOT NULL DEFAULT now())`,
}

// Position is a place in the source's binary log: the end of the last
// event applied. GTID, when the source logs GTIDs and the set is known, is
// the GTID set of every transaction up to there (MariaDB: the last
// domain-server-sequence of each domain, "0-1-42"; MySQL: gtid_executed's
// form, "uuid:1-42"); streaming resumes from it when the source has GTIDs,
// else from file and offset.
type Position struct {
	File string `json:"file"`
	Pos  uint32 `json:"pos"`
	GTID string `json:"gtid,omitempty"`
}

// String formats the position as file:pos, as the logs print it.
func (p Position) String() string {
	if p.File == "" {
		return "(none)"
	}
	return p.File + ":" + strconv.FormatUint(uint64(p.Pos), 10)
}

// IsZero reports a position that was never set.
func (p Position) IsZero() bool { return p.File == "" }

// Phases of a pipeline, as sync_status and `sync status` show them.
const (
	PhaseStarting  = "starting"
	PhaseSnapshot  = "snapshot"
	PhaseStreaming = "streaming"
	PhasePaused    = "paused"
	PhaseWaiting   = "waiting" // a database is unreachable; retrying
	PhaseStopped   = "stopped"
)

// querier is what the checkpoint functions need: a connection or a
// transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

var (
	_ querier = (*pgx.Conn)(nil)
	_ querier = (pgx.Tx)(nil)
)

// EnsureCheckpointSchema creates the checkpoint schema and tables if they
// are missing.
func EnsureCheckpointSchema(ctx context.Context, q querier) error {
	for _, s := range checkpointDDL {
		if _, err := q.Exec(ctx, s); err != nil {
			// Two pipelines creating the schema at once race on the
			// catalog; the loser finds it there on the next try.
			var pe *pgconn.PgError
			if errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "42P06" || pe.Code == "42P07") {
				continue
			}
			return fmt.Errorf("creating the checkpoint schema %s: %w", CheckpointSchema, err)
		}
	}
	return nil
}

// loadPosition returns the pipeline's saved position, zero when none.
func loadPosition(ctx context.Context, q querier, pipeline string) (Position, error) {
	var p Position
	var pos int64
	// to_jsonb reads gtid_set whether or not the table has the column
	// yet (sync status may read a table an earlier build created).
	err := q.QueryRow(ctx, `SELECT file, pos,
		CASE WHEN coalesce((to_jsonb(s) ->> 'gtid_set')::boolean, false) THEN gtid ELSE '' END
		FROM strangler.sync_position s WHERE pipeline = $1`, pipeline).
		Scan(&p.File, &pos, &p.GTID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Position{}, nil
	}
	if err != nil {
		return Position{}, fmt.Errorf("reading the position of pipeline %q: %w", pipeline, err)
	}
	p.Pos = uint32(pos)
	return p, nil
}

// savePositionSQL writes the position; it runs inside the transaction of
// the batch the position covers.
//
// gtid is Position.GTID, the GTID set of everything applied (empty when not
// known), committed with the file and offset it matches.
const savePositionSQL = `INSERT INTO strangler.sync_position (pipeline, file, pos, gtid, gtid_set, event_time, updated_at)
VALUES ($1, $2, $3, $4::text, $4::text <> '', $5, now())
ON CONFLICT (pipeline) DO UPDATE SET file = EXCLUDED.file, pos = EXCLUDED.pos, gtid = EXCLUDED.gtid,
	gtid_set = EXCLUDED.gtid_set, event_time = EXCLUDED.event_time, updated_at = now()`

func savePositionArgs(pipeline string, p Position, eventTime time.Time) []any {
	var et any
	if !eventTime.IsZero() {
		et = eventTime
	}
	return []any{pipeline, p.File, int64(p.Pos), p.GTID, et}
}

// savePosition writes the position with q (a transaction, in practice).
func savePosition(ctx context.Context, q querier, pipeline string, p Position, eventTime time.Time) error {
	if _, err := q.Exec(ctx, savePositionSQL, savePositionArgs(pipeline, p, eventTime)...); err != nil {
		return fmt.Errorf("saving position %s of pipeline %q: %w", p, pipeline, err)
	}
	return nil
}

// snapshotState is one table's snapshot progress.
type snapshotState struct {
	Table   string
	LastKey []string // text of the key columns of the last copied row; nil: none yet
	Done    bool
	Rows    int64
	Total   int64
}

// loadSnapshots returns the snapshot progress of every table of a pipeline,
// by source table name.
func loadSnapshots(ctx context.Context, q querier, pipeline string) (map[string]snapshotState, error) {
	rows, err := q.Query(ctx, `SELECT table_name, last_key, done, rows, total FROM strangler.sync_snapshot WHERE pipeline = $1`, pipeline)
	if err != nil {
		return nil, fmt.Errorf("reading the snapshot progress of pipeline %q: %w", pipeline, err)
	}
	defer rows.Close()
	out := map[string]snapshotState{}
	for rows.Next() {
		var s snapshotState
		var lastKey *string
		if err := rows.Scan(&s.Table, &lastKey, &s.Done, &s.Rows, &s.Total); err != nil {
			return nil, fmt.Errorf("reading the snapshot progress of pipeline %q: %w", pipeline, err)
		}
		if lastKey != nil {
			if err := json.Unmarshal([]byte(*lastKey), &s.LastKey); err != nil {
				return nil, fmt.Errorf("reading the snapshot progress of pipeline %q table %q: last_key %q: %w", pipeline, s.Table, *lastKey, err)
			}
		}
		out[s.Table] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the snapshot progress of pipeline %q: %w", pipeline, err)
	}
	return out, nil
}

const saveSnapshotSQL = `INSERT INTO strangler.sync_snapshot (pipeline, table_name, last_key, done, rows, total, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, now())
ON CONFLICT (pipeline, table_name) DO UPDATE SET last_key = EXCLUDED.last_key, done = EXCLUDED.done,
	rows = EXCLUDED.rows, total = EXCLUDED.total, updated_at = now()`

// saveSnapshot records a table's progress; it runs inside the transaction
// of the chunk it covers.
func saveSnapshot(ctx context.Context, q querier, pipeline string, s snapshotState) error {
	var lastKey any
	if s.LastKey != nil {
		b, err := json.Marshal(s.LastKey)
		if err != nil {
			return fmt.Errorf("encoding the last key of %q: %w", s.Table, err)
		}
		lastKey = string(b)
	}
	if _, err := q.Exec(ctx, saveSnapshotSQL, pipeline, s.Table, lastKey, s.Done, s.Rows, s.Total); err != nil {
		return fmt.Errorf("saving the snapshot progress of %q: %w", s.Table, err)
	}
	return nil
}

// Status is one pipeline's state as `strangler sync status` shows it.
type Status struct {
	Pipeline  string `json:"pipeline"`
	Phase     string `json:"phase"`
	Reason    string `json:"reason,omitempty"`
	Statement string `json:"statement,omitempty"`
	// Todo (paused) is what to do before `strangler sync resume`: the
	// statement to run on the target, or how to fix a value.
	Todo       string        `json:"todo,omitempty"`
	Position   Position      `json:"position"`
	LagSeconds float64       `json:"lag_seconds"`
	LagEvents  int64         `json:"lag_events"`
	RowsPerSec float64       `json:"rows_per_sec"`
	Changes    int64         `json:"changes"`
	UpdatedAt  time.Time     `json:"updated_at"`
	Tables     []TableStatus `json:"tables"`
	// Direction is the pipeline's direction: legacy-to-new, or
	// new-to-legacy (whose position is LSN, not Position).
	Direction string `json:"direction"`
	// LSN (new-to-legacy) is the PostgreSQL WAL position up to which the
	// legacy database holds every change, as stored there.
	LSN string `json:"lsn,omitempty"`
	// Slot (new-to-legacy) is the pipeline's replication slot as
	// PostgreSQL reports it.
	Slot *SlotStatus `json:"slot,omitempty"`

	pausedAt Position
}

// SlotStatus is a replication slot as pg_replication_slots shows it.
type SlotStatus struct {
	Name string `json:"name"`
	// ConfirmedLSN is confirmed_flush_lsn: the server keeps every change
	// after it for the slot.
	ConfirmedLSN string `json:"confirmed_lsn"`
	// LagBytes is pg_current_wal_lsn() - confirmed_flush_lsn: WAL written
	// and not yet confirmed as applied.
	LagBytes int64 `json:"lag_bytes"`
	// RetainedWALBytes is pg_current_wal_lsn() - restart_lsn: WAL the
	// server keeps on disk for the slot.
	RetainedWALBytes int64 `json:"retained_wal_bytes"`
	// WALStatus is wal_status: reserved, extended, unreserved or lost.
	WALStatus string `json:"wal_status"`
	// Active says whether a walsender streams from the slot now.
	Active bool `json:"active"`
	// Missing is set when the slot does not exist (yet).
	Missing bool `json:"missing,omitempty"`
}

// TableStatus is one table's snapshot progress.
type TableStatus struct {
	Table    string  `json:"table"`
	Phase    string  `json:"phase"` // snapshot, streaming
	Rows     int64   `json:"rows"`
	Total    int64   `json:"total"`
	Percent  float64 `json:"percent"`
	Snapshot bool    `json:"snapshot_done"`
}

const saveStatusSQL = `INSERT INTO strangler.sync_status (pipeline, phase, reason, statement, paused_file, paused_pos,
	lag_seconds, lag_events, rows_per_sec, changes, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())
ON CONFLICT (pipeline) DO UPDATE SET phase = EXCLUDED.phase, reason = EXCLUDED.reason, statement = EXCLUDED.statement,
	paused_file = EXCLUDED.paused_file, paused_pos = EXCLUDED.paused_pos,
	lag_seconds = EXCLUDED.lag_seconds, lag_events = EXCLUDED.lag_events, rows_per_sec = EXCLUDED.rows_per_sec,
	changes = EXCLUDED.changes, updated_at = now()`

// saveStatus records the pipeline's status.
func saveStatus(ctx context.Context, q querier, s Status) error {
	if _, err := q.Exec(ctx, saveStatusSQL, s.Pipeline, s.Phase, s.Reason, s.Statement, s.pausedAt.File, int64(s.pausedAt.Pos),
		s.LagSeconds, s.LagEvents, s.RowsPerSec, s.Changes); err != nil {
		return fmt.Errorf("saving the status of pipeline %q: %w", s.Pipeline, err)
	}
	return nil
}

// ReadStatus reads a pipeline's status, position and snapshot progress from
// the target database. A pipeline that never ran has phase "not started".
func ReadStatus(ctx context.Context, q querier, pipeline string) (Status, error) {
	s := Status{Pipeline: pipeline, Phase: "not started", Direction: "legacy-to-new"}
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('strangler.sync_status') IS NOT NULL`).Scan(&exists); err != nil {
		return s, fmt.Errorf("reading the status of pipeline %q: %w", pipeline, err)
	}
	if !exists {
		return s, nil
	}
	var pausedPos int64
	err := q.QueryRow(ctx, `SELECT phase, reason, statement, paused_file, paused_pos, lag_seconds, lag_events, rows_per_sec, changes, updated_at
		FROM strangler.sync_status WHERE pipeline = $1`, pipeline).
		Scan(&s.Phase, &s.Reason, &s.Statement, &s.pausedAt.File, &pausedPos, &s.LagSeconds, &s.LagEvents, &s.RowsPerSec, &s.Changes, &s.UpdatedAt)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return s, fmt.Errorf("reading the status of pipeline %q: %w", pipeline, err)
	}
	s.pausedAt.Pos = uint32(pausedPos)
	if s.Phase == PhasePaused {
		if s.Todo, err = readPauseTodo(ctx, q, pipeline); err != nil {
			return s, err
		}
	}
	if s.Position, err = loadPosition(ctx, q, pipeline); err != nil {
		return s, err
	}
	snaps, err := loadSnapshots(ctx, q, pipeline)
	if err != nil {
		return s, err
	}
	for _, st := range snaps {
		ts := TableStatus{Table: st.Table, Rows: st.Rows, Total: st.Total, Snapshot: st.Done, Phase: PhaseSnapshot}
		switch {
		case st.Done:
			ts.Phase, ts.Percent = PhaseStreaming, 100
		case st.Total > 0:
			ts.Percent = min(99.9, 100*float64(st.Rows)/float64(st.Total))
		}
		s.Tables = append(s.Tables, ts)
	}
	sortTables(s.Tables)
	return s, nil
}

func sortTables(ts []TableStatus) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && strings.Compare(ts[j-1].Table, ts[j].Table) > 0; j-- {
			ts[j-1], ts[j] = ts[j], ts[j-1]
		}
	}
}
