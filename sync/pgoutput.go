package sync

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
)

// This file decodes PostgreSQL's pgoutput logical replication messages
// (protocol version 1) into LogicalHandler calls. It does no I/O: feed it
// the WALData of each XLogData message in stream order.
//
// pglogrepl.Parse decodes the same messages, but it indexes its input
// without bounds checks (a short or corrupt message panics), and its
// errors do not say which field was short. This decoder checks every read
// and names message.field in its errors; pglogrepl is used for the
// replication protocol around it (slots, START_REPLICATION, keepalives,
// standby status updates) and for its LSN type.

// LSN is a position in PostgreSQL's write-ahead log.
type LSN = pglogrepl.LSN

// Relation is a table as a pgoutput Relation message describes it. The
// server sends one before the first change of the table in a session and
// again after its definition changes.
type Relation struct {
	ID              uint32
	Namespace, Name string
	// ReplicaIdentity is 'd' (default: the primary key), 'n' (nothing),
	// 'f' (full: every column) or 'i' (an index).
	ReplicaIdentity byte
	Columns         []RelationColumn
}

// QualifiedName is schema.table, unquoted.
func (r *Relation) QualifiedName() string { return r.Namespace + "." + r.Name }

// RelationColumn is one column of a Relation.
type RelationColumn struct {
	Name    string
	TypeOID uint32
	TypeMod int32
	Key     bool // part of the replica identity
}

// Tuple value kinds of pgoutput's TupleData.
const (
	TupleNull      byte = 'n' // NULL
	TupleUnchanged byte = 'u' // an unchanged TOASTed value, not sent
	TupleText      byte = 't' // text format
	TupleBinary    byte = 'b' // binary format (not requested by strangler)
)

// TupleValue is one column of a row image.
type TupleValue struct {
	Kind byte   // TupleNull, TupleUnchanged, TupleText or TupleBinary
	Data []byte // the value in the column type's text output (TupleText); a view of the message
}

// LogicalBegin starts a transaction: every change until the LogicalCommit
// belongs to it. FinalLSN is the LSN of its commit record.
type LogicalBegin struct {
	FinalLSN   LSN
	CommitTime time.Time
	Xid        uint32
}

// LogicalCommit ends the open transaction. CommitLSN is its commit
// record's LSN, EndLSN the end of that record: where the WAL after the
// transaction starts.
type LogicalCommit struct {
	CommitLSN  LSN
	EndLSN     LSN
	CommitTime time.Time
}

// LogicalChange is one row inserted, updated or deleted.
type LogicalChange struct {
	Relation *Relation
	Op       Op
	// OldKind is 'K' when Old holds the replica identity columns only (an
	// update that changed them, a delete), 'O' when it is the whole old
	// row (REPLICA IDENTITY FULL), 0 when there is no old image (an
	// insert, an update that kept the key under the default identity).
	OldKind byte
	Old     []TupleValue
	New     []TupleValue // nil for a delete
}

// LogicalTruncate is a TRUNCATE of one or more tables.
type LogicalTruncate struct {
	Relations       []*Relation
	Cascade         bool
	RestartIdentity bool
}

// LogicalHandler consumes decoded pgoutput changes in commit order. Every
// method may return an error, which stops the stream: the stream then
// resumes, after a restart, from the last position the consumer committed.
// Embed NopLogicalHandler to implement only some methods.
type LogicalHandler interface {
	// OnBegin opens a transaction.
	OnBegin(ctx context.Context, b LogicalBegin) error
	// OnRelation receives a table's definition, before its first change
	// in the session and after each change of its definition.
	OnRelation(ctx context.Context, r *Relation) error
	// OnChange receives one row change of the open transaction.
	OnChange(ctx context.Context, c LogicalChange) error
	// OnTruncate receives a TRUNCATE in the open transaction.
	OnTruncate(ctx context.Context, t LogicalTruncate) error
	// OnCommit ends the open transaction.
	OnCommit(ctx context.Context, c LogicalCommit) error
	// OnOrigin names the replication origin of the open transaction: it
	// was written by a session set up with pg_replication_origin_session_setup
	// (the forward direction of a both-ways pipeline marks its own so).
	OnOrigin(ctx context.Context, o LogicalOrigin) error
}

// LogicalOrigin is an Origin message: the open transaction came from the
// named replication origin.
type LogicalOrigin struct {
	Name      string
	CommitLSN LSN // the origin's commit position, 0 when the session gave none
}

