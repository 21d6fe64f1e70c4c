package sync

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
)

// pgWriter changes orders in PostgreSQL in random transactions until
// stopped: inserts, updates that bump ver, deletes and key changes, and
// counts the row changes it committed. Every (id, ver) it writes is new.
type pgWriter struct {
	stop    chan struct{}
	done    chan error
	changes atomic.Int64
	txns    atomic.Int64
	once    gosync.Once
	stopErr error
}

func startPGWriter(t *testing.T, url string, seed uint64, pace time.Duration) *pgWriter {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	w := &pgWriter{stop: make(chan struct{}), done: make(chan error, 1)}
	rng := rand.New(rand.NewPCG(seed, seed+3))
	go func() {
		defer c.Close(context.Background())
		ctx := context.Background()
		tick := time.NewTicker(pace)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				w.done <- nil
				return
			case <-tick.C:
			}
			var maxID int
			if err := c.QueryRow(ctx, "SELECT last_value FROM orders_id_seq").Scan(&maxID); err != nil {
				w.done <- err
				return
			}
			tx, err := c.Begin(ctx)
			if err != nil {
				w.done <- err
				return
			}
			n := int64(0)
			for range 1 + rng.IntN(4) {
				id := 1 + rng.IntN(maxID)
				var stmt string
				switch r := rng.IntN(100); {
				case r < 35:
					stmt = fmt.Sprintf("INSERT INTO orders (ver, note, amount, updated) VALUES (1, 'new %d', %d.50, clock_timestamp())", rng.IntN(1e6), rng.IntN(1000))
				case r < 85:
					stmt = fmt.Sprintf("UPDATE orders SET ver = ver + 1, note = 'upd %d', updated = clock_timestamp() WHERE id = %d", rng.IntN(1e6), id)
				case r < 97:
					stmt = fmt.Sprintf("DELETE FROM orders WHERE id = %d", id)
				default:
					stmt = fmt.Sprintf("UPDATE orders SET id = -id, ver = ver + 1 WHERE id = %d AND id > 0", id)
				}
				tag, err := tx.Exec(ctx, stmt)
				if err != nil {
					_ = tx.Rollback(ctx)
					w.done <- fmt.Errorf("%s: %w", stmt, err)
					return
				}
				n += tag.RowsAffected()
			}
			if err := tx.Commit(ctx); err != nil {
				w.done <- err
				return
			}
			w.changes.Add(n)
			w.txns.Add(1)
		}
	}()
	return w
}

func (w *pgWriter) Stop(t *testing.T) {
	t.Helper()
	w.once.Do(func() {
		close(w.stop)
		w.stopErr = <-w.done
	})
	require.NoError(t, w.stopErr)
}

// reverseOrders creates orders in the legacy database (with an audit of
// every row change applied), and its PostgreSQL target with a sequence
// for new ids.
func reverseOrders(t *testing.T, e *env) {
	t.Helper()
	e.exec(faultTable,
		`CREATE TABLE audit (id int, ver int, op char(1))`,
		`CREATE TRIGGER audit_i AFTER INSERT ON orders FOR EACH ROW INSERT INTO audit VALUES (NEW.id, NEW.ver, 'u')`,
		`CREATE TRIGGER audit_u AFTER UPDATE ON orders FOR EACH ROW INSERT INTO audit VALUES (NEW.id, NEW.ver, 'u')`,
		`CREATE TRIGGER audit_d AFTER DELETE ON orders FOR EACH ROW INSERT INTO audit VALUES (OLD.id, OLD.ver, 'd')`)
	e.legacyOf().createTarget(e.dst, config.Table{Name: "orders"})
	pgExec(t, e.dst, `CREATE SEQUENCE orders_id_seq`, `ALTER TABLE orders ALTER COLUMN id SET DEFAULT nextval('orders_id_seq')`)
}

// slotSampler checks, every few milliseconds, that the slot's confirmed
// position is never past the position the legacy database committed. It
// reads the slot first, then the checkpoint: the checkpoint only moves
// forward, so a slot read earlier can never rightly be ahead of it (read
// the other way round, a commit and its confirmation between the two
// reads would look like a violation).
type slotSampler struct {
	stop       chan struct{}
	done       chan struct{}
	samples    atomic.Int64
	violations []string
}

