package sync

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
)

// The new-to-legacy direction writes to the legacy MySQL database, so its
// position and status live there, in two tables of that database (the one
// the DSN names), next to the tables it writes:
//
//   - strangler_sync_checkpoint: one row per pipeline, written first in
//     every MySQL transaction that applies changes, and so committed with
//     them: lsn, the WAL position up to which MySQL holds every change;
//     changes, the row changes applied in all; txns, a counter that makes
//     the row change in every transaction (the no-echo marker below).
//   - strangler_sync_status: what `strangler sync status` shows, written
//     about once a second; advisory only.
//
// The no-echo marker: every MySQL transaction the applier commits begins
// with a row change of strangler_sync_checkpoint, so a binlog reader (the
// legacy-to-new direction of a future `both` pipeline) can drop a whole
// transaction when its first row event is on that table, on MySQL and
// MariaDB alike, without the SUPER privilege a session server_id needs.
const (
	ReverseCheckpointTable = "strangler_sync_checkpoint"
	ReverseStatusTable     = "strangler_sync_status"
)

// maxReversePipelineName bounds pipeline names in the MySQL tables' keys
// (190 utf8mb4 characters fit every InnoDB row format's index limit).
const maxReversePipelineName = 190

var reverseCheckpointDDL = []string{
	`CREATE TABLE IF NOT EXISTS strangler_sync_checkpoint (
		pipeline    varchar(190) NOT NULL PRIMARY KEY,
		lsn         bigint unsigned NOT NULL,
		lsn_text    varchar(32) NOT NULL,
		slot        varchar(64) NOT NULL,
		commit_time datetime(6) NULL,
		changes     bigint unsigned NOT NULL DEFAULT 0,
		txns        bigint unsigned NOT NULL DEFAULT 0,
		updated_at  datetime(6) NOT NULL
	) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
	`CREATE TABLE IF NOT EXISTS strangler_sync_status (
		pipeline           varchar(190) NOT NULL PRIMARY KEY,
		phase              varchar(32) NOT NULL,
		reason             text NOT NULL,
		lsn                varchar(32) NOT NULL,
		slot               varchar(64) NOT NULL,
		slot_confirmed_lsn varchar(32) NOT NULL,
		slot_lag_bytes     bigint NOT NULL,
		retained_wal_bytes bigint NOT NULL,
		lag_seconds        double NOT NULL,
		lag_events         bigint NOT NULL,
		rows_per_sec       double NOT NULL,
		changes            bigint NOT NULL,
		updated_at         datetime(6) NOT NULL
	) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
}

// SlotName is the replication slot, and the publication, of a
// new-to-legacy pipeline: "strangler_", the pipeline name's letters and
// digits in lower case (at most 36), "_" and 16 hex digits of a SHA-256 of
// the whole name. A slot name may hold only [a-z0-9_] and 63 bytes; the
// readable part is decoration, the hash makes the name unique.
func SlotName(pipeline string) string { return replicationName("strangler/new-to-legacy/", pipeline) }

// replicationName is a PostgreSQL name for a pipeline's replication object
// (slot and publication, origin): readable part and hash as SlotName says,
// the hash taken over domain and name.
func replicationName(domain, pipeline string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(pipeline) {
		if b.Len() >= 36 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	sum := sha256.Sum256([]byte(domain + pipeline))
	return "strangler_" + b.String() + "_" + hex.EncodeToString(sum[:8])
}

// sqlExecer is a *sql.DB, *sql.Conn or *sql.Tx.
type sqlExecer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ensureReverseSchema creates the checkpoint and status tables in the
// legacy database if they are missing.
func ensureReverseSchema(ctx context.Context, q sqlExecer) error {
	for _, s := range reverseCheckpointDDL {
		if _, err := q.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("creating the checkpoint tables of the new-to-legacy direction in the legacy database: %w", err)
		}
	}
	return nil
}

// reverseCheckpoint is a pipeline's row of strangler_sync_checkpoint.
type reverseCheckpoint struct {
	Found   bool
	LSN     LSN
	Slot    string
	Changes int64
}

// loadReverseCheckpoint reads the pipeline's checkpoint; Found is false
// when it has none.
func loadReverseCheckpoint(ctx context.Context, q sqlExecer, pipeline string) (reverseCheckpoint, error) {
	var ck reverseCheckpoint
	var lsn uint64
	err := q.QueryRowContext(ctx, `SELECT lsn, slot, changes FROM strangler_sync_checkpoint WHERE pipeline = ?`, pipeline).Scan(&lsn, &ck.Slot, &ck.Changes)
	if errors.Is(err, sql.ErrNoRows) {
		return ck, nil
	}
	if err != nil {
		return ck, fmt.Errorf("reading the checkpoint of pipeline %q from the legacy database: %w", pipeline, err)
	}
	ck.Found, ck.LSN = true, LSN(lsn)
	return ck, nil
}