// NopLogicalHandler is a LogicalHandler that ignores everything; embed it.
type NopLogicalHandler struct{}

// OnBegin does nothing.
func (NopLogicalHandler) OnBegin(context.Context, LogicalBegin) error { return nil }

// OnRelation does nothing.
func (NopLogicalHandler) OnRelation(context.Context, *Relation) error { return nil }

// OnChange does nothing.
func (NopLogicalHandler) OnChange(context.Context, LogicalChange) error { return nil }

// OnTruncate does nothing.
func (NopLogicalHandler) OnTruncate(context.Context, LogicalTruncate) error { return nil }

// OnCommit does nothing.
func (NopLogicalHandler) OnCommit(context.Context, LogicalCommit) error { return nil }

// OnOrigin does nothing.
func (NopLogicalHandler) OnOrigin(context.Context, LogicalOrigin) error { return nil }

var _ LogicalHandler = NopLogicalHandler{}

// PgoutputDecoder turns pgoutput messages into LogicalHandler calls. It
// does no I/O. It tracks the relations the server described and whether a
// transaction is open, and refuses messages out of order.
type PgoutputDecoder struct {
	relations map[uint32]*Relation
	inTxn     bool
}

// NewPgoutputDecoder returns a decoder with no relation known yet (the
// server sends every relation again in each session).
func NewPgoutputDecoder() *PgoutputDecoder {
	return &PgoutputDecoder{relations: map[uint32]*Relation{}}
}

// InTransaction reports whether a transaction is open.
func (d *PgoutputDecoder) InTransaction() bool { return d.inTxn }

// Decode passes one message (the WALData of an XLogData) on to h.
func (d *PgoutputDecoder) Decode(ctx context.Context, data []byte, h LogicalHandler) error {
	if len(data) == 0 {
		return fmt.Errorf("decoding a pgoutput message: empty")
	}
	r := &pgReader{msg: messageName(data[0]), b: data[1:]}
	switch data[0] {
	case 'B':
		b := LogicalBegin{FinalLSN: LSN(r.u64("FinalLSN")), CommitTime: pgTime(r.u64("CommitTime")), Xid: r.u32("Xid")}
		if err := r.end(); err != nil {
			return err
		}
		if d.inTxn {
			return fmt.Errorf("decoding pgoutput: Begin of xid %d inside an open transaction", b.Xid)
		}
		d.inTxn = true
		return h.OnBegin(ctx, b)
	case 'C':
		r.u8("Flags")
		c := LogicalCommit{CommitLSN: LSN(r.u64("CommitLSN")), EndLSN: LSN(r.u64("EndLSN")), CommitTime: pgTime(r.u64("CommitTime"))}
		if err := r.end(); err != nil {
			return err
		}
		if !d.inTxn {
			return fmt.Errorf("decoding pgoutput: Commit at %s without a Begin", c.CommitLSN)
		}
		d.inTxn = false
		return h.OnCommit(ctx, c)
	case 'R':
		rel, err := parseRelation(r)
		if err != nil {
			return err
		}
		d.relations[rel.ID] = rel
		return h.OnRelation(ctx, rel)
	case 'I', 'U', 'D':
		c, err := d.parseChange(data[0], r)
		if err != nil {
			return err
		}
		return h.OnChange(ctx, c)
	case 'T':
		n := r.u32("RelationNum")
		opts := r.u8("Options")
		if r.err == nil && int64(n)*4 != int64(len(r.b)) {
			return fmt.Errorf("decoding pgoutput Truncate.RelationIDs: %d relations declared, %d bytes left", n, len(r.b))
		}
		t := LogicalTruncate{Cascade: opts&1 != 0, RestartIdentity: opts&2 != 0}
		for i := 0; r.err == nil && i < int(n); i++ {
			id := r.u32(fmt.Sprintf("RelationIDs[%d]", i))
			rel := d.relations[id]
			if r.err == nil && rel == nil {
				return fmt.Errorf("decoding pgoutput Truncate.RelationIDs[%d]: relation %d was not described by a Relation message", i, id)
			}
			t.Relations = append(t.Relations, rel)
		}
		if err := r.end(); err != nil {
			return err
		}
		if !d.inTxn {
			return fmt.Errorf("decoding pgoutput: Truncate outside a transaction")
		}
		return h.OnTruncate(ctx, t)
	case 'O': // Origin: the transaction was replicated from elsewhere
		o := LogicalOrigin{CommitLSN: LSN(r.u64("CommitLSN"))}
		o.Name = r.str("Name")
		if err := r.end(); err != nil {
			return err
		}
		if !d.inTxn {
			return fmt.Errorf("decoding pgoutput: Origin outside a transaction")
		}
		return h.OnOrigin(ctx, o)
	case 'Y': // Type: a non-built-in type's name; values come as text anyway
		r.u32("DataType")
		r.str("Namespace")
		r.str("Name")
		return r.end()
	case 'M': // a logical decoding message (pg_logical_emit_message): not for us
		r.u8("Flags")
		r.u64("LSN")
		r.str("Prefix")
		n := r.u32("Content.Length")
		r.bytes("Content", n)
		return r.end()
	case 'S', 'E', 'c', 'A', 'P', 'K', 'r', 'b':
		return fmt.Errorf("decoding pgoutput: %s message, which strangler does not request (protocol version 1, no streaming, no two-phase)", r.msg)
	}
	return fmt.Errorf("decoding pgoutput: unknown message type %q", data[0])
}