func startSlotSampler(t *testing.T, mysqlDSN, pgURL, pipeline string) *slotSampler {
	t.Helper()
	my, err := sql.Open("mysql", mysqlDSN)
	require.NoError(t, err)
	pg, err := pgx.Connect(context.Background(), pgURL)
	require.NoError(t, err)
	s := &slotSampler{stop: make(chan struct{}), done: make(chan struct{})}
	slot := SlotName(pipeline)
	go func() {
		defer close(s.done)
		defer my.Close()
		defer pg.Close(context.Background())
		tick := time.NewTicker(3 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			var confirmed string
			if err := pg.QueryRow(context.Background(), `SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&confirmed); err != nil {
				continue // no slot yet
			}
			ck, err := loadReverseCheckpoint(context.Background(), my, pipeline)
			if err != nil || !ck.Found {
				continue
			}
			c, err := parseLSN(confirmed)
			if err != nil {
				continue
			}
			s.samples.Add(1)
			if c > ck.LSN && len(s.violations) < 5 {
				s.violations = append(s.violations, fmt.Sprintf("slot confirmed %s, MySQL holds %s", c, ck.LSN))
			}
		}
	}()
	return s
}

func (s *slotSampler) Stop() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// requireLegacyMatches waits until the legacy orders hold exactly the
// PostgreSQL rows (id, ver, note).
func (e *env) requireLegacyMatches(within time.Duration) {
	e.t.Helper()
	var want, got []string
	same := func() bool {
		want = pgRows(e.t, e.dst, `SELECT id, ver, note FROM orders ORDER BY id`)
		got = e.legacyOf().rows(`SELECT id, ver, note FROM orders ORDER BY id`)
		return len(want) == len(got) && fmt.Sprint(want) == fmt.Sprint(got)
	}
	if !assert.Eventually(e.t, same, within, 50*time.Millisecond) {
		require.Equal(e.t, len(want), len(got), "row count")
		require.Equal(e.t, want, got)
	}
}

// TestReverseSurvivesKill9 kills the new-to-legacy process (SIGKILL: no
// clean shutdown, connections dropped) at random moments, 20 times, while
// a writer keeps changing PostgreSQL, and restarts it each time. At the
// end MySQL holds exactly PostgreSQL's rows, the changes applied (counted
// in the checkpoint, committed with them) equal the changes the writer
// made, no change reached a row twice, the slot never confirmed a position
// MySQL had not committed, and verify passes.
func TestReverseSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and child processes")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("STRANGLER_KILL_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("kill points from seed %d (STRANGLER_KILL_SEED=%d reproduces them)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 11))
	e := newEnv(t)
	t.Cleanup(func() { waitSlotReleased(t, e.pg, "crash") }) // after the last child is killed
	reverseOrders(t, e)
	cfg := reverseConfig("crash", config.Table{Name: "orders"})
	cfg.BatchSize = 100
	spec := childSpec{Pipeline: cfg, Source: e.mysql, Target: e.pg}
	l := e.legacyOf()

	// The first run creates the slot and stores its position; everything
	// written from then on must arrive.
	c := e.spawn(spec)
	require.Eventually(t, func() bool { return l.checkpoint("crash").Found }, time.Minute, 10*time.Millisecond,
		"the pipeline never stored its first position: %s", c.stderr)
	c.kill(t)
	sampler := startSlotSampler(t, e.mysql, e.pg, "crash")
	defer sampler.Stop()
	pgExec(t, e.dst, `INSERT INTO orders (ver, note, amount, updated) SELECT 1, 'row ' || i, i / 100.0, clock_timestamp() FROM generate_series(1, 2000) i`)
	const filled = 2000
	w := startPGWriter(t, e.pg, seed, 2*time.Millisecond)
	defer w.Stop(t)

	var last LSN
	for kill := 1; kill <= 20; kill++ {
		c := e.spawn(spec)
		time.Sleep(time.Duration(250+rng.IntN(700)) * time.Millisecond) // the random kill point
		c.kill(t)
		ck := l.checkpoint("crash")
		require.GreaterOrEqual(t, ck.LSN, last, "the stored position went back")
		last = ck.LSN
	}
	w.Stop(t)
	t.Logf("20 kills; the writer committed %d transactions, %d row changes", w.txns.Load(), w.changes.Load())

	c = e.spawn(spec)
	defer c.kill(t)
	e.requireLegacyMatches(time.Minute)
	l.waitCheckpoint("crash", currentWAL(t, e.dst), time.Minute)
	sampler.Stop()
	assert.Empty(t, sampler.violations, "the slot confirmed a position MySQL had not committed")
	assert.Positive(t, sampler.samples.Load())
	t.Logf("slot position sampled %d times, never past MySQL's", sampler.samples.Load())

	assert.EqualValues(t, filled+w.changes.Load(), l.checkpoint("crash").Changes, "changes applied = changes made: none lost, none twice")
	dups := l.rows(`SELECT id, ver, op, COUNT(*) FROM audit GROUP BY id, ver, op HAVING COUNT(*) > 1 LIMIT 5`)
	assert.Empty(t, dups, "changes applied twice")
	m, err := LoadTableMap(context.Background(), e.src, e.dbName, config.Table{Name: "orders"}, Policies{})
	require.NoError(t, err)
	pool, err := pgxpool.New(context.Background(), e.pg)
	require.NoError(t, err)
	defer pool.Close()
	res, err := Verify(context.Background(), e.src, pool, m, VerifyOptions{})
	require.NoError(t, err)
	assert.Empty(t, res.Diffs, "verify")
	t.Logf("verify: %d rows identical", res.SourceRows)
}

// TestReverseSlotNeverPassesCheckpoint samples the slot's confirmed
// position under a busy writer with the pipeline in process: it moves
// forward, and never past what MySQL committed.
func TestReverseSlotNeverPassesCheckpoint(t *testing.T) {
	e := newEnv(t)
	reverseOrders(t, e)
	l := e.legacyOf()
	cfg := reverseConfig("sampled", config.Table{Name: "orders"})
	p, _ := startReverse(t, cfg, l, e.pg, Options{})
	waitPhase(t, p, PhaseStreaming, time.Minute)
	sampler := startSlotSampler(t, e.mysql, e.pg, "sampled")
	defer sampler.Stop()
	start := currentWAL(t, e.dst)
	w := startPGWriter(t, e.pg, 42, time.Millisecond)
	time.Sleep(3 * time.Second) // the length of the sampled run, not a wait for a state
	w.Stop(t)
	e.requireLegacyMatches(time.Minute)
	l.waitCheckpoint("sampled", currentWAL(t, e.dst), time.Minute)
	require.Eventually(t, func() bool {
		st, err := ReadSlotStatus(context.Background(), e.dst, "sampled")
		c, _ := parseLSN(st.ConfirmedLSN)
		return err == nil && c > start
	}, 10*time.Second, 20*time.Millisecond, "the slot confirmed what was applied")
	sampler.Stop()
	assert.Empty(t, sampler.violations)
	assert.Greater(t, sampler.samples.Load(), int64(100))
	assert.EqualValues(t, w.changes.Load(), l.checkpoint("sampled").Changes)
	t.Logf("%d transactions, %d changes; slot sampled %d times", w.txns.Load(), w.changes.Load(), sampler.samples.Load())
}

// TestReverseSurvivesServerRestarts stops MariaDB, then PostgreSQL, under a
// streaming new-to-legacy pipeline: it waits, reconnects, resumes from the
// stored position and misses nothing.
func TestReverseSurvivesServerRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("stops the test servers")
	}
	e := newEnv(t)
	my, pgs := dbtest.MySQLServer(t), dbtest.PostgresServer(t)
	reverseOrders(t, e)
	l := e.legacyOf()
	cfg := reverseConfig("restarts", config.Table{Name: "orders"})
	p, logs := startReverse(t, cfg, l, e.pg, Options{Heartbeat: 200 * time.Millisecond, ReadTimeout: time.Second})
	waitPhase(t, p, PhaseStreaming, time.Minute)
	ctx := context.Background()
	change := func(tag string) {
		pgExec(t, e.dst, fmt.Sprintf(`INSERT INTO orders (ver, note, amount, updated) SELECT 1, '%s ' || i, i, clock_timestamp() FROM generate_series(1, 50) i`, tag),
			fmt.Sprintf(`UPDATE orders SET ver = ver + 1, note = '%s' WHERE id %% 7 = 0`, tag),
			`DELETE FROM orders WHERE id % 11 = 0`)
	}
	change("before")
	e.requireLegacyMatches(time.Minute)

	t.Run("MariaDB restart", func(t *testing.T) {
		require.NoError(t, my.Stop(ctx))
		change("while mariadb is down")
		require.Eventually(t, func() bool { return strings.Contains(logs.String(), "legacy MySQL unreachable, retrying in") },
			30*time.Second, 20*time.Millisecond)
		require.NoError(t, my.Start(ctx))
		e.src.SetMaxIdleConns(0) // drop connections to the stopped server
		e.src.SetMaxIdleConns(2)
		waitPhase(t, p, PhaseStreaming, time.Minute)
		change("after mariadb")
		e.requireLegacyMatches(time.Minute)
	})

	t.Run("PostgreSQL restart", func(t *testing.T) {
		resumes := strings.Count(logs.String(), "resumed at LSN")
		require.NoError(t, pgs.Stop(ctx))
		require.Eventually(t, func() bool { return strings.Contains(logs.String(), "new PostgreSQL unreachable, retrying in") },
			30*time.Second, 20*time.Millisecond)
		require.NoError(t, pgs.Start(ctx))
		require.Eventually(t, func() bool { return strings.Count(logs.String(), "resumed at LSN") > resumes },
			time.Minute, 20*time.Millisecond)
		e.dst = e.connectPG(e.pg)
		change("after postgres")
		e.requireLegacyMatches(time.Minute)
	})
}
