package sync

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
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
)

// bothWriter changes orders on one side in random transactions until
// stopped: inserts (ids from the side's own generator), updates that bump
// ver and deletes, of any row, the other side's too. It counts the row
// changes it committed.
type bothWriter struct {
	stop    chan struct{}
	done    chan error
	changes atomic.Int64
	once    gosync.Once
	stopErr error
}

func (w *bothWriter) Stop(t *testing.T) {
	t.Helper()
	w.once.Do(func() {
		close(w.stop)
		w.stopErr = <-w.done
	})
	require.NoError(t, w.stopErr)
}

// startBothWriter runs statements through exec (one transaction of 1-3
// statements each pace): maxID returns the highest id there is.
func startBothWriter(seed uint64, pace time.Duration, side string, maxID func() (int, error), txn func(stmts []string) (int64, error)) *bothWriter {
	w := &bothWriter{stop: make(chan struct{}), done: make(chan error, 1)}
	rng := rand.New(rand.NewPCG(seed, seed+7))
	go func() {
		tick := time.NewTicker(pace)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				w.done <- nil
				return
			case <-tick.C:
			}
			top, err := maxID()
			if err != nil {
				w.done <- err
				return
			}
			var stmts []string
			for range 1 + rng.IntN(3) {
				id := 1 + rng.IntN(max(top, 1))
				switch r := rng.IntN(100); {
				case r < 35:
					stmts = append(stmts, fmt.Sprintf("INSERT INTO orders (ver, note, amount, updated) VALUES (1, '%s %d', %d.25, '2026-01-01 00:00:00')", side, rng.IntN(1e6), rng.IntN(1000)))
				case r < 90:
					stmts = append(stmts, fmt.Sprintf("UPDATE orders SET ver = ver + 1, note = '%s %d' WHERE id = %d", side, rng.IntN(1e6), id))
				default:
					stmts = append(stmts, fmt.Sprintf("DELETE FROM orders WHERE id = %d", id))
				}
			}
			n, err := txn(stmts)
			if err != nil {
				w.done <- err
				return
			}
			w.changes.Add(n)
		}
	}()
	return w
}

// bothEnv is orders on both sides, ids interleaved: MySQL's writer takes
// odd ids (its session's auto_increment_increment 2, offset 1), PostgreSQL
// even ones (a sequence by 2).
type bothEnv struct {
	*env
	legacy *sql.Conn
}

func newBothEnv(t *testing.T, rows int) *bothEnv {
	t.Helper()
	e := newEnv(t)
	e.exec(faultTable)
	if rows > 0 {
		e.fill(rows)
		e.exec("UPDATE orders SET id = 2 * id - 1 ORDER BY id DESC") // odd ids, as the interleaved legacy makes them
	}
	c, err := e.src.Conn(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	for _, s := range []string{"SET SESSION auto_increment_increment = 2", "SET SESSION auto_increment_offset = 1", "SET time_zone = '+00:00'"} {
		_, err := c.ExecContext(context.Background(), s)
		require.NoError(t, err)
	}
	return &bothEnv{env: e, legacy: c}
}

// pgIDs gives the PostgreSQL orders an id sequence on even numbers above
// every id there is (the target exists: the forward half made it).
func (b *bothEnv) pgIDs() {
	var top int
	require.NoError(b.t, b.dst.QueryRow(context.Background(), "SELECT coalesce(max(id), 0) FROM orders").Scan(&top))
	start := top + 2 - top%2
	pgExec(b.t, b.dst, fmt.Sprintf("CREATE SEQUENCE orders_id_seq INCREMENT BY 2 START WITH %d", start),
		`ALTER TABLE orders ALTER COLUMN id SET DEFAULT nextval('orders_id_seq')`)
}

func (b *bothEnv) legacyWriter(seed uint64) *bothWriter {
	ctx := context.Background()
	return startBothWriter(seed, 2*time.Millisecond, "legacy",
		func() (int, error) {
			var top sql.NullInt64
			err := b.legacy.QueryRowContext(ctx, "SELECT max(id) FROM orders").Scan(&top)
			return int(top.Int64), err
		},
		func(stmts []string) (int64, error) {
			tx, err := b.legacy.BeginTx(ctx, nil)
			if err != nil {
				return 0, err
			}
			n := int64(0)
			for _, s := range stmts {
				res, err := tx.ExecContext(ctx, s)
				if err != nil {
					_ = tx.Rollback()
					return 0, fmt.Errorf("%s: %w", s, err)
				}
				k, _ := res.RowsAffected()
				n += k
			}
			return n, tx.Commit()
		})
}

func (b *bothEnv) newWriter(seed uint64) *bothWriter {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, b.pg)
	require.NoError(b.t, err)
	b.t.Cleanup(func() { c.Close(context.Background()) })
	return startBothWriter(seed, 2*time.Millisecond, "new",
		func() (int, error) {
			var top int
			err := c.QueryRow(ctx, "SELECT coalesce(max(id), 0) FROM orders").Scan(&top)
			return top, err
		},
		func(stmts []string) (int64, error) {
			tx, err := c.Begin(ctx)
			if err != nil {
				return 0, err
			}
			n := int64(0)
			for _, s := range stmts {
				tag, err := tx.Exec(ctx, s)
				if err != nil {
					_ = tx.Rollback(ctx)
					return 0, fmt.Errorf("%s: %w", s, err)
				}
				n += tag.RowsAffected()
			}
			return n, tx.Commit(ctx)
		})
}

