package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgKey is a two-part key: route and result, reason or path.
type pgKey struct{ a, b string }

// pgBatch is what the PostgreSQL store buffered between two flushes: the
// deltas of the counters, the records to keep and their examples.
type pgBatch struct {
	id       string // recorded in strangler_shadow_batches in the batch's transaction
	inDoubt  bool   // its commit failed: it may have been applied
	counts   map[pgKey]int64
	drops    map[pgKey]int64
	paths    map[pgKey]int64
	spans    map[string]span
	noise    map[pgKey]noiseDelta
	records  []pgRecord
	examples []pgExample
	bytes    int // of the records' documents
}

// span is the first and last time a route was counted.
type span struct{ first, last time.Time }

// noiseDelta is learned noise not yet written.
type noiseDelta struct {
	n     int64
	since time.Time
}

// pgRecord is a record to keep.
type pgRecord struct {
	id, route, result, err string
	at                     time.Time
	doc                    []byte // the record as JSON, fit for jsonb
}

// pgExample is an example of a path in a kept record.
type pgExample struct {
	route, path, id, concrete, legacy, new string
	at                                     time.Time
}

func newPGBatch() *pgBatch {
	return &pgBatch{
		id:     newBatchID(),
		counts: map[pgKey]int64{}, drops: map[pgKey]int64{}, paths: map[pgKey]int64{},
		spans: map[string]span{}, noise: map[pgKey]noiseDelta{},
	}
}

func (b *pgBatch) empty() bool {
	return len(b.counts) == 0 && len(b.drops) == 0 && len(b.noise) == 0 && len(b.spans) == 0
}

// comparisons is how many comparisons b counts.
func (b *pgBatch) comparisons() int64 {
	var n int64
	for _, c := range b.counts {
		n += c
	}
	return n
}

// widen extends route's span to at.
func (b *pgBatch) widen(route string, at time.Time) {
	sp, ok := b.spans[route]
	if !ok || at.Before(sp.first) {
		sp.first = at
	}
	if !ok || at.After(sp.last) {
		sp.last = at
	}
	b.spans[route] = sp
}

// merge adds o into b.
func (b *pgBatch) merge(o *pgBatch) {
	for k, n := range o.counts {
		b.counts[k] += n
	}
	for k, n := range o.drops {
		b.drops[k] += n
	}
	for k, n := range o.paths {
		b.paths[k] += n
	}
	for route, sp := range o.spans {
		b.widen(route, sp.first)
		b.widen(route, sp.last)
	}
	for k, d := range o.noise {
		if have, ok := b.noise[k]; ok {
			d.n += have.n
			d.since = have.since
		}
		b.noise[k] = d
	}
	b.records = append(b.records, o.records...)
	b.examples = append(b.examples, o.examples...)
	b.bytes += o.bytes
}

// The statements of a flush. Rows go in sorted by key so that two replicas
// flushing at once lock shared rows in the same order.
const (
	sqlBatchSeen = `SELECT EXISTS (SELECT 1 FROM strangler_shadow_batches WHERE id = $1)`
	sqlBatch     = `INSERT INTO strangler_shadow_batches (id) VALUES ($1)`
	sqlCounts    = `INSERT INTO strangler_shadow_counts AS t (route, result, n)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(route, result, n) ORDER BY 1, 2
ON CONFLICT (route, result) DO UPDATE SET n = t.n + excluded.n`
	sqlDrops = `INSERT INTO strangler_shadow_drops AS t (route, reason, n)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(route, reason, n) ORDER BY 1, 2
ON CONFLICT (route, reason) DO UPDATE SET n = t.n + excluded.n`
	sqlPaths = `INSERT INTO strangler_shadow_paths AS t (route, path, n)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(route, path, n) ORDER BY 1, 2
ON CONFLICT (route, path) DO UPDATE SET n = t.n + excluded.n`
	sqlRoutes = `INSERT INTO strangler_shadow_routes AS t (route, first_at, last_at)
SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS u(route, first_at, last_at) ORDER BY 1
ON CONFLICT (route) DO UPDATE SET first_at = LEAST(t.first_at, excluded.first_at), last_at = GREATEST(t.last_at, excluded.last_at)`
	sqlNoise = `INSERT INTO strangler_shadow_noise AS t (route, path, n, pinned, since)
SELECT u.route, u.path, u.n, false, u.since FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[]) AS u(route, path, n, since) ORDER BY 1, 2
ON CONFLICT (route, path) DO UPDATE SET n = t.n + excluded.n`
	sqlRecords = `INSERT INTO strangler_shadow_records AS t (id, route, at, result, error, record)
SELECT u.id, u.route, u.at, u.result, u.error, u.record::jsonb
FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[]) AS u(id, route, at, result, error, record)
ON CONFLICT (id) DO UPDATE SET route = excluded.route, at = excluded.at, result = excluded.result, error = excluded.error, record = excluded.record`
	sqlExamples = `INSERT INTO strangler_shadow_examples (route, path, id, concrete, legacy, new, at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
ON CONFLICT (route, path, id) DO NOTHING`
	// sqlTrimExamples keeps the newest keptExamples examples of the paths
	// given.
	sqlTrimExamples = `DELETE FROM strangler_shadow_examples e
USING (SELECT route, path, id, row_number() OVER (PARTITION BY route, path ORDER BY at DESC, id DESC) AS rn
       FROM strangler_shadow_examples
       WHERE (route, path) IN (SELECT * FROM unnest($1::text[], $2::text[]))) x
WHERE e.route = x.route AND e.path = x.path AND e.id = x.id AND x.rn > $3`
)

