package sync

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const manyTypesTable = `CREATE TABLE items (
	id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
	i8 tinyint, u8 tinyint unsigned, i16 smallint, i24 mediumint, i32 int, u64 bigint unsigned,
	flag tinyint(1), price decimal(12,2), big decimal(30,10), f float, d double,
	name varchar(100), ch char(5), txt text, bin varbinary(16), blb blob,
	dt datetime(6), ts timestamp(3) NULL DEFAULT NULL, dd date, tm time(2), yr year,
	st enum('new','paid','shipped'), tags set('a','b','c'), js json, bits bit(5), zd datetime NULL
)`

// manyTypesRow is an INSERT of row n with values near the types' extremes.
func manyTypesRow(n int) string {
	return fmt.Sprintf(`INSERT INTO items (i8, u8, i16, i24, i32, u64, flag, price, big, f, d, name, ch, txt, bin, blb,
		dt, ts, dd, tm, yr, st, tags, js, bits, zd) VALUES (
		%d, 255, -32768, 8388607, -2147483648, 18446744073709551615, %d, %d.25, '12345678901234567890.0123456789', 1.5, -2.25e-300,
		'naïve ☃ %d', 'ab', 'line1\nline2\ttab\\back', X'00ff10', X'deadbeef',
		'2024-02-29 23:59:59.123456', '2038-01-19 03:14:07.999', '1000-01-01', '-838:59:59.00', 2155,
		'paid', 'a,c', '{"k": [1, "two", null]}', b'10101', '0000-00-00 00:00:00')`,
		-128+n%256, n%2, n, n)
}

func TestPipelineSnapshotThenStream(t *testing.T) {
	e := newEnv(t)
	e.exec("SET SESSION sql_mode = ''", manyTypesTable)
	for i := range 1200 {
		e.exec("SET SESSION sql_mode = ''", manyTypesRow(i))
	}
	e.exec("INSERT INTO items (id, name) VALUES (5000, NULL)") // a row of NULLs
	cfg := pipelineConfig("types", "items")
	p, logs := e.start(cfg, Options{})
	waitPhase(t, p, PhaseStreaming, time.Minute)

	t.Run("snapshot", func(t *testing.T) {
		var n int
		require.NoError(t, e.dst.QueryRow(context.Background(), `SELECT count(*) FROM items`).Scan(&n))
		assert.Equal(t, 1201, n)
		assert.Contains(t, logs.String(), "snapshot of items done: 1201 rows")
		snaps, err := loadSnapshots(context.Background(), e.dst, "types")
		require.NoError(t, err)
		assert.True(t, snaps["items"].Done)
		assert.EqualValues(t, 1201, snaps["items"].Rows)
	})

	t.Run("stream", func(t *testing.T) {
		e.exec("SET SESSION sql_mode = ''", manyTypesRow(7000))                            // insert
		e.exec(`UPDATE items SET name = 'renamed', price = -1.5, js = '[]' WHERE id = 3`)  // update
		e.exec(`UPDATE items SET id = 100000 WHERE id = 4`)                                // key change
		e.exec(`DELETE FROM items WHERE id IN (5, 6)`)                                     // delete
		e.exec(`UPDATE items SET flag = NULL, bin = NULL, zd = '2020-01-01' WHERE id = 7`) // to NULL and back
		e.tx(`INSERT INTO items (id, name) VALUES (9000, 'x')`, `UPDATE items SET name = 'y' WHERE id = 9000`,
			`DELETE FROM items WHERE id = 9000`, `INSERT INTO items (id, name) VALUES (9000, 'z')`)
		e.waitCaughtUp("types", 30*time.Second)

		var name string
		require.NoError(t, e.dst.QueryRow(context.Background(), `SELECT name FROM items WHERE id = 100000`).Scan(&name))
		assert.Equal(t, "naïve ☃ 3", name)
		var n int
		require.NoError(t, e.dst.QueryRow(context.Background(), `SELECT count(*) FROM items WHERE id IN (4, 5, 6)`).Scan(&n))
		assert.Zero(t, n, "deleted and re-keyed rows are gone")
		require.NoError(t, e.dst.QueryRow(context.Background(), `SELECT name FROM items WHERE id = 9000`).Scan(&name))
		assert.Equal(t, "z", name, "the last change of a key in one transaction wins")

		// The streamed rows equal what a fresh snapshot of the source gives.
		ref := e.referenceSnapshot(cfg)
		requireSameRows(t, ref, e.dst, "items", "id")
	})

	t.Run("metrics and status", func(t *testing.T) {
		st := p.Status()
		assert.Equal(t, PhaseStreaming, st.Phase)
		assert.False(t, st.Position.IsZero())
		require.Eventually(t, func() bool {
			s, err := ReadStatus(context.Background(), e.dst, "types")
			return err == nil && s.Phase == PhaseStreaming && len(s.Tables) == 1 && s.Tables[0].Percent == 100
		}, 10*time.Second, 20*time.Millisecond)
	})
}

