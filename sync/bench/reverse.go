package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stranglerfig/strangler/internal/config"
	ssync "github.com/stranglerfig/strangler/sync"
)

// reverse measures the new-to-legacy direction (PostgreSQL logical
// replication -> MariaDB) on the orders table the forward snapshot copied
// into PostgreSQL, writing into the legacy database it came from:
//
//   - a bulk baseline: `psql \copy ... TO STDOUT | mysql LOAD DATA` of the
//     whole table into an empty copy of it (no changes, no position, no
//     exactly-once: the most a client can move from PostgreSQL to MariaDB);
//   - backlog drain: changes/s applying a backlog written while the
//     pipeline was stopped (restart included);
//   - lag at a steady rate: PostgreSQL commit to MariaDB apply, clocked by
//     a trigger on the legacy table.
func (b *bench) reverse() error {
	const pgdb = "rev"
	if err := b.pg.CreateDatabase(b.ctx, pgdb); err != nil {
		return err
	}
	fmt.Println("new-to-legacy: PostgreSQL -> MariaDB")
	// The forward direction fills PostgreSQL, as in a migration.
	done := make(chan struct{})
	var once gosync.Once
	fwd, err := ssync.New(b.pipelineConfig("revfill"), b.my.URL("bench"), b.pg.URL(pgdb), ssync.Options{Logger: b.log,
		Progress: func(sp ssync.SnapshotProgress) {
			if sp.Done {
				once.Do(func() { close(done) })
			}
		}})
	if err != nil {
		return err
	}
	if err := fwd.Start(b.ctx); err != nil {
		return err
	}
	select {
	case <-done:
	case <-time.After(10 * time.Minute):
		return fmt.Errorf("the forward snapshot did not finish")
	}
	cctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	err = fwd.Close(cctx)
	cancel()
	if err != nil {
		return err
	}
	var rows int
	if err := b.src.QueryRowContext(b.ctx, "SELECT COUNT(*) FROM orders").Scan(&rows); err != nil {
		return err
	}
	pg, err := pgx.Connect(b.ctx, b.pg.URL(pgdb))
	if err != nil {
		return err
	}
	defer pg.Close(b.ctx)
	for _, s := range []string{`CREATE TABLE lagprobe (id integer PRIMARY KEY, sent bigint NOT NULL)`, `VACUUM ANALYZE orders`} {
		if _, err := pg.Exec(b.ctx, s); err != nil {
			return err
		}
	}
	for _, s := range []string{`CREATE TABLE IF NOT EXISTS lagprobe (id int PRIMARY KEY, sent bigint NOT NULL)`, `DELETE FROM lagprobe`,
		`DROP TABLE IF EXISTS lag_samples`, `CREATE TABLE lag_samples (micros double NOT NULL)`} {
		if _, err := b.src.ExecContext(b.ctx, s); err != nil {
			return err
		}
	}

	if !b.skipped("pipe") {
		if err := b.reversePipe(pgdb, rows); err != nil {
			return err
		}
	}

	cfg := b.pipelineConfig("rev")
	cfg.Direction = config.DirectionNewToLegacy
	cfg.Tables = append(cfg.Tables, config.Table{Name: "lagprobe"})
	p, stop, err := b.reverseDrain(cfg, pg, pgdb, rows, "reverse_drain", "new-to-legacy backlog drain")
	if err != nil {
		return err
	}
	if !b.skipped("lag") {
		secs := envInt("STRANGLER_BENCH_SECONDS", 10)
		if err := b.reverseLag(pgdb, envInt("STRANGLER_BENCH_RATE", 2000), time.Duration(secs)*time.Second); err != nil {
			return err
		}
	}
	if err := stop(p); err != nil {
		return err
	}
	if !b.skipped("both") {
		// The same drain through the new-to-legacy half of a both-ways
		// pipeline: each batch's rows compared with MariaDB's first.
		// Named as the pipeline that filled PostgreSQL: its forward half
		// goes on from that one's position, with no second snapshot, as a
		// project turns its forward pipeline into a both-ways one.
		cfg := b.pipelineConfig("revfill")
		cfg.Direction, cfg.IDs, cfg.Record = config.DirectionBoth, config.IDsNone, config.RecordLegacy
		p, stop, err := b.reverseDrain(cfg, pg, pgdb, rows, "both_drain", "both ways: new-to-legacy backlog drain, conflicts checked")
		if err != nil {
			return err
		}
		if err := stop(p); err != nil {
			return err
		}
		b.report("  both ways / new-to-legacy alone: %.2f", b.figure["both_drain"]/b.figure["reverse_drain"])
		if err := b.bothForwardDrain(cfg, pgdb); err != nil {
			return err
		}
	}
	if !b.skipped("verify") {
		pool, err := pgxpool.New(b.ctx, b.pg.URL(pgdb))
		if err != nil {
			return err
		}
		defer pool.Close()
		m, err := ssync.LoadTableMap(b.ctx, b.src, "bench", config.Table{Name: "orders"}, ssync.Policies{})
		if err != nil {
			return err
		}
		res, err := ssync.Verify(b.ctx, b.src, pool, m, ssync.VerifyOptions{Logger: b.log})
		if err != nil {
			return err
		}
		if len(res.Diffs) > 0 {
			return fmt.Errorf("verify after new-to-legacy found %d differences, first %+v", len(res.Diffs), res.Diffs[0])
		}
		b.report("new-to-legacy verify: %d rows identical in MariaDB and PostgreSQL (%.0f rows/s)", res.SourceRows, float64(res.SourceRows)/res.Elapsed.Seconds())
	}
	return nil
}