// checkpointSQL is the statement that records the pipeline's position in
// the applier's transaction, as literal SQL (one round trip). lsn nil keeps
// the stored position and only counts the transaction (the marker that
// begins a source transaction applied in pieces).
func checkpointSQL(pipeline, slot string, lsn *LSN, commitTime time.Time, changes int) string {
	b := []byte("INSERT INTO strangler_sync_checkpoint (pipeline, lsn, lsn_text, slot, commit_time, changes, txns, updated_at) VALUES (")
	b = appendQuoted(b, []byte(pipeline))
	var l LSN
	if lsn != nil {
		l = *lsn
	}
	b = append(b, ", "...)
	b = strconv.AppendUint(b, uint64(l), 10)
	b = append(b, ", "...)
	b = appendQuoted(b, []byte(l.String()))
	b = append(b, ", "...)
	b = appendQuoted(b, []byte(slot))
	b = append(b, ", "...)
	if commitTime.IsZero() {
		b = append(b, "NULL"...)
	} else {
		b = appendQuoted(b, []byte(commitTime.UTC().Format("2006-01-02 15:04:05.999999")))
	}
	b = append(b, ", "...)
	b = strconv.AppendInt(b, int64(changes), 10)
	b = append(b, ", 1, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE "...)
	if lsn != nil {
		b = append(b, "lsn = VALUES(lsn), lsn_text = VALUES(lsn_text), commit_time = COALESCE(VALUES(commit_time), commit_time), "...)
	}
	b = append(b, "slot = VALUES(slot), changes = changes + VALUES(changes), txns = txns + 1, updated_at = UTC_TIMESTAMP(6)"...)
	return string(b)
}

const saveReverseStatusSQL = `INSERT INTO strangler_sync_status (pipeline, phase, reason, lsn, slot, slot_confirmed_lsn,
	slot_lag_bytes, retained_wal_bytes, lag_seconds, lag_events, rows_per_sec, changes, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6))
ON DUPLICATE KEY UPDATE phase = VALUES(phase), reason = VALUES(reason), lsn = VALUES(lsn), slot = VALUES(slot),
	slot_confirmed_lsn = VALUES(slot_confirmed_lsn), slot_lag_bytes = VALUES(slot_lag_bytes),
	retained_wal_bytes = VALUES(retained_wal_bytes), lag_seconds = VALUES(lag_seconds), lag_events = VALUES(lag_events),
	rows_per_sec = VALUES(rows_per_sec), changes = VALUES(changes), updated_at = UTC_TIMESTAMP(6)`

// saveReverseStatus records the status of a new-to-legacy pipeline in the
// legacy database.
func saveReverseStatus(ctx context.Context, q sqlExecer, s Status) error {
	slot := s.Slot
	if slot == nil {
		slot = &SlotStatus{}
	}
	reason := s.Reason
	if s.Phase == PhasePaused && s.Statement != "" {
		reason = s.Statement + ": " + reason
	}
	if _, err := q.ExecContext(ctx, saveReverseStatusSQL, s.Pipeline, s.Phase, reason, s.LSN, slot.Name, slot.ConfirmedLSN,
		slot.LagBytes, slot.RetainedWALBytes, s.LagSeconds, s.LagEvents, s.RowsPerSec, s.Changes); err != nil {
		return fmt.Errorf("saving the status of pipeline %q in the legacy database: %w", s.Pipeline, err)
	}
	return nil
}

// ReadReverseStatus reads a new-to-legacy pipeline's status and position
// from the legacy database (db is a connection to it). A pipeline that
// never ran has phase "not started". The slot figures are those the
// pipeline last recorded; ReadSlotStatus asks PostgreSQL for the current
// ones.
func ReadReverseStatus(ctx context.Context, db *sql.DB, pipeline string) (Status, error) {
	s := Status{Pipeline: pipeline, Phase: "not started", Direction: "new-to-legacy"}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?, ?)`,
		ReverseCheckpointTable, ReverseStatusTable).Scan(&n); err != nil {
		return s, fmt.Errorf("reading the status of pipeline %q from the legacy database: %w", pipeline, err)
	}
	if n < 2 {
		return s, nil
	}
	slot := &SlotStatus{}
	var updated string
	// As text, whatever the DSN's parseTime says.
	err := db.QueryRowContext(ctx, `SELECT phase, reason, lsn, slot, slot_confirmed_lsn, slot_lag_bytes, retained_wal_bytes,
		lag_seconds, lag_events, rows_per_sec, changes, DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s.%f')
		FROM strangler_sync_status WHERE pipeline = ?`, pipeline).
		Scan(&s.Phase, &s.Reason, &s.LSN, &slot.Name, &slot.ConfirmedLSN, &slot.LagBytes, &slot.RetainedWALBytes,
			&s.LagSeconds, &s.LagEvents, &s.RowsPerSec, &s.Changes, &updated)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		s.Phase = "not started"
	case err != nil:
		return s, fmt.Errorf("reading the status of pipeline %q from the legacy database: %w", pipeline, err)
	default:
		if slot.Name != "" {
			s.Slot = slot
		}
		// Written as UTC_TIMESTAMP(6).
		if t, err := time.ParseInLocation("2006-01-02 15:04:05.000000", updated, time.UTC); err == nil {
			s.UpdatedAt = t
		}
	}
	if s.Phase == PhasePaused {
		if s.Todo, err = readReversePauseTodo(ctx, db, pipeline); err != nil {
			return s, err
		}
	}
	ck, err := loadReverseCheckpoint(ctx, db, pipeline)
	if err != nil {
		return s, err
	}
	if ck.Found {
		s.LSN = ck.LSN.String()
	}
	return s, nil
}

// parseLSN reads an LSN's text ("16/B374D848").
func parseLSN(s string) (LSN, error) {
	l, err := pglogrepl.ParseLSN(s)
	if err != nil {
		return 0, fmt.Errorf("parsing the LSN %q: %w", s, err)
	}
	return l, nil
}
