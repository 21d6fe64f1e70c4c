package sync

import (
	"context"
	"errors"
	"fmt"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is a Handler that writes down what it receives.
type recorder struct {
	NopHandler
	got     []string
	failRow bool
}

func (r *recorder) OnRow(_ context.Context, c RowChange) error {
	if r.failRow {
		return errors.New("handler refuses")
	}
	r.got = append(r.got, fmt.Sprintf("row %s %s.%s %v -> %v", c.Op, c.Schema, c.Table, c.Before, c.After))
	return nil
}

func (r *recorder) OnCommit(_ context.Context, c Commit) error {
	r.got = append(r.got, fmt.Sprintf("commit %s gtid=%s", c.Pos, c.Pos.GTID))
	return nil
}

func (r *recorder) OnDDL(_ context.Context, d DDLEvent) error {
	r.got = append(r.got, fmt.Sprintf("ddl %s %q at %s", d.Schema, d.Statement, d.Pos))
	return nil
}

func (r *recorder) OnPosition(_ context.Context, p Position) error {
	r.got = append(r.got, "position "+p.String())
	return nil
}

// Event builders: what go-mysql's parser hands out.
func ev(t replication.EventType, pos uint32, server uint32, e replication.Event) *replication.BinlogEvent {
	return &replication.BinlogEvent{Header: &replication.EventHeader{EventType: t, LogPos: pos, ServerID: server, Timestamp: 1700000000}, Event: e}
}

func fakeRotate(file string) *replication.BinlogEvent {
	e := ev(replication.ROTATE_EVENT, 0, 1, &replication.RotateEvent{NextLogName: []byte(file), Position: 4})
	e.Header.Timestamp = 0
	return e
}

func gtid(pos uint32, seq uint64, flags byte) *replication.BinlogEvent {
	return ev(replication.MARIADB_GTID_EVENT, pos, 1, &replication.MariadbGTIDEvent{GTID: gomysql.MariadbGTID{DomainID: 0, ServerID: 1, SequenceNumber: seq}, Flags: flags})
}

var ordersMap = &replication.TableMapEvent{Schema: []byte("shop"), Table: []byte("orders"), ColumnCount: 2,
	ColumnName: [][]byte{[]byte("id"), []byte("note")}}

var otherMap = &replication.TableMapEvent{Schema: []byte("shop"), Table: []byte("audit"), ColumnCount: 1}

func rows(t replication.EventType, pos uint32, tm *replication.TableMapEvent, rs ...[]any) *replication.BinlogEvent {
	return ev(t, pos, 1, &replication.RowsEvent{Table: tm, Rows: rs})
}

func xid(pos uint32) *replication.BinlogEvent {
	return ev(replication.XID_EVENT, pos, 1, &replication.XIDEvent{XID: 9})
}

func query(pos uint32, server uint32, schema, q string) *replication.BinlogEvent {
	return ev(replication.QUERY_EVENT, pos, server, &replication.QueryEvent{Schema: []byte(schema), Query: []byte(q)})
}

func TestDecoder(t *testing.T) {
	standalone := byte(replication.BINLOG_MARIADB_FL_STANDALONE)
	tests := []struct {
		name   string
		events []*replication.BinlogEvent
		skip   []uint32
		want   []string
	}{{
		name: "a transaction of inserts, updates and deletes",
		events: []*replication.BinlogEvent{
			fakeRotate("binlog.000002"),
			gtid(100, 7, 0),
			rows(replication.WRITE_ROWS_EVENTv1, 150, ordersMap, []any{int32(1), "a"}, []any{int32(2), "b"}),
			rows(replication.UPDATE_ROWS_EVENTv1, 200, ordersMap, []any{int32(1), "a"}, []any{int32(3), "c"}),
			rows(replication.DELETE_ROWS_EVENTv1, 250, ordersMap, []any{int32(2), "b"}),
			xid(300),
		},
		want: []string{
			"row insert shop.orders [] -> [1 a]",
			"row insert shop.orders [] -> [2 b]",
			"row update shop.orders [1 a] -> [3 c]",
			"row delete shop.orders [2 b] -> []",
			"commit binlog.000002:300 gtid=0-1-7",
		},
	}, {
		name: "DDL is a standalone event group",
		events: []*replication.BinlogEvent{
			fakeRotate("binlog.000001"),
			gtid(400, 8, standalone),
			query(500, 1, "shop", "ALTER TABLE orders ADD COLUMN x int"),
		},
		want: []string{`ddl shop "ALTER TABLE orders ADD COLUMN x int" at binlog.000001:500`},
	}, {
		name: "a non-transactional statement ends with a COMMIT query",
		events: []*replication.BinlogEvent{
			fakeRotate("binlog.000001"),
			gtid(100, 9, 0),
			query(150, 1, "shop", "BEGIN"),
			rows(replication.WRITE_ROWS_EVENTv1, 200, ordersMap, []any{int32(5), "e"}),
			query(250, 1, "shop", "COMMIT"),
		},
		want: []string{"row insert shop.orders [] -> [5 e]", "commit binlog.000001:250 gtid=0-1-9"},
	}, {
		name: "rows of unwanted tables are dropped, their commit kept",
		events: []*replication.BinlogEvent{
			fakeRotate("binlog.000001"),
			gtid(100, 10, 0),
			rows(replication.WRITE_ROWS_EVENTv1, 150, otherMap, []any{int32(1)}),
			xid(200),
		},
		want: []string{"commit binlog.000001:200 gtid=0-1-10"},
	}, {
		name: "transactions of a skipped server id only move the position",
		skip: []uint32{42},
		events: []*replication.BinlogEvent{
			fakeRotate("binlog.000001"),
			ev(replication.MARIADB_GTID_EVENT, 100, 42, &replication.MariadbGTIDEvent{GTID: gomysql.MariadbGTID{ServerID: 42, SequenceNumber: 3}}),
			ev(replication.WRITE_ROWS_EVENTv1, 150, 42, &replication.RowsEvent{Table: ordersMap, Rows: [][]any{{int32(1), "echo"}}}),
			ev(replication.XID_EVENT, 200, 42, &replication.XIDEvent{}),
			ev(replication.QUERY_EVENT, 300, 42, &replication.QueryEvent{Schema: []byte("shop"), Query: []byte("ALTER TABLE orders DROP COLUMN note")}),
		},
		want: []string{"position binlog.000001:200", "position binlog.000001:300"},
	}, {
		name: "a real rotation moves the position to the new file",
		events: []*replication.BinlogEvent{
			fakeRotate("binlog.000001"),
			ev(replication.ROTATE_EVENT, 900, 1, &replication.RotateEvent{NextLogName: []byte("binlog.000002"), Position: 4}),
			gtid(100, 11, 0),
			rows(replication.WRITE_ROWS_EVENTv1, 150, ordersMap, []any{int32(6), "f"}),
			xid(200),
		},
		want: []string{"position binlog.000002:4", "row insert shop.orders [] -> [6 f]", "commit binlog.000002:200 gtid=0-1-11"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder("")
			require.NoError(t, d.TrackGTIDs(gomysql.MariaDBFlavor, ""))
			d.Want = func(schema, table string) bool { return schema == "shop" && table == "orders" }
			if tt.skip != nil {
				d.SkipServerIDs = map[uint32]bool{}
				for _, s := range tt.skip {
					d.SkipServerIDs[s] = true
				}
			}
			r := &recorder{}
			for _, e := range tt.events {
				require.NoError(t, d.Decode(context.Background(), e, r))
			}
			assert.Equal(t, tt.want, r.got)
			assert.False(t, d.InTransaction())
		})
	}
}

func TestDecoderErrors(t *testing.T) {
	tests := []struct {
		name   string
		events []*replication.BinlogEvent
		fail   bool
		want   string
	}{
		{"rows without a table map", []*replication.BinlogEvent{gtid(1, 1, 0), rows(replication.WRITE_ROWS_EVENTv1, 2, nil)}, false, "no table map event"},
		{"an update with an odd number of images", []*replication.BinlogEvent{gtid(1, 1, 0),
			rows(replication.UPDATE_ROWS_EVENTv1, 2, ordersMap, []any{int32(1), "a"})}, false, "odd number of row images"},
		{"a partial row image", []*replication.BinlogEvent{gtid(1, 1, 0),
			ev(replication.WRITE_ROWS_EVENTv1, 2, 1, &replication.RowsEvent{Table: ordersMap, Rows: [][]any{{int32(1), nil}}, SkippedColumns: [][]int{{1}}})}, false, "binlog_row_image=FULL"},
		{"a handler error stops the stream", []*replication.BinlogEvent{gtid(1, 1, 0),
			rows(replication.WRITE_ROWS_EVENTv1, 2, ordersMap, []any{int32(1), "a"})}, true, "handler refuses"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder("binlog.000001")
			r := &recorder{failRow: tt.fail}
			var err error
			for _, e := range tt.events {
				if err = d.Decode(context.Background(), e, r); err != nil {
					break
				}
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// FuzzDecoder feeds the decoder event sequences built from bytes and checks
// that it never panics, never reports a commit outside a transaction's file
// and always ends a transaction it began.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4})
	f.Add([]byte{0, 5, 6, 0, 1, 3, 2, 7})
	f.Add([]byte{1, 2, 2, 2, 4, 8, 1, 4})
	f.Fuzz(func(t *testing.T, ops []byte) {
		d := NewDecoder("binlog.000001")
		r := &recorder{}
		pos := uint32(4)
		for i, op := range ops {
			pos += 10
			var e *replication.BinlogEvent
			switch op % 9 {
			case 0:
				e = gtid(pos, uint64(i), 0)
			case 1:
				e = rows(replication.WRITE_ROWS_EVENTv1, pos, ordersMap, []any{int32(i), "x"})
			case 2:
				e = rows(replication.UPDATE_ROWS_EVENTv1, pos, ordersMap, []any{int32(i), "x"}, []any{int32(i), "y"})
			case 3:
				e = xid(pos)
			case 4:
				e = query(pos, 1, "shop", "COMMIT")
			case 5:
				e = gtid(pos, uint64(i), byte(replication.BINLOG_MARIADB_FL_STANDALONE))
			case 6:
				e = query(pos, 1, "shop", "CREATE TABLE t (id int)")
			case 7:
				e = ev(replication.ROTATE_EVENT, pos, 1, &replication.RotateEvent{NextLogName: []byte(fmt.Sprintf("binlog.%06d", i)), Position: 4})
			case 8:
				e = rows(replication.DELETE_ROWS_EVENTv1, pos, ordersMap, []any{int32(i), "x"})
			}
			if err := d.Decode(context.Background(), e, r); err != nil {
				t.Fatalf("op %d: %v", i, err)
			}
		}
		for _, g := range r.got {
			if len(g) > 6 && g[:6] == "commit" && d.File() == "" {
				t.Fatalf("commit without a file: %q", g)
			}
		}
	})
}
