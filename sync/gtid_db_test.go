package sync

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/localdb"
	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
)

// gtidPair is a MariaDB primary and a replica of it (GTID replication,
// log_slave_updates, binlog files named differently), and a target.
type gtidPair struct {
	t                testing.TB
	primary, replica *localdb.MySQL
	pdb, rdb         *sql.DB
	pg               string
}

func newGTIDPair(t *testing.T) *gtidPair {
	t.Helper()
	if testing.Short() {
		t.Skip("needs two MariaDB servers and PostgreSQL; run without -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	g := &gtidPair{t: t, pg: dbtest.Postgres(t)}
	var err error
	g.primary, err = localdb.StartMySQL(ctx, localdb.MySQLOptions{Binlog: true, ServerID: 1})
	require.NoError(t, err, "starting the primary MariaDB")
	t.Cleanup(func() { g.primary.Close() })
	opts := localdb.MySQLOptions{Binlog: true, ServerID: 2,
		// Its own file names, so that no position of the primary means
		// anything here.
		ExtraArgs: []string{"--log-bin=" + filepath.Join(t.TempDir(), "replica-bin")}}
	g.replica, err = localdb.StartMySQL(ctx, opts)
	require.NoError(t, err, "starting the replica MariaDB")
	t.Cleanup(func() { g.replica.Close() })
	g.pdb = g.open(g.primary, "")
	g.rdb = g.open(g.replica, "")
	g.execOn(g.rdb, fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='root', MASTER_USE_GTID=slave_pos", g.primary.Port()),
		"START SLAVE")
	t.Cleanup(func() { g.rdb.Exec("STOP SLAVE") }) //nolint:errcheck // the servers go next
	g.execOn(g.pdb, "CREATE DATABASE shop",
		"CREATE TABLE shop.events (id int AUTO_INCREMENT PRIMARY KEY, n int NOT NULL, note varchar(40))",
		"CREATE TABLE shop.counters (id int PRIMARY KEY, hits bigint NOT NULL)")
	for i := range 10 {
		g.execOn(g.pdb, fmt.Sprintf("INSERT INTO shop.counters VALUES (%d, 0)", i))
	}
	g.pdb.Close()
	g.rdb.Close()
	g.pdb = g.open(g.primary, "shop")
	g.rdb = g.open(g.replica, "shop")
	return g
}

func (g *gtidPair) open(m *localdb.MySQL, db string) *sql.DB {
	g.t.Helper()
	d, err := sql.Open("mysql", m.DSN(db))
	require.NoError(g.t, err)
	g.t.Cleanup(func() { d.Close() })
	return d
}

func (g *gtidPair) execOn(db *sql.DB, stmts ...string) {
	g.t.Helper()
	for _, s := range stmts {
		_, err := db.Exec(s)
		require.NoError(g.t, err, s)
	}
}

// write runs n transactions on the primary, each an insert of events
// (numbered from first) and an update adding 1 to a counter: two row
// changes each. A change applied twice shows as a counter too high.
func (g *gtidPair) write(first, n int) {
	g.t.Helper()
	for i := first; i < first+n; i++ {
		tx, err := g.pdb.Begin()
		require.NoError(g.t, err)
		_, err = tx.Exec("INSERT INTO events (n, note) VALUES (?, ?)", i, fmt.Sprintf("event %d", i))
		require.NoError(g.t, err)
		_, err = tx.Exec("UPDATE counters SET hits = hits + 1 WHERE id = ?", i%10)
		require.NoError(g.t, err)
		require.NoError(g.t, tx.Commit())
	}
}

// waitReplica waits until the replica applied everything the primary
// logged.
func (g *gtidPair) waitReplica() {
	g.t.Helper()
	var want, got string
	require.NoError(g.t, g.pdb.QueryRow("SELECT @@gtid_binlog_pos").Scan(&want))
	require.Eventually(g.t, func() bool {
		return g.rdb.QueryRow("SELECT @@gtid_slave_pos").Scan(&got) == nil && got == want
	}, time.Minute, 20*time.Millisecond, "replica at %q, primary at %q", &got, want)
}

func (g *gtidPair) start(src *localdb.MySQL) (*Pipeline, *logBuffer) {
	g.t.Helper()
	logs := &logBuffer{}
	o := Options{Logger: slog.New(slog.NewTextHandler(io.MultiWriter(logs, testWriter{g.t}), nil)),
		RetryMin: 200 * time.Millisecond, RetryMax: time.Second}
	p, err := New(pipelineConfig("gtid", "events", "counters"), src.DSN("shop"), g.pg, o)
	require.NoError(g.t, err)
	require.NoError(g.t, p.Start(context.Background()))
	g.t.Cleanup(func() { g.stop(p) })
	return p, logs
}

func (g *gtidPair) stop(p *Pipeline) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = p.Close(ctx)
}

// waitAt waits until the pipeline's saved position is the end of src's
// binlog, exactly, and returns it.
func (g *gtidPair) waitAt(src *sql.DB, within time.Duration) Position {
	g.t.Helper()
	conn := connectTestPG(g.t, g.pg)
	var got, want Position
	require.Eventually(g.t, func() bool {
		// The server may write more after a rotation (a binlog
		// checkpoint event): its end is read each time.
		var err error
		if want, err = masterPosition(context.Background(), src); err != nil {
			return false
		}
		got, err = loadPosition(context.Background(), conn, "gtid")
		return err == nil && got.File == want.File && got.Pos == want.Pos
	}, within, 20*time.Millisecond, "pipeline not at %s (at %s)", &want, &got)
	return got
}

// requireSame verifies both tables against src and checks the counters:
// each holds the number of transactions that updated it.
func (g *gtidPair) requireSame(src *sql.DB, transactions int) {
	g.t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, g.pg)
	require.NoError(g.t, err)
	defer pool.Close()
	for _, name := range []string{"events", "counters"} {
		m, err := LoadTableMap(ctx, src, "shop", config.Table{Name: name, Target: name}, Policies{})
		require.NoError(g.t, err)
		res, err := Verify(ctx, src, pool, m, VerifyOptions{})
		require.NoError(g.t, err)
		require.True(g.t, res.Identical(), "%s differs: %+v", name, res.Diffs)
	}
	var events, hits int64
	require.NoError(g.t, pool.QueryRow(ctx, "SELECT count(*) FROM events").Scan(&events))
	require.NoError(g.t, pool.QueryRow(ctx, "SELECT sum(hits) FROM counters").Scan(&hits))
	assert.EqualValues(g.t, transactions, events, "events in the target")
	assert.EqualValues(g.t, transactions, hits, "counter increments in the target")
}

