// Command bench measures strangler's MySQL -> PostgreSQL sync against its
// baselines, in one run, on one orders-like table, on throwaway local
// MariaDB and PostgreSQL servers:
//
//   - snapshot rows/s: strangler, a plain `mysql -B | psql \copy` pipe into
//     the same target table, and pgloader (when installed);
//   - streaming apply changes/s: draining a backlog, and under a writer that
//     saturates MariaDB;
//   - end-to-end lag p50/p99 at a steady rate of changes (source commit to
//     target apply, clocked by a trigger on the target);
//   - verify rows/s on identical tables.
//
// Run it with
//
//	go run ./sync/bench                             # legacy-to-new (MySQL -> PostgreSQL)
//	go run ./sync/bench -direction new-to-legacy    # PostgreSQL -> MySQL, with the forward streaming figures of the same run
//	go run ./sync/bench -direction both             # everything
//
// The new-to-legacy figures end with the same backlog drained by the
// new-to-legacy half of a direction: both pipeline (its rows compared with
// MariaDB's for conflicts first), and the ratio of the two.
//
// Knobs (environment): STRANGLER_BENCH_ROWS (default 1000000),
// STRANGLER_BENCH_RUNS (snapshot runs per tool, median reported, and verify
// runs after streaming, at least 5; default 3),
// STRANGLER_BENCH_BACKLOG (changes drained; default 200000),
// STRANGLER_BENCH_RATE (changes/s of the lag run; default 2000),
// STRANGLER_BENCH_SECONDS (length of the saturating and lag runs; default 10),
// STRANGLER_BENCH_SKIP (comma-separated: pgloader, pipe, stream, lag, verify,
// reverse, both),
// STRANGLER_BENCH_CPUPROFILE (a file for a CPU profile of the harness).
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/localdb"
	ssync "github.com/stranglerfig/strangler/sync"
)

const ordersDDL = `CREATE TABLE orders (
	id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
	customer_id int NOT NULL,
	status enum('new','paid','shipped','cancelled') NOT NULL,
	total decimal(12,2) NOT NULL,
	note varchar(64) NOT NULL,
	created_at datetime NOT NULL,
	updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
	paid tinyint(1) NOT NULL
)`

const selectOrders = "SELECT id, customer_id, status, total, note, created_at, updated_at, paid FROM orders"

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return n
		}
	}
	return def
}

