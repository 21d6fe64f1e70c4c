package sync

import (
	"context"
	"database/sql"
	"fmt"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
)

// ddlWriter writes to the source table while DDL runs: inserts of new ids
// and updates of recent ones, on the one column no DDL of the test touches.
type ddlWriter struct {
	table  atomic.Value // string: the source table's current name
	writes atomic.Int64
	stop   context.CancelFunc
	wg     gosync.WaitGroup
}

func startDDLWriter(t *testing.T, db *sql.DB, table string) *ddlWriter {
	w := &ddlWriter{}
	w.table.Store(table)
	ctx, cancel := context.WithCancel(context.Background())
	w.stop = cancel
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for id := 1000; ctx.Err() == nil; id++ {
			tbl := w.table.Load().(string)
			// Errors are expected only while the table is renamed under the
			// writer; the rows that fail are not in the source either.
			if _, err := db.ExecContext(ctx, fmt.Sprintf("INSERT INTO `%s` (id, v) VALUES (?, 1) ON DUPLICATE KEY UPDATE v = v + 1", tbl), id); err == nil {
				w.writes.Add(1)
			}
			if _, err := db.ExecContext(ctx, fmt.Sprintf("UPDATE `%s` SET v = v + 1 WHERE id = ?", tbl), id-3); err == nil {
				w.writes.Add(1)
			}
		}
	}()
	t.Cleanup(w.close)
	return w
}

// more waits until the writer has made n more writes.
func (w *ddlWriter) more(t *testing.T, n int64) {
	t.Helper()
	want := w.writes.Load() + n
	require.Eventually(t, func() bool { return w.writes.Load() >= want }, 10*time.Second, 5*time.Millisecond)
}

func (w *ddlWriter) close() {
	w.stop()
	w.wg.Wait()
}