// reversePipe copies orders from PostgreSQL into an empty copy in MariaDB
// with psql and mysql's LOAD DATA: the bulk baseline.
func (b *bench) reversePipe(pgdb string, rows int) error {
	if err := b.my.CreateDatabase(b.ctx, "pipeback"); err != nil {
		return err
	}
	defer b.my.DropDatabase(context.WithoutCancel(b.ctx), "pipeback") //nolint:errcheck // best effort
	if out, err := exec.CommandContext(b.ctx, "mysql", "--skip-ssl", "-h", "127.0.0.1", "-P", fmt.Sprint(b.my.Port()), "-u", "root", "pipeback",
		"-e", ordersDDL).CombinedOutput(); err != nil {
		return fmt.Errorf("creating the pipe's table: %w: %s", err, out)
	}
	// PGTZ=UTC: the timestamp with time zone is written as UTC wall clock.
	sel := `SELECT id, customer_id, status, total, note, created_at, updated_at::timestamp, paid::int FROM orders`
	script := fmt.Sprintf(`set -o pipefail; PGTZ=UTC psql -X -q -v ON_ERROR_STOP=1 %q -c '\copy (%s) TO STDOUT' | mysql --local-infile=1 --skip-ssl -h 127.0.0.1 -P %d -u root pipeback -e "SET time_zone='+00:00'; LOAD DATA LOCAL INFILE '/dev/stdin' INTO TABLE orders"`,
		b.pg.URL(pgdb), sel, b.my.Port())
	start := time.Now()
	out, err := exec.CommandContext(b.ctx, "bash", "-c", script).CombinedOutput()
	if err != nil {
		return fmt.Errorf("psql | mysql LOAD DATA: %w: %s", err, out)
	}
	elapsed := time.Since(start)
	var n int
	if err := b.src.QueryRowContext(b.ctx, "SELECT COUNT(*) FROM pipeback.orders").Scan(&n); err != nil {
		return err
	}
	if n != rows {
		return fmt.Errorf("pipeback.orders has %d rows, want %d", n, rows)
	}
	r := float64(rows) / elapsed.Seconds()
	b.figure["reverse_pipe"] = r
	b.report("new-to-legacy baseline: psql \\copy | mysql LOAD DATA %9.0f rows/s  (%d rows in %s, bulk, no position)", r, rows, elapsed.Round(time.Millisecond))
	return nil
}

