package sync

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
)

// BenchmarkApplyBatch measures the target side of streaming: one batch of
// upserts (row changes of an orders-like table, decoded from binlog-shaped
// values) encoded and applied in one transaction with its position.
//
//	go test ./sync -run XXX -bench BenchmarkApplyBatch -benchtime 20x
func BenchmarkApplyBatch(b *testing.B) {
	for _, size := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("changes=%d", size), func(b *testing.B) {
			e := newEnv(b)
			e.exec(`CREATE TABLE orders (id int unsigned NOT NULL PRIMARY KEY, customer_id int NOT NULL,
				status enum('new','paid','shipped','cancelled') NOT NULL, total decimal(12,2) NOT NULL, note varchar(64) NOT NULL,
				created_at datetime NOT NULL, updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, paid tinyint(1) NOT NULL)`)
			ctx := context.Background()
			m, err := LoadTableMap(ctx, e.src, e.dbName, config.Table{Name: "orders", Target: "orders"}, Policies{})
			require.NoError(b, err)
			tbl, err := newTable(m)
			require.NoError(b, err)
			for _, s := range m.CreateTargetSQL() {
				_, err := e.dst.Exec(ctx, s)
				require.NoError(b, err)
			}
			require.NoError(b, EnsureCheckpointSchema(ctx, e.dst))
			require.NoError(b, tbl.loadOIDs(ctx, e.dst))
			a := &applier{pipeline: "bench", conn: e.dst, made: map[string]bool{}}
			tm := pgtype.NewMap()
			names := []string{"id", "customer_id", "status", "total", "note", "created_at", "updated_at", "paid"}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				bt := newBatch()
				for j := range size {
					id := int32(j + 1)
					row := []any{id, int32(j % 500), int64(1 + j%4), "123.45", fmt.Sprintf("note %d %d", i, j),
						"2024-01-02 03:04:05", "2024-01-02 03:04:05", int8(j % 2)}
					require.NoError(b, bt.add(tbl, tm, RowChange{Schema: e.dbName, Table: "orders", Op: OpUpdate, Columns: names,
						Before: row, After: row, Time: time.Now()}))
				}
				bt.pos = Position{File: "binlog.000001", Pos: uint32(i + 4)}
				require.NoError(b, a.apply(ctx, bt))
			}
			b.ReportMetric(float64(size*b.N)/b.Elapsed().Seconds(), "changes/s")
		})
	}
}