// recordChunk bounds the records (and their bytes) one INSERT carries.
const (
	recordChunk      = 1000
	recordChunkBytes = 16 << 20
)

// apply writes b in one transaction. A batch in doubt that the database
// already holds is not applied again.
func (s *PostgresStore) apply(ctx context.Context, b *pgBatch) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it does nothing
	if b.inDoubt {
		var seen bool
		if err := tx.QueryRow(ctx, sqlBatchSeen, b.id).Scan(&seen); err != nil {
			return err
		}
		if seen {
			return nil
		}
	}
	if _, err := tx.Exec(ctx, sqlBatch, b.id); err != nil {
		return err
	}
	if err := upsertCounts(ctx, tx, sqlCounts, b.counts); err != nil {
		return err
	}
	if err := upsertCounts(ctx, tx, sqlDrops, b.drops); err != nil {
		return err
	}
	if err := upsertCounts(ctx, tx, sqlPaths, b.paths); err != nil {
		return err
	}
	if err := upsertRoutes(ctx, tx, b.spans); err != nil {
		return err
	}
	if err := upsertNoise(ctx, tx, b.noise); err != nil {
		return err
	}
	if err := insertRecords(ctx, tx, b.records); err != nil {
		return err
	}
	if err := insertExamples(ctx, tx, b.examples); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		b.inDoubt = true
		return err
	}
	return nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[pgKey]V) []pgKey {
	keys := make([]pgKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y pgKey) int { return cmp.Or(cmp.Compare(x.a, y.a), cmp.Compare(x.b, y.b)) })
	return keys
}

func upsertCounts(ctx context.Context, tx pgx.Tx, sql string, m map[pgKey]int64) error {
	if len(m) == 0 {
		return nil
	}
	a, b, n := make([]string, 0, len(m)), make([]string, 0, len(m)), make([]int64, 0, len(m))
	for _, k := range sortedKeys(m) {
		a, b, n = append(a, pgText(k.a)), append(b, pgText(k.b)), append(n, m[k])
	}
	_, err := tx.Exec(ctx, sql, a, b, n)
	return err
}