// reverseLag writes changes to PostgreSQL at a steady rate: each
// transaction updates 9 orders and inserts a lagprobe row stamped with the
// time just before its COMMIT; a trigger on the legacy table records, at
// apply, how old the stamp is. Each transaction's probe row is new, so no
// sample is collapsed away.
func (b *bench) reverseLag(pgdb string, rate int, d time.Duration) error {
	for _, s := range []string{
		`DELETE FROM lag_samples`,
		`DROP TRIGGER IF EXISTS lag_i`,
		`CREATE TRIGGER lag_i AFTER INSERT ON lagprobe FOR EACH ROW INSERT INTO lag_samples VALUES (UNIX_TIMESTAMP(SYSDATE(6)) * 1000000 - NEW.sent)`,
	} {
		if _, err := b.src.ExecContext(b.ctx, s); err != nil {
			return err
		}
	}
	pool, err := pgxpool.New(b.ctx, b.pg.URL(pgdb))
	if err != nil {
		return err
	}
	defer pool.Close()
	var maxID int
	if err := pool.QueryRow(b.ctx, "SELECT max(id) FROM orders").Scan(&maxID); err != nil {
		return err
	}
	const perTxn, writers = 10, 8
	interval := time.Second * perTxn * writers / time.Duration(rate)
	deadline := time.Now().Add(d)
	var sent atomic.Int64
	var wg gosync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			rng := rand.New(rand.NewPCG(7, uint64(w)))
			for n := 0; time.Now().Before(deadline); n++ {
				<-tick.C
				ids := make([]string, perTxn-1)
				for i := range ids {
					ids[i] = fmt.Sprint(1 + rng.IntN(maxID))
				}
				tx, err := pool.Begin(b.ctx)
				if err != nil {
					errs <- err
					return
				}
				if _, err := tx.Exec(b.ctx, `UPDATE orders SET total = total + 1 WHERE id IN (`+strings.Join(ids, ",")+`)`); err != nil {
					_ = tx.Rollback(b.ctx)
					errs <- err
					return
				}
				if _, err := tx.Exec(b.ctx, `INSERT INTO lagprobe VALUES ($1, (extract(epoch FROM clock_timestamp()) * 1e6)::bigint)`, 1+w*1_000_000+n); err != nil {
					_ = tx.Rollback(b.ctx)
					errs <- err
					return
				}
				if err := tx.Commit(b.ctx); err != nil {
					errs <- err
					return
				}
				sent.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return fmt.Errorf("lag writer: %w", err)
	}
	n := sent.Load()
	// Updates of an order that two transactions of one batch both changed
	// collapse into one change: wait for the probes, not for a count.
	deadline = time.Now().Add(time.Minute)
	var samples int64
	for time.Now().Before(deadline) {
		if err := b.src.QueryRowContext(b.ctx, "SELECT COUNT(*) FROM lag_samples").Scan(&samples); err != nil {
			return err
		}
		if samples >= n {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling a count, with a deadline
	}
	if samples < n {
		return fmt.Errorf("%d of %d lag probes reached MariaDB", samples, n)
	}
	rows, err := b.src.QueryContext(b.ctx, "SELECT micros FROM lag_samples")
	if err != nil {
		return err
	}
	var lags []float64
	for rows.Next() {
		var v float64
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		lags = append(lags, v)
	}
	rows.Close()
	slices.Sort(lags)
	pct := func(p float64) float64 { return lags[min(len(lags)-1, int(p*float64(len(lags))))] / 1000 }
	b.figure["reverse_lag_p99_ms"] = pct(0.99)
	b.report("new-to-legacy lag at %d changes/s (%d transactions of %d changes): p50 %.1f ms, p99 %.1f ms, max %.1f ms (target p99 < 250 ms)",
		int(n)*perTxn/int(d.Seconds()), len(lags), perTxn, pct(0.5), pct(0.99), lags[len(lags)-1]/1000)
	return nil
}

// reverseDrain starts cfg (new-to-legacy, or both ways), lets it create
// its slot, stops it, writes a backlog of changes to PostgreSQL and times
// their drain after a restart (restart included), reported as key. It
// returns the running pipeline and how to stop it.
func (b *bench) reverseDrain(cfg config.Pipeline, pg *pgx.Conn, pgdb string, rows int, key, label string) (*ssync.Pipeline, func(*ssync.Pipeline) error, error) {
	tr := &applyTracker{}
	start := func() (*ssync.Pipeline, error) {
		p, err := ssync.New(cfg, b.my.URL("bench"), b.pg.URL(pgdb), ssync.Options{Logger: b.log, AfterApply: tr.hook})
		if err != nil {
			return nil, err
		}
		return p, p.Start(b.ctx)
	}
	stop := func(p *ssync.Pipeline) error {
		ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		defer cancel()
		return p.Close(ctx)
	}
	waitApplied := func(n int64, within time.Duration) (time.Time, error) {
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			if tr.changes.Load() >= n {
				tr.mu.Lock()
				at := tr.last
				tr.mu.Unlock()
				return at, nil
			}
			time.Sleep(5 * time.Millisecond) // polling a counter, with a deadline
		}
		return time.Time{}, fmt.Errorf("pipeline %s applied %d of %d changes within %s", cfg.Name, tr.changes.Load(), n, within)
	}
	streaming := func(p *ssync.Pipeline) error {
		h := p
		fwd, rev := p.Halves()
		if rev != nil {
			h = rev
		}
		for deadline := time.Now().Add(10 * time.Minute); h.Status().Phase != ssync.PhaseStreaming; {
			if time.Now().After(deadline) {
				return fmt.Errorf("pipeline %s did not start streaming: %s %s", cfg.Name, h.Status().Phase, h.Status().Reason)
			}
			time.Sleep(5 * time.Millisecond) // polling a phase, with a deadline
		}
		if fwd == nil {
			return nil
		}
		// A both-ways pipeline's forward half first reads what the binlog
		// holds since its position (here the new-to-legacy runs' writes,
		// which it skips): let it get there before measuring.
		end, err := b.masterPos()
		if err != nil {
			return err
		}
		for deadline := time.Now().Add(10 * time.Minute); ; {
			at := fwd.Status().Position
			if at.File > end.File || at.File == end.File && at.Pos >= end.Pos {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the forward half of %s did not reach %s (at %s)", cfg.Name, end, at)
			}
			time.Sleep(5 * time.Millisecond) // polling a position, with a deadline
		}
	}

	// The first run creates the slot; a backlog builds up while it is down.
	p, err := start()
	if err != nil {
		return nil, nil, err
	}
	if err := streaming(p); err != nil {
		return nil, nil, err
	}
	if _, err := pg.Exec(b.ctx, `UPDATE orders SET total = total + 1 WHERE id = 1`); err != nil {
		return nil, nil, err
	}
	if _, err := waitApplied(1, time.Minute); err != nil {
		return nil, nil, err
	}
	if err := stop(p); err != nil {
		return nil, nil, err
	}
	backlog := envInt("STRANGLER_BENCH_BACKLOG", 200_000)
	t0 := time.Now()
	for n := 0; n < backlog; n += 100 {
		lo := 1 + (n % (rows - 100))
		if _, err := pg.Exec(b.ctx, `UPDATE orders SET total = total + 1, note = 'backlog ' || id, paid = NOT paid,
			status = (ARRAY['new','paid','shipped','cancelled'])[1 + (id + $1) % 4] WHERE id BETWEEN $2 AND $3`, n, lo, lo+99); err != nil {
			return nil, nil, fmt.Errorf("writing the backlog: %w", err)
		}
	}
	fmt.Printf("  backlog of %d changes written to PostgreSQL in %s\n", backlog, time.Since(t0).Round(time.Millisecond))
	before := tr.changes.Load()
	t0 = time.Now()
	if p, err = start(); err != nil {
		return nil, nil, err
	}
	end, err := waitApplied(before+int64(backlog), 10*time.Minute)
	if err != nil {
		return nil, nil, err
	}
	drain := float64(backlog) / end.Sub(t0).Seconds()
	b.figure[key] = drain
	b.report("%s %9.0f changes/s  (%d changes in %s, restart included; target >= 20000)", label, drain, backlog, end.Sub(t0).Round(time.Millisecond))
	return p, stop, nil
}

