package sync

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
)

// legacyDB is a MySQL database that a new-to-legacy pipeline writes.
type legacyDB struct {
	t      testing.TB
	dsn    string
	db     *sql.DB
	schema string
}

func newLegacyDB(t testing.TB) *legacyDB {
	t.Helper()
	l := &legacyDB{t: t, dsn: dbtest.MySQL(t)}
	var err error
	l.db, err = sql.Open("mysql", l.dsn)
	require.NoError(t, err)
	t.Cleanup(func() { l.db.Close() })
	require.NoError(t, l.db.QueryRow("SELECT DATABASE()").Scan(&l.schema))
	return l
}

// legacyOf wraps the env's MySQL database.
func (e *env) legacyOf() *legacyDB {
	return &legacyDB{t: e.t, dsn: e.mysql, db: e.src, schema: e.dbName}
}

// exec runs statements in one session with a permissive sql_mode (zero
// dates, invalid enum values) and UTC time.
func (l *legacyDB) exec(stmts ...string) {
	l.t.Helper()
	ctx := context.Background()
	c, err := l.db.Conn(ctx)
	require.NoError(l.t, err)
	defer c.Close()
	for _, s := range append([]string{"SET sql_mode = ''", "SET time_zone = '+00:00'"}, stmts...) {
		_, err := c.ExecContext(ctx, s)
		require.NoError(l.t, err, s)
	}
}

// rows returns the rows of a query, each as its columns' text joined by
// " | " (NULL as \N), in a UTC session.
func (l *legacyDB) rows(q string) []string {
	l.t.Helper()
	ctx := context.Background()
	c, err := l.db.Conn(ctx)
	require.NoError(l.t, err)
	defer c.Close()
	_, err = c.ExecContext(ctx, "SET time_zone = '+00:00'")
	require.NoError(l.t, err)
	rows, err := c.QueryContext(ctx, q)
	require.NoError(l.t, err, q)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(l.t, err)
	var out []string
	for rows.Next() {
		raw := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		require.NoError(l.t, rows.Scan(ptrs...))
		parts := make([]string, len(cols))
		for i, r := range raw {
			parts[i] = `\N`
			if r.Valid {
				parts[i] = r.String
			}
		}
		out = append(out, strings.Join(parts, " | "))
	}
	require.NoError(l.t, rows.Err())
	return out
}

// checkpoint is the pipeline's row of strangler_sync_checkpoint (zero
// before it exists).
func (l *legacyDB) checkpoint(pipeline string) reverseCheckpoint {
	ck, err := loadReverseCheckpoint(context.Background(), l.db, pipeline)
	if err != nil && strings.Contains(err.Error(), "1146") {
		return reverseCheckpoint{} // not created yet
	}
	require.NoError(l.t, err)
	return ck
}

// reverseConfig is a new-to-legacy pipeline over tables.
func reverseConfig(name string, tables ...config.Table) config.Pipeline {
	return config.Pipeline{Name: name, Direction: config.DirectionNewToLegacy, Tables: tables, BatchSize: 500}
}

// startReverse runs a new-to-legacy pipeline from pgURL into the legacy
// database in the background; it is closed when the test ends.
func startReverse(t testing.TB, cfg config.Pipeline, l *legacyDB, pgURL string, o Options, tune ...func(*Pipeline)) (*Pipeline, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(logs, testWriter{t}), nil))
	}
	if o.RetryMin == 0 {
		o.RetryMin, o.RetryMax = 200*time.Millisecond, time.Second
	}
	p, err := New(cfg, l.dsn, pgURL, o)
	require.NoError(t, err)
	for _, f := range tune {
		f(p)
	}
	require.NoError(t, p.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = p.Close(ctx)
		waitSlotReleased(t, pgURL, cfg.Name)
	})
	return p, logs
}

// waitSlotReleased waits until no walsender holds the pipeline's slot: the
// server lets go of it a moment after the connection closes, and until
// then DROP DATABASE (the test's cleanup) refuses, even WITH (FORCE).
func waitSlotReleased(t testing.TB, pgURL, pipeline string) {
	t.Helper()
	c, err := pgx.Connect(context.Background(), pgURL)
	if err != nil {
		return // the server is down: nothing holds the slot
	}
	defer c.Close(context.Background())
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var active bool
		err := c.QueryRow(context.Background(), `SELECT coalesce(bool_or(active), false) FROM pg_replication_slots WHERE slot_name = $1`, SlotName(pipeline)).Scan(&active)
		if err != nil || !active {
			return
		}
		time.Sleep(10 * time.Millisecond) // polling the server's state, with a deadline
	}
	t.Errorf("the replication slot of pipeline %s is still active 20s after the pipeline stopped", pipeline)
}

// createTarget creates in PostgreSQL the target table the forward
// direction would create for a legacy table.
func (l *legacyDB) createTarget(pg *pgx.Conn, tc config.Table) *TableMap {
	l.t.Helper()
	m, err := LoadTableMap(context.Background(), l.db, l.schema, tc, Policies{})
	require.NoError(l.t, err)
	for _, s := range m.CreateTargetSQL() {
		_, err := pg.Exec(context.Background(), s)
		require.NoError(l.t, err, s)
	}
	return m
}

// pgExec runs statements on a PostgreSQL connection.
func pgExec(t testing.TB, c *pgx.Conn, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		_, err := c.Exec(context.Background(), s)
		require.NoError(t, err, s)
	}
}

// currentWAL is PostgreSQL's current WAL position.
func currentWAL(t testing.TB, c *pgx.Conn) LSN {
	t.Helper()
	var s string
	require.NoError(t, c.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&s))
	l, err := parseLSN(s)
	require.NoError(t, err)
	return l
}

// waitCheckpoint waits until the legacy database's checkpoint reaches at.
func (l *legacyDB) waitCheckpoint(pipeline string, at LSN, within time.Duration) {
	l.t.Helper()
	var got LSN
	require.Eventually(l.t, func() bool {
		got = l.checkpoint(pipeline).LSN
		return got >= at
	}, within, 20*time.Millisecond, "pipeline %s did not store LSN %s (at %s)", pipeline, at, &got)
}

// pgRows returns the rows of a PostgreSQL query as text, one line each.
func pgRows(t testing.TB, c *pgx.Conn, q string) []string {
	t.Helper()
	rows, err := c.Query(context.Background(), q)
	require.NoError(t, err, q)
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		require.NoError(t, err)
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(parts, " | "))
	}
	require.NoError(t, rows.Err())
	return out
}