// TestPipelineTransactionsApplyWhole moves money between two tables in
// source transactions while a reader checks, in the target, that the total
// never changes: a transaction is never applied in part.
func TestPipelineTransactionsApplyWhole(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL)`,
		`CREATE TABLE ledger (id int AUTO_INCREMENT PRIMARY KEY, account int NOT NULL, amount bigint NOT NULL)`)
	for i := 1; i <= 20; i++ {
		e.exec(fmt.Sprintf(`INSERT INTO accounts VALUES (%d, 1000)`, i))
	}
	cfg := pipelineConfig("money", "accounts", "ledger")
	cfg.BatchSize = 7 // batches end inside runs of transactions, never inside one
	p, _ := e.start(cfg, Options{})
	waitPhase(t, p, PhaseStreaming, time.Minute)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	checker := e.connectPG(e.pg)
	violations := make(chan string, 1)
	checks := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			var total, ledger int64
			// One snapshot of both tables.
			err := pgx.BeginTxFunc(ctx, checker, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
				if err := tx.QueryRow(ctx, `SELECT coalesce(sum(balance), 0) FROM accounts`).Scan(&total); err != nil {
					return err
				}
				return tx.QueryRow(ctx, `SELECT coalesce(sum(amount), 0) FROM ledger`).Scan(&ledger)
			})
			if err != nil {
				continue
			}
			checks++
			if total != 20000 || ledger != 0 {
				select {
				case violations <- fmt.Sprintf("total %d, ledger %d", total, ledger):
				default:
				}
			}
		}
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		from, to, amt := 1+rng.IntN(20), 1+rng.IntN(20), 1+rng.IntN(50)
		e.tx(fmt.Sprintf(`UPDATE accounts SET balance = balance - %d WHERE id = %d`, amt, from),
			fmt.Sprintf(`INSERT INTO ledger (account, amount) VALUES (%d, %d)`, from, -amt),
			fmt.Sprintf(`UPDATE accounts SET balance = balance + %d WHERE id = %d`, amt, to),
			fmt.Sprintf(`INSERT INTO ledger (account, amount) VALUES (%d, %d)`, to, amt))
	}
	e.waitCaughtUp("money", 30*time.Second)
	cancel()
	<-done
	select {
	case v := <-violations:
		t.Fatalf("the target showed half a transaction: %s", v)
	default:
	}
	t.Logf("%d consistent reads of the target", checks)
	require.Positive(t, checks)
	var n int
	require.NoError(t, e.dst.QueryRow(context.Background(), `SELECT count(*) FROM ledger`).Scan(&n))
	require.Equal(t, 600, n)
}

func TestPipelineDDL(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE orders (id int PRIMARY KEY, total decimal(8,2) NOT NULL, note varchar(20))`,
		`INSERT INTO orders VALUES (1, 10.00, 'a'), (2, 20.00, 'b')`)
	cfg := pipelineConfig("ddl", "orders")
	p, logs := e.start(cfg, Options{})
	waitPhase(t, p, PhaseStreaming, time.Minute)

	t.Run("add column and widening are applied", func(t *testing.T) {
		e.exec(`ALTER TABLE orders ADD COLUMN status varchar(10) NOT NULL DEFAULT 'new'`,
			`INSERT INTO orders VALUES (3, 30.00, 'c', 'paid')`,
			`ALTER TABLE orders MODIFY note varchar(200)`,
			`UPDATE orders SET note = REPEAT('x', 150) WHERE id = 1`)
		e.waitCaughtUp("ddl", 30*time.Second)
		var status string
		require.NoError(t, e.dst.QueryRow(context.Background(), `SELECT status FROM orders WHERE id = 3`).Scan(&status))
		assert.Equal(t, "paid", status)
		require.NoError(t, e.dst.QueryRow(context.Background(), `SELECT status FROM orders WHERE id = 1`).Scan(&status))
		assert.Equal(t, "new", status, "existing rows get the column default")
		var l int
		require.NoError(t, e.dst.QueryRow(context.Background(), `SELECT length(note) FROM orders WHERE id = 1`).Scan(&l))
		assert.Equal(t, 150, l)
		assert.Contains(t, logs.String(), "DDL applied to the target")
	})

	closePipeline := func(t *testing.T, p *Pipeline) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		require.NoError(t, p.Close(ctx))
	}

	t.Run("narrowing pauses, naming the statement", func(t *testing.T) {
		e.exec(`ALTER TABLE orders MODIFY total decimal(6,2) NOT NULL`, `INSERT INTO orders (id, total, status) VALUES (4, 40.00, 'new')`)
		waitPhase(t, p, PhasePaused, 30*time.Second)
		assert.Contains(t, p.Status().Statement, "MODIFY total decimal(6,2)")
		assert.Contains(t, logs.String(), "sync paused: ")
		assert.Contains(t, logs.String(), `ALTER COLUMN \"total\" TYPE numeric(6,2), then: strangler sync resume ddl`)
		var st Status
		require.Eventually(t, func() bool {
			var err error
			st, err = ReadStatus(context.Background(), e.dst, "ddl")
			return err == nil && st.Phase == PhasePaused && st.Todo != ""
		}, 10*time.Second, 20*time.Millisecond)
		assert.Contains(t, st.Statement, "MODIFY total decimal(6,2)")
		assert.Equal(t, `ALTER TABLE "public"."orders" ALTER COLUMN "total" TYPE numeric(6,2)`, st.Todo)
		var n int
		require.NoError(t, e.dst.QueryRow(context.Background(), `SELECT count(*) FROM orders WHERE id = 4`).Scan(&n))
		assert.Zero(t, n, "nothing after the paused statement is applied")
		closePipeline(t, p)
		assert.Equal(t, PhasePaused, p.Status().Phase, "an interrupt leaves it paused")
	})

	t.Run("a restart stays paused", func(t *testing.T) {
		p2, _ := e.start(cfg, Options{})
		waitPhase(t, p2, PhasePaused, 30*time.Second)
		assert.Contains(t, p2.Status().Statement, "MODIFY total decimal(6,2)")
		closePipeline(t, p2)
		st, err := ReadStatus(context.Background(), e.dst, "ddl")
		require.NoError(t, err)
		assert.Equal(t, PhasePaused, st.Phase)
	})

	t.Run("accept-ddl goes on after the statement", func(t *testing.T) {
		_, err := e.dst.Exec(context.Background(), `ALTER TABLE orders ALTER COLUMN total TYPE numeric(6,2)`)
		require.NoError(t, err)
		p3, _ := e.start(cfg, Options{AcceptDDL: true})
		waitPhase(t, p3, PhaseStreaming, 30*time.Second)
		e.waitCaughtUp("ddl", 30*time.Second)
		var n int
		require.NoError(t, e.dst.QueryRow(context.Background(), `SELECT count(*) FROM orders WHERE id = 4`).Scan(&n))
		assert.Equal(t, 1, n)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		require.NoError(t, p3.Close(ctx))
	})

	t.Run("a column added while the pipeline was stopped arrives with its DDL", func(t *testing.T) {
		e.exec(`UPDATE orders SET total = 11.00 WHERE id = 2`,
			`ALTER TABLE orders ADD COLUMN prio int NOT NULL DEFAULT 5`,
			`INSERT INTO orders (id, total, status, prio) VALUES (6, 60.00, 'new', 9)`)
		p4, logs := e.start(cfg, Options{})
		waitPhase(t, p4, PhaseStreaming, 30*time.Second)
		e.waitCaughtUp("ddl", 30*time.Second)
		assert.Contains(t, logs.String(), "lacks source columns prio")
		got := map[int]int{}
		rows, err := e.dst.Query(context.Background(), `SELECT id, prio FROM orders WHERE id IN (2, 6)`)
		require.NoError(t, err)
		for rows.Next() {
			var id, prio int
			require.NoError(t, rows.Scan(&id, &prio))
			got[id] = prio
		}
		require.NoError(t, rows.Err())
		assert.Equal(t, map[int]int{2: 5, 6: 9}, got)
		e.requireVerified("orders")
	})
}