// bothForwardDrain times the forward half of the both-ways pipeline cfg
// draining a backlog written to MariaDB while it was stopped (its rows
// compared with PostgreSQL's first), against the forward pipeline's own
// drain of the same run.
func (b *bench) bothForwardDrain(cfg config.Pipeline, pgdb string) error {
	backlog := envInt("STRANGLER_BENCH_BACKLOG", 200_000)
	if err := b.makeBacklog(backlog); err != nil {
		return err
	}
	t0 := time.Now()
	p, err := ssync.New(cfg, b.my.URL("bench"), b.pg.URL(pgdb), ssync.Options{Logger: b.log})
	if err != nil {
		return err
	}
	if err := p.Start(b.ctx); err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	}()
	fwd, _ := p.Halves()
	for deadline := time.Now().Add(10 * time.Minute); fwd.Status().Changes < int64(backlog); {
		if time.Now().After(deadline) {
			return fmt.Errorf("the forward half of %s applied %d of %d changes", cfg.Name, fwd.Status().Changes, backlog)
		}
		time.Sleep(5 * time.Millisecond) // polling a counter, with a deadline
	}
	drain := float64(backlog) / time.Since(t0).Seconds()
	b.figure["both_forward_drain"] = drain
	b.report("both ways: legacy-to-new backlog drain, conflicts checked %9.0f changes/s  (%d changes, restart included; target >= 20000)", drain, backlog)
	if f := b.figure["drain"]; f > 0 {
		b.report("  both ways / legacy-to-new alone: %.2f", drain/f)
	}
	return nil
}