// TestPipelineResumesByGTIDOnAReplica runs a pipeline on a primary, stops
// it, writes on, and resumes it on a replica of the primary (a failover):
// by GTID, since the replica's files and offsets are its own, with every
// change applied once.
func TestPipelineResumesByGTIDOnAReplica(t *testing.T) {
	g := newGTIDPair(t)

	// On the primary, while it is written to: the snapshot records the
	// GTID position, and streaming starts from it.
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.write(0, 100)
	}()
	p1, logs1 := g.start(g.primary)
	<-done
	waitPhase(t, p1, PhaseStreaming, time.Minute)
	g.write(100, 100)
	pos1 := g.waitAt(g.pdb, time.Minute)
	assert.NotEmpty(t, pos1.GTID, "the position carries the GTID set")
	assert.Regexp(t, `^0-1-\d+$`, pos1.GTID)
	require.Eventually(t, func() bool { return strings.Contains(logs1.String(), "resumed at GTID ") }, 10*time.Second, 10*time.Millisecond,
		"the stream after the snapshot starts from the snapshot's GTID position")
	g.requireSame(g.pdb, 200)
	g.stop(p1)

	// Written while no pipeline runs, then the primary "fails": the
	// replica has it all.
	g.write(200, 150)
	g.waitReplica()
	var gtidPos string
	require.NoError(t, g.pdb.QueryRow("SELECT @@gtid_binlog_pos").Scan(&gtidPos))

	p2, logs2 := g.start(g.replica)
	pos2 := g.waitAt(g.rdb, time.Minute)
	assert.Contains(t, logs2.String(), fmt.Sprintf("resumed at GTID %s (saved at %s)", pos1.GTID, pos1))
	assert.True(t, strings.HasPrefix(pos2.File, "replica-bin."), "position %s is in the replica's binlog", pos2)
	assert.Equal(t, gtidPos, pos2.GTID, "the set reaches the replica's last transaction")
	assert.EqualValues(t, 150*2, p2.Status().Changes, "exactly the changes written while stopped, each once")
	st, err := ReadStatus(context.Background(), connectTestPG(t, g.pg), "gtid")
	require.NoError(t, err)
	assert.Equal(t, pos2, st.Position, "sync status shows the replica's file and offset and the set")
	g.requireSame(g.rdb, 350)

	// Writes on the primary still reach the target through the replica.
	g.write(350, 50)
	g.waitReplica()
	pos2b := g.waitAt(g.rdb, time.Minute)
	g.requireSame(g.rdb, 400)
	g.stop(p2)

	// Idle after a GTID start: the replica moved to a new file with no
	// transaction; the position follows it (rotation, then heartbeat).
	g.execOn(g.rdb, "FLUSH BINARY LOGS")
	p3, logs3 := g.start(g.replica)
	pos3 := g.waitAt(g.rdb, 30*time.Second)
	assert.Contains(t, logs3.String(), "resumed at GTID ")
	assert.Equal(t, pos2b.GTID, pos3.GTID)
	assert.NotEqual(t, pos2b.File, pos3.File, "the position is in the replica's new file")
	assert.Zero(t, p3.Status().Changes, "nothing applied again")
	g.requireSame(g.rdb, 400)
}

func connectTestPG(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	e := &env{t: t}
	return e.connectPG(url)
}
