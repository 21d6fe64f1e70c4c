package sync

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAllTypesThroughBinlog writes the every-type rows on MariaDB, reads
// them back from the binlog with go-mysql, converts each value with
// FromBinlog, inserts them into PostgreSQL through pgx and has Verify
// compare the result with the source.
func TestAllTypesThroughBinlog(t *testing.T) {
	d := newVDB(t)
	ctx := testCtx(t)
	d.mysqlExec(t, allTypesDDL)
	m, err := LoadTableMap(ctx, d.src, d.schema, allTypesTable(), Policies{NulBytes: NulBytesStrip})
	require.NoError(t, err)
	m.Target = "alltypes_binlog"
	d.pgExec(t, m.CreateTargetSQL()...)

	var file string
	var pos uint32
	row := d.src.QueryRowContext(ctx, "SHOW MASTER STATUS")
	cols, err := d.src.QueryContext(ctx, "SHOW MASTER STATUS")
	require.NoError(t, err)
	names, err := cols.Columns()
	require.NoError(t, err)
	cols.Close()
	dest := make([]any, len(names))
	dest[0], dest[1] = &file, &pos
	for i := 2; i < len(dest); i++ {
		dest[i] = new(any)
	}
	require.NoError(t, row.Scan(dest...))

	var port uint16
	require.NoError(t, d.src.QueryRowContext(ctx, "SELECT @@port").Scan(&port))
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: 4242, Flavor: mysql.MariaDBFlavor, Host: "127.0.0.1", Port: port, User: "root",
		TimestampStringLocation: time.UTC, Logger: slog.New(slog.DiscardHandler),
	})
	defer syncer.Close()
	stream, err := syncer.StartSync(mysql.Position{Name: file, Pos: pos})
	require.NoError(t, err)

	d.mysqlExec(t, allTypesRows...)

	insert := "INSERT INTO " + m.TargetTable() + " (" + m.TargetColumns() + ") VALUES ("
	for n := range m.Copied() {
		if n > 0 {
			insert += ", "
		}
		insert += "$" + strconv.Itoa(n+1)
	}
	insert += ")"
	seen := 0
	for seen < len(allTypesRows) {
		ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
		ev, err := stream.GetEvent(ectx)
		cancel()
		require.NoError(t, err, "waiting for the rows in the binlog")
		re, ok := ev.Event.(*replication.RowsEvent)
		if !ok || string(re.Table.Table) != "alltypes" {
			continue
		}
		// Columns by name, as binlog_row_metadata=FULL gives them.
		pos := map[string]int{}
		for i, n := range re.Table.ColumnNameString() {
			pos[n] = i
		}
		for _, r := range re.Rows {
			args := make([]any, 0, len(m.Copied()))
			full := make([]any, len(m.Columns))
			for _, ci := range m.Copied() {
				i, ok := pos[m.Columns[ci].Name]
				require.True(t, ok, "column %s in the binlog", m.Columns[ci].Name)
				full[ci] = r[i]
			}
			for _, ci := range m.Copied() {
				v, err := m.FromBinlog(ci, full[ci])
				require.NoError(t, m.WithKey(err, full), "column %s value %#v", m.Columns[ci].Name, full[ci])
				args = append(args, v)
			}
			_, err := d.dst.Exec(ctx, insert, args...)
			require.NoError(t, err)
			seen++
		}
	}
	res, err := Verify(ctx, d.src, d.dst, m, VerifyOptions{})
	require.NoError(t, err)
	assert.Empty(t, res.Diffs, "binlog-converted rows equal the source")
	assert.EqualValues(t, len(allTypesRows), res.TargetRows)
}
