package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stranglerfig/strangler/internal/config"
	ssync "github.com/stranglerfig/strangler/sync"
)

// streaming measures apply rate, lag and verify on one target database.
func (b *bench) streaming() error {
	if b.skipped("stream") {
		return nil
	}
	const db = "stream"
	if err := b.pg.CreateDatabase(b.ctx, db); err != nil {
		return err
	}
	if _, err := b.src.ExecContext(b.ctx, `CREATE TABLE lagprobe (id int PRIMARY KEY, sent bigint NOT NULL)`); err != nil {
		return err
	}
	cfg := b.pipelineConfig(db)
	cfg.Tables = append(cfg.Tables, config.Table{Name: "lagprobe"})
	tr := &applyTracker{}
	snapped := make(chan string, len(cfg.Tables))
	start := func() (*ssync.Pipeline, error) {
		p, err := ssync.New(cfg, b.my.URL("bench"), b.pg.URL(db), ssync.Options{Logger: b.log, AfterApply: tr.hook,
			Progress: func(sp ssync.SnapshotProgress) {
				if sp.Done {
					snapped <- sp.Table
				}
			}})
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

	// The initial copy, then stop: a backlog builds up while it is down.
	p, err := start()
	if err != nil {
		return err
	}
	for range cfg.Tables {
		<-snapped
	}
	// A change after the snapshot, for the stream to apply.
	if _, err := b.src.ExecContext(b.ctx, `INSERT INTO lagprobe VALUES (-1, 0)`); err != nil {
		return err
	}
	pos, err := b.masterPos()
	if err != nil {
		return err
	}
	if _, err := tr.waitFor(pos, 10*time.Minute); err != nil {
		return err
	}
	if err := stop(p); err != nil {
		return err
	}

	backlog := envInt("STRANGLER_BENCH_BACKLOG", 200_000)
	if err := b.makeBacklog(backlog); err != nil {
		return err
	}
	if pos, err = b.masterPos(); err != nil {
		return err
	}
	before := tr.changes.Load()
	t0 := time.Now()
	if p, err = start(); err != nil {
		return err
	}
	end, err := tr.waitFor(pos, 10*time.Minute)
	if err != nil {
		return err
	}
	drained := tr.changes.Load() - before
	drainRate := float64(drained) / end.Sub(t0).Seconds()
	b.figure["drain"] = drainRate
	b.report("streaming backlog drain %9.0f changes/s  (%d changes in %s, restart included; target >= 20000)", drainRate, drained, end.Sub(t0).Round(time.Millisecond))

	secs := envInt("STRANGLER_BENCH_SECONDS", 10)
	if err := b.saturate(tr, time.Duration(secs)*time.Second); err != nil {
		return err
	}
	if !b.skipped("lag") {
		if err := b.lag(db, tr, envInt("STRANGLER_BENCH_RATE", 2000), time.Duration(secs)*time.Second); err != nil {
			return err
		}
	}
	if err := stop(p); err != nil {
		return err
	}
	if !b.skipped("verify") {
		return b.verify(db)
	}
	return nil
}

// makeBacklog writes n row changes: updates of 100 rows per transaction.
func (b *bench) makeBacklog(n int) error {
	t0 := time.Now()
	for done := 0; done < n; done += 100 {
		lo := 1 + (done % (b.rows - 100))
		if _, err := b.src.ExecContext(b.ctx, `UPDATE orders SET total = total + 1, note = CONCAT('backlog ', id), paid = 1 - paid,
			status = ELT(1 + (id + ?) % 4, 'new', 'paid', 'shipped', 'cancelled') WHERE id BETWEEN ? AND ?`, done, lo, lo+99); err != nil {
			return fmt.Errorf("writing the backlog: %w", err)
		}
	}
	fmt.Printf("  backlog of %d changes written in %s\n", n, time.Since(t0).Round(time.Millisecond))
	return nil
}

// saturate runs writers as fast as MariaDB takes them, with the pipeline
// streaming, and reports both rates.
func (b *bench) saturate(tr *applyTracker, d time.Duration) error {
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	var written atomic.Int64
	var wg gosync.WaitGroup
	errs := make(chan error, 4)
	before := tr.changes.Load()
	t0 := time.Now()
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			for ctx.Err() == nil {
				// An update of 20 random rows and an insert of 5, in one
				// transaction: 25 row changes.
				tx, err := b.src.BeginTx(b.ctx, nil)
				if err != nil {
					errs <- err
					return
				}
				ids := make([]string, 20)
				for i := range ids {
					ids[i] = fmt.Sprint(1 + rng.IntN(b.rows))
				}
				if _, err := tx.Exec(`UPDATE orders SET total = total + 1, updated_at = NOW() WHERE id IN (` + strings.Join(ids, ",") + `)`); err != nil {
					tx.Rollback()
					errs <- err
					return
				}
				if _, err := tx.Exec(`INSERT INTO orders (customer_id, status, total, note, created_at, paid) VALUES
					(1, 'new', 1, 'sat', NOW(), 0), (2, 'paid', 2, 'sat', NOW(), 1), (3, 'new', 3, 'sat', NOW(), 0),
					(4, 'shipped', 4, 'sat', NOW(), 1), (5, 'new', 5, 'sat', NOW(), 0)`); err != nil {
					tx.Rollback()
					errs <- err
					return
				}
				if err := tx.Commit(); err != nil {
					errs <- err
					return
				}
				written.Add(25)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	applied := tr.changes.Load() - before
	close(errs)
	for err := range errs {
		return fmt.Errorf("saturating writer: %w", err)
	}
	pos, err := b.masterPos()
	if err != nil {
		return err
	}
	end, err := tr.waitFor(pos, 10*time.Minute)
	if err != nil {
		return err
	}
	b.report("streaming under a saturating writer: writer %0.f changes/s, applied %.0f changes/s during the run, caught up %s after it",
		float64(written.Load())/elapsed.Seconds(), float64(applied)/elapsed.Seconds(), max(0, end.Sub(t0.Add(elapsed))).Round(time.Millisecond))
	b.figure["saturate"] = float64(applied) / elapsed.Seconds()
	return nil
}

// lag writes changes at a steady rate: each transaction updates 9 orders
// and stamps a lagprobe row with the time just before its COMMIT; a
// trigger on the target records, at apply, how old the stamp is.
func (b *bench) lag(db string, tr *applyTracker, rate int, d time.Duration) error {
	c, err := pgx.Connect(b.ctx, b.pg.URL(db))
	if err != nil {
		return err
	}
	defer c.Close(b.ctx)
	for _, s := range []string{
		`CREATE TABLE lag_samples (micros double precision)`,
		`CREATE FUNCTION lag_f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			INSERT INTO lag_samples VALUES (extract(epoch FROM clock_timestamp()) * 1e6 - NEW.sent); RETURN NULL; END $$`,
		`CREATE TRIGGER lag_t AFTER INSERT OR UPDATE ON lagprobe FOR EACH ROW EXECUTE FUNCTION lag_f()`,
	} {
		if _, err := c.Exec(b.ctx, s); err != nil {
			return err
		}
	}
	// Eight writers share the rate, so that one slow commit does not hold
	// the rest back.
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
			rng := rand.New(rand.NewPCG(5, uint64(w)))
			for n := 0; time.Now().Before(deadline); n++ {
				<-tick.C
				if err := b.lagTxn(rng, w*100000+n%1000); err != nil {
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
	n := int(sent.Load())
	pos, err := b.masterPos()
	if err != nil {
		return err
	}
	if _, err := tr.waitFor(pos, time.Minute); err != nil {
		return err
	}
	var p50, p99, mx float64
	var samples int
	if err := c.QueryRow(b.ctx, `SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY micros),
		percentile_cont(0.99) WITHIN GROUP (ORDER BY micros), max(micros) FROM lag_samples`).Scan(&samples, &p50, &p99, &mx); err != nil {
		return err
	}
	b.figure["lag_p99_ms"] = p99 / 1000
	b.report("lag at %d changes/s (%d transactions of %d changes): p50 %.1f ms, p99 %.1f ms, max %.1f ms (target p99 < 1000 ms)",
		n*perTxn/int(d.Seconds()), samples, perTxn, p50/1000, p99/1000, mx/1000)
	return nil
}

// lagTxn updates perTxn-1 random orders and stamps lagprobe row id with
// the time just before COMMIT.
func (b *bench) lagTxn(rng *rand.Rand, id int) error {
	tx, err := b.src.BeginTx(b.ctx, nil)
	if err != nil {
		return err
	}
	ids := make([]string, 9)
	for i := range ids {
		ids[i] = fmt.Sprint(1 + rng.IntN(b.rows))
	}
	if _, err := tx.Exec(`UPDATE orders SET total = total + 1 WHERE id IN (` + strings.Join(ids, ",") + `)`); err != nil {
		tx.Rollback()
		return err
	}
	if _, err := tx.Exec(`INSERT INTO lagprobe VALUES (?, ?) ON DUPLICATE KEY UPDATE sent = VALUES(sent)`, id, time.Now().UnixMicro()); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// verify compares the streamed orders table with the source: once right
// after the streaming runs, while both servers still clean up after them
// (InnoDB purges the old row versions, autovacuum may start), then, runs
// times (five at least), once they are done: PostgreSQL's VACUUM ANALYZE of the table, as
// autovacuum does within a minute, and MariaDB's purge caught up.
func (b *bench) verify(db string) error {
	busy, err := b.verifyRates(db, 1)
	if err != nil {
		return err
	}
	b.report("verify on identical tables, right after streaming %9.0f rows/s  (one run, servers cleaning up)", busy[0])
	if err := b.settle(db); err != nil {
		return err
	}
	// A verify takes about a second: five runs at least give a steadier
	// median on a shared machine.
	rates, err := b.verifyRates(db, max(b.runs, 5))
	if err != nil {
		return err
	}
	b.figure["verify"] = median(rates)
	b.report("verify on identical tables, after streaming  %9.0f rows/s  (median of %s; target >= 1000000)", median(rates), fmtRates(rates))
	return nil
}

// settle vacuums the streamed target table and waits (at most a minute)
// until MariaDB's purge has caught up with the streaming runs' updates.
func (b *bench) settle(db string) error {
	t0 := time.Now()
	c, err := pgx.Connect(b.ctx, b.pg.URL(db))
	if err != nil {
		return err
	}
	defer c.Close(b.ctx)
	if _, err := c.Exec(b.ctx, "VACUUM (ANALYZE) orders"); err != nil {
		return fmt.Errorf("vacuuming the target: %w", err)
	}
	if _, err := c.Exec(b.ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("checkpointing the target: %w", err)
	}
	var history int64
	for time.Since(t0) < time.Minute {
		if err := b.src.QueryRowContext(b.ctx, "SELECT `COUNT` FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'").Scan(&history); err != nil {
			return fmt.Errorf("reading MariaDB's purge backlog: %w", err)
		}
		if history < 1000 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Then until neither server uses more than 2% of a core over a second
	// (InnoDB's page cleaner and PostgreSQL's writers flush what the
	// streaming runs left dirty).
	var busy time.Duration
	for time.Since(t0) < time.Minute {
		my0, pg0 := treeCPU(b.my.PID()), treeCPU(b.pg.PID())
		time.Sleep(time.Second)
		busy = max(treeCPU(b.my.PID())-my0, treeCPU(b.pg.PID())-pg0)
		if busy <= 20*time.Millisecond {
			break
		}
	}
	fmt.Printf("  settled in %s (VACUUM ANALYZE, CHECKPOINT; InnoDB history length %d; busiest server %s of CPU in the last second)\n",
		time.Since(t0).Round(time.Millisecond), history, busy)
	return nil
}

// verifyRates runs Verify of orders in db runs times and returns its rows/s;
// the tables must be identical.
func (b *bench) verifyRates(db string, runs int) ([]float64, error) {
	pool, err := pgxpool.New(b.ctx, b.pg.URL(db))
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	m, err := ssync.LoadTableMap(b.ctx, b.src, "bench", config.Table{Name: "orders", Target: "orders"}, ssync.Policies{})
	if err != nil {
		return nil, err
	}
	var rates []float64
	for range runs {
		my0, pg0 := treeCPU(b.my.PID()), treeCPU(b.pg.PID())
		res, err := ssync.Verify(b.ctx, b.src, pool, m, ssync.VerifyOptions{Logger: b.log})
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		if len(res.Diffs) > 0 {
			return nil, fmt.Errorf("verify found %d differences, first %+v", len(res.Diffs), res.Diffs[0])
		}
		rates = append(rates, float64(res.SourceRows)/res.Elapsed.Seconds())
		// Where the time went: the two servers share the machine's cores.
		perM := 1e6 / float64(res.SourceRows)
		myCPU, pgCPU := treeCPU(b.my.PID())-my0, treeCPU(b.pg.PID())-pg0
		fmt.Printf("    verify %d rows in %s: %.0f rows/s; CPU per 1M rows: MariaDB %.2f s, PostgreSQL %.2f s\n",
			res.SourceRows, res.Elapsed.Round(time.Millisecond), rates[len(rates)-1],
			myCPU.Seconds()*perM, pgCPU.Seconds()*perM)
	}
	return rates, nil
}

func (b *bench) summary() {
	fmt.Println()
	fmt.Println("summary")
	for _, l := range b.lines {
		fmt.Println("  " + l)
	}
}
