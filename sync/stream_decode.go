package sync

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
)

// Op is the kind of a row change.
type Op uint8

// Row change kinds.
const (
	OpInsert Op = iota + 1
	OpUpdate
	OpDelete
)

// String names the op as the metrics label does: insert, update, delete.
func (o Op) String() string {
	switch o {
	case OpInsert:
		return "insert"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// RowChange is one row changed by a source transaction, as decoded from a
// rows event. Before is nil for an insert, After is nil for a delete; both
// are full row images (binlog_row_image=FULL) in the binlog's column order.
type RowChange struct {
	Schema, Table string
	Op            Op
	Columns       []string // column names from the table map metadata; nil when the source logs none
	Before, After []any
	Time          time.Time // the event's timestamp (whole seconds)
}

// DDLEvent is a statement other than BEGIN/COMMIT logged as a query event:
// DDL, in practice.
type DDLEvent struct {
	Schema    string // the default database the statement ran in
	Statement string
	Pos       Position // the end of the event: where streaming goes on after it
	Time      time.Time
}

// Commit ends a source transaction: everything since the last Commit
// belongs to it. Pos is the end of the commit event.
type Commit struct {
	Pos  Position
	Time time.Time
}

// Handler consumes decoded binlog changes in log order. Every method may
// return an error, which stops the stream: the stream then resumes, after a
// restart, from the last position the handler committed. Embed NopHandler to
// implement only some methods.
type Handler interface {
	// OnRow receives one row change of an open transaction.
	OnRow(ctx context.Context, c RowChange) error
	// OnCommit ends the open transaction.
	OnCommit(ctx context.Context, c Commit) error
	// OnDDL receives a statement outside any transaction (DDL).
	OnDDL(ctx context.Context, d DDLEvent) error
	// OnPosition reports a position between transactions that moved without
	// a commit (a rotation to a new binlog file, a skipped transaction).
	OnPosition(ctx context.Context, p Position) error
}

// NopHandler is a Handler that ignores everything; embed it.
type NopHandler struct{}

// OnRow does nothing.
func (NopHandler) OnRow(context.Context, RowChange) error { return nil }

// OnCommit does nothing.
func (NopHandler) OnCommit(context.Context, Commit) error { return nil }

// OnDDL does nothing.
func (NopHandler) OnDDL(context.Context, DDLEvent) error { return nil }

// OnPosition does nothing.
func (NopHandler) OnPosition(context.Context, Position) error { return nil }

var _ Handler = NopHandler{}

// Decoder turns binlog events into Handler calls. It does no I/O: feed it
// events in log order with Decode. It tracks the current binlog file (from
// rotate events) and the open transaction's GTID.
type Decoder struct {
	// Want reports whether changes to schema.table are of interest; nil
	// means all. Rows of other tables are not passed on, but their
	// transactions still end in a Commit so the position advances.
	Want func(schema, table string) bool
	// SkipServerIDs drops whole transactions that were logged by these
	// server ids. This is the hook that keeps a pipeline from capturing
	// writes that strangler itself made in the source (new-to-legacy sync
	// writes with its own server id): they are never echoed back.
	SkipServerIDs map[uint32]bool

	file  string
	gtid  string
	inTxn bool
	skip  bool
}

// NewDecoder returns a decoder that starts in file (the binlog file the
// stream starts in; rotate events update it).
func NewDecoder(file string) *Decoder { return &Decoder{file: file} }

// File returns the binlog file the decoder is in.
func (d *Decoder) File() string { return d.file }

// InTransaction reports whether a transaction is open (begun, not yet
// committed).
func (d *Decoder) InTransaction() bool { return d.inTxn }

// Decode passes one event on to h.
func (d *Decoder) Decode(ctx context.Context, ev *replication.BinlogEvent, h Handler) error {
	hdr := ev.Header
	when := time.Unix(int64(hdr.Timestamp), 0)
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		d.file = string(e.NextLogName)
		if !d.inTxn && hdr.Timestamp != 0 {
			// A real rotation at the end of a file (fake ones, sent at
			// connect, carry no timestamp and no news).
			return h.OnPosition(ctx, Position{File: d.file, Pos: uint32(e.Position)})
		}
		return nil
	case *replication.MariadbGTIDEvent:
		d.gtid = e.GTID.String()
		d.begin(hdr.ServerID)
		if e.IsStandalone() {
			// A DDL or non-transactional statement follows as a query
			// event, without BEGIN/COMMIT.
			d.inTxn = false
		}
		return nil
	case *replication.GTIDEvent:
		if next, err := e.GTIDNext(); err == nil && next != nil {
			d.gtid = next.String()
		}
		return nil
	case *replication.QueryEvent:
		q := strings.TrimSpace(string(e.Query))
		switch {
		case strings.EqualFold(q, "BEGIN"):
			d.begin(hdr.ServerID)
			return nil
		case strings.EqualFold(q, "COMMIT"):
			return d.commit(ctx, h, hdr, when)
		case strings.HasPrefix(strings.ToUpper(q), "SAVEPOINT"), strings.HasPrefix(strings.ToUpper(q), "ROLLBACK TO"):
			return nil
		}
		if d.inTxn {
			// A statement inside a transaction (statement-format writes to
			// a temporary table, for example): nothing to apply.
			return nil
		}
		if d.skip || d.SkipServerIDs[hdr.ServerID] {
			d.skip = false
			return h.OnPosition(ctx, d.pos(hdr))
		}
		return h.OnDDL(ctx, DDLEvent{Schema: string(e.Schema), Statement: q, Pos: d.pos(hdr), Time: when})
	case *replication.XIDEvent:
		return d.commit(ctx, h, hdr, when)
	case *replication.RowsEvent:
		return d.rows(ctx, ev, e, h, when)
	}
	return nil
}

func (d *Decoder) begin(serverID uint32) {
	d.inTxn = true
	d.skip = d.SkipServerIDs[serverID]
}

func (d *Decoder) pos(hdr *replication.EventHeader) Position {
	return Position{File: d.file, Pos: hdr.LogPos, GTID: d.gtid}
}

func (d *Decoder) commit(ctx context.Context, h Handler, hdr *replication.EventHeader, when time.Time) error {
	d.inTxn = false
	if d.skip {
		d.skip = false
		return h.OnPosition(ctx, d.pos(hdr))
	}
	return h.OnCommit(ctx, Commit{Pos: d.pos(hdr), Time: when})
}

func (d *Decoder) rows(ctx context.Context, ev *replication.BinlogEvent, e *replication.RowsEvent, h Handler, when time.Time) error {
	if d.skip {
		return nil
	}
	if e.Table == nil {
		return fmt.Errorf("decoding rows event at %s:%d: no table map event for table id %d", d.file, ev.Header.LogPos, e.TableID)
	}
	schema, table := string(e.Table.Schema), string(e.Table.Table)
	if d.Want != nil && !d.Want(schema, table) {
		return nil
	}
	var op Op
	switch ev.Header.EventType {
	case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2,
		replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1:
		op = OpInsert
	case replication.UPDATE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2,
		replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1, replication.PARTIAL_UPDATE_ROWS_EVENT:
		op = OpUpdate
	case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2,
		replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		op = OpDelete
	default:
		return fmt.Errorf("decoding rows event at %s:%d: unknown event type %s", d.file, ev.Header.LogPos, ev.Header.EventType)
	}
	if len(e.SkippedColumns) > 0 && len(e.SkippedColumns[0]) > 0 {
		return fmt.Errorf("decoding rows event of %s.%s at %s:%d: the row image is not full (set binlog_row_image=FULL on the source)",
			schema, table, d.file, ev.Header.LogPos)
	}
	cols := e.Table.ColumnNameString()
	if len(cols) == 0 {
		cols = nil
	}
	if !d.inTxn {
		// Rows without BEGIN: a non-transactional engine's statement; its
		// COMMIT query event closes it.
		d.inTxn = true
	}
	step := 1
	if op == OpUpdate {
		step = 2
	}
	if len(e.Rows)%step != 0 {
		return fmt.Errorf("decoding update rows event of %s.%s at %s:%d: odd number of row images (%d)", schema, table, d.file, ev.Header.LogPos, len(e.Rows))
	}
	for i := 0; i < len(e.Rows); i += step {
		c := RowChange{Schema: schema, Table: table, Op: op, Columns: cols, Time: when}
		switch op {
		case OpInsert:
			c.After = e.Rows[i]
		case OpDelete:
			c.Before = e.Rows[i]
		case OpUpdate:
			c.Before, c.After = e.Rows[i], e.Rows[i+1]
		}
		if err := h.OnRow(ctx, c); err != nil {
			return err
		}
	}
	return nil
}
