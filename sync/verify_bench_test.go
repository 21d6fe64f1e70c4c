package sync

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
)

// benchRows is the size of the verify benchmark's tables;
// STRANGLER_VERIFY_BENCH_ROWS overrides it.
func benchRows(b *testing.B) int {
	if s := os.Getenv("STRANGLER_VERIFY_BENCH_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(b, err)
		return n
	}
	return 1_000_000
}

// setupVerifyBench fills a MariaDB table and its PostgreSQL target with the
// same n rows, generated on each server.
func setupVerifyBench(b testing.TB, n int) (*vdb, *TableMap) {
	d := newVDB(b)
	ctx := testCtx(b)
	d.mysqlExec(b,
		"CREATE TABLE bench (id bigint NOT NULL PRIMARY KEY, a int NOT NULL, name varchar(40), price decimal(12,2), at datetime(6), flag tinyint(1))",
		fmt.Sprintf("INSERT INTO bench SELECT seq, seq * 7 %% 1000003, CONCAT('name-', seq), (seq %% 100000) / 100, "+
			"TIMESTAMPADD(SECOND, seq, '2024-01-01'), seq %% 2 FROM seq_1_to_%d", n),
	)
	m, err := LoadTableMap(ctx, d.src, d.schema, config.Table{Name: "bench"}, Policies{})
	require.NoError(b, err)
	d.pgExec(b, m.CreateTargetSQL()...)
	d.pgExec(b, fmt.Sprintf("INSERT INTO bench SELECT id, id * 7 %% 1000003, 'name-' || id, ((id %% 100000) / 100.0)::numeric(12,2), "+
		"'2024-01-01'::timestamp + id * interval '1 second', id %% 2 = 1 FROM generate_series(1, %d) id", n), "ANALYZE bench")
	return d, m
}

// BenchmarkVerifyIdentical measures Verify on two identical tables of 1M
// rows and, as the baseline, reading both tables in key order and
// comparing every row in Go (what a client-side comparison costs).
//
//	go test ./sync -run '^$' -bench BenchmarkVerifyIdentical -benchtime 3x
func BenchmarkVerifyIdentical(b *testing.B) {
	n := benchRows(b)
	d, m := setupVerifyBench(b, n)
	benchVerify(b, d, m, n)
}

// BenchmarkVerifyTextKey is BenchmarkVerifyIdentical on a table keyed by
// text in MariaDB's default case-insensitive collation, which verify
// checksums by key hash bucket (the baseline sorts both sides by code point):
//
//	go test ./sync -run '^$' -bench BenchmarkVerifyTextKey -benchtime 3x
func BenchmarkVerifyTextKey(b *testing.B) {
	n := benchRows(b)
	d := newVDB(b)
	d.mysqlExec(b,
		"CREATE TABLE tkbench (code varchar(40) NOT NULL PRIMARY KEY, a int NOT NULL, name varchar(40)) DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_general_ci",
		fmt.Sprintf("INSERT INTO tkbench SELECT CONCAT(IF(seq %% 2, 'K', 'k'), 'ey-', seq), seq * 7 %% 1000003, CONCAT('name-', seq) FROM seq_1_to_%d", n),
	)
	m, err := LoadTableMap(testCtx(b), d.src, d.schema, config.Table{Name: "tkbench"}, Policies{})
	require.NoError(b, err)
	d.pgExec(b, m.CreateTargetSQL()...)
	d.pgExec(b, fmt.Sprintf("INSERT INTO tkbench SELECT CASE WHEN id %% 2 = 1 THEN 'K' ELSE 'k' END || 'ey-' || id, id * 7 %% 1000003, 'name-' || id "+
		"FROM generate_series(1, %d) id", n), "ANALYZE tkbench")
	benchVerify(b, d, m, n)
}

// benchVerify measures Verify of m's identical tables of n rows against
// the baseline, fetching both tables in key order and comparing in Go.
func benchVerify(b *testing.B, d *vdb, m *TableMap, n int) {
	ctx := context.Background()
	var verifyTimes, baseTimes []time.Duration
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			start := time.Now()
			res, err := Verify(ctx, d.src, d.dst, m, VerifyOptions{})
			require.NoError(b, err)
			require.Empty(b, res.Diffs)
			require.EqualValues(b, n, res.SourceRows)
			verifyTimes = append(verifyTimes, time.Since(start))
		}
		b.ReportMetric(float64(n)/median(verifyTimes).Seconds(), "rows/s")
	})
	b.Run("baseline-fetch-compare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			start := time.Now()
			require.NoError(b, fetchCompare(ctx, d, m, n))
			baseTimes = append(baseTimes, time.Since(start))
		}
		b.ReportMetric(float64(n)/median(baseTimes).Seconds(), "rows/s")
	})
	if len(verifyTimes) > 0 && len(baseTimes) > 0 {
		v, base := median(verifyTimes), median(baseTimes)
		b.Logf("verify %d rows: median %v = %.0f rows/s; baseline fetch-and-compare median %v = %.0f rows/s; verify is %.1fx the baseline",
			n, v, float64(n)/v.Seconds(), base, float64(n)/base.Seconds(), base.Seconds()/v.Seconds())
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// fetchCompare is the baseline: both tables read in key order, each row's
// canonical text compared in Go.
func fetchCompare(ctx context.Context, d *vdb, m *TableMap, n int) error {
	v := newVerifySQL(m)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	my, err := mySession(ctx, d.src)
	if err != nil {
		return err
	}
	mq := "SELECT " + v.myKeys + ", " + v.myRow + " FROM " + m.SourceTable() + " ORDER BY " + v.myOrder
	pq := "SELECT " + v.pgKeys + ", " + v.pgRow + " FROM " + m.TargetTable() + " ORDER BY " + v.pgOrder
	srcRows := make(chan [2]string, 1024)
	errc := make(chan error, 1)
	go func() {
		defer my.Close()
		defer close(srcRows)
		rows, err := my.QueryContext(ctx, mq)
		if err != nil {
			errc <- err
			return
		}
		defer rows.Close()
		for rows.Next() {
			var k, r sql.NullString
			if err := rows.Scan(&k, &r); err != nil {
				errc <- err
				return
			}
			select {
			case srcRows <- [2]string{k.String, r.String}:
			case <-ctx.Done():
				errc <- ctx.Err()
				return
			}
		}
		errc <- rows.Err()
	}()
	rows, err := d.dst.Query(ctx, pq)
	if err != nil {
		return err
	}
	defer rows.Close()
	count := 0
	for rows.Next() {
		raw := rows.RawValues()
		s, ok := <-srcRows
		if !ok || s[0] != string(raw[0]) || s[1] != string(raw[1]) {
			return fmt.Errorf("row %d differs: %q != %q", count, s, raw)
		}
		count++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for range srcRows {
	}
	if err := <-errc; err != nil {
		return err
	}
	if count != n {
		return fmt.Errorf("compared %d rows, want %d", count, n)
	}
	return nil
}
