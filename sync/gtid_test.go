package sync

import (
	"context"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// positions is a Handler that keeps every position it is given.
type positions struct {
	NopHandler
	got []Position
}

func (p *positions) OnCommit(_ context.Context, c Commit) error {
	p.got = append(p.got, c.Pos)
	return nil
}

func (p *positions) OnDDL(_ context.Context, d DDLEvent) error {
	p.got = append(p.got, d.Pos)
	return nil
}

func (p *positions) OnPosition(_ context.Context, pos Position) error {
	p.got = append(p.got, pos)
	return nil
}

func (p *positions) last() Position {
	if len(p.got) == 0 {
		return Position{}
	}
	return p.got[len(p.got)-1]
}

func mariaGTID(pos uint32, domain, server uint32, seq uint64, flags byte) *replication.BinlogEvent {
	return ev(replication.MARIADB_GTID_EVENT, pos, server, &replication.MariadbGTIDEvent{
		GTID: gomysql.MariadbGTID{DomainID: domain, ServerID: server, SequenceNumber: seq}, Flags: flags})
}

var testSID = [16]byte{0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62}

const testUUID = "3e11fa47-71ca-11e1-9e33-c80aa9429562"

func mysqlGTID(pos uint32, sid [16]byte, gno int64) *replication.BinlogEvent {
	return ev(replication.GTID_EVENT, pos, 1, &replication.GTIDEvent{SID: sid[:], GNO: gno})
}

func realRotate(pos uint32, file string) *replication.BinlogEvent {
	return ev(replication.ROTATE_EVENT, pos, 1, &replication.RotateEvent{NextLogName: []byte(file), Position: 4})
}

func heartbeat(file string, pos uint32) *replication.BinlogEvent {
	return ev(replication.HEARTBEAT_EVENT, pos, 1, &replication.GenericEvent{Data: []byte(file)})
}

func TestGTIDSetParse(t *testing.T) {
	tests := []struct {
		name, flavor, in, want, err string
	}{
		{"mariadb empty", gomysql.MariaDBFlavor, "", "", ""},
		{"mariadb domains sorted", gomysql.MariaDBFlavor, "1-7-9, 0-1-42", "0-1-42,1-7-9", ""},
		{"mariadb two of a domain", gomysql.MariaDBFlavor, "0-1-4,0-2-5", "", "two GTIDs of domain 0"},
		{"mariadb garbage", gomysql.MariaDBFlavor, "0-1", "", "parsing MariaDB GTID set"},
		{"mysql", gomysql.MySQLFlavor, testUUID + ":1-42:50", testUUID + ":1-42:50", ""},
		{"mysql empty", gomysql.MySQLFlavor, "", "", ""},
		{"mysql garbage", gomysql.MySQLFlavor, "nope:1", "", "parsing MySQL GTID set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := parseGTIDSet(tt.flavor, tt.in)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, g.String())
			gs, err := g.goMySQL()
			require.NoError(t, err)
			assert.Equal(t, tt.want, gs.String(), "what StartSyncGTID is given")
		})
	}
}

// TestDecoderTracksMariaDBGTIDs follows the set of a MariaDB stream: the
// last GTID of each domain, whoever logged it, after commits, DDL and
// skipped transactions; never the open transaction's.
func TestDecoderTracksMariaDBGTIDs(t *testing.T) {
	standalone := byte(replication.BINLOG_MARIADB_FL_STANDALONE)
	d := NewDecoder("binlog.000007")
	require.NoError(t, d.TrackGTIDs(gomysql.MariaDBFlavor, "0-1-10"))
	d.SkipServerIDs = map[uint32]bool{99: true}
	h := &positions{}
	feed := func(evs ...*replication.BinlogEvent) {
		t.Helper()
		for _, e := range evs {
			require.NoError(t, d.Decode(context.Background(), e, h))
		}
	}

	feed(fakeRotate("binlog.000007"), mariaGTID(100, 0, 1, 11, 0), rows(replication.WRITE_ROWS_EVENTv1, 150, ordersMap, []any{int32(1), "a"}))
	assert.Equal(t, "0-1-10", d.GTIDSet(), "an open transaction is not in the set")
	feed(xid(200))
	assert.Equal(t, Position{File: "binlog.000007", Pos: 200, GTID: "0-1-11"}, h.last())

	// A transaction of another domain joins the set beside domain 0.
	feed(mariaGTID(250, 1, 1, 3, 0), query(260, 1, "shop", "BEGIN"), query(300, 1, "shop", "COMMIT"))
	assert.Equal(t, "0-1-11,1-1-3", h.last().GTID)

	// DDL is its own event group.
	feed(mariaGTID(350, 0, 1, 12, standalone), query(400, 1, "shop", "CREATE TABLE t (id int)"))
	assert.Equal(t, Position{File: "binlog.000007", Pos: 400, GTID: "0-1-12,1-1-3"}, h.last())

	// A skipped transaction (its server id is ours) is consumed too.
	feed(mariaGTID(450, 0, 99, 13, 0),
		ev(replication.WRITE_ROWS_EVENTv1, 480, 99, &replication.RowsEvent{Table: ordersMap, Rows: [][]any{{int32(2), "b"}}}),
		ev(replication.XID_EVENT, 500, 99, &replication.XIDEvent{}))
	assert.Equal(t, Position{File: "binlog.000007", Pos: 500, GTID: "0-99-13,1-1-3"}, h.last())

	// After a failover the new primary logs in the same domain with its
	// own server id: still one GTID per domain (what gtid_slave_pos holds
	// and @slave_connect_state takes).
	feed(realRotate(600, "binlog.000008"))
	assert.Equal(t, Position{File: "binlog.000008", Pos: 4, GTID: "0-99-13,1-1-3"}, h.last(), "a rotation keeps the set")
	feed(mariaGTID(700, 0, 2, 14, 0), rows(replication.WRITE_ROWS_EVENTv1, 750, ordersMap, []any{int32(3), "c"}), xid(800))
	assert.Equal(t, Position{File: "binlog.000008", Pos: 800, GTID: "0-2-14,1-1-3"}, h.last())
	assert.False(t, d.InTransaction())
}

