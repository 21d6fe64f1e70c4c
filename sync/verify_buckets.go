package sync

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"
)

// keyBuckets is the number of buckets verifyBuckets hashes keys into: the
// first three hex digits of the MD5 of the key's canonical text.
const keyBuckets = 4096

// bucketRows is about how many source rows verifyBuckets compares row by
// row per query: differing buckets are fetched in groups of this size.
const bucketRows = 100000

// bucketSum is the row count and the XOR of 32-bit row hashes of one bucket.
type bucketSum struct {
	n int64
	x uint64
}

// verifyBuckets verifies a table with a text key. Key ranges do not work
// there: MySQL's index orders text by the column's collation, PostgreSQL's
// by its own, and a range in code point order can use neither index, so
// each range would scan the whole table on both servers. Instead each side
// hashes every row's key into one of keyBuckets buckets and sums each
// bucket, count and XOR of row hashes, in one pass over the table; the
// buckets that differ (all of them when Go-compared columns are present)
// are then read from both sides, a group of buckets at a time, and compared
// row by row.
func verifyBuckets(ctx context.Context, src *sql.DB, dst *pgxpool.Pool, v *verifySQL, o VerifyOptions, outOfOrder *atomic.Bool, res *VerifyResult) error {
	w, err := newVerifyWorker(ctx, src, dst, v, o, outOfOrder)
	if err != nil {
		return err
	}
	defer w.close()
	var s, t map[int]bucketSum
	var g errgroup.Group
	g.Go(func() (err error) { s, err = w.myBuckets(ctx); return err })
	g.Go(func() (err error) { t, err = w.pgBuckets(ctx); return err })
	if err := g.Wait(); err != nil {
		return err
	}
	var differing []int
	for b := range keyBuckets {
		res.SourceRows += s[b].n
		res.TargetRows += t[b].n
		if s[b] != t[b] || len(v.goCols) > 0 && (s[b].n > 0 || t[b].n > 0) {
			differing = append(differing, b)
		}
	}
	for buckets := range slices.Chunk(differing, bucketGroup(max(res.SourceRows, res.TargetRows))) {
		diffs, err := w.compareRows(ctx, keyRange{Buckets: buckets})
		if err != nil {
			return err
		}
		res.Diffs = append(res.Diffs, diffs...)
	}
	return nil
}

// bucketGroup is how many buckets of a table of rows rows hold about
// bucketRows rows: at least one, at most all.
func bucketGroup(rows int64) int {
	perBucket := max(1, rows/keyBuckets)
	return int(max(1, min(keyBuckets, bucketRows/perBucket)))
}

// myBuckets sums the source's buckets.
func (w *verifyWorker) myBuckets(ctx context.Context) (map[int]bucketSum, error) {
	rows, err := w.my.QueryContext(ctx, w.v.myBucketSums())
	if err != nil {
		return nil, fmt.Errorf("checksumming the source's key buckets: %w", err)
	}
	defer rows.Close()
	out := map[int]bucketSum{}
	for rows.Next() {
		var b int
		var s bucketSum
		if err := rows.Scan(&b, &s.n, &s.x); err != nil {
			return nil, fmt.Errorf("checksumming the source's key buckets: %w", err)
		}
		out[b] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("checksumming the source's key buckets: %w", err)
	}
	return out, w.checkWarnings(ctx, keyRange{})
}

// pgBuckets sums the target's buckets.
func (w *verifyWorker) pgBuckets(ctx context.Context) (map[int]bucketSum, error) {
	rows, err := w.pg.Query(ctx, w.v.pgBucketSums())
	if err != nil {
		return nil, fmt.Errorf("checksumming the target's key buckets: %w", err)
	}
	defer rows.Close()
	out := map[int]bucketSum{}
	for rows.Next() {
		var b int
		var n, x int64
		if err := rows.Scan(&b, &n, &x); err != nil {
			return nil, fmt.Errorf("checksumming the target's key buckets: %w", err)
		}
		out[b] = bucketSum{n: n, x: uint64(x)}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("checksumming the target's key buckets: %w", err)
	}
	return out, nil
}

// myBucket is the MySQL expression of a row's key bucket: the first three
// hex digits of the MD5 of its key's canonical texts joined by '|'.
func (v *verifySQL) myBucket() string {
	var ks []string
	for _, c := range v.keys {
		ks = append(ks, myCanon(c, v.m.policies, false))
	}
	return "CONV(LEFT(MD5(CONCAT_WS('|', " + strings.Join(ks, ", ") + ")), 3), 16, 10)"
}

// pgBucket is myBucket on PostgreSQL.
func (v *verifySQL) pgBucket() string {
	var ks []string
	for _, c := range v.keys {
		ks = append(ks, pgCanon(c, false))
	}
	return "('x' || left(md5(concat_ws('|', " + strings.Join(ks, ", ") + ")), 3))::bit(12)::int"
}

// myBucketSums counts each bucket's rows and XORs their 32-bit row hashes,
// the order-free checksum of myChunk.
func (v *verifySQL) myBucketSums() string {
	return "SELECT " + v.myBucket() + " AS b, COUNT(*), BIT_XOR(CONV(LEFT(MD5(" + v.myRow + "), 8), 16, 10)) FROM " +
		v.m.SourceTable() + " GROUP BY b"
}

// pgBucketSums is myBucketSums on PostgreSQL.
func (v *verifySQL) pgBucketSums() string {
	return "SELECT " + v.pgBucket() + " AS b, count(*), bit_xor(('x' || left(md5(" + v.pgRow + "), 8))::bit(32)::int)::bigint & 4294967295 FROM " +
		v.m.TargetTable() + " GROUP BY b"
}

// bucketWhere is " WHERE <bucket> IN (b, ...)".
func bucketWhere(expr string, buckets []int) string {
	bs := make([]string, len(buckets))
	for i, b := range buckets {
		bs[i] = strconv.Itoa(b)
	}
	return " WHERE " + expr + " IN (" + strings.Join(bs, ", ") + ")"
}