// parseChange decodes an Insert, Update or Delete against the known
// relations.
func (d *PgoutputDecoder) parseChange(typ byte, r *pgReader) (LogicalChange, error) {
	id := r.u32("RelationID")
	if r.err != nil {
		return LogicalChange{}, r.err
	}
	rel := d.relations[id]
	if rel == nil {
		return LogicalChange{}, fmt.Errorf("decoding pgoutput %s.RelationID: relation %d was not described by a Relation message", r.msg, id)
	}
	if !d.inTxn {
		return LogicalChange{}, fmt.Errorf("decoding pgoutput: %s of %s outside a transaction", r.msg, rel.QualifiedName())
	}
	c := LogicalChange{Relation: rel}
	tag := r.u8("TupleType")
	switch typ {
	case 'I':
		c.Op = OpInsert
		if r.err == nil && tag != 'N' {
			return c, fmt.Errorf("decoding pgoutput Insert.TupleType: %q, want 'N'", tag)
		}
		c.New = r.tuple("Tuple", rel)
	case 'U':
		c.Op = OpUpdate
		if tag == 'K' || tag == 'O' {
			c.OldKind = tag
			c.Old = r.tuple("OldTuple", rel)
			tag = r.u8("NewTupleType")
		}
		if r.err == nil && tag != 'N' {
			return c, fmt.Errorf("decoding pgoutput Update.NewTupleType: %q, want 'N' (or 'K' or 'O' before it)", tag)
		}
		c.New = r.tuple("NewTuple", rel)
	case 'D':
		c.Op = OpDelete
		if r.err == nil && tag != 'K' && tag != 'O' {
			return c, fmt.Errorf("decoding pgoutput Delete.OldTupleType: %q, want 'K' or 'O'", tag)
		}
		c.OldKind = tag
		c.Old = r.tuple("OldTuple", rel)
	}
	return c, r.end()
}

