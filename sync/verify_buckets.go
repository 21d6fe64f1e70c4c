package sync

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
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

// bucketSum is the row count of one bucket and the XOR of its rows' 32-bit
// hashes.
type bucketSum struct {
	n, x int64
}

// add combines the sums of two sets of rows.
func (a bucketSum) add(b bucketSum) bucketSum {
	return bucketSum{n: a.n + b.n, x: a.x ^ b.x}
}

// verifyBuckets verifies a table with a text key. Key ranges do not work
// there: MySQL's index orders text by the column's collation, PostgreSQL's
// by its own, and a range in code point order can use neither index, so
// each range would scan the whole table on both servers. Instead the
// checksum needs no order: each side first sums the whole table, count and
// XOR of 32-bit row hashes; only when those differ does each side hash
// every row's key into one of keyBuckets buckets and sum each bucket, and
// the buckets that differ (all of them when Go-compared columns are
// present) are then read from both sides, a group of buckets at a time,
// and compared row by row. Each server's passes are cut into Workers parts
// by its own key order, which its index serves, and the parts run at once
// on the workers' sessions.
func verifyBuckets(ctx context.Context, src *sql.DB, dst *pgxpool.Pool, v *verifySQL, o VerifyOptions, outOfOrder *atomic.Bool, res *VerifyResult) error {
	workers := make([]*verifyWorker, o.Workers)
	for i := range workers {
		w, err := newVerifyWorker(ctx, src, dst, v, o, outOfOrder)
		if err != nil {
			return err
		}
		defer w.close()
		workers[i] = w
	}
	w := workers[0]
	myParts, err := w.nativeParts(ctx, true, len(workers))
	if err != nil {
		return err
	}
	pgParts, err := w.nativeParts(ctx, false, len(workers))
	if err != nil {
		return err
	}
	if len(v.goCols) == 0 {
		s, t, err := sumParts(ctx, workers, myParts, pgParts, false)
		if err != nil {
			return err
		}
		if s[0] == t[0] {
			res.SourceRows, res.TargetRows = s[0].n, t[0].n
			return nil
		}
	}
	s, t, err := sumParts(ctx, workers, myParts, pgParts, true)
	if err != nil {
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

// sumParts sums the rows of each side's parts at once, each part on its
// own worker, and adds the parts up: by key bucket, or with byBucket false
// the whole table as bucket 0.
func sumParts(ctx context.Context, workers []*verifyWorker, myParts, pgParts []keyRange, byBucket bool) (s, t map[int]bucketSum, err error) {
	s, t = map[int]bucketSum{}, map[int]bucketSum{}
	var mu gosync.Mutex
	merge := func(into, part map[int]bucketSum) {
		mu.Lock()
		defer mu.Unlock()
		for b, p := range part {
			into[b] = into[b].add(p)
		}
	}
	var g errgroup.Group
	for i, r := range myParts {
		g.Go(func() error {
			part, err := workers[i].myBuckets(ctx, r, byBucket)
			merge(s, part)
			return err
		})
	}
	for i, r := range pgParts {
		g.Go(func() error {
			part, err := workers[i].pgBuckets(ctx, r, byBucket)
			merge(t, part)
			return err
		})
	}
	return s, t, g.Wait()
}

// bucketGroup is how many buckets of a table of rows rows hold about
// bucketRows rows: at least one, at most all.
func bucketGroup(rows int64) int {
	perBucket := max(1, rows/keyBuckets)
	return int(max(1, min(keyBuckets, bucketRows/perBucket)))
}

// nativeParts cuts one server's table (the source with my) into up to n
// ranges of about equal rows in its own key order, by its row estimate
// (one range for a small or unestimated table); the first and last are
// open.
func (w *verifyWorker) nativeParts(ctx context.Context, my bool, n int) ([]keyRange, error) {
	parts := []keyRange{{Native: true}}
	if slices.ContainsFunc(w.v.keys, func(c Column) bool { return c.kind == kindEnum }) {
		// MySQL orders an enum by its index but compares it with a
		// string as text, so bounds taken in one order would not cut
		// the table in the other; PostgreSQL compares an enum type (a
		// types override) with no text.
		return parts, nil
	}
	var est int64
	var err error
	var split func(offset int64) ([]string, error) // the key at offset in the server's order
	if my {
		err = w.my.QueryRowContext(ctx, "SELECT IFNULL(MAX(TABLE_ROWS), 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
			w.v.m.Schema, w.v.m.Name).Scan(&est)
		split = func(offset int64) ([]string, error) {
			q := "SELECT " + w.v.myKeys + " FROM " + w.v.m.SourceTable() + " ORDER BY " + w.v.myNativeOrder() + " LIMIT 1 OFFSET " + strconv.FormatInt(offset, 10)
			return scanKey(ctx, w.my, q, nil, len(w.v.keys))
		}
	} else {
		err = w.pg.QueryRow(ctx, "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = $1::regclass", w.v.m.TargetTable()).Scan(&est)
		split = func(offset int64) ([]string, error) {
			q := "SELECT " + w.v.pgKeys + " FROM " + w.v.m.TargetTable() + " ORDER BY " + w.v.pgNativeOrder() + " LIMIT 1 OFFSET " + strconv.FormatInt(offset, 10)
			return w.pgScanKey(ctx, q)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("estimating the rows of %s: %w", w.v.m.Name, err)
	}
	if est < int64(n) {
		return parts, nil
	}
	for i := 1; i < n; i++ {
		k, err := split(est * int64(i) / int64(n))
		if err != nil {
			return nil, fmt.Errorf("cutting %s into parts: %w", w.v.m.Name, err)
		}
		if k == nil {
			break
		}
		parts[len(parts)-1].Hi = k
		parts = append(parts, keyRange{Lo: k, Native: true})
	}
	return parts, nil
}

// pgScanKey reads one row of key texts on the target; nil when there is none.
func (w *verifyWorker) pgScanKey(ctx context.Context, q string) ([]string, error) {
	rows, err := w.pg.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	raw := rows.RawValues()
	k := make([]string, len(raw))
	for i, b := range raw {
		k[i] = string(b)
	}
	return k, rows.Err()
}

// myBuckets sums the source's buckets (or, without byBucket, the whole
// table as bucket 0) over the rows of r.
func (w *verifyWorker) myBuckets(ctx context.Context, r keyRange, byBucket bool) (map[int]bucketSum, error) {
	where, args := w.v.myWhere(r)
	rows, err := w.my.QueryContext(ctx, w.v.myBucketSums(where, byBucket), args...)
	if err != nil {
		return nil, fmt.Errorf("checksumming the source's key buckets: %w", err)
	}
	defer rows.Close()
	out, err := readBucketSums(rows, "source")
	if err != nil {
		return nil, err
	}
	return out, w.checkWarnings(ctx, r)
}

// pgBuckets is myBuckets on the target.
func (w *verifyWorker) pgBuckets(ctx context.Context, r keyRange, byBucket bool) (map[int]bucketSum, error) {
	where, args := w.v.pgWhere(r)
	rows, err := w.pg.Query(ctx, w.v.pgBucketSums(where, byBucket), args...)
	if err != nil {
		return nil, fmt.Errorf("checksumming the target's key buckets: %w", err)
	}
	defer rows.Close()
	return readBucketSums(rows, "target")
}

// resultRows is what readBucketSums needs of database/sql's and pgx's rows.
type resultRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// readBucketSums reads rows of (bucket, count, XOR) of one side.
func readBucketSums(rows resultRows, side string) (map[int]bucketSum, error) {
	out := map[int]bucketSum{}
	for rows.Next() {
		var b int
		var s bucketSum
		if err := rows.Scan(&b, &s.n, &s.x); err != nil {
			return nil, fmt.Errorf("checksumming the %s's key buckets: %w", side, err)
		}
		out[b] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("checksumming the %s's key buckets: %w", side, err)
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

// myBucketSums counts each bucket's rows and XORs their 32-bit row hashes
// (the first 32 bits of the MD5 of the row's text, as myChunk's order-free
// checksum), over the rows where selects; without byBucket, the whole of
// them as bucket 0.
func (v *verifySQL) myBucketSums(where string, byBucket bool) string {
	sums := "COUNT(*), IFNULL(BIT_XOR(CONV(LEFT(MD5(" + v.myRow + "), 8), 16, 10)), 0) FROM " + v.m.SourceTable() + where
	if !byBucket {
		return "SELECT 0, " + sums
	}
	return "SELECT " + v.myBucket() + " AS b, " + sums + " GROUP BY b"
}

// pgBucketSums is myBucketSums on PostgreSQL.
func (v *verifySQL) pgBucketSums(where string, byBucket bool) string {
	sums := "count(*), COALESCE(bit_xor(('x' || left(md5(" + v.pgRow + "), 8))::bit(32)::int), 0)::bigint & 4294967295 FROM " + v.m.TargetTable() + where
	if !byBucket {
		return "SELECT 0, " + sums
	}
	return "SELECT " + v.pgBucket() + " AS b, " + sums + " GROUP BY b"
}

// myNativeOrder is the source's own key order, which its key index serves.
func (v *verifySQL) myNativeOrder() string {
	var o []string
	for _, c := range v.keys {
		o = append(o, v.m.SourceTable()+"."+myIdent(c.Name))
	}
	return strings.Join(o, ", ")
}

// pgNativeOrder is the target's own key order.
func (v *verifySQL) pgNativeOrder() string {
	var o []string
	for _, c := range v.keys {
		o = append(o, v.m.TargetTable()+"."+pgIdent(c.Target))
	}
	return strings.Join(o, ", ")
}

// bucketWhere is " WHERE <bucket> IN (b, ...)".
func bucketWhere(expr string, buckets []int) string {
	bs := make([]string, len(buckets))
	for i, b := range buckets {
		bs[i] = strconv.Itoa(b)
	}
	return " WHERE " + expr + " IN (" + strings.Join(bs, ", ") + ")"
}