type bench struct {
	ctx    context.Context
	my     *localdb.MySQL
	pg     *localdb.Postgres
	src    *sql.DB
	rows   int
	runs   int
	skip   []string
	log    *slog.Logger
	lines  []string
	figure map[string]float64
	// verifyFresh are the Verify rates measured on each strangler
	// snapshot's copy, before any change was streamed into it.
	verifyFresh []float64
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	direction := flag.String("direction", "legacy-to-new", "what to measure: legacy-to-new (snapshot, streaming, verify), new-to-legacy (its drain and lag, its bulk baseline, and the forward streaming figures of the same run), or both")
	flag.Parse()
	switch *direction {
	case "legacy-to-new", "new-to-legacy", "both":
	default:
		return fmt.Errorf("-direction %q: want legacy-to-new, new-to-legacy or both", *direction)
	}
	ctx := context.Background()
	b := &bench{ctx: ctx, rows: envInt("STRANGLER_BENCH_ROWS", 1_000_000), runs: envInt("STRANGLER_BENCH_RUNS", 3),
		skip:   strings.Split(os.Getenv("STRANGLER_BENCH_SKIP"), ","),
		log:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		figure: map[string]float64{}}
	fmt.Printf("strangler sync benchmark: %d rows, %d snapshot runs per tool\n", b.rows, b.runs)
	var err error
	if b.my, err = localdb.StartMySQL(ctx, localdb.DefaultMySQLOptions()); err != nil {
		return fmt.Errorf("starting MariaDB: %w", err)
	}
	defer b.my.Close()
	// 256 MB of shared buffers hold the 1,000,000-row tables (about 100 MB
	// each), as on a server sized for its data; the test suites' 64 MB do
	// not, and every scan would then read its pages from the OS cache.
	pgOpts := localdb.DefaultPostgresOptions()
	pgOpts.ExtraConf = map[string]string{"shared_buffers": "256MB"}
	if b.pg, err = localdb.StartPostgres(ctx, pgOpts); err != nil {
		return fmt.Errorf("starting PostgreSQL: %w", err)
	}
	defer b.pg.Close()
	if err := b.my.CreateDatabase(ctx, "bench"); err != nil {
		return err
	}
	if b.src, err = sql.Open("mysql", b.my.DSN("bench")); err != nil {
		return err
	}
	defer b.src.Close()
	if err := b.fill(); err != nil {
		return err
	}
	if f := os.Getenv("STRANGLER_BENCH_CPUPROFILE"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(out); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *direction != "new-to-legacy" {
		if err := b.snapshots(); err != nil {
			return err
		}
	}
	if err := b.streaming(); err != nil {
		return err
	}
	if *direction != "legacy-to-new" && !b.skipped("reverse") {
		if err := b.reverse(); err != nil {
			return err
		}
	}
	b.summary()
	return nil
}

func (b *bench) skipped(what string) bool { return slices.Contains(b.skip, what) }

func (b *bench) report(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	fmt.Println(line)
	b.lines = append(b.lines, line)
}

// fill creates the orders table with b.rows rows (MariaDB's sequence engine).
func (b *bench) fill() error {
	start := time.Now()
	if _, err := b.src.ExecContext(b.ctx, ordersDDL); err != nil {
		return fmt.Errorf("creating orders: %w", err)
	}
	q := fmt.Sprintf(`INSERT INTO orders (id, customer_id, status, total, note, created_at, updated_at, paid)
		SELECT seq, seq %% 50000, ELT(1 + seq %% 4, 'new', 'paid', 'shipped', 'cancelled'), (seq %% 100000) / 100,
			CONCAT('order note ', seq), '2024-01-01' + INTERVAL (seq %% 31536000) SECOND,
			FROM_UNIXTIME(1700000000 + seq %% 1000000), seq %% 2
		FROM seq_1_to_%d`, b.rows)
	if _, err := b.src.ExecContext(b.ctx, q); err != nil {
		return fmt.Errorf("filling orders: %w", err)
	}
	fmt.Printf("source filled: %d rows in %s\n", b.rows, time.Since(start).Round(time.Millisecond))
	return nil
}

func (b *bench) pipelineConfig(name string) config.Pipeline {
	return config.Pipeline{Name: name, Tables: []config.Table{{Name: "orders"}}, BatchSize: 5000, ChunkSize: 50000}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func fmtRates(xs []float64) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, fmt.Sprintf("%.0f", x))
	}
	return strings.Join(parts, ", ")
}

// snapshots measures the three snapshot tools, interleaved run by run; the
// ratios are medians of the per-run ratios, which a machine busy with other
// work disturbs less than the rates.
func (b *bench) snapshots() error {
	var mine, pipe, pgl, toPipe, toPgl []float64
	pgloader := !b.skipped("pgloader")
	if _, err := exec.LookPath("pgloader"); pgloader && err != nil {
		fmt.Println("pgloader: not installed")
		pgloader = false
	}
	for i := range b.runs {
		r, err := b.strangleSnapshot(fmt.Sprintf("snap%d", i))
		if err != nil {
			return err
		}
		mine = append(mine, r)
		if !b.skipped("pipe") {
			rp, err := b.pipeSnapshot(fmt.Sprintf("pipe%d", i))
			if err != nil {
				return err
			}
			pipe = append(pipe, rp)
			toPipe = append(toPipe, r/rp)
		}
		if pgloader {
			rl, err := b.pgloaderSnapshot(fmt.Sprintf("pgl%d", i))
			if err != nil {
				fmt.Println("pgloader: failed:", err)
				pgloader = false
			} else {
				pgl = append(pgl, rl)
				toPgl = append(toPgl, r/rl)
			}
		}
	}
	b.figure["snapshot"] = median(mine)
	b.report("snapshot  strangler     %9.0f rows/s  (median of %s)", median(mine), fmtRates(mine))
	if len(pipe) > 0 {
		b.report("snapshot  mysql|psql    %9.0f rows/s  (median of %s)", median(pipe), fmtRates(pipe))
		b.report("          strangler / pipe     = %.2fx (median of per-run ratios %s; target >= 0.7x)", median(toPipe), fmtRatios(toPipe))
	}
	if len(pgl) > 0 {
		b.report("snapshot  pgloader      %9.0f rows/s  (median of %s)", median(pgl), fmtRates(pgl))
		b.report("          strangler / pgloader = %.2fx (median of per-run ratios %s; target >= 2x)", median(toPgl), fmtRatios(toPgl))
	} else {
		b.report("snapshot  pgloader: not measured")
	}
	if len(b.verifyFresh) > 0 {
		b.report("verify on identical tables, right after the snapshot %9.0f rows/s  (median of %s; target >= 1000000)",
			median(b.verifyFresh), fmtRates(b.verifyFresh))
	}
	return nil
}

