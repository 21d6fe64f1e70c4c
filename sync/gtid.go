package sync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-sql-driver/mysql"
)

// GTID resume
//
// A forward pipeline records, with every position it commits, the set of
// source transactions the target holds (Position.GTID). When the source
// logs GTIDs, streaming starts from that set rather than from file and
// offset, so a pipeline follows its source through a failover to a replica
// whose binlog files are named and cut differently. File and offset are
// still tracked (from rotate events and the events' end positions) and
// remain the way to resume from a source without GTIDs.
//
// The set's text is the source's own:
//
//	MariaDB  the last GTID of each replication domain, by domain:
//	         "0-1-42,1-7-9" (what gtid_slave_pos holds)
//	MySQL    UUID:intervals, as gtid_executed prints it:
//	         "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42"

// gtidSet is the set of source transactions applied, in the source's
// flavor. The zero value is not usable: use newGTIDSet or parseGTIDSet.
type gtidSet struct {
	mariadb bool
	domains map[uint32]gomysql.MariadbGTID // MariaDB: the last GTID of each domain
	mysql   *gomysql.MysqlGTIDSet          // MySQL
	text    string                         // String(), kept up to date
}

// parseGTIDSet reads a set in the flavor's text form ("" is the empty set).
func parseGTIDSet(flavor, s string) (*gtidSet, error) {
	g := &gtidSet{mariadb: flavor == gomysql.MariaDBFlavor}
	s = strings.TrimSpace(s)
	if g.mariadb {
		g.domains = map[uint32]gomysql.MariadbGTID{}
		for _, part := range strings.Split(s, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			one, err := gomysql.ParseMariadbGTID(part)
			if err != nil {
				return nil, fmt.Errorf("parsing MariaDB GTID set %q: %w", s, err)
			}
			if prev, dup := g.domains[one.DomainID]; dup {
				return nil, fmt.Errorf("parsing MariaDB GTID set %q: two GTIDs of domain %d (%s and %s)", s, one.DomainID, &prev, one)
			}
			g.domains[one.DomainID] = *one
		}
	} else {
		set, err := gomysql.ParseMysqlGTIDSet(s)
		if err != nil {
			return nil, fmt.Errorf("parsing MySQL GTID set %q: %w", s, err)
		}
		g.mysql = set.(*gomysql.MysqlGTIDSet)
	}
	g.format()
	return g, nil
}

// String is the set's text, as stored in sync_position.gtid.
func (g *gtidSet) String() string { return g.text }

// addMariaDB records a MariaDB transaction: it is now the last of its
// domain.
func (g *gtidSet) addMariaDB(id gomysql.MariadbGTID) {
	g.domains[id.DomainID] = id
	g.format()
}

// addMySQL records a MySQL transaction.
func (g *gtidSet) addMySQL(sid [16]byte, gno int64) {
	g.mysql.AddGTID(sid, gno)
	g.format()
}

// union adds every transaction of o (a MySQL set) to g.
func (g *gtidSet) union(o *gomysql.MysqlGTIDSet) error {
	if err := g.mysql.Add(*o.Clone().(*gomysql.MysqlGTIDSet)); err != nil {
		return err
	}
	g.format()
	return nil
}

func (g *gtidSet) format() {
	if !g.mariadb {
		g.text = g.mysql.String()
		return
	}
	ids := make([]uint32, 0, len(g.domains))
	for d := range g.domains {
		ids = append(ids, d)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var b strings.Builder
	for i, d := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		id := g.domains[d]
		b.WriteString(strconv.FormatUint(uint64(id.DomainID), 10))
		b.WriteByte('-')
		b.WriteString(strconv.FormatUint(uint64(id.ServerID), 10))
		b.WriteByte('-')
		b.WriteString(strconv.FormatUint(id.SequenceNumber, 10))
	}
	g.text = b.String()
}

// goMySQL is the set as go-mysql's StartSyncGTID takes it.
func (g *gtidSet) goMySQL() (gomysql.GTIDSet, error) {
	if g.mariadb {
		return gomysql.ParseMariadbGTIDSet(g.text)
	}
	return g.mysql.Clone(), nil
}

// sourceHasGTIDs reports whether the source logs GTIDs a stream can start
// from: MariaDB always does, MySQL with gtid_mode=ON.
func sourceHasGTIDs(ctx context.Context, db *sql.DB, mariadb bool) (bool, error) {
	if mariadb {
		return true, nil
	}
	var name, mode string
	err := db.QueryRowContext(ctx, "SHOW GLOBAL VARIABLES LIKE 'gtid_mode'").Scan(&name, &mode)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading the source's gtid_mode: %w", err)
	}
	return strings.EqualFold(mode, "ON"), nil
}

// mariadbGTIDAt is the MariaDB GTID position (the last GTID of each
// domain) that corresponds to the binlog position pos, from
// BINLOG_GTID_POS; "" when the server cannot say (the file is gone).
func mariadbGTIDAt(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}, pos Position) (string, error) {
	var s sql.NullString
	if err := q.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", pos.File, pos.Pos).Scan(&s); err != nil {
		return "", fmt.Errorf("reading the GTID position at %s (BINLOG_GTID_POS): %w", pos, err)
	}
	return s.String, nil
}

// mysqlExecutedGTIDs is @@GLOBAL.gtid_executed when gtid_mode is ON, else
// "". Read under the snapshot's read lock, it matches SHOW MASTER STATUS.
func mysqlExecutedGTIDs(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}) (string, error) {
	var mode, executed sql.NullString
	err := q.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_mode, @@GLOBAL.gtid_executed").Scan(&mode, &executed)
	if err != nil {
		// A server without GTIDs at all (no such variable): no set.
		var me *mysql.MySQLError
		if errors.As(err, &me) && me.Number == 1193 {
			return "", nil
		}
		return "", fmt.Errorf("reading the source's gtid_executed: %w", err)
	}
	if !strings.EqualFold(mode.String, "ON") {
		return "", nil
	}
	// gtid_executed prints a newline after each UUID's comma.
	return strings.ReplaceAll(executed.String, "\n", ""), nil
}

// snapshotGTID is the GTID set of a snapshot that starts at pos: on
// MariaDB the GTID position of pos itself (BINLOG_GTID_POS, so it matches
// the snapshot's binlog_snapshot_file/position whatever ran since), on
// MySQL gtid_executed (read under the same read lock as pos).
func snapshotGTID(ctx context.Context, conn *sql.Conn, pos Position, mariadb bool) (string, error) {
	if mariadb {
		return mariadbGTIDAt(ctx, conn, pos)
	}
	return mysqlExecutedGTIDs(ctx, conn)
}
