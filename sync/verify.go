package sync

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"
)

// VerifyOptions tunes Verify.
type VerifyOptions struct {
	// Repair rewrites the differing rows from the source: missing and
	// different rows are upserted, extra rows deleted, in one target
	// transaction. Default false: only report.
	Repair bool
	// ChunkRows is the number of source rows per checksummed range,
	// lowered for long rows so that a range's row texts come to about
	// 32 MB, or half the source's max_allowed_packet where that is less
	// (they are joined and hashed in one piece on each server).
	// Default 100000; zero means the default.
	ChunkRows int
	// LeafRows is the range size below which differing ranges are
	// compared row by row instead of bisected. Default 512; zero means
	// the default.
	LeafRows int
	// Workers is the number of ranges checked at once, each with one
	// session on each side. Default 2; zero means the default.
	Workers int
	// Logger receives progress and the differences found. Nil discards.
	Logger *slog.Logger
}

// RowDiff is one row that differs between source and target.
type RowDiff struct {
	// Kind is "missing" (in the source only), "extra" (in the target
	// only) or "different".
	Kind string `json:"kind"`
	// Key holds the canonical texts of the key columns, in key order.
	Key []string `json:"key"`
	// Columns names the differing source columns of a "different" row.
	Columns []string `json:"columns,omitempty"`
}

// Kinds of RowDiff.
const (
	DiffMissing   = "missing"
	DiffExtra     = "extra"
	DiffDifferent = "different"
)

// VerifyResult is the outcome of Verify for one table.
type VerifyResult struct {
	Table                  string        // source table name
	SourceRows, TargetRows int64         // rows counted on each side
	Diffs                  []RowDiff     // differing rows, in key order within each range
	Repaired               int           // rows rewritten or deleted by Repair
	Elapsed                time.Duration // wall time of the comparison (and repair)
}

// Identical reports whether the table had no difference.
func (r VerifyResult) Identical() bool { return len(r.Diffs) == 0 }