func upsertRoutes(ctx context.Context, tx pgx.Tx, spans map[string]span) error {
	if len(spans) == 0 {
		return nil
	}
	routes := make([]string, 0, len(spans))
	for r := range spans {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	first, last := make([]time.Time, len(routes)), make([]time.Time, len(routes))
	for i, r := range routes {
		first[i], last[i] = spans[r].first, spans[r].last
		routes[i] = pgText(r)
	}
	_, err := tx.Exec(ctx, sqlRoutes, routes, first, last)
	return err
}

func upsertNoise(ctx context.Context, tx pgx.Tx, m map[pgKey]noiseDelta) error {
	if len(m) == 0 {
		return nil
	}
	var routes, paths []string
	var ns []int64
	var since []time.Time
	for _, k := range sortedKeys(m) {
		routes, paths = append(routes, pgText(k.a)), append(paths, pgText(k.b))
		ns, since = append(ns, m[k].n), append(since, m[k].since)
	}
	_, err := tx.Exec(ctx, sqlNoise, routes, paths, ns, since)
	return err
}

// insertRecords upserts records, the last of an id winning, in chunks.
func insertRecords(ctx context.Context, tx pgx.Tx, records []pgRecord) error {
	if len(records) == 0 {
		return nil
	}
	last := make(map[string]int, len(records))
	for i, r := range records {
		last[r.id] = i
	}
	var ids, routes, results, errs, docs []string
	var ats []time.Time
	size := 0
	flush := func() error {
		if len(ids) == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, sqlRecords, ids, routes, ats, results, errs, docs)
		ids, routes, ats, results, errs, docs, size = ids[:0], routes[:0], ats[:0], results[:0], errs[:0], docs[:0], 0
		return err
	}
	for i, r := range records {
		if last[r.id] != i {
			continue
		}
		ids, routes, ats = append(ids, pgText(r.id)), append(routes, pgText(r.route)), append(ats, r.at)
		results, errs, docs = append(results, r.result), append(errs, pgText(r.err)), append(docs, string(r.doc))
		size += len(r.doc)
		if len(ids) >= recordChunk || size >= recordChunkBytes {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// insertExamples inserts the examples and trims their paths to the newest
// keptExamples.
func insertExamples(ctx context.Context, tx pgx.Tx, examples []pgExample) error {
	if len(examples) == 0 {
		return nil
	}
	n := len(examples)
	routes, paths, ids := make([]string, n), make([]string, n), make([]string, n)
	concrete, legacy, newer := make([]string, n), make([]string, n), make([]string, n)
	ats := make([]time.Time, n)
	touched := map[pgKey]bool{}
	for i, e := range examples {
		routes[i], paths[i], ids[i] = pgText(e.route), pgText(e.path), pgText(e.id)
		concrete[i], legacy[i], newer[i], ats[i] = pgText(e.concrete), pgText(e.legacy), pgText(e.new), e.at
		touched[pgKey{routes[i], paths[i]}] = true
	}
	if _, err := tx.Exec(ctx, sqlExamples, routes, paths, ids, concrete, legacy, newer, ats); err != nil {
		return err
	}
	var tr, tp []string
	for _, k := range sortedKeys(touched) {
		tr, tp = append(tr, k.a), append(tp, k.b)
	}
	_, err := tx.Exec(ctx, sqlTrimExamples, tr, tp, keptExamples)
	return err
}

// refused says whether PostgreSQL refused a value for good (a data
// exception such as an invalid text, or a program limit such as a value
// too large), as opposed to a connection failure or a conflict a retry may
// get past.
func refused(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) < 2 {
		return false
	}
	switch pe.Code[:2] {
	case "22", "54":
		return true
	}
	return false
}

// pgText returns s fit for a text column: invalid UTF-8 and NUL, which
// PostgreSQL refuses, replaced by U+FFFD.
func pgText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// encodeForPostgres returns r as JSON fit for jsonb, which refuses the
// escape \u0000: a text body holding NUL is kept as base64 instead (the
// same bytes), and NUL anywhere else becomes U+FFFD. A record without At
// is stored at at.
func encodeForPostgres(r *Record, at time.Time) ([]byte, error) {
	rr := r
	if r.At.IsZero() {
		c := *r
		c.At = at
		rr = &c
	}
	doc, err := json.Marshal(rr)
	if err != nil || !bytes.Contains(doc, []byte(`\u0000`)) {
		return doc, err
	}
	c := *rr
	c.Request.Body = bodyWithoutNUL(c.Request.Body)
	for _, a := range []**Answer{&c.Legacy, &c.New} {
		if *a != nil {
			ans := **a
			ans.Body = bodyWithoutNUL(ans.Body)
			*a = &ans
		}
	}
	if doc, err = json.Marshal(&c); err != nil {
		return nil, err
	}
	return replaceNULEscapes(doc), nil
}

// bodyWithoutNUL returns a text body holding NUL as base64.
func bodyWithoutNUL(b Body) Body {
	if strings.IndexByte(b.Text, 0) < 0 {
		return b
	}
	return Body{Base64: base64.StdEncoding.EncodeToString([]byte(b.Text)), Truncated: b.Truncated}
}

// replaceNULEscapes turns every \u0000 escape of the JSON text doc into
// \ufffd, in place.
func replaceNULEscapes(doc []byte) []byte {
	for i := 0; i+1 < len(doc); i++ {
		if doc[i] != '\\' {
			continue
		}
		if doc[i+1] == 'u' && i+6 <= len(doc) && string(doc[i+2:i+6]) == "0000" {
			copy(doc[i+2:i+6], "fffd")
		}
		i++ // the escaped character
	}
	return doc
}

// retain deletes the records over the retention age, then those beyond
// Max (oldest first), and old batch ids: at most once every pgRetainEvery,
// or sooner after more than a quarter of Max records were written. One
// replica at a time does it; a failure is logged, not returned.
func (s *PostgresStore) retain(ctx context.Context) {
	now := s.now()
	if !s.lastRetain.IsZero() && now.Sub(s.lastRetain) < pgRetainEvery && s.inserted <= s.ret.Max/4 {
		return
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var mine bool
		if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", retainLockKey).Scan(&mine); err != nil || !mine {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM strangler_shadow_records WHERE at < $1`, now.Add(-s.ret.Age)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM strangler_shadow_records WHERE id IN (
  SELECT id FROM strangler_shadow_records ORDER BY at DESC, id DESC OFFSET $1)`, s.ret.Max); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM strangler_shadow_batches WHERE at < now() - interval '`+pgBatchKeep+`'`)
		return err
	})
	s.lastRetain, s.inserted = now, 0
	if err != nil {
		s.retainFail.failed(s.log, now, "shadow store: applying retention in PostgreSQL failed", "db", s.where, "error", err.Error())
		return
	}
	s.retainFail.ok(s.log, "shadow store: applying retention in PostgreSQL works again")
}