// requireSame waits until both sides hold the same orders (id, ver, note).
func (b *bothEnv) requireSame(within time.Duration) {
	b.t.Helper()
	var want, got []string
	same := func() bool {
		want = pgRows(b.t, b.dst, `SELECT id, ver, note FROM orders ORDER BY id`)
		got = b.legacyOf().rows(`SELECT id, ver, note FROM orders ORDER BY id`)
		return fmt.Sprint(want) == fmt.Sprint(got)
	}
	if !assert.Eventually(b.t, same, within, 50*time.Millisecond) {
		require.Equal(b.t, len(want), len(got), "row count")
		require.Equal(b.t, want, got)
	}
}

// verify runs sync verify on orders and requires no difference.
func (b *bothEnv) verify() {
	b.t.Helper()
	m, err := LoadTableMap(context.Background(), b.src, b.dbName, config.Table{Name: "orders"}, Policies{})
	require.NoError(b.t, err)
	pool, err := pgxpool.New(context.Background(), b.pg)
	require.NoError(b.t, err)
	defer pool.Close()
	res, err := Verify(context.Background(), b.src, pool, m, VerifyOptions{})
	require.NoError(b.t, err)
	require.Empty(b.t, res.Diffs, "verify")
	b.t.Logf("verify: %d rows identical", res.SourceRows)
}

func bothConfig(name string, tables ...config.Table) config.Pipeline {
	if len(tables) == 0 {
		tables = []config.Table{{Name: "orders"}}
	}
	return config.Pipeline{Name: name, Direction: config.DirectionBoth, Tables: tables, BatchSize: 200, ChunkSize: 500,
		Record: config.RecordLegacy, IDs: config.IDsNone}
}