func parseRelation(r *pgReader) (*Relation, error) {
	rel := &Relation{ID: r.u32("RelationID"), Namespace: r.str("Namespace"), Name: r.str("RelationName")}
	rel.ReplicaIdentity = r.u8("ReplicaIdentity")
	n := r.u16("ColumnNum")
	if r.err == nil && int(n)*10 > len(r.b) {
		// A column takes at least 10 bytes: flags, an empty name, type, modifier.
		return nil, fmt.Errorf("decoding pgoutput Relation.ColumnNum: %d columns declared, %d bytes left", n, len(r.b))
	}
	for i := 0; r.err == nil && i < int(n); i++ {
		f := fmt.Sprintf("Columns[%d]", i)
		flags := r.u8(f + ".Flags")
		col := RelationColumn{Name: r.str(f + ".Name"), TypeOID: r.u32(f + ".DataType"), TypeMod: int32(r.u32(f + ".TypeModifier")), Key: flags&1 != 0}
		rel.Columns = append(rel.Columns, col)
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	switch rel.ReplicaIdentity {
	case 'd', 'n', 'f', 'i':
	default:
		return nil, fmt.Errorf("decoding pgoutput Relation.ReplicaIdentity of %s: %q is not d, n, f or i", rel.QualifiedName(), rel.ReplicaIdentity)
	}
	return rel, nil
}

// messageName names a message type for errors.
func messageName(t byte) string {
	switch t {
	case 'B':
		return "Begin"
	case 'C':
		return "Commit"
	case 'R':
		return "Relation"
	case 'I':
		return "Insert"
	case 'U':
		return "Update"
	case 'D':
		return "Delete"
	case 'T':
		return "Truncate"
	case 'O':
		return "Origin"
	case 'Y':
		return "Type"
	case 'M':
		return "Message"
	case 'S':
		return "StreamStart"
	case 'E':
		return "StreamStop"
	case 'c':
		return "StreamCommit"
	case 'A':
		return "StreamAbort"
	case 'P', 'K', 'r', 'b':
		return "two-phase"
	}
	return fmt.Sprintf("message %q", t)
}

// pgReader reads the fields of one message, bounds-checked. The first
// failed read sets err (naming message.field); later reads return zero
// values, so a parser can read on and check err once.
type pgReader struct {
	msg string
	b   []byte
	err error
}

func (r *pgReader) short(field string, want int) {
	if r.err == nil {
		r.err = fmt.Errorf("decoding pgoutput %s.%s: %d bytes needed, %d left", r.msg, field, want, len(r.b))
	}
}

func (r *pgReader) u8(field string) byte {
	if r.err != nil || len(r.b) < 1 {
		r.short(field, 1)
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *pgReader) u16(field string) uint16 {
	if r.err != nil || len(r.b) < 2 {
		r.short(field, 2)
		return 0
	}
	v := binary.BigEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v
}

func (r *pgReader) u32(field string) uint32 {
	if r.err != nil || len(r.b) < 4 {
		r.short(field, 4)
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *pgReader) u64(field string) uint64 {
	if r.err != nil || len(r.b) < 8 {
		r.short(field, 8)
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// str reads a NUL-terminated string.
func (r *pgReader) str(field string) string {
	if r.err != nil {
		return ""
	}
	for i, c := range r.b {
		if c == 0 {
			s := string(r.b[:i])
			r.b = r.b[i+1:]
			return s
		}
	}
	r.err = fmt.Errorf("decoding pgoutput %s.%s: no terminating NUL in the %d bytes left", r.msg, field, len(r.b))
	return ""
}

func (r *pgReader) bytes(field string, n uint32) []byte {
	if r.err != nil || uint64(len(r.b)) < uint64(n) {
		r.short(field, int(min(n, 1<<31-1)))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// tuple reads a TupleData of rel's columns.
func (r *pgReader) tuple(field string, rel *Relation) []TupleValue {
	n := r.u16(field + ".ColumnNum")
	if r.err != nil {
		return nil
	}
	if int(n) != len(rel.Columns) {
		r.err = fmt.Errorf("decoding pgoutput %s.%s.ColumnNum: %d columns, the relation %s has %d", r.msg, field, n, rel.QualifiedName(), len(rel.Columns))
		return nil
	}
	if int(n) > len(r.b) {
		r.short(field+".Columns", int(n))
		return nil
	}
	out := make([]TupleValue, n)
	// Field names are formatted only for an error: this loop runs for
	// every column of every row.
	fail := func(i int, part string, want int) []TupleValue {
		r.short(fmt.Sprintf("%s.Columns[%d].%s", field, i, part), want)
		return nil
	}
	for i := range out {
		if len(r.b) < 1 {
			return fail(i, "Kind", 1)
		}
		kind := r.b[0]
		r.b = r.b[1:]
		switch kind {
		case TupleNull, TupleUnchanged:
		case TupleText, TupleBinary:
			if len(r.b) < 4 {
				return fail(i, "Length", 4)
			}
			l := binary.BigEndian.Uint32(r.b)
			r.b = r.b[4:]
			if uint64(len(r.b)) < uint64(l) {
				return fail(i, "Data", int(min(l, 1<<31-1)))
			}
			out[i].Data = r.b[:l:l]
			r.b = r.b[l:]
		default:
			r.err = fmt.Errorf("decoding pgoutput %s.%s.Columns[%d].Kind: %q is not n, u, t or b", r.msg, field, i, kind)
			return nil
		}
		out[i].Kind = kind
	}
	return out
}

// end checks that the message was read to its end.
func (r *pgReader) end() error {
	if r.err != nil {
		return r.err
	}
	if len(r.b) > 0 {
		return fmt.Errorf("decoding pgoutput %s: %d bytes after the message's last field", r.msg, len(r.b))
	}
	return nil
}

// pgEpochMicros is PostgreSQL's timestamp epoch, 2000-01-01 UTC, in Unix
// microseconds.
const pgEpochMicros = 946684800 * 1_000_000

// pgTime converts microseconds since 2000-01-01 to a time.
func pgTime(us uint64) time.Time { return time.UnixMicro(pgEpochMicros + int64(us)).UTC() }
