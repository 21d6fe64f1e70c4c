package sync

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pgw writes pgoutput messages, for tests.
type pgw struct{ b []byte }

func newMsg(t byte) *pgw { return &pgw{b: []byte{t}} }

func (w *pgw) u8(v byte) *pgw    { w.b = append(w.b, v); return w }
func (w *pgw) u16(v uint16) *pgw { w.b = binary.BigEndian.AppendUint16(w.b, v); return w }
func (w *pgw) u32(v uint32) *pgw { w.b = binary.BigEndian.AppendUint32(w.b, v); return w }
func (w *pgw) u64(v uint64) *pgw { w.b = binary.BigEndian.AppendUint64(w.b, v); return w }
func (w *pgw) str(s string) *pgw { w.b = append(append(w.b, s...), 0); return w }

// tuple writes a TupleData: a value "\x00n" is NULL, "\x00u" unchanged,
// anything else text.
func (w *pgw) tuple(vals ...string) *pgw {
	w.u16(uint16(len(vals)))
	for _, v := range vals {
		switch v {
		case "\x00n":
			w.u8('n')
		case "\x00u":
			w.u8('u')
		default:
			w.u8('t').u32(uint32(len(v)))
			w.b = append(w.b, v...)
		}
	}
	return w
}

func pgTimeMicros(t time.Time) uint64 { return uint64(t.UnixMicro() - pgEpochMicros) }

func msgBegin(final LSN, at time.Time, xid uint32) []byte {
	return newMsg('B').u64(uint64(final)).u64(pgTimeMicros(at)).u32(xid).b
}

func msgCommit(commit, end LSN, at time.Time) []byte {
	return newMsg('C').u8(0).u64(uint64(commit)).u64(uint64(end)).u64(pgTimeMicros(at)).b
}

// msgRelation describes a relation; cols are "name:oid", with a "*" prefix
// for replica identity columns.
func msgRelation(id uint32, ns, name string, ident byte, cols ...string) []byte {
	w := newMsg('R').u32(id).str(ns).str(name).u8(ident).u16(uint16(len(cols)))
	for _, c := range cols {
		flags := byte(0)
		if strings.HasPrefix(c, "*") {
			flags, c = 1, c[1:]
		}
		n, oid, _ := strings.Cut(c, ":")
		var o uint32
		fmt.Sscan(oid, &o)
		w.u8(flags).str(n).u32(o).u32(0xffffffff)
	}
	return w.b
}

func msgInsert(rel uint32, vals ...string) []byte {
	return newMsg('I').u32(rel).u8('N').tuple(vals...).b
}

func msgUpdate(rel uint32, oldKind byte, old []string, vals ...string) []byte {
	w := newMsg('U').u32(rel)
	if oldKind != 0 {
		w.u8(oldKind).tuple(old...)
	}
	return w.u8('N').tuple(vals...).b
}

func msgDelete(rel uint32, oldKind byte, old ...string) []byte {
	return newMsg('D').u32(rel).u8(oldKind).tuple(old...).b
}

func msgTruncate(opts byte, rels ...uint32) []byte {
	w := newMsg('T').u32(uint32(len(rels))).u8(opts)
	for _, r := range rels {
		w.u32(r)
	}
	return w.b
}

// pgRecorder is a LogicalHandler that writes down what it is given.
type pgRecorder struct {
	NopLogicalHandler
	got []string
}

func tupleString(vals []TupleValue) string {
	var parts []string
	for _, v := range vals {
		switch v.Kind {
		case TupleText:
			parts = append(parts, string(v.Data))
		default:
			parts = append(parts, "<"+string(v.Kind)+">")
		}
	}
	return strings.Join(parts, ",")
}

func (r *pgRecorder) OnBegin(_ context.Context, b LogicalBegin) error {
	r.got = append(r.got, fmt.Sprintf("begin %s xid %d at %s", b.FinalLSN, b.Xid, b.CommitTime.Format(time.RFC3339Nano)))
	return nil
}

func (r *pgRecorder) OnRelation(_ context.Context, rel *Relation) error {
	var cols []string
	for _, c := range rel.Columns {
		k := ""
		if c.Key {
			k = "*"
		}
		cols = append(cols, fmt.Sprintf("%s%s:%d", k, c.Name, c.TypeOID))
	}
	r.got = append(r.got, fmt.Sprintf("relation %d %s %c %s", rel.ID, rel.QualifiedName(), rel.ReplicaIdentity, strings.Join(cols, ",")))
	return nil
}

