package sync

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
)

const faultTable = `CREATE TABLE orders (
	id int NOT NULL AUTO_INCREMENT PRIMARY KEY,
	ver int NOT NULL,
	note varchar(64) NOT NULL,
	amount decimal(12,2) NOT NULL,
	updated datetime(6) NOT NULL
)`

// fill inserts n rows into orders.
func (e *env) fill(n int) {
	e.t.Helper()
	for done := 0; done < n; {
		var vals []string
		for i := 0; i < 1000 && done < n; i++ {
			done++
			vals = append(vals, fmt.Sprintf("(1, 'row %d', %d.%02d, NOW(6))", done, done, done%100))
		}
		e.exec("INSERT INTO orders (ver, note, amount, updated) VALUES " + strings.Join(vals, ","))
	}
}

// writer changes orders in random transactions until stopped: inserts,
// updates that bump ver, deletes and key changes. Every (id, ver) it writes
// is new, so the target applying one twice is visible.
type writer struct {
	stop chan struct{}
	done chan error
	txns int
}

func startWriter(t *testing.T, dsn string, seed uint64) *writer {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	w := &writer{stop: make(chan struct{}), done: make(chan error, 1)}
	rng := rand.New(rand.NewPCG(seed, seed+1))
	go func() {
		defer db.Close()
		tick := time.NewTicker(2 * time.Millisecond) // pacing, about 500 transactions/s at most
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				w.done <- nil
				return
			case <-tick.C:
			}
			var maxID int
			if err := db.QueryRow("SELECT COALESCE(MAX(id), 1) FROM orders").Scan(&maxID); err != nil {
				w.done <- err
				return
			}
			tx, err := db.Begin()
			if err != nil {
				w.done <- err
				return
			}
			for range 1 + rng.IntN(4) {
				id := 1 + rng.IntN(maxID)
				var stmt string
				switch r := rng.IntN(100); {
				case r < 35:
					stmt = fmt.Sprintf("INSERT INTO orders (ver, note, amount, updated) VALUES (1, 'new %d', %d.50, NOW(6))", rng.IntN(1e6), rng.IntN(1000))
				case r < 85:
					stmt = fmt.Sprintf("UPDATE orders SET ver = ver + 1, note = 'upd %d', updated = NOW(6) WHERE id = %d", rng.IntN(1e6), id)
				case r < 97:
					stmt = fmt.Sprintf("DELETE FROM orders WHERE id = %d", id)
				default:
					stmt = fmt.Sprintf("UPDATE orders SET id = id + 100000000, ver = ver + 1 WHERE id = %d AND id < 100000000", id)
				}
				if _, err := tx.Exec(stmt); err != nil {
					_ = tx.Rollback()
					w.done <- fmt.Errorf("%s: %w", stmt, err)
					return
				}
			}
			if err := tx.Commit(); err != nil {
				w.done <- err
				return
			}
			w.txns++
		}
	}()
	return w
}

func (w *writer) Stop(t *testing.T) {
	t.Helper()
	close(w.stop)
	require.NoError(t, <-w.done)
}

// child is a sync process: this test binary, re-executed.
type child struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

func (e *env) spawn(cfg childSpec) *child {
	e.t.Helper()
	spec, err := json.Marshal(cfg)
	require.NoError(e.t, err)
	c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$"), stderr: &bytes.Buffer{}}
	c.cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	c.cmd.Stderr = c.stderr
	require.NoError(e.t, c.cmd.Start())
	return c
}

func (c *child) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Kill())
	_ = c.cmd.Wait()
}

// requireSameKeysAndVersions compares (id, ver, note) of every row, source
// against target: no row missing, none extra, none stale.
func (e *env) requireSameKeysAndVersions() {
	e.t.Helper()
	rows, err := e.src.Query("SELECT id, ver, note FROM orders ORDER BY id")
	require.NoError(e.t, err)
	var want []string
	for rows.Next() {
		var id, ver int
		var note string
		require.NoError(e.t, rows.Scan(&id, &ver, &note))
		want = append(want, fmt.Sprintf("%d/%d/%s", id, ver, note))
	}
	require.NoError(e.t, rows.Err())
	prow, err := e.dst.Query(context.Background(), "SELECT id, ver, note FROM orders ORDER BY id")
	require.NoError(e.t, err)
	var got []string
	for prow.Next() {
		var id, ver int
		var note string
		require.NoError(e.t, prow.Scan(&id, &ver, &note))
		got = append(got, fmt.Sprintf("%d/%d/%s", id, ver, note))
	}
	require.NoError(e.t, prow.Err())
	require.Equal(e.t, len(want), len(got), "row count")
	require.Equal(e.t, want, got)
}