func fmtRatios(xs []float64) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, fmt.Sprintf("%.2f", x))
	}
	return strings.Join(parts, ", ")
}

// strangleSnapshot copies orders into a fresh database with a pipeline and
// returns rows/s from the snapshot's start to its last commit.
func (b *bench) strangleSnapshot(db string) (float64, error) {
	if err := b.pg.CreateDatabase(b.ctx, db); err != nil {
		return 0, err
	}
	defer b.pg.DropDatabase(context.WithoutCancel(b.ctx), db) //nolint:errcheck // best effort
	done := make(chan struct{})
	var once gosync.Once
	var first time.Time
	p, err := ssync.New(b.pipelineConfig(db), b.my.URL("bench"), b.pg.URL(db), ssync.Options{
		Logger: b.log,
		Progress: func(sp ssync.SnapshotProgress) {
			if sp.Done {
				once.Do(func() { close(done) })
			}
		},
	})
	if err != nil {
		return 0, err
	}
	first = time.Now()
	if err := p.Start(b.ctx); err != nil {
		return 0, err
	}
	select {
	case <-done:
	case <-time.After(10 * time.Minute):
		return 0, fmt.Errorf("strangler snapshot did not finish")
	}
	elapsed := time.Since(first)
	cctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := p.Close(cctx); err != nil {
		return 0, err
	}
	if err := b.checkCount(db, "orders"); err != nil {
		return 0, err
	}
	r := float64(b.rows) / elapsed.Seconds()
	fmt.Printf("  strangler snapshot: %s, %.0f rows/s\n", elapsed.Round(time.Millisecond), r)
	if !b.skipped("verify") {
		rates, err := b.verifyRates(db, 1)
		if err != nil {
			return 0, err
		}
		fmt.Printf("  verify of that copy: %.0f rows/s\n", rates[0])
		b.verifyFresh = append(b.verifyFresh, rates...)
	}
	return r, nil
}

func (b *bench) checkCount(db, table string) error {
	c, err := pgx.Connect(b.ctx, b.pg.URL(db))
	if err != nil {
		return err
	}
	defer c.Close(b.ctx)
	var n int
	if err := c.QueryRow(b.ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		return err
	}
	if n != b.rows {
		return fmt.Errorf("%s.%s has %d rows, want %d", db, table, n, b.rows)
	}
	return nil
}

// targetDDL is strangler's target table definition of orders.
func (b *bench) targetDDL() ([]string, error) {
	m, err := ssync.LoadTableMap(b.ctx, b.src, "bench", config.Table{Name: "orders", Target: "orders"}, ssync.Policies{})
	if err != nil {
		return nil, err
	}
	return m.CreateTargetSQL(), nil
}

