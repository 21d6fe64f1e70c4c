package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// The statements of a report; $1 is the route, "" for every route. Paths
// tie-break in byte order (COLLATE "C"), as the file store does.
const (
	sqlReportRoutes = `SELECT route, first_at, last_at FROM strangler_shadow_routes WHERE $1 = '' OR route = $1`
	sqlReportCounts = `SELECT route, result, n FROM strangler_shadow_counts WHERE $1 = '' OR route = $1`
	sqlReportDrops  = `SELECT route, reason, n FROM strangler_shadow_drops WHERE $1 = '' OR route = $1`
	// $2 paths per route, $3 the oldest example kept, $4 examples per path.
	sqlReportPaths = `SELECT p.route, p.path, p.n, e.id, e.concrete, e.legacy, e.new
FROM (SELECT route, path, n, row_number() OVER (PARTITION BY route ORDER BY n DESC, path COLLATE "C") AS rn
      FROM strangler_shadow_paths WHERE $1 = '' OR route = $1) p
LEFT JOIN LATERAL (SELECT x.id, x.concrete, x.legacy, x.new, x.at FROM strangler_shadow_examples x
                   WHERE x.route = p.route AND x.path = p.path AND x.at >= $3
                   ORDER BY x.at DESC, x.id DESC LIMIT $4) e ON true
WHERE p.rn <= $2
ORDER BY p.route, p.rn, e.at DESC, e.id DESC`
	// $2 the oldest record kept, $3 errors per route.
	sqlReportErrors = `SELECT r.route, x.id, x.at, x.error FROM strangler_shadow_routes r
CROSS JOIN LATERAL (SELECT id, at, error FROM strangler_shadow_records
                    WHERE route = r.route AND result = 'error' AND at >= $2
                    ORDER BY at DESC, id DESC LIMIT $3) x
WHERE $1 = '' OR r.route = $1
ORDER BY r.route, x.at DESC, x.id DESC`
	sqlNoiseOf = `SELECT route, path, n, pinned, since FROM strangler_shadow_noise WHERE $1 = '' OR route = $1`
	sqlGet     = `SELECT record FROM strangler_shadow_records WHERE id = $1 AND at >= $2`
	sqlPin     = `INSERT INTO strangler_shadow_noise AS t (route, path, n, pinned, since) VALUES ($1, $2, 0, true, $3)
ON CONFLICT (route, path) DO UPDATE SET pinned = true`
	sqlClearPath     = `DELETE FROM strangler_shadow_noise WHERE route = $1 AND path = $2`
	sqlClearUnpinned = `DELETE FROM strangler_shadow_noise WHERE route = $1 AND NOT pinned`
)

// Report reads the routes' reports from the database, in one snapshot.
func (s *PostgresStore) Report(ctx context.Context, route string, opt ReportOptions) ([]RouteReport, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	top, examples := opt.limits()
	cutoff := s.now().Add(-s.ret.Age)
	route = pgText(route)
	reps := map[string]*RouteReport{}
	rep := func(name string) *RouteReport {
		r := reps[name]
		if r == nil {
			r = &RouteReport{Route: name}
			reps[name] = r
		}
		return r
	}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var name, key string
		var n int64
		var first, last time.Time
		if err := eachRow(ctx, tx, sqlReportRoutes, []any{route}, []any{&name, &first, &last}, func() error {
			r := rep(name)
			r.First, r.Last = first, last
			return nil
		}); err != nil {
			return fmt.Errorf("routes: %w", err)
		}
		if err := eachRow(ctx, tx, sqlReportCounts, []any{route}, []any{&name, &key, &n}, func() error {
			r := rep(name)
			switch Result(key) {
			case ResultMatch:
				r.Matched += n
			case ResultDiff:
				r.Differed += n
			case ResultError:
				r.Errors += n
			}
			return nil
		}); err != nil {
			return fmt.Errorf("counts: %w", err)
		}
		if err := eachRow(ctx, tx, sqlReportDrops, []any{route}, []any{&name, &key, &n}, func() error {
			r := rep(name)
			if r.Drops == nil {
				r.Drops = map[string]int64{}
			}
			r.Drops[key] += n
			r.Dropped += n
			return nil
		}); err != nil {
			return fmt.Errorf("drops: %w", err)
		}
		var id, concrete, legacy, newer *string
		if err := eachRow(ctx, tx, sqlReportPaths, []any{route, top, cutoff, examples},
			[]any{&name, &key, &n, &id, &concrete, &legacy, &newer}, func() error {
				r := rep(name)
				if k := len(r.Paths); k == 0 || r.Paths[k-1].Path != key {
					r.Paths = append(r.Paths, PathStat{Path: key, Count: n})
				}
				if id != nil {
					ps := &r.Paths[len(r.Paths)-1]
					ps.Examples = append(ps.Examples, Example{ID: *id, Path: *concrete, Legacy: *legacy, New: *newer})
				}
				return nil
			}); err != nil {
			return fmt.Errorf("paths: %w", err)
		}
		var e ErrorExample
		if err := eachRow(ctx, tx, sqlReportErrors, []any{route, cutoff, keptErrors},
			[]any{&name, &e.ID, &e.At, &e.Error}, func() error {
				r := rep(name)
				r.RecentErrors = append(r.RecentErrors, e)
				return nil
			}); err != nil {
			return fmt.Errorf("errors: %w", err)
		}
		noise, err := queryNoise(ctx, tx, route)
		if err != nil {
			return fmt.Errorf("noise: %w", err)
		}
		for _, x := range noise {
			if r := reps[x.Route]; r != nil {
				r.Noise = append(r.Noise, x)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("shadow store: reading the report from PostgreSQL %s: %w", s.where, err)
	}
	out := make([]RouteReport, 0, len(reps))
	for _, r := range reps {
		if r.First.IsZero() && r.Matched+r.Differed+r.Errors+r.Dropped == 0 {
			continue // no count
		}
		r.Compared = r.Matched + r.Differed + r.Errors
		r.MatchRate = matchRate(r.Matched, r.Compared)
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b RouteReport) int { return cmp.Compare(a.Route, b.Route) })
	return out, nil
}