func TestPipelineRefusesTableWithoutKey(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE events (at datetime, what varchar(20))`)
	p, _ := e.start(pipelineConfig("nokey", "events"), Options{})
	err := p.Wait()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "events")
	assert.Contains(t, strings.ToLower(err.Error()), "primary key")
	var exists bool
	require.NoError(t, e.dst.QueryRow(context.Background(), `SELECT to_regclass('events') IS NOT NULL`).Scan(&exists))
	assert.False(t, exists, "nothing is created for a refused table")
	assert.False(t, errors.Is(err, context.Canceled))
	st := p.Status()
	assert.Equal(t, PhaseStopped, st.Phase, "after a permanent stop the process's own status says so")
	assert.Equal(t, err.Error(), st.Reason)
}

// TestPipelineSkipsItsOwnWrites is the no-echo hook: transactions the
// source logged under a skipped server id (strangler's own writes into the
// legacy database) are not applied, but the position moves past them.
func TestPipelineSkipsItsOwnWrites(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE orders (id int PRIMARY KEY, note varchar(20))`)
	p, _ := e.start(pipelineConfig("echo", "orders"), Options{SkipServerIDs: []uint32{4242}})
	waitPhase(t, p, PhaseStreaming, time.Minute)
	conn, err := e.src.Conn(context.Background())
	require.NoError(t, err)
	defer conn.Close()
	for _, s := range []string{
		`SET SESSION server_id = 4242`,
		`INSERT INTO orders VALUES (1, 'echo')`,
		`SET SESSION server_id = @@GLOBAL.server_id`,
		`INSERT INTO orders VALUES (2, 'legacy')`,
	} {
		_, err := conn.ExecContext(context.Background(), s)
		require.NoError(t, err, s)
	}
	e.waitCaughtUp("echo", 30*time.Second)
	assert.Equal(t, []string{`{"id":2,"note":"legacy"}`}, targetRows(t, e.dst, "orders", "id"))
}