// requireVerified runs Verify on a table: source and target identical.
func (e *env) requireVerified(table string) {
	e.t.Helper()
	ctx := context.Background()
	m, err := LoadTableMap(ctx, e.src, e.dbName, config.Table{Name: table, Target: table}, Policies{})
	require.NoError(e.t, err)
	pool, err := pgxpool.New(ctx, e.pg)
	require.NoError(e.t, err)
	defer pool.Close()
	res, err := Verify(ctx, e.src, pool, m, VerifyOptions{})
	require.NoError(e.t, err)
	require.Empty(e.t, res.Diffs, "verify of %s", table)
	require.Equal(e.t, res.SourceRows, res.TargetRows)
	e.t.Logf("verify %s: %d rows identical", table, res.SourceRows)
}

func (e *env) snapshotDone(pipeline string) bool {
	snaps, err := loadSnapshots(context.Background(), e.dst, pipeline)
	return err == nil && snaps["orders"].Done
}

// TestPipelineSurvivesKill9 kills the sync process at random moments of the
// snapshot and of streaming, with a writer busy on the source, and restarts
// it each time. At the end the target holds exactly the source's rows, and
// no streamed change was applied twice.
func TestPipelineSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and child processes")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("STRANGLER_KILL_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("kill points from seed %d (STRANGLER_KILL_SEED=%d reproduces them)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	e := newEnv(t)
	e.exec(faultTable)
	e.fill(60000)
	cfg := pipelineConfig("crash", "orders")
	cfg.ChunkSize = 500
	cfg.BatchSize = 200
	spec := childSpec{Pipeline: cfg, Source: e.mysql, Target: e.pg}
	w := startWriter(t, e.mysql, seed)
	writerStopped := false
	defer func() {
		if !writerStopped {
			w.Stop(t)
		}
	}()

	kills, snapshotKills := 0, 0
	var last Position
	var lastStderr string
	checkMonotonic := func() {
		pos, err := loadPosition(context.Background(), e.dst, "crash")
		if err != nil && strings.Contains(err.Error(), "42P01") {
			return // killed before it created the checkpoint tables
		}
		require.NoError(t, err)
		if !last.IsZero() {
			require.True(t, positionAtLeast(pos, last), "position went back from %s to %s", last, pos)
		}
		last = pos
	}
	// Stage 1: kills during the snapshot.
	for !e.snapshotDone("crash") && snapshotKills < 10 {
		c := e.spawn(spec)
		time.Sleep(time.Duration(250+rng.IntN(600)) * time.Millisecond) // the random kill point (a child takes ~250 ms to start)
		c.kill(t)
		lastStderr = c.stderr.String()
		kills++
		snapshotKills++
		checkMonotonic()
	}
	snaps, err := loadSnapshots(context.Background(), e.dst, "crash")
	require.NoError(t, err)
	t.Logf("%d kills during the snapshot; %d rows copied so far; the last child said:\n%s", snapshotKills, snaps["orders"].Rows, lastStderr)
	require.GreaterOrEqual(t, snapshotKills, 3, "the snapshot finished too soon for the test; last child's log:\n%s", lastStderr)

	// Let the stream replay the overlap with the snapshot, then count
	// every change the target applies from here on.
	c := e.spawn(spec)
	require.Eventually(t, func() bool { return e.snapshotDone("crash") }, time.Minute, 20*time.Millisecond)
	e.waitCaughtUp("crash", time.Minute)
	for _, s := range []string{
		`CREATE TABLE audit (id int, ver int, op text)`,
		`CREATE FUNCTION audit_f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			IF TG_OP = 'DELETE' THEN INSERT INTO audit VALUES (OLD.id, OLD.ver, 'd');
			ELSE INSERT INTO audit VALUES (NEW.id, NEW.ver, 'u'); END IF; RETURN NULL; END $$`,
		`CREATE TRIGGER audit_t AFTER INSERT OR UPDATE OR DELETE ON orders FOR EACH ROW EXECUTE FUNCTION audit_f()`,
	} {
		_, err := e.dst.Exec(context.Background(), s)
		require.NoError(t, err)
	}
	c.kill(t)
	kills++

	// Stage 2: kills while streaming.
	for kills < 24 {
		c := e.spawn(spec)
		time.Sleep(time.Duration(250+rng.IntN(700)) * time.Millisecond) // the random kill point
		c.kill(t)
		kills++
		checkMonotonic()
	}
	w.Stop(t)
	writerStopped = true
	t.Logf("%d kills in all; the writer committed %d transactions", kills, w.txns)

	c = e.spawn(spec)
	defer c.kill(t)
	e.waitCaughtUp("crash", time.Minute)
	e.requireSameKeysAndVersions()
	requireSameRows(t, e.referenceSnapshot(cfg), e.dst, "orders", "id")
	e.requireVerified("orders")

	rows, err := e.dst.Query(context.Background(), `SELECT id, ver, op, count(*) FROM audit GROUP BY 1, 2, 3 HAVING count(*) > 1 LIMIT 5`)
	require.NoError(t, err)
	var dups []string
	for rows.Next() {
		var id, ver, n int
		var op string
		require.NoError(t, rows.Scan(&id, &ver, &op, &n))
		dups = append(dups, fmt.Sprintf("id %d ver %d %s applied %d times", id, ver, op, n))
	}
	require.NoError(t, rows.Err())
	assert.Empty(t, dups, "changes applied twice")
	var audited int
	require.NoError(t, e.dst.QueryRow(context.Background(), `SELECT count(*) FROM audit`).Scan(&audited))
	require.Positive(t, audited, "the stream applied changes during the kills")
}