func (r *pgRecorder) OnChange(_ context.Context, c LogicalChange) error {
	s := fmt.Sprintf("%s %s", c.Op, c.Relation.Name)
	if c.Old != nil {
		s += fmt.Sprintf(" old(%c)=%s", c.OldKind, tupleString(c.Old))
	}
	if c.New != nil {
		s += " new=" + tupleString(c.New)
	}
	r.got = append(r.got, s)
	return nil
}

func (r *pgRecorder) OnTruncate(_ context.Context, t LogicalTruncate) error {
	var names []string
	for _, rel := range t.Relations {
		names = append(names, rel.Name)
	}
	r.got = append(r.got, fmt.Sprintf("truncate %s cascade=%t restart=%t", strings.Join(names, ","), t.Cascade, t.RestartIdentity))
	return nil
}

func (r *pgRecorder) OnCommit(_ context.Context, c LogicalCommit) error {
	r.got = append(r.got, fmt.Sprintf("commit %s end %s", c.CommitLSN, c.EndLSN))
	return nil
}

func (r *pgRecorder) OnOrigin(_ context.Context, o LogicalOrigin) error {
	r.got = append(r.got, fmt.Sprintf("origin %s at %s", o.Name, o.CommitLSN))
	return nil
}

var testCommitTime = time.Date(2026, 3, 1, 12, 30, 45, 123456000, time.UTC)

// sampleStream is one session's messages: a relation, a transaction with
// every kind of change, a truncate.
func sampleStream() [][]byte {
	return [][]byte{
		msgRelation(16390, "public", "orders", 'd', "*id:23", "note:25", "blob:17"),
		msgBegin(0x16B3748, testCommitTime, 731),
		msgInsert(16390, "1", "first", `\x00ff`),
		msgUpdate(16390, 0, nil, "1", "changed", "\x00u"),
		msgUpdate(16390, 'K', []string{"1", "\x00n", "\x00n"}, "2", "moved", "\x00n"),
		msgDelete(16390, 'K', "2", "\x00n", "\x00n"),
		msgCommit(0x16B3748, 0x16B3778, testCommitTime),
		msgBegin(0x16B3800, testCommitTime, 732),
		msgTruncate(3, 16390),
		msgCommit(0x16B3800, 0x16B3830, testCommitTime),
	}
}

func TestPgoutputDecoder(t *testing.T) {
	ctx := context.Background()
	d := NewPgoutputDecoder()
	r := &pgRecorder{}
	for _, m := range sampleStream() {
		require.NoError(t, d.Decode(ctx, m, r))
	}
	assert.Equal(t, []string{
		"relation 16390 public.orders d *id:23,note:25,blob:17",
		"begin 0/16B3748 xid 731 at 2026-03-01T12:30:45.123456Z",
		`insert orders new=1,first,\x00ff`,
		"update orders new=1,changed,<u>",
		"update orders old(K)=1,<n>,<n> new=2,moved,<n>",
		"delete orders old(K)=2,<n>,<n>",
		"commit 0/16B3748 end 0/16B3778",
		"begin 0/16B3800 xid 732 at 2026-03-01T12:30:45.123456Z",
		"truncate orders cascade=true restart=true",
		"commit 0/16B3800 end 0/16B3830",
	}, r.got)
	assert.False(t, d.InTransaction())
}