// TestDecoderAfterGTIDStart: a stream started by GTID on another server
// learns that server's file from the fake rotation and its offset from the
// first commit or, when idle, from the first heartbeat, once.
func TestDecoderAfterGTIDStart(t *testing.T) {
	t.Run("first commit", func(t *testing.T) {
		d := NewDecoder("primary-bin.000003") // the file the position was saved in, on the old primary
		require.NoError(t, d.TrackGTIDs(gomysql.MariaDBFlavor, "0-1-20"))
		d.StartedByGTID()
		h := &positions{}
		for _, e := range []*replication.BinlogEvent{fakeRotate("replica-bin.000002"), mariaGTID(900, 0, 1, 21, 0),
			rows(replication.WRITE_ROWS_EVENTv1, 950, ordersMap, []any{int32(1), "a"}), xid(1000), heartbeat("replica-bin.000002", 1000)} {
			require.NoError(t, d.Decode(context.Background(), e, h))
		}
		assert.Equal(t, []Position{{File: "replica-bin.000002", Pos: 1000, GTID: "0-1-21"}}, h.got, "no heartbeat position after a commit")
	})
	t.Run("idle", func(t *testing.T) {
		d := NewDecoder("primary-bin.000003")
		require.NoError(t, d.TrackGTIDs(gomysql.MariaDBFlavor, "0-1-20"))
		d.StartedByGTID()
		h := &positions{}
		for _, e := range []*replication.BinlogEvent{fakeRotate("replica-bin.000002"), heartbeat("replica-bin.000001", 77),
			heartbeat("replica-bin.000002", 1234), heartbeat("replica-bin.000002", 1234)} {
			require.NoError(t, d.Decode(context.Background(), e, h))
		}
		assert.Equal(t, []Position{{File: "replica-bin.000002", Pos: 1234, GTID: "0-1-20"}}, h.got,
			"the first heartbeat of the stream's file, once")
	})
	t.Run("not started by GTID", func(t *testing.T) {
		d := NewDecoder("binlog.000001")
		h := &positions{}
		require.NoError(t, d.Decode(context.Background(), heartbeat("binlog.000001", 500), h))
		assert.Empty(t, h.got, "a heartbeat moves nothing on a file and offset start")
	})
}

// TestDecoderTracksMySQLGTIDs: MySQL GTIDs add to intervals; anonymous
// transactions add nothing; a Previous_gtids event after a rotation
// makes the set known to a decoder that did not know it; a tagged GTID
// makes it unknown.
func TestDecoderTracksMySQLGTIDs(t *testing.T) {
	h := &positions{}
	d := NewDecoder("binlog.000001")
	feed := func(evs ...*replication.BinlogEvent) {
		t.Helper()
		for _, e := range evs {
			require.NoError(t, d.Decode(context.Background(), e, h))
		}
	}
	feed(fakeRotate("binlog.000001"), mysqlGTID(100, testSID, 5), query(120, 1, "shop", "BEGIN"), xid(200))
	assert.Equal(t, "", h.last().GTID, "the set is not known yet")

	// Previous_gtids in the middle of a file started at an offset is not
	// the whole set: it is ignored.
	feed(ev(replication.PREVIOUS_GTIDS_EVENT, 0, 1, &replication.PreviousGTIDsEvent{GTIDSets: testUUID + ":1-3"}))
	assert.Equal(t, "", d.GTIDSet())

	feed(realRotate(300, "binlog.000002"),
		ev(replication.PREVIOUS_GTIDS_EVENT, 150, 1, &replication.PreviousGTIDsEvent{GTIDSets: testUUID + ":1-5"}),
		mysqlGTID(200, testSID, 6), query(220, 1, "shop", "BEGIN"), xid(300))
	assert.Equal(t, Position{File: "binlog.000002", Pos: 300, GTID: testUUID + ":1-6"}, h.last())

	anonymous := ev(replication.ANONYMOUS_GTID_EVENT, 350, 1, &replication.GTIDEvent{SID: make([]byte, 16)})
	feed(anonymous, query(370, 1, "shop", "BEGIN"), xid(400))
	assert.Equal(t, testUUID+":1-6", h.last().GTID, "an anonymous transaction adds nothing")

	feed(mysqlGTID(450, testSID, 8), query(500, 1, "shop", "CREATE TABLE t (id int)"))
	assert.Equal(t, testUUID+":1-6:8", h.last().GTID, "DDL adds its GTID; a gap stays a gap")

	feed(ev(replication.GTID_TAGGED_LOG_EVENT, 550, 1, &replication.GtidTaggedLogEvent{}), query(570, 1, "shop", "BEGIN"), xid(600))
	assert.Equal(t, Position{File: "binlog.000002", Pos: 600}, h.last(), "after a tagged GTID the set is not known")
}