// pgQuerier is a pool or a transaction.
type pgQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// eachRow runs a query and calls fn after scanning each row into scans.
func eachRow(ctx context.Context, q pgQuerier, sql string, args []any, scans []any, fn func() error) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	_, err = pgx.ForEachRow(rows, scans, fn)
	return err
}

// queryNoise reads the noise of route ("" for every route), sorted by
// route then path.
func queryNoise(ctx context.Context, q pgQuerier, route string) ([]Noise, error) {
	rows, err := q.Query(ctx, sqlNoiseOf, route)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Noise, error) {
		var n Noise
		err := row.Scan(&n.Route, &n.Path, &n.Count, &n.Pinned, &n.Since)
		return n, err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Noise) int { return cmp.Or(cmp.Compare(a.Route, b.Route), cmp.Compare(a.Path, b.Path)) })
	if out == nil {
		out = []Noise{}
	}
	return out, nil
}

// Get reads a kept record not older than the retention age.
func (s *PostgresStore) Get(ctx context.Context, id string) (*Record, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	var doc []byte
	err := s.pool.QueryRow(ctx, sqlGet, id, s.now().Add(-s.ret.Age)).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("shadow store: reading record %s from PostgreSQL %s: %w", id, s.where, err)
	}
	var rec Record
	if err := json.Unmarshal(doc, &rec); err != nil {
		return nil, fmt.Errorf("shadow store: decoding record %s from PostgreSQL %s: %w", id, s.where, err)
	}
	return &rec, nil
}

// Noise reads the noise of route, or of every route for "".
func (s *PostgresStore) Noise(ctx context.Context, route string) ([]Noise, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	out, err := queryNoise(ctx, s.pool, route)
	if err != nil {
		return nil, fmt.Errorf("shadow store: reading noise from PostgreSQL %s: %w", s.where, err)
	}
	return out, nil
}

// PinNoise marks path as noise of route for good, in the database.
func (s *PostgresStore) PinNoise(ctx context.Context, route, path string) error {
	if err := checkNoise(route, path, 0); err != nil {
		return err
	}
	if err := s.open(); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, sqlPin, pgText(route), pgText(path), s.now()); err != nil {
		return fmt.Errorf("shadow store: pinning noise %s of route %q in PostgreSQL %s: %w", path, route, s.where, err)
	}
	return nil
}

// ClearNoise forgets path of route, or every unpinned path for "", in the
// database. It flushes first, so that noise learned before the call is
// cleared too.
func (s *PostgresStore) ClearNoise(ctx context.Context, route, path string) error {
	if err := s.Flush(ctx); err != nil {
		return err
	}
	var err error
	if path != "" {
		_, err = s.pool.Exec(ctx, sqlClearPath, pgText(route), pgText(path))
	} else {
		_, err = s.pool.Exec(ctx, sqlClearUnpinned, pgText(route))
	}
	if err != nil {
		return fmt.Errorf("shadow store: clearing noise of route %q in PostgreSQL %s: %w", route, s.where, err)
	}
	return nil
}

// open returns errClosed after Close.
func (s *PostgresStore) open() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	return nil
}