// TestBothWaysConverge writes on both sides at once for a few seconds
// (inserts, and updates and deletes of any row, the other side's too),
// then stops the writers: both sides converge, verify passes, each
// direction applied exactly the changes its source made (none of the
// other direction's came back), and after the writers stop nothing more
// is applied within 5 s.
func TestBothWaysConverge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	const filled = 1000
	b := newBothEnv(t, filled)
	p, _ := b.start(bothConfig("both"), Options{})
	fwd, rev := p.Halves()
	require.NotNil(t, fwd)
	waitPhase(t, fwd, PhaseStreaming, time.Minute)
	waitPhase(t, rev, PhaseStreaming, time.Minute)
	b.pgIDs()

	seed := uint64(time.Now().UnixNano())
	t.Logf("writers from seed %d", seed)
	lw, nw := b.legacyWriter(seed), b.newWriter(seed+1)
	time.Sleep(4 * time.Second) // both sides write for a while
	lw.Stop(t)
	nw.Stop(t)
	t.Logf("legacy writer: %d row changes; new writer: %d", lw.changes.Load(), nw.changes.Load())
	require.Greater(t, lw.changes.Load()+nw.changes.Load(), int64(2000), "the writers made too few changes to show anything")

	b.requireSame(time.Minute)
	require.Eventually(t, func() bool {
		return fwd.Status().Changes == filled+lw.changes.Load() && rev.Status().Changes == nw.changes.Load()
	}, 30*time.Second, 20*time.Millisecond)
	b.verify()

	// No echo: each direction applied its own source's changes only, and
	// stays still once the writers stopped.
	f0, r0 := fwd.Status().Changes, rev.Status().Changes
	time.Sleep(5 * time.Second)
	assert.Equal(t, f0, fwd.Status().Changes, "legacy-to-new applied changes after the writers stopped")
	assert.Equal(t, r0, rev.Status().Changes, "new-to-legacy applied changes after the writers stopped")
	assert.EqualValues(t, filled+lw.changes.Load(), f0, "legacy-to-new: changes applied = changes made in MySQL (snapshot included)")
	assert.EqualValues(t, nw.changes.Load(), r0, "new-to-legacy: changes applied = changes made in PostgreSQL")
	assert.Positive(t, fwd.ownSkipped.Load(), "the binlog reader skipped no transaction of the new-to-legacy applier")
	assert.Positive(t, rev.ownSkipped.Load(), "the pgoutput reader skipped no transaction of the legacy-to-new applier")
	t.Logf("own transactions skipped: %d in the binlog, %d in pgoutput; conflicts: %d legacy-to-new, %d new-to-legacy",
		fwd.ownSkipped.Load(), rev.ownSkipped.Load(), fwd.conflicts.Load(), rev.conflicts.Load())
}

// TestBothWaysConflicts changes the same rows on both sides while the
// pipeline is stopped, so that each change arrives on a side that changed
// the row too: with wins: record the legacy version ends up on both
// sides; with wins: newest, the version with the later timestamp does.
// Each conflict is counted and logged with both versions.
func TestBothWaysConflicts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	b := newBothEnv(t, 3) // ids 1, 3, 5
	b.exec(strings.Replace(faultTable, "orders", "stock", 1), "INSERT INTO stock SELECT * FROM orders")
	cfg := bothConfig("conflicts", config.Table{Name: "orders"},
		config.Table{Name: "stock", Conflict: &config.Conflict{Wins: config.WinsNewest, Column: "updated"}})
	p, _ := b.start(cfg, Options{})
	fwd, rev := p.Halves()
	waitPhase(t, fwd, PhaseStreaming, time.Minute)
	waitPhase(t, rev, PhaseStreaming, time.Minute)
	require.NoError(t, p.Close(context.Background()))

	// While stopped, both sides change rows 1 and 3 of each table.
	b.exec(`UPDATE orders SET ver = 10, note = 'legacy' WHERE id IN (1, 3)`,
		`UPDATE stock SET ver = 10, note = 'legacy, older', updated = '2030-01-01' WHERE id = 1`,
		`UPDATE stock SET ver = 10, note = 'legacy, newer', updated = '2032-01-01' WHERE id = 3`)
	pgExec(t, b.dst, `UPDATE orders SET ver = 20, note = 'new' WHERE id IN (1, 3)`,
		`UPDATE stock SET ver = 20, note = 'new, newer', updated = '2031-01-01' WHERE id = 1`,
		`UPDATE stock SET ver = 20, note = 'new, older', updated = '2031-01-01' WHERE id = 3`)

	p, logs := b.start(cfg, Options{})
	fwd, rev = p.Halves()
	want := []string{"1 | 10 | legacy", "3 | 10 | legacy", "5 | 1 | row 3"}
	require.Eventually(t, func() bool {
		return fmt.Sprint(pgRows(t, b.dst, `SELECT id, ver, note FROM orders ORDER BY id`)) == fmt.Sprint(want) &&
			fmt.Sprint(b.legacyOf().rows(`SELECT id, ver, note FROM orders ORDER BY id`)) == fmt.Sprint(want)
	}, time.Minute, 50*time.Millisecond, "orders: the system of record (legacy) did not win on both sides")
	wantStock := []string{"1 | 20 | new, newer", "3 | 10 | legacy, newer", "5 | 1 | row 3"}
	require.Eventually(t, func() bool {
		return fmt.Sprint(pgRows(t, b.dst, `SELECT id, ver, note FROM stock ORDER BY id`)) == fmt.Sprint(wantStock) &&
			fmt.Sprint(b.legacyOf().rows(`SELECT id, ver, note FROM stock ORDER BY id`)) == fmt.Sprint(wantStock)
	}, time.Minute, 50*time.Millisecond, "stock: the newer version did not win on both sides")
	assert.EqualValues(t, 4, fwd.conflicts.Load(), "conflicts seen applying legacy's changes")
	assert.EqualValues(t, 4, rev.conflicts.Load(), "conflicts seen applying new's changes")
	assert.Contains(t, logs.String(), "conflict on orders key 1: both sides changed the row before either change arrived; it differs in ver, note; legacy wins (the system of record)")
	assert.Contains(t, logs.String(), "conflict on stock key 1")
	assert.Contains(t, logs.String(), "the newer version")
	assert.Contains(t, logs.String(), "note='new'", "the log names the new side's version")
	b.verify()
}