// Verify compares the source table and its target row by row, in key
// order, without moving the rows: it cuts the source's key space into
// ranges of about ChunkRows rows (see splitSource) and has each side
// compute, in SQL, the row count and the SHA-256 of the range's canonical
// row texts joined in key order (see myChunk in verify_sql.go; a table
// with a text key is checksummed by key hash bucket instead, see
// verifyBuckets). Ranges whose count and
// hash match on both sides are identical; a range that differs, or whose
// texts are too long for one source checksum, is bisected at its middle
// source key until it holds at most LeafRows rows, whose keys, hashes and
// values are then fetched and compared in Go. Float, double and json
// columns are fetched and compared in Go in every range.
//
// src is the MySQL source; Verify takes its own sessions from it and sets
// time_zone '+00:00' on them. dst is a pool of the PostgreSQL target; each
// worker holds one connection while it runs, with sorts, bitmap scans and
// JIT turned off (reset when it is released).
func Verify(ctx context.Context, src *sql.DB, dst *pgxpool.Pool, m *TableMap, o VerifyOptions) (VerifyResult, error) {
	start := time.Now()
	if o.ChunkRows <= 0 {
		o.ChunkRows = 100000
	}
	if o.LeafRows <= 0 {
		o.LeafRows = 512
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	res := VerifyResult{Table: m.Name}
	// Both sides hash the UTF-8 bytes of the row texts.
	encoding, err := targetEncoding(ctx, dst)
	if err != nil {
		return res, fmt.Errorf("verifying %s: %w", m.Name, err)
	}
	if encoding != "UTF8" {
		return res, fmt.Errorf("verifying %s: the target database is encoded in %s; verify compares UTF-8 text and needs a UTF8 database", m.Name, encoding)
	}
	v := newVerifySQL(m)
	for _, c := range v.keys {
		if c.kind == kindBit || c.kind == kindSet || c.kind == kindTime && c.FSP > 0 {
			return res, fmt.Errorf("verifying %s: key column %s of type %s is not supported by verify", m.Name, c.Name, c.SourceType)
		}
	}
	var outOfOrder atomic.Bool
	if v.textKey {
		if err := verifyBuckets(ctx, src, dst, v, o, &outOfOrder, &res); err != nil {
			return res, fmt.Errorf("verifying %s: %w", m.Name, err)
		}
		return finishVerify(ctx, src, dst, v, o, res, start)
	}
	ranges := make(chan keyRange, o.Workers)
	var mu gosync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(ranges)
		return splitSource(gctx, src, v, int64(o.ChunkRows), ranges)
	})
	for range o.Workers {
		g.Go(func() error {
			w, err := newVerifyWorker(gctx, src, dst, v, o, &outOfOrder)
			if err != nil {
				return err
			}
			defer w.close()
			for r := range ranges {
				out, err := w.check(gctx, r)
				if err != nil {
					return err
				}
				mu.Lock()
				res.SourceRows += out.src
				res.TargetRows += out.dst
				res.Diffs = append(res.Diffs, out.diffs...)
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, fmt.Errorf("verifying %s: %w", m.Name, err)
	}
	return finishVerify(ctx, src, dst, v, o, res, start)
}

// finishVerify logs the differences found and repairs them when asked.
func finishVerify(ctx context.Context, src *sql.DB, dst *pgxpool.Pool, v *verifySQL, o VerifyOptions, res VerifyResult, start time.Time) (VerifyResult, error) {
	m := v.m
	for _, d := range res.Diffs {
		o.Logger.Info("verify: row differs", "table", m.Name, "key", strings.Join(d.Key, ","), "kind", d.Kind, "columns", d.Columns)
	}
	if o.Repair && len(res.Diffs) > 0 {
		n, err := repair(ctx, src, dst, v, res.Diffs)
		res.Repaired = n
		if err != nil {
			return res, fmt.Errorf("repairing %s: %w", m.Name, err)
		}
	}
	res.Elapsed = time.Since(start)
	o.Logger.Info("verify: done", "table", m.Name, "source_rows", res.SourceRows, "target_rows", res.TargetRows,
		"diffs", len(res.Diffs), "repaired", res.Repaired, "elapsed", res.Elapsed)
	return res, nil
}

// mySession takes a dedicated source session in UTC and utf8mb4.
func mySession(ctx context.Context, src *sql.DB) (*sql.Conn, error) {
	c, err := src.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening a source session: %w", err)
	}
	for _, s := range SourceSessionSQL {
		if _, err := c.ExecContext(ctx, s); err != nil {
			c.Close()
			return nil, fmt.Errorf("setting up the source session (%s): %w", s, err)
		}
	}
	return c, nil
}

// splitSource sends consecutive ranges of about n source rows; the first
// and last ranges are open so that target rows outside the source's keys
// are compared too. A single integer key is cut by value (splitByValue);
// other keys by walking the key index.
func splitSource(ctx context.Context, src *sql.DB, v *verifySQL, n int64, out chan<- keyRange) error {
	c, err := mySession(ctx, src)
	if err != nil {
		return err
	}
	defer c.Close()
	n, err = chunkRowsFor(ctx, c, v, n)
	if err != nil {
		return err
	}
	send := func(r keyRange) error {
		select {
		case out <- r:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if len(v.keys) == 1 && (v.keys[0].kind == kindInt || v.keys[0].kind == kindUint) {
		bounds, ok, err := splitByValue(ctx, c, v, n)
		if err != nil {
			return fmt.Errorf("finding range bounds: %w", err)
		}
		if ok {
			var lo []string
			for _, b := range bounds {
				if err := send(keyRange{Lo: lo, Hi: []string{b}}); err != nil {
					return err
				}
				lo = []string{b}
			}
			return send(keyRange{Lo: lo})
		}
	}
	var lo []string
	for {
		q, args := v.mySplit(keyRange{Lo: lo}, n-1)
		hi, err := scanKey(ctx, c, q, args, len(v.keys))
		if err != nil {
			return fmt.Errorf("finding range bounds: %w", err)
		}
		if err := send(keyRange{Lo: lo, Hi: hi}); err != nil {
			return err
		}
		if hi == nil {
			return nil
		}
		lo = hi
	}
}

// splitByValue cuts the span of a single integer key into equal key
// intervals meant to hold about n rows each, by the table's row estimate
// (InnoDB keeps it current as rows come and go), and returns the upper
// bounds of all but the last. Walking the key index instead reads every
// key of the table once more, a tenth of the cost of checksumming it. Keys
// that cluster put more rows in some intervals: a range whose rows do not
// fit one checksum is split further (see compare). ok is false when the
// table has no estimate.
func splitByValue(ctx context.Context, c *sql.Conn, v *verifySQL, n int64) (bounds []string, ok bool, err error) {
	var est sql.NullInt64
	err = c.QueryRowContext(ctx, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
		v.m.Schema, v.m.Name).Scan(&est)
	if errors.Is(err, sql.ErrNoRows) || err == nil && (!est.Valid || est.Int64 <= 0) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	k := myIdent(v.keys[0].Name)
	var lo, hi sql.NullString
	if err := c.QueryRowContext(ctx, "SELECT MIN("+k+"), MAX("+k+") FROM "+v.m.SourceTable()).Scan(&lo, &hi); err != nil {
		return nil, false, err
	}
	if !lo.Valid || est.Int64 <= n {
		// Empty or small: one open range.
		return nil, true, nil
	}
	kmin, ok1 := new(big.Int).SetString(lo.String, 10)
	kmax, ok2 := new(big.Int).SetString(hi.String, 10)
	if !ok1 || !ok2 {
		return nil, false, fmt.Errorf("reading the key span: %q, %q", lo.String, hi.String)
	}
	parts := (est.Int64 + n - 1) / n
	span := new(big.Int).Sub(kmax, kmin)
	span.Add(span, big.NewInt(1))
	step := new(big.Int).Div(span, big.NewInt(parts))
	if step.Sign() == 0 {
		step.SetInt64(1)
	}
	b := new(big.Int).Set(kmin)
	for i := int64(1); i < parts; i++ {
		// (bound, next bound]: the first range ends at min + step - 1.
		b.Add(b, step)
		if b.Cmp(kmax) >= 0 {
			break
		}
		bounds = append(bounds, new(big.Int).Sub(b, big.NewInt(1)).String())
	}
	return bounds, true, nil
}

// chunkBytes is the size a range's joined row texts are kept near (see
// myChunk): far below PostgreSQL's 1 GB limit on a string even where the
// sampled rows are shorter than the rest. MariaDB also caps a join at
// max_allowed_packet (see chunkRowsFor).
const chunkBytes = 32 << 20

// chunkRowsFor caps the rows per range at n so that a range of rows as long
// as the table's first thousand joins into about chunkBytes, or half of the
// source's max_allowed_packet where that is less.
func chunkRowsFor(ctx context.Context, c *sql.Conn, v *verifySQL, n int64) (int64, error) {
	var rows, size, packet int64
	q := "SELECT COUNT(*), IFNULL(SUM(LENGTH(r)), 0), @@max_allowed_packet FROM (SELECT " + v.myRow + " AS r FROM " + v.m.SourceTable() + " LIMIT 1000) s"
	if err := c.QueryRowContext(ctx, q).Scan(&rows, &size, &packet); err != nil {
		return 0, fmt.Errorf("sampling row sizes: %w", err)
	}
	if rows == 0 || size == 0 {
		return n, nil
	}
	budget := min(int64(chunkBytes), packet/2)
	return max(1, min(n, budget*rows/size)), nil
}

// scanKey reads one row of key texts; nil when there is no row.
func scanKey(ctx context.Context, c *sql.Conn, q string, args []any, n int) ([]string, error) {
	vals := make([]sql.NullString, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	err := c.QueryRowContext(ctx, q, args...).Scan(ptrs...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]string, n)
	for i, v := range vals {
		out[i] = v.String
	}
	return out, nil
}

// verifyWorker holds one session on each side.
type verifyWorker struct {
	v   *verifySQL
	my  *sql.Conn
	pg  *pgxpool.Conn
	o   VerifyOptions
	log *slog.Logger
	// outOfOrder is set once a server was found to scan out of key order;
	// shared by the workers of one Verify (see myChunk).
	outOfOrder *atomic.Bool
}

func newVerifyWorker(ctx context.Context, src *sql.DB, dst *pgxpool.Pool, v *verifySQL, o VerifyOptions, outOfOrder *atomic.Bool) (*verifyWorker, error) {
	my, err := mySession(ctx, src)
	if err != nil {
		return nil, err
	}
	// The range checksum joins a range's row texts (see myChunk).
	if _, err := my.ExecContext(ctx, "SET SESSION group_concat_max_len = 4294967295"); err != nil {
		my.Close()
		return nil, fmt.Errorf("setting up the source session: %w", err)
	}
	pg, err := dst.Acquire(ctx)
	if err != nil {
		my.Close()
		return nil, fmt.Errorf("opening a target session: %w", err)
	}
	// Each range is read through the key index in key order, also on a
	// table the planner has no statistics for yet (it would sort); JIT
	// compiling would only add its time to these one-pass scans.
	if _, err := pg.Exec(ctx, "SET enable_sort = off; SET enable_bitmapscan = off; SET jit = off"); err != nil {
		my.Close()
		pg.Release()
		return nil, fmt.Errorf("setting up the target session: %w", err)
	}
	return &verifyWorker{v: v, my: my, pg: pg, o: o, log: o.Logger, outOfOrder: outOfOrder}, nil
}

func (w *verifyWorker) close() {
	w.my.Close()
	w.pg.Exec(context.Background(), "RESET enable_sort; RESET enable_bitmapscan; RESET jit")
	w.pg.Release()
}

// rangeOutcome is what checking one range found.
type rangeOutcome struct {
	src, dst int64
	diffs    []RowDiff
}

// sums is the count and checksum of a range on one side.
type sums struct {
	n    int64
	hash string // SHA-256 of the range's row texts in key order
	goh  uint64 // XOR of the Go-side hashes of the Go-compared columns
}

// errJoinTooLong is a source checksum whose joined row texts MariaDB cut
// at max_allowed_packet (GROUP_CONCAT truncates with a warning).
var errJoinTooLong = errors.New("the range's row texts are longer than the source's max_allowed_packet")

// check compares range r, splitting it where it differs.
func (w *verifyWorker) check(ctx context.Context, r keyRange) (rangeOutcome, error) {
	out, differed, err := w.compare(ctx, r)
	if err == nil && differed && len(out.diffs) == 0 && !w.outOfOrder.Load() {
		// The digests differed over equal rows: a server scans the
		// range out of key order; use the order-free checksum from
		// now on.
		w.log.Info("verify: rows come out of key order; checksumming ranges without order", "table", w.v.m.Name)
		w.outOfOrder.Store(true)
	}
	return out, err
}

// compare checksums r on both sides; a range that differs is split at its
// middle source key until it holds at most LeafRows rows, which are then
// compared row by row. A range too long for one source checksum is split
// the same way. differed reports whether any checksum differed.
func (w *verifyWorker) compare(ctx context.Context, r keyRange) (out rangeOutcome, differed bool, err error) {
	s, t, err := w.sums(ctx, r)
	tooLong := errors.Is(err, errJoinTooLong)
	if err != nil && !tooLong {
		return out, false, err
	}
	if !tooLong && s == t {
		return rangeOutcome{src: s.n, dst: t.n}, false, nil
	}
	if tooLong && s.n < 2 {
		return out, false, fmt.Errorf("checksumming a source range (%s): one row's text is longer than the source's max_allowed_packet; raise it to verify this table", r.text())
	}
	if tooLong || s.n > int64(w.o.LeafRows) {
		q, args := w.v.mySplit(r, s.n/2-1)
		mid, err := scanKey(ctx, w.my, q, args, len(w.v.keys))
		if err != nil {
			return out, false, fmt.Errorf("splitting a range: %w", err)
		}
		if mid != nil {
			differed = !tooLong
			for _, half := range []keyRange{{Lo: r.Lo, Hi: mid}, {Lo: mid, Hi: r.Hi}} {
				o, d, err := w.compare(ctx, half)
				if err != nil {
					return out, false, err
				}
				out.src, out.dst = out.src+o.src, out.dst+o.dst
				out.diffs = append(out.diffs, o.diffs...)
				differed = differed || d
			}
			return out, differed, nil
		}
		if tooLong {
			return out, false, fmt.Errorf("checksumming a source range: %w", errJoinTooLong)
		}
	}
	diffs, err := w.compareRows(ctx, r)
	return rangeOutcome{src: s.n, dst: t.n, diffs: diffs}, true, err
}

// sums computes both sides' sums of r at the same time.
func (w *verifyWorker) sums(ctx context.Context, r keyRange) (sums, sums, error) {
	var s, t sums
	// Both sides must compute the same checksum.
	unordered := w.outOfOrder.Load()
	// No shared cancellation: a source range too long to checksum is
	// split and checked again on the same sessions, which a cancelled
	// query would have closed.
	var g errgroup.Group
	g.Go(func() error {
		q, args := w.v.myChunk(r, unordered)
		if err := w.my.QueryRowContext(ctx, q, args...).Scan(&s.n, &s.hash); err != nil {
			return fmt.Errorf("checksumming a source range: %w", err)
		}
		// GROUP_CONCAT truncates with a warning; a truncated join
		// must not pass for a checksum.
		if err := w.checkWarnings(ctx, r); err != nil {
			return err
		}
		if len(w.v.goCols) > 0 {
			rows, err := w.myRows(ctx, r, false)
			if err != nil {
				return err
			}
			for _, row := range rows {
				s.goh ^= row.goHash
			}
		}
		return nil
	})
	g.Go(func() error {
		q, args := w.v.pgChunk(r, unordered)
		if err := w.pg.QueryRow(ctx, q, args...).Scan(&t.n, &t.hash); err != nil {
			return fmt.Errorf("checksumming a target range: %w", err)
		}
		if len(w.v.goCols) > 0 {
			rows, err := w.pgRows(ctx, r, false)
			if err != nil {
				return err
			}
			for _, row := range rows {
				t.goh ^= row.goHash
			}
		}
		return nil
	})
	err := g.Wait()
	return s, t, err
}

// erCutGroupConcat is MariaDB's warning "Row %u was cut by GROUP_CONCAT()".
const erCutGroupConcat = 1260

// checkWarnings reads the warnings of the source session's last checksum,
// of range r: errJoinTooLong when GROUP_CONCAT cut the join, an error
// quoting the warning for any other (the checksum may not be what it
// seems; a row whose own text is longer than max_allowed_packet is NULL).
func (w *verifyWorker) checkWarnings(ctx context.Context, r keyRange) error {
	var n int
	if err := w.my.QueryRowContext(ctx, "SELECT @@warning_count").Scan(&n); err != nil {
		return fmt.Errorf("checksumming a source range: %w", err)
	}
	if n == 0 {
		return nil
	}
	rows, err := w.my.QueryContext(ctx, "SHOW WARNINGS")
	if err != nil {
		return fmt.Errorf("checksumming a source range: %w", err)
	}
	defer rows.Close()
	var other string
	for rows.Next() {
		var level, msg string
		var code int
		if err := rows.Scan(&level, &code, &msg); err != nil {
			return fmt.Errorf("checksumming a source range: %w", err)
		}
		if code == erCutGroupConcat {
			return errJoinTooLong
		}
		if other == "" {
			other = fmt.Sprintf("%s %d: %s", level, code, msg)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("checksumming a source range: %w", err)
	}
	return fmt.Errorf("checksumming the source range of %s: MariaDB warned: %s", r.text(), other)
}

// verifyRow is one row as compareRows sees it.
type verifyRow struct {
	key    []string
	hash   string
	goVals []*string // Go-compared columns, normalised
	goHash uint64
	cols   []*string // hashed columns' canonical texts (when asked)
}

// compareRows fetches both sides of r with every column and lists the
// differing rows.
func (w *verifyWorker) compareRows(ctx context.Context, r keyRange) ([]RowDiff, error) {
	var srows, trows []verifyRow
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { srows, err = w.myRows(gctx, r, true); return err })
	g.Go(func() (err error) { trows, err = w.pgRows(gctx, r, true); return err })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	tby := make(map[string]*verifyRow, len(trows))
	for i := range trows {
		tby[keyString(trows[i].key)] = &trows[i]
	}
	var out []RowDiff
	seen := make(map[string]bool, len(srows))
	for i := range srows {
		sr := &srows[i]
		k := keyString(sr.key)
		seen[k] = true
		tr, ok := tby[k]
		if !ok {
			out = append(out, RowDiff{Key: sr.key, Kind: DiffMissing})
			continue
		}
		if sr.hash == tr.hash && sr.goHash == tr.goHash {
			continue
		}
		var cols []string
		for j, c := range w.v.hashed {
			if !eqPtr(sr.cols[j], tr.cols[j]) {
				cols = append(cols, c.Name)
			}
		}
		for j, c := range w.v.goCols {
			if !eqPtr(sr.goVals[j], tr.goVals[j]) {
				cols = append(cols, c.Name)
			}
		}
		out = append(out, RowDiff{Key: sr.key, Kind: DiffDifferent, Columns: cols})
	}
	for i := range trows {
		if !seen[keyString(trows[i].key)] {
			out = append(out, RowDiff{Key: trows[i].key, Kind: DiffExtra})
		}
	}
	return out, nil
}

func eqPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func keyString(k []string) string { return strings.Join(k, "\x00") }

// myRows lists the rows of r on the source.
func (w *verifyWorker) myRows(ctx context.Context, r keyRange, cols bool) ([]verifyRow, error) {
	q, args := w.v.myRows(r, cols)
	rows, err := w.my.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading source rows: %w", err)
	}
	defer rows.Close()
	n := len(w.v.keys) + 1 + len(w.v.goCols)
	if cols {
		n += len(w.v.hashed)
	}
	vals := make([]sql.NullString, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []verifyRow
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("reading source rows: %w", err)
		}
		strs := make([]*string, n)
		for i, v := range vals {
			if v.Valid {
				s := v.String
				strs[i] = &s
			}
		}
		row, err := w.v.makeRow(strs, cols)
		if err != nil {
			return nil, fmt.Errorf("reading source rows: %w", err)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading source rows: %w", err)
	}
	return out, nil
}

// pgRows lists the rows of r on the target.
func (w *verifyWorker) pgRows(ctx context.Context, r keyRange, cols bool) ([]verifyRow, error) {
	q, args := w.v.pgRows(r, cols)
	rows, err := w.pg.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading target rows: %w", err)
	}
	defer rows.Close()
	var out []verifyRow
	for rows.Next() {
		raw := rows.RawValues()
		strs := make([]*string, len(raw))
		for i, b := range raw {
			if b != nil {
				s := string(b)
				strs[i] = &s
			}
		}
		row, err := w.v.makeRow(strs, cols)
		if err != nil {
			return nil, fmt.Errorf("reading target rows: %w", err)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading target rows: %w", err)
	}
	return out, nil
}

// makeRow builds a verifyRow from the texts of one listed row.
func (v *verifySQL) makeRow(strs []*string, cols bool) (verifyRow, error) {
	nk := len(v.keys)
	row := verifyRow{key: make([]string, nk)}
	for i := range nk {
		if strs[i] != nil {
			row.key[i] = *strs[i]
		}
	}
	if strs[nk] != nil {
		row.hash = *strs[nk]
	}
	h := fnv.New64a()
	h.Write([]byte(keyString(row.key)))
	for j, c := range v.goCols {
		p := strs[nk+1+j]
		if p != nil {
			s, err := goCanon(c, *p)
			if err != nil {
				return row, fmt.Errorf("column %s: %w", c.Name, err)
			}
			p = &s
		}
		row.goVals = append(row.goVals, p)
		var tag [1]byte
		if p == nil {
			tag[0] = 1
		}
		h.Write(tag[:])
		if p != nil {
			var l [8]byte
			binary.LittleEndian.PutUint64(l[:], uint64(len(*p)))
			h.Write(l[:])
			h.Write([]byte(*p))
		}
	}
	if len(v.goCols) > 0 {
		row.goHash = h.Sum64()
	}
	if cols {
		row.cols = slices.Clone(strs[nk+1+len(v.goCols):])
	}
	return row, nil
}