// TestPgoutputDecoderErrors: every malformed or out-of-order message is an
// error naming the message and its field, never a panic.
func TestPgoutputDecoderErrors(t *testing.T) {
	rel := msgRelation(7, "public", "t", 'd', "*id:23", "v:25")
	begin := msgBegin(100, testCommitTime, 1)
	tests := []struct {
		name string
		msgs [][]byte
		want string
	}{
		{"empty message", [][]byte{{}}, "decoding a pgoutput message: empty"},
		{"short begin", [][]byte{begin[:15]}, "decoding pgoutput Begin.CommitTime: 8 bytes needed, 6 left"},
		{"begin with trailing bytes", [][]byte{append(append([]byte{}, begin...), 1, 2)}, "decoding pgoutput Begin: 2 bytes after the message's last field"},
		{"begin inside a transaction", [][]byte{begin, begin}, "Begin of xid 1 inside an open transaction"},
		{"commit without begin", [][]byte{msgCommit(1, 2, testCommitTime)}, "Commit at 0/1 without a Begin"},
		{"insert before its relation", [][]byte{begin, msgInsert(8, "1", "x")}, "decoding pgoutput Insert.RelationID: relation 8 was not described by a Relation message"},
		{"insert outside a transaction", [][]byte{rel, msgInsert(7, "1", "x")}, "Insert of public.t outside a transaction"},
		{"tuple of another width", [][]byte{rel, begin, msgInsert(7, "1")}, "decoding pgoutput Insert.Tuple.ColumnNum: 1 columns, the relation public.t has 2"},
		{"value longer than the message", [][]byte{rel, begin, newMsg('I').u32(7).u8('N').u16(2).u8('t').u32(1).b}, "decoding pgoutput Insert.Tuple.Columns[0].Data: 1 bytes needed, 0 left"},
		{"bad tuple kind", [][]byte{rel, begin, newMsg('I').u32(7).u8('N').u16(2).u8('x').u8('n').b}, "decoding pgoutput Insert.Tuple.Columns[0].Kind: 'x' is not n, u, t or b"},
		{"insert without its N", [][]byte{rel, begin, newMsg('I').u32(7).u8('K').tuple("1", "x").b}, "decoding pgoutput Insert.TupleType: 'K', want 'N'"},
		{"update without its new tuple", [][]byte{rel, begin, newMsg('U').u32(7).u8('K').tuple("1", "\x00n").b}, "decoding pgoutput Update.NewTupleType: 1 bytes needed, 0 left"},
		{"delete without an old key", [][]byte{rel, begin, newMsg('D').u32(7).u8('N').tuple("1", "x").b}, "decoding pgoutput Delete.OldTupleType: 'N', want 'K' or 'O'"},
		{"truncate of an unknown relation", [][]byte{rel, begin, msgTruncate(0, 7, 9)}, "decoding pgoutput Truncate.RelationIDs[1]: relation 9 was not described"},
		{"truncate counting more than it holds", [][]byte{begin, newMsg('T').u32(1000).u8(0).u32(7).b}, "decoding pgoutput Truncate.RelationIDs: 1000 relations declared, 4 bytes left"},
		{"relation name without NUL", [][]byte{newMsg('R').u32(1).str("public").b}, "decoding pgoutput Relation.RelationName: no terminating NUL in the 0 bytes left"},
		{"relation with more columns than bytes", [][]byte{newMsg('R').u32(1).str("public").str("t").u8('d').u16(500).b}, "decoding pgoutput Relation.ColumnNum: 500 columns declared, 0 bytes left"},
		{"relation with a bad identity", [][]byte{msgRelation(1, "public", "t", 'x', "id:23")}, "decoding pgoutput Relation.ReplicaIdentity of public.t: 'x' is not d, n, f or i"},
		{"streamed transaction", [][]byte{newMsg('S').u32(1).u8(1).b}, "StreamStart message, which strangler does not request"},
		{"unknown message", [][]byte{{'Z', 1}}, `unknown message type 'Z'`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewPgoutputDecoder()
			var err error
			for _, m := range tc.msgs {
				if err = d.Decode(context.Background(), m, NopLogicalHandler{}); err != nil {
					break
				}
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestPgoutputDecoderOrigin: an Origin message inside a transaction names
// its origin (how a both-ways pipeline knows its own writes); outside one
// it is refused.
func TestPgoutputDecoderOrigin(t *testing.T) {
	d := NewPgoutputDecoder()
	r := &pgRecorder{}
	for _, m := range [][]byte{msgBegin(100, testCommitTime, 1), newMsg('O').u64(5).str("strangler_shop").b} {
		require.NoError(t, d.Decode(context.Background(), m, r))
	}
	assert.Equal(t, "origin strangler_shop at 0/5", r.got[len(r.got)-1])
	err := NewPgoutputDecoder().Decode(context.Background(), newMsg('O').u64(5).str("x").b, r)
	require.ErrorContains(t, err, "Origin outside a transaction")
}

// TestPgoutputDecoderIgnores: type and logical decoding messages decode
// and call nothing.
func TestPgoutputDecoderIgnores(t *testing.T) {
	d := NewPgoutputDecoder()
	r := &pgRecorder{}
	for _, m := range [][]byte{
		newMsg('Y').u32(16500).str("public").str("mood").b,
		newMsg('M').u8(0).u64(9).str("prefix").u32(3).u8(1).u8(2).u8(3).b,
	} {
		require.NoError(t, d.Decode(context.Background(), m, r))
	}
	assert.Empty(t, r.got)
}