// TestBothWaysSurvivesKill9 kills a both-ways pipeline's process (SIGKILL)
// at random moments, 20 times, while both sides keep writing, and
// restarts it each time: at the end both sides hold the same rows and
// verify passes.
func TestBothWaysSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and child processes")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill points and writers from seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 5))
	b := newBothEnv(t, 500)
	t.Cleanup(func() { waitSlotReleased(t, b.pg, "crash-both") })
	cfg := bothConfig("crash-both")
	cfg.BatchSize = 100
	spec := childSpec{Pipeline: cfg, Source: b.mysql, Target: b.pg}

	c := b.spawn(spec)
	require.Eventually(t, func() bool { return b.legacyOf().checkpoint("crash-both").Found }, time.Minute, 10*time.Millisecond,
		"the new-to-legacy half never stored its first position: %s", c.stderr)
	c.kill(t)
	b.pgIDs()
	lw, nw := b.legacyWriter(seed), b.newWriter(seed+1)
	for range 20 {
		c := b.spawn(spec)
		time.Sleep(time.Duration(250+rng.IntN(700)) * time.Millisecond) // the random kill point
		c.kill(t)
	}
	lw.Stop(t)
	nw.Stop(t)
	t.Logf("20 kills; the legacy writer made %d row changes, the new writer %d", lw.changes.Load(), nw.changes.Load())
	c = b.spawn(spec)
	defer c.kill(t)
	b.requireSame(2 * time.Minute)
	b.verify()
}