// TestPipelineAppliesDDLWhileWriting runs each statement the stream now
// applies (TRUNCATE, RENAME COLUMN, CHANGE with a rename, DROP COLUMN,
// ADD/CREATE/DROP INDEX, RENAME TABLE) while a writer runs, then checks
// that the target holds the source's rows (Verify), the indexes, the kept
// column and the status line.
func TestPipelineAppliesDDLWhileWriting(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.exec(`CREATE TABLE orders (id int PRIMARY KEY, name varchar(40) NOT NULL DEFAULT 'n', qty int NOT NULL DEFAULT 1, note varchar(20), v int NOT NULL DEFAULT 0)`,
		`INSERT INTO orders (id, name, qty, note) SELECT seq, CONCAT('o', seq), seq, CONCAT('note', seq) FROM seq_1_to_200`)
	cfg := pipelineConfig("ddlw", "orders")
	p, logs := e.start(cfg, Options{})
	waitPhase(t, p, PhaseStreaming, time.Minute)
	w := startDDLWriter(t, e.src, "orders")
	w.more(t, 50)

	count := func() int {
		var n int
		require.NoError(t, e.dst.QueryRow(ctx, `SELECT count(*) FROM orders`).Scan(&n))
		return n
	}
	indexes := func() []string {
		rows, err := e.dst.Query(ctx, `SELECT indexname FROM pg_indexes WHERE tablename = 'orders' AND indexname <> 'orders_pkey' ORDER BY 1`)
		require.NoError(t, err)
		var out []string
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			out = append(out, s)
		}
		require.NoError(t, rows.Err())
		return out
	}

	t.Run("truncate", func(t *testing.T) {
		e.exec(`TRUNCATE TABLE orders`)
		w.more(t, 50)
		e.waitCaughtUp("ddlw", 30*time.Second)
		var seeded int
		require.NoError(t, e.dst.QueryRow(ctx, `SELECT count(*) FROM orders WHERE id < 1000`).Scan(&seeded))
		assert.Zero(t, seeded, "the rows before the TRUNCATE are gone")
		assert.Positive(t, count(), "the writer's rows after it are kept (Verify below compares them all)")
		e.exec(`INSERT INTO orders (id, name, qty, note) SELECT seq, CONCAT('o', seq), seq, CONCAT('note', seq) FROM seq_1_to_100`)
	})
	t.Run("rename column", func(t *testing.T) {
		e.exec(`ALTER TABLE orders RENAME COLUMN note TO remark`)
		w.more(t, 20)
		e.exec(`UPDATE orders SET remark = 'changed' WHERE id % 3 = 0`)
		e.waitCaughtUp("ddlw", 30*time.Second)
		var n int
		require.NoError(t, e.dst.QueryRow(ctx, `SELECT count(*) FROM orders WHERE remark = 'changed' AND id < 1000`).Scan(&n))
		assert.Equal(t, 33, n)
	})
	t.Run("change with a rename", func(t *testing.T) {
		e.exec(`ALTER TABLE orders CHANGE name title varchar(40) NOT NULL DEFAULT 'n'`)
		w.more(t, 20)
		e.exec(`UPDATE orders SET title = 'retitled' WHERE id = 7`)
		e.waitCaughtUp("ddlw", 30*time.Second)
		var title string
		require.NoError(t, e.dst.QueryRow(ctx, `SELECT title FROM orders WHERE id = 7`).Scan(&title))
		assert.Equal(t, "retitled", title)
	})
	t.Run("drop column", func(t *testing.T) {
		e.exec(`ALTER TABLE orders DROP COLUMN qty`)
		w.more(t, 20)
		e.exec(`INSERT INTO orders (id, title) VALUES (500, 'after drop')`)
		e.waitCaughtUp("ddlw", 30*time.Second)
		var qty *int
		require.NoError(t, e.dst.QueryRow(ctx, `SELECT qty FROM orders WHERE id = 500`).Scan(&qty))
		assert.Nil(t, qty, "the kept column is NULL in new rows")
		require.NoError(t, e.dst.QueryRow(ctx, `SELECT qty FROM orders WHERE id = 5`).Scan(&qty))
		if assert.NotNil(t, qty) {
			assert.Equal(t, 5, *qty, "existing rows keep their value")
		}
		assert.Contains(t, p.Status().Reason, KeptColumnsReason)
		assert.Contains(t, p.Status().Reason, `"qty"`)
	})
	t.Run("indexes", func(t *testing.T) {
		e.exec(`ALTER TABLE orders ADD INDEX by_v (v)`, `CREATE INDEX by_title ON orders (title, remark)`)
		w.more(t, 20)
		e.waitCaughtUp("ddlw", 30*time.Second)
		assert.Equal(t, []string{"orders_by_title", "orders_by_v"}, indexes())
		e.exec(`DROP INDEX by_v ON orders`)
		w.more(t, 20)
		e.waitCaughtUp("ddlw", 30*time.Second)
		assert.Equal(t, []string{"orders_by_title"}, indexes())
		assert.Contains(t, logs.String(), "CREATE INDEX CONCURRENTLY IF NOT EXISTS")
	})
	t.Run("rename table", func(t *testing.T) {
		e.exec(`RENAME TABLE orders TO orders2`)
		w.table.Store("orders2")
		w.more(t, 50)
		e.exec(`UPDATE orders2 SET remark = 'renamed' WHERE id = 8`)
		e.waitCaughtUp("ddlw", 30*time.Second)
		var remark string
		require.NoError(t, e.dst.QueryRow(ctx, `SELECT remark FROM orders WHERE id = 8`).Scan(&remark))
		assert.Equal(t, "renamed", remark)
		var snap int
		require.NoError(t, e.dst.QueryRow(ctx, `SELECT count(*) FROM strangler.sync_snapshot WHERE pipeline = 'ddlw' AND table_name = 'orders2' AND done`).Scan(&snap))
		assert.Equal(t, 1, snap, "the snapshot row follows the table")
	})

	w.close()
	e.waitCaughtUp("ddlw", 30*time.Second)
	assert.Equal(t, PhaseStreaming, p.Status().Phase)
	m, err := LoadTableMap(ctx, e.src, e.dbName, config.Table{Name: "orders2", Target: "orders"}, Policies{})
	require.NoError(t, err)
	pool, err := pgxpool.New(ctx, e.pg)
	require.NoError(t, err)
	defer pool.Close()
	res, err := Verify(ctx, e.src, pool, m, VerifyOptions{})
	require.NoError(t, err)
	assert.Empty(t, res.Diffs)
	assert.Equal(t, res.SourceRows, res.TargetRows)
	t.Logf("verify: %d rows identical after %d writes", res.SourceRows, w.writes.Load())

	t.Run("a restart with the renamed table in the project file", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		require.NoError(t, p.Close(cctx))
		cfg2 := cfg
		cfg2.Tables = []config.Table{{Name: "orders2", Target: "orders"}}
		p2, logs2 := e.start(cfg2, Options{})
		waitPhase(t, p2, PhaseStreaming, 30*time.Second)
		assert.NotContains(t, logs2.String(), "snapshot of ", "the snapshot row followed the table: no new snapshot")
		assert.Contains(t, p2.Status().Reason, `"qty"`, "the start finds the kept column")
		e.exec(`UPDATE orders2 SET v = 42 WHERE id = 9`)
		e.waitCaughtUp("ddlw", 30*time.Second)
		var v int
		require.NoError(t, e.dst.QueryRow(ctx, `SELECT v FROM orders WHERE id = 9`).Scan(&v))
		assert.Equal(t, 42, v)
	})
}