// TestPipelinePausesOnAValueItCannotStore pauses on a zero date under
// zero_dates: error, naming the table, column and key, and tries again on
// the next run (the fix is in the project file or the row).
func TestPipelinePausesOnAValueItCannotStore(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE orders (id int PRIMARY KEY, shipped datetime NULL)`)
	cfg := pipelineConfig("values", "orders")
	cfg.ZeroDates = "error"
	p, _ := e.start(cfg, Options{})
	waitPhase(t, p, PhaseStreaming, time.Minute)
	e.exec(`INSERT INTO orders VALUES (1, '2024-01-01 00:00:00')`, "SET SESSION sql_mode = ''", `INSERT INTO orders VALUES (7, '0000-00-00 00:00:00')`)
	waitPhase(t, p, PhasePaused, 30*time.Second)
	live := p.Status()
	assert.Contains(t, live.Reason, "orders")
	assert.Contains(t, live.Reason, "shipped")
	assert.Contains(t, live.Reason, "key id=7")
	assert.Contains(t, live.Todo, "project file")
	var st Status
	require.Eventually(t, func() bool {
		var err error
		st, err = ReadStatus(context.Background(), e.dst, "values")
		return err == nil && st.Phase == PhasePaused
	}, 10*time.Second, 20*time.Millisecond)
	assert.Contains(t, st.Reason, "shipped")
	rows := targetRows(t, e.dst, "orders", "id")
	assert.Len(t, rows, 1, "the transaction before the bad value is applied, the bad one is not")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, p.Close(ctx), "a paused pipeline ends on Close like a running one")

	cfg.ZeroDates = "null"
	p2, logs := e.start(cfg, Options{})
	waitPhase(t, p2, PhaseStreaming, 30*time.Second)
	e.waitCaughtUp("values", 30*time.Second)
	assert.Contains(t, logs.String(), "the last run paused")
	assert.Len(t, targetRows(t, e.dst, "orders", "id"), 2)
}