// TestBothWaysAllTypesNoFalseConflict: for every type the mapping
// supports, a change made on one side only is not taken for a conflict
// on the other: each side compares the arriving change's before image
// with its own row and finds them equal, minimum, maximum and NULL values
// included.
func TestBothWaysAllTypesNoFalseConflict(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	e := newEnv(t)
	orig := e.legacyOf()
	orig.exec(append([]string{allTypesDDL}, roundTripRows...)...)
	cfg := bothConfig("types", allTypesTable())
	p, _ := e.start(cfg, Options{})
	fwd, rev := p.Halves()
	waitPhase(t, fwd, PhaseStreaming, time.Minute)
	waitPhase(t, rev, PhaseStreaming, time.Minute)
	want := orig.rows(allTypesCanon)

	// PostgreSQL changes one column of every row: MySQL takes each change.
	pgExec(t, e.dst, `UPDATE alltypes SET vc = 'new ' || id`)
	orig.waitCheckpoint("types", currentWAL(t, e.dst), time.Minute)
	assert.Equal(t, []string{"1 | new 1", "2 | new 2", "3 | new 3", "4 | new 4", "5 | new 5"}, orig.rows("SELECT id, vc FROM alltypes ORDER BY id"))
	assert.Zero(t, rev.conflicts.Load(), "a change made in PostgreSQL only was taken for a conflict in MySQL")

	// MySQL changes another: PostgreSQL takes each change.
	orig.exec(`UPDATE alltypes SET c = CONCAT('old ', id)`)
	e.waitCaughtUp("types", time.Minute)
	assert.Equal(t, []string{"1 | old 1", "2 | old 2", "3 | old 3", "4 | old 4", "5 | old 5"}, pgRows(t, e.dst, "SELECT id, c FROM alltypes ORDER BY id"))
	assert.Zero(t, fwd.conflicts.Load(), "a change made in MySQL only was taken for a conflict in PostgreSQL")

	// Both back to the original values, from PostgreSQL, whole rows.
	pgExec(t, e.dst, `UPDATE alltypes SET vc = o.vc, c = o.c FROM (SELECT id, vc, c FROM alltypes) o WHERE false`)
	orig.exec(`UPDATE alltypes SET c = CASE id WHEN 1 THEN '' WHEN 2 THEN 'abcdefghij' WHEN 5 THEN 'x' END`)
	e.waitCaughtUp("types", time.Minute)
	pgExec(t, e.dst, `UPDATE alltypes SET vc = CASE id WHEN 2 THEN E'😀 𝄞 tab\there\nnew \\ back|pipe ''q''' WHEN 1 THEN '' ELSE NULL END`)
	orig.waitCheckpoint("types", currentWAL(t, e.dst), time.Minute)
	assert.Equal(t, want, orig.rows(allTypesCanon), "every value as it was")
	assert.Zero(t, fwd.conflicts.Load()+rev.conflicts.Load(), "conflicts")
	requireSameJSON(t, orig, orig)
}

