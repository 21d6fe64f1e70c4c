package sync

import (
	"bytes"
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/dbconn"
	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
)

// vdb is a source and a target database for the mapping and verify tests.
type vdb struct {
	src    *sql.DB
	dst    *pgxpool.Pool
	schema string
}

func newVDB(t testing.TB) *vdb {
	t.Helper()
	dsn := dbtest.MySQL(t)
	cfg, err := dbconn.ParseMySQL(dsn)
	require.NoError(t, err)
	src, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { src.Close() })
	dst, err := pgxpool.New(context.Background(), dbtest.Postgres(t))
	require.NoError(t, err)
	t.Cleanup(dst.Close)
	return &vdb{src: src, dst: dst, schema: cfg.DBName}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// mysqlExec runs statements in one source session with a permissive
// sql_mode (zero dates) and UTC time.
func (d *vdb) mysqlExec(t testing.TB, stmts ...string) {
	t.Helper()
	ctx := testCtx(t)
	c, err := d.src.Conn(ctx)
	require.NoError(t, err)
	defer c.Close()
	for _, s := range append([]string{"SET sql_mode = ''", "SET time_zone = '+00:00'"}, stmts...) {
		_, err := c.ExecContext(ctx, s)
		require.NoError(t, err, s)
	}
}

func (d *vdb) pgExec(t testing.TB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		_, err := d.dst.Exec(testCtx(t), s)
		require.NoError(t, err, s)
	}
}

// copiedTable loads the table map of tbl (default policies) and copies the
// source table to its target (see snapshotCopy).
func (d *vdb) copiedTable(t testing.TB, tbl config.Table) *TableMap {
	t.Helper()
	m, err := LoadTableMap(testCtx(t), d.src, d.schema, tbl, Policies{})
	require.NoError(t, err)
	d.snapshotCopy(t, m)
	return m
}

// maxAllowedPacket is the source's max_allowed_packet.
func (d *vdb) maxAllowedPacket(t testing.TB) int64 {
	t.Helper()
	var packet int64
	require.NoError(t, d.src.QueryRowContext(testCtx(t), "SELECT @@max_allowed_packet").Scan(&packet))
	return packet
}

// snapshotCopy creates the target table and copies the source rows the way
// the snapshot does: SelectSQL, AppendCopyText, COPY.
func (d *vdb) snapshotCopy(t testing.TB, m *TableMap) {
	t.Helper()
	ctx := testCtx(t)
	d.pgExec(t, m.CreateTargetSQL()...)
	c, err := mySession(ctx, d.src)
	require.NoError(t, err)
	defer c.Close()
	rows, err := c.QueryContext(ctx, m.SelectSQL())
	require.NoError(t, err)
	defer rows.Close()
	cols := m.Copied()
	raw := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	var buf []byte
	for rows.Next() {
		require.NoError(t, rows.Scan(ptrs...))
		for j, ci := range cols {
			if j > 0 {
				buf = append(buf, '\t')
			}
			buf, err = m.AppendCopyText(buf, ci, raw[j])
			require.NoError(t, err)
		}
		buf = append(buf, '\n')
	}
	require.NoError(t, rows.Err())
	conn, err := d.dst.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(buf), "COPY "+m.TargetTable()+" ("+m.TargetColumns()+") FROM STDIN")
	require.NoError(t, err)
}