// pipeSnapshot runs mysql -B | psql \copy into the same target table.
func (b *bench) pipeSnapshot(db string) (float64, error) {
	if err := b.pg.CreateDatabase(b.ctx, db); err != nil {
		return 0, err
	}
	defer b.pg.DropDatabase(context.WithoutCancel(b.ctx), db) //nolint:errcheck // best effort
	ddl, err := b.targetDDL()
	if err != nil {
		return 0, err
	}
	c, err := pgx.Connect(b.ctx, b.pg.URL(db))
	if err != nil {
		return 0, err
	}
	for _, s := range ddl {
		if _, err := c.Exec(b.ctx, s); err != nil {
			c.Close(b.ctx)
			return 0, err
		}
	}
	c.Close(b.ctx)
	script := fmt.Sprintf(`set -o pipefail; mysql -B -N --skip-ssl -h 127.0.0.1 -P %d -u root bench -e "SET time_zone='+00:00'; %s" | psql -X -q -v ON_ERROR_STOP=1 %q -c '\copy orders FROM STDIN'`,
		b.my.Port(), selectOrders, b.pg.URL(db))
	start := time.Now()
	out, err := exec.CommandContext(b.ctx, "bash", "-c", script).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("mysql | psql: %w: %s", err, out)
	}
	elapsed := time.Since(start)
	if err := b.checkCount(db, "orders"); err != nil {
		return 0, err
	}
	r := float64(b.rows) / elapsed.Seconds()
	fmt.Printf("  mysql|psql pipe:    %s, %.0f rows/s\n", elapsed.Round(time.Millisecond), r)
	return r, nil
}

// pgloaderSnapshot loads orders with pgloader.
func (b *bench) pgloaderSnapshot(db string) (float64, error) {
	if err := b.pg.CreateDatabase(b.ctx, db); err != nil {
		return 0, err
	}
	defer b.pg.DropDatabase(context.WithoutCancel(b.ctx), db) //nolint:errcheck // best effort
	f, err := os.CreateTemp("", "strangler-pgloader-*.load")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	fmt.Fprintf(f, "LOAD DATABASE\n FROM mysql://root@127.0.0.1:%d/bench\n INTO postgresql://postgres@127.0.0.1:%d/%s\n INCLUDING ONLY TABLE NAMES MATCHING 'orders';\n",
		b.my.Port(), b.pg.Port(), db)
	f.Close()
	start := time.Now()
	out, err := exec.CommandContext(b.ctx, "pgloader", f.Name()).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%w: %s", err, tail(string(out), 800))
	}
	elapsed := time.Since(start)
	if err := b.checkCount(db, "bench.orders"); err != nil {
		return 0, fmt.Errorf("%w: %s", err, tail(string(out), 800))
	}
	r := float64(b.rows) / elapsed.Seconds()
	fmt.Printf("  pgloader:           %s, %.0f rows/s\n", elapsed.Round(time.Millisecond), r)
	return r, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// masterPos reads the source's binlog end.
func (b *bench) masterPos() (ssync.Position, error) {
	var pos ssync.Position
	rows, err := b.src.QueryContext(b.ctx, "SHOW MASTER STATUS")
	if err != nil {
		return pos, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		return pos, fmt.Errorf("no binlog position")
	}
	vals := make([]sql.RawBytes, len(cols))
	dest := make([]any, len(cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	if err := rows.Scan(dest...); err != nil {
		return pos, err
	}
	pos.File = string(vals[0])
	p, err := strconv.ParseUint(string(vals[1]), 10, 32)
	pos.Pos = uint32(p)
	return pos, err
}

func atLeast(a, b ssync.Position) bool {
	if a.File != b.File {
		return a.File > b.File
	}
	return a.Pos >= b.Pos
}

// applyTracker follows a pipeline's applied batches.
type applyTracker struct {
	changes atomic.Int64
	mu      gosync.Mutex
	pos     ssync.Position
	last    time.Time
}

func (a *applyTracker) hook(ab ssync.AppliedBatch) {
	a.changes.Add(int64(ab.Changes))
	a.mu.Lock()
	a.pos, a.last = ab.Position, ab.Committed
	a.mu.Unlock()
}

func (a *applyTracker) reached(p ssync.Position) (bool, time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return atLeast(a.pos, p), a.last
}

// waitFor waits until the tracker passes pos and returns when the last
// batch was committed.
func (a *applyTracker) waitFor(pos ssync.Position, within time.Duration) (time.Time, error) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if ok, at := a.reached(pos); ok {
			return at, nil
		}
		time.Sleep(5 * time.Millisecond) // polling a counter, with a deadline
	}
	return time.Time{}, fmt.Errorf("the pipeline did not reach %s within %s", pos, within)
}