// TestBothWaysInterleavesIDs: with ids: interleave the pipeline refuses a
// legacy server whose auto_increment_increment is 1, saying what to set;
// with 2 and offset 1 it gives the PostgreSQL key an identity on even
// numbers, and rows created on both sides at once never share an id.
func TestBothWaysInterleavesIDs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	e := newEnv(t)
	e.exec(faultTable)
	e.fill(10)
	cfg := bothConfig("ids")
	cfg.IDs = config.IDsInterleave

	setIDGlobals(t, e, 1, 1)
	p, _ := e.start(cfg, Options{})
	err := p.Wait()
	var ie *IDError
	require.ErrorAs(t, err, &ie)
	assert.Contains(t, ie.Fix, "SET GLOBAL auto_increment_increment = 2, auto_increment_offset = 1;")

	setIDGlobals(t, e, 2, 1)
	p, logs := e.start(cfg, Options{})
	fwd, rev := p.Halves()
	waitPhase(t, fwd, PhaseStreaming, time.Minute)
	waitPhase(t, rev, PhaseStreaming, time.Minute)
	assert.Contains(t, logs.String(), "keys of orders.id interleaved")

	// New sessions on both sides insert at once.
	var wg gosync.WaitGroup
	for w := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			db, err := sql.Open("mysql", e.mysql)
			if !assert.NoError(t, err) {
				return
			}
			defer db.Close()
			for i := range 25 {
				_, err := db.Exec(fmt.Sprintf("INSERT INTO orders (ver, note, amount, updated) VALUES (1, 'legacy %d/%d', 1, NOW(6))", w, i))
				assert.NoError(t, err)
			}
		}()
		go func() {
			defer wg.Done()
			c, err := pgx.Connect(context.Background(), e.pg)
			if !assert.NoError(t, err) {
				return
			}
			defer c.Close(context.Background())
			for i := range 25 {
				_, err := c.Exec(context.Background(), fmt.Sprintf("INSERT INTO orders (ver, note, amount, updated) VALUES (1, 'new %d/%d', 1, now())", w, i))
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	b := &bothEnv{env: e}
	b.requireSame(time.Minute)
	rows := e.legacyOf().rows("SELECT COUNT(*), SUM(note LIKE 'legacy%' AND id % 2 = 1), SUM(note LIKE 'new%' AND id % 2 = 0) FROM orders")
	assert.Equal(t, []string{"210 | 100 | 100"}, rows, "every row kept, legacy ids odd, new ids even")
	assert.Zero(t, fwd.conflicts.Load()+rev.conflicts.Load(), "no two rows met under one id")
}

// TestBothWaysLegacySchemaChanges: columns added, renamed and dropped in
// the legacy table while a both-ways pipeline streams. The forward half
// applies each to PostgreSQL; the new-to-legacy half reads the legacy
// table again when PostgreSQL's relation changes (or MySQL refuses a
// column it no longer has), so PostgreSQL's changes of the new or renamed
// column reach MySQL, and nothing stops.
func TestBothWaysLegacySchemaChanges(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	b := newBothEnv(t, 5)
	p, _ := b.start(bothConfig("schema"), Options{})
	fwd, rev := p.Halves()
	waitPhase(t, fwd, PhaseStreaming, time.Minute)
	waitPhase(t, rev, PhaseStreaming, time.Minute)
	l := b.legacyOf()
	pgHas := func(col string) func() bool {
		return func() bool {
			return len(pgRows(t, b.dst, "SELECT 1 FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = '"+col+"' AND NOT attisdropped")) == 1
		}
	}
	wait := func(q string, want ...string) {
		t.Helper()
		require.Eventually(t, func() bool { return fmt.Sprint(l.rows(q)) == fmt.Sprint(want) }, 30*time.Second, 20*time.Millisecond,
			"%s: %v (new-to-legacy: %s %s)", q, l.rows(q), rev.Status().Phase, rev.Status().Reason)
	}

	b.exec("ALTER TABLE orders ADD COLUMN extra int NULL")
	require.Eventually(t, pgHas("extra"), 30*time.Second, 20*time.Millisecond)
	pgExec(t, b.dst, "UPDATE orders SET extra = 7 WHERE id = 1")
	wait("SELECT id, extra FROM orders WHERE id = 1", "1 | 7")

	b.exec("ALTER TABLE orders RENAME COLUMN note TO memo")
	require.Eventually(t, pgHas("memo"), 30*time.Second, 20*time.Millisecond)
	pgExec(t, b.dst, "UPDATE orders SET memo = 'renamed' WHERE id = 3")
	wait("SELECT id, memo FROM orders WHERE id = 3", "3 | renamed")

	b.exec("ALTER TABLE orders DROP COLUMN extra")
	time.Sleep(200 * time.Millisecond) // the forward half keeps the column in PostgreSQL: nothing to wait for there
	pgExec(t, b.dst, "UPDATE orders SET ver = 9, extra = 8 WHERE id = 5")
	wait("SELECT id, ver FROM orders WHERE id = 5", "5 | 9")
	assert.Equal(t, PhaseStreaming, rev.Status().Phase)
	assert.Equal(t, PhaseStreaming, fwd.Status().Phase)
	b.exec("UPDATE orders SET memo = 'from legacy' WHERE id = 7")
	require.Eventually(t, func() bool {
		return fmt.Sprint(pgRows(t, b.dst, "SELECT memo FROM orders WHERE id = 7")) == "[from legacy]"
	}, 30*time.Second, 20*time.Millisecond)
}

// TestBothWaysAddsUp: a counter taken down on both sides at once. With
// conflict: {add: [qty]} each side's change of qty is added to the
// other's, so both sides end with the start minus every decrement; the
// other columns follow the system of record.
func TestBothWaysAddsUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	e := newEnv(t)
	e.exec(`CREATE TABLE stock (id int PRIMARY KEY, qty int NOT NULL, note varchar(20) NOT NULL)`)
	var vals []string
	for i := 1; i <= 10; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 100000, 'start')", i))
	}
	e.exec("INSERT INTO stock VALUES " + strings.Join(vals, ", "))
	cfg := bothConfig("adds", config.Table{Name: "stock", Conflict: &config.Conflict{Wins: config.WinsRecord, Add: []string{"qty"}}})
	p, _ := e.start(cfg, Options{})
	fwd, rev := p.Halves()
	waitPhase(t, fwd, PhaseStreaming, time.Minute)
	waitPhase(t, rev, PhaseStreaming, time.Minute)
	require.NoError(t, p.Close(context.Background()))

	// While stopped: row 1 taken down by 3 in MySQL and by 4 in PostgreSQL.
	e.exec(`UPDATE stock SET qty = qty - 3, note = 'legacy' WHERE id = 1`)
	pgExec(t, e.dst, `UPDATE stock SET qty = qty - 4, note = 'new' WHERE id = 1`)
	p, logs := e.start(cfg, Options{})
	fwd, rev = p.Halves()
	l := e.legacyOf()
	require.Eventually(t, func() bool {
		return fmt.Sprint(l.rows("SELECT qty, note FROM stock WHERE id = 1")) == "[99993 | legacy]" &&
			fmt.Sprint(pgRows(t, e.dst, "SELECT qty, note FROM stock WHERE id = 1")) == "[99993 | legacy]"
	}, time.Minute, 20*time.Millisecond, "MySQL %v, PostgreSQL %v", l.rows("SELECT qty, note FROM stock WHERE id = 1"), pgRows(t, e.dst, "SELECT qty, note FROM stock WHERE id = 1"))
	assert.Contains(t, logs.String(), "both changes of qty are added up")

	// Both sides take stock down at once, on the same ten rows, for a while.
	var taken [2]atomic.Int64
	stop := make(chan struct{})
	var wg gosync.WaitGroup
	run := func(side int, exec func(id, n int) error) {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(uint64(side), 9))
		for {
			select {
			case <-stop:
				return
			default:
			}
			id, n := 1+rng.IntN(10), 1+rng.IntN(5)
			if err := exec(id, n); err != nil {
				t.Error(err)
				return
			}
			taken[side].Add(int64(n))
		}
	}
	c, err := pgx.Connect(context.Background(), e.pg)
	require.NoError(t, err)
	defer c.Close(context.Background())
	wg.Add(2)
	go run(0, func(id, n int) error {
		_, err := e.src.Exec("UPDATE stock SET qty = qty - ? WHERE id = ?", n, id)
		return err
	})
	go run(1, func(id, n int) error {
		_, err := c.Exec(context.Background(), "UPDATE stock SET qty = qty - $1 WHERE id = $2", n, id)
		return err
	})
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	want := fmt.Sprint(10*100000 - 7 - taken[0].Load() - taken[1].Load())
	t.Logf("taken: %d in MySQL, %d in PostgreSQL; conflicts: %d legacy-to-new, %d new-to-legacy",
		taken[0].Load(), taken[1].Load(), fwd.conflicts.Load(), rev.conflicts.Load())
	require.Eventually(t, func() bool {
		return fmt.Sprint(l.rows("SELECT SUM(qty) FROM stock")) == "["+want+"]" &&
			fmt.Sprint(pgRows(t, e.dst, "SELECT SUM(qty) FROM stock")) == "["+want+"]"
	}, 2*time.Minute, 50*time.Millisecond, "MySQL %v, PostgreSQL %v, want %s", l.rows("SELECT SUM(qty) FROM stock"), pgRows(t, e.dst, "SELECT SUM(qty) FROM stock"), want)
	m, err := LoadTableMap(context.Background(), e.src, e.dbName, config.Table{Name: "stock"}, Policies{})
	require.NoError(t, err)
	pool, err := pgxpool.New(context.Background(), e.pg)
	require.NoError(t, err)
	defer pool.Close()
	res, err := Verify(context.Background(), e.src, pool, m, VerifyOptions{})
	require.NoError(t, err)
	assert.Empty(t, res.Diffs, "verify")
}