// TestPipelineSurvivesServerRestarts stops MariaDB, then PostgreSQL, under
// a streaming pipeline: it waits, reconnects, resumes and misses nothing.
func TestPipelineSurvivesServerRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("stops the test servers")
	}
	e := newEnv(t)
	my, pg := dbtest.MySQLServer(t), dbtest.PostgresServer(t)
	e.exec(faultTable)
	e.fill(2000)
	cfg := pipelineConfig("restarts", "orders")
	p, logs := e.start(cfg, Options{Heartbeat: 200 * time.Millisecond, ReadTimeout: time.Second})
	waitPhase(t, p, PhaseStreaming, time.Minute)
	ctx := context.Background()
	change := func(tag string) {
		e.exec(fmt.Sprintf("UPDATE orders SET ver = ver + 1, note = '%s' WHERE id %% 7 = 0", tag),
			fmt.Sprintf("INSERT INTO orders (ver, note, amount, updated) VALUES (1, '%s', 1, NOW(6))", tag),
			"DELETE FROM orders WHERE id % 11 = 0 LIMIT 20")
	}
	change("before")

	t.Run("MariaDB restart", func(t *testing.T) {
		require.NoError(t, my.Stop(ctx))
		require.Eventually(t, func() bool { return strings.Contains(logs.String(), "legacy MySQL unreachable, retrying in") },
			30*time.Second, 20*time.Millisecond)
		require.Equal(t, PhaseWaiting, p.Status().Phase)
		require.NoError(t, my.Start(ctx))
		e.src.SetMaxIdleConns(0) // drop connections to the stopped server
		e.src.SetMaxIdleConns(2)
		waitPhase(t, p, PhaseStreaming, time.Minute)
		change("after mariadb")
		e.waitCaughtUp("restarts", time.Minute)
	})

	t.Run("PostgreSQL restart", func(t *testing.T) {
		resumes := strings.Count(logs.String(), "resumed at")
		require.NoError(t, pg.Stop(ctx))
		change("while postgres is down")
		require.Eventually(t, func() bool { return strings.Contains(logs.String(), "new PostgreSQL unreachable, retrying in") },
			30*time.Second, 20*time.Millisecond)
		require.NoError(t, pg.Start(ctx))
		require.Eventually(t, func() bool { return strings.Count(logs.String(), "resumed at") > resumes },
			time.Minute, 20*time.Millisecond)
		e.dst = e.connectPG(e.pg)
		change("after postgres")
		e.waitCaughtUp("restarts", time.Minute)
	})

	e.requireSameKeysAndVersions()
	e.requireVerified("orders")
}
