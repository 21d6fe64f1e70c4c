package sync

import (
	"context"
	"fmt"
	"strings"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
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
// rotate events) and, once TrackGTIDs is called, the GTID set of the
// transactions that ended.
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
	inTxn bool
	skip  bool

	// GTIDs (see gtid.go). gtids is nil while the set of applied
	// transactions is not known (TrackGTIDs was not called, or a MySQL
	// tagged GTID left it); positions then carry no GTID set.
	gtids    *gtidSet
	pending  func() // adds the open transaction's GTID to gtids
	rotated  bool   // a real rotation: the next file is read from its start
	awaitPos bool   // started by GTID: the offset is known at the first commit or heartbeat
}

// NewDecoder returns a decoder that starts in file (the binlog file the
// stream starts in; rotate events update it).
func NewDecoder(file string) *Decoder { return &Decoder{file: file} }

// File returns the binlog file the decoder is in.
func (d *Decoder) File() string { return d.file }

// TrackGTIDs makes the decoder keep the set of transactions it has seen
// end, starting from set (the text of the source's flavor, gomysql.MySQLFlavor
// or gomysql.MariaDBFlavor; "" for none yet), and report it in every
// position. Call it before the first event.
func (d *Decoder) TrackGTIDs(flavor, set string) error {
	g, err := parseGTIDSet(flavor, set)
	if err != nil {
		return err
	}
	d.gtids = g
	return nil
}

// StartedByGTID tells the decoder that the stream was started from its
// GTID set, not from a file and offset: the offset the stream started at
// is unknown until the first commit, or the first heartbeat, which then
// reports it as a position (so that an idle pipeline's position is that
// of its new source too).
func (d *Decoder) StartedByGTID() { d.awaitPos = true }

// GTIDSet returns the set of transactions seen to their end, "" when it is
// not known.
func (d *Decoder) GTIDSet() string {
	if d.gtids == nil {
		return ""
	}
	return d.gtids.String()
}

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
			d.rotated, d.awaitPos = true, false
			return h.OnPosition(ctx, Position{File: d.file, Pos: uint32(e.Position), GTID: d.GTIDSet()})
		}
		return nil
	case *replication.MariadbGTIDEvent:
		d.rotated = false
		if g := d.gtids; g != nil && g.mariadb {
			id := e.GTID
			d.pending = func() { g.addMariaDB(id) }
		}
		d.begin(hdr.ServerID)
		if e.IsStandalone() {
			// A DDL or non-transactional statement follows as a query
			// event, without BEGIN/COMMIT.
			d.inTxn = false
		}
		return nil
	case *replication.GTIDEvent:
		d.rotated = false
		d.pending = nil
		if g := d.gtids; g != nil && !g.mariadb && len(e.SID) == 16 && e.GNO > 0 {
			// An anonymous transaction (gtid_mode OFF or OFF_PERMISSIVE)
			// has a zero SID and GNO 0: no GTID.
			sid := [16]byte(e.SID)
			if sid != ([16]byte{}) {
				gno := e.GNO
				d.pending = func() { g.addMySQL(sid, gno) }
			}
		}
		return nil
	case *replication.GtidTaggedLogEvent:
		// A tagged GTID (MySQL 8.4) is not a member of the sets go-mysql
		// keeps: the set is no longer known, and positions carry none
		// until the pipeline resumes from file and offset.
		d.gtids, d.pending = nil, nil
		return nil
	case *replication.PreviousGTIDsEvent:
		// MySQL writes, at the start of every binlog file, every GTID
		// logged before the file. After a real rotation the decoder read
		// the file from its start, so this is the whole set; otherwise it
		// is part of what is known already.
		return d.previousGTIDs(e)
	case *replication.GenericEvent:
		if hdr.EventType == replication.HEARTBEAT_EVENT && d.awaitPos && !d.inTxn && hdr.LogPos > 0 && string(e.Data) == d.file {
			// The server sent everything up to here, or skipped it as
			// already in the GTID set: the stream's position on this
			// server.
			d.awaitPos = false
			return h.OnPosition(ctx, Position{File: d.file, Pos: hdr.LogPos, GTID: d.GTIDSet()})
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

// pos ends an event group (a transaction, a DDL statement, a skipped
// transaction): its GTID joins the set, and the position after it is
// returned.
func (d *Decoder) pos(hdr *replication.EventHeader) Position {
	if d.pending != nil {
		d.pending()
		d.pending = nil
	}
	d.awaitPos = false
	return Position{File: d.file, Pos: hdr.LogPos, GTID: d.GTIDSet()}
}

func (d *Decoder) previousGTIDs(e *replication.PreviousGTIDsEvent) error {
	if d.gtids != nil && d.gtids.mariadb {
		return nil
	}
	prev, err := gomysql.ParseMysqlGTIDSet(e.GTIDSets)
	if err != nil {
		return fmt.Errorf("decoding the previous GTIDs event of %s: %q: %w", d.file, e.GTIDSets, err)
	}
	switch {
	case d.gtids != nil:
		return d.gtids.union(prev.(*gomysql.MysqlGTIDSet))
	case d.rotated:
		g, err := parseGTIDSet(gomysql.MySQLFlavor, "")
		if err != nil {
			return err
		}
		if err := g.union(prev.(*gomysql.MysqlGTIDSet)); err != nil {
			return err
		}
		d.gtids = g
	}
	return nil
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
