// Command hugetxn measures the peak resident memory of a sync pipeline
// applying one huge source transaction: an UPDATE of every row of a table
// of ~100-byte rows, in one MariaDB transaction, streamed to PostgreSQL.
//
// It starts throwaway local MariaDB and PostgreSQL servers, fills the
// source, lets the pipeline snapshot it, resets the process's peak RSS
// (/proc/self/clear_refs), runs the UPDATE and waits until the target holds
// it, then prints the resident memory before the UPDATE and the peak while
// it was applied (VmRSS and VmHWM of /proc/self/status).
//
//	go run ./sync/bench/hugetxn            # 600,000 rows
//	STRANGLER_HUGETXN_ROWS=100000 go run ./sync/bench/hugetxn
package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/localdb"
	ssync "github.com/stranglerfig/strangler/sync"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hugetxn:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	rows := 600_000
	if v := os.Getenv("STRANGLER_HUGETXN_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return fmt.Errorf("STRANGLER_HUGETXN_ROWS=%q: not a positive number", v)
		}
		rows = n
	}
	my, err := localdb.StartMySQL(ctx, localdb.DefaultMySQLOptions())
	if err != nil {
		return fmt.Errorf("starting MariaDB: %w", err)
	}
	defer my.Close()
	pg, err := localdb.StartPostgres(ctx, localdb.DefaultPostgresOptions())
	if err != nil {
		return fmt.Errorf("starting PostgreSQL: %w", err)
	}
	defer pg.Close()
	if err := my.CreateDatabase(ctx, "huge"); err != nil {
		return err
	}
	if err := pg.CreateDatabase(ctx, "huge"); err != nil {
		return err
	}
	src, err := sql.Open("mysql", my.DSN("huge"))
	if err != nil {
		return err
	}
	defer src.Close()
	// id (4) + ver (4) + note (~90): about 100 bytes a row.
	for _, s := range []string{
		`CREATE TABLE rows100 (id int NOT NULL PRIMARY KEY, ver int NOT NULL, note varchar(100) NOT NULL)`,
		fmt.Sprintf(`INSERT INTO rows100 SELECT seq, 1, REPEAT('x', 90) FROM seq_1_to_%d`, rows),
	} {
		if _, err := src.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	cfg := config.Pipeline{Name: "huge", Tables: []config.Table{{Name: "rows100"}}}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p, err := ssync.New(cfg, my.URL("huge"), pg.URL("huge"), ssync.Options{Logger: log})
	if err != nil {
		return err
	}
	if err := p.Start(ctx); err != nil {
		return err
	}
	defer p.Close(context.WithoutCancel(ctx)) //nolint:errcheck // the figures are printed by then
	if err := waitFor(func() bool { return p.Status().Phase == ssync.PhaseStreaming }, 10*time.Minute); err != nil {
		return fmt.Errorf("waiting for the snapshot: %w (phase %s)", err, p.Status().Phase)
	}
	runtime.GC()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("resetting the peak RSS: %w", err)
	}
	before, _, err := memory()
	if err != nil {
		return err
	}
	start := time.Now()
	if _, err := src.ExecContext(ctx, `UPDATE rows100 SET ver = 2, note = REPEAT('y', 90)`); err != nil {
		return err
	}
	dst, err := pgx.Connect(ctx, pg.URL("huge"))
	if err != nil {
		return err
	}
	defer dst.Close(ctx)
	var stopped error
	err = waitFor(func() bool {
		if st := p.Status(); st.Phase == ssync.PhaseStopped || st.Phase == ssync.PhasePaused {
			stopped = fmt.Errorf("the pipeline stopped: %s", st.Reason)
			return true
		}
		var n int
		return dst.QueryRow(ctx, `SELECT count(*) FROM rows100 WHERE ver = 2`).Scan(&n) == nil && n == rows
	}, 30*time.Minute)
	if err == nil {
		err = stopped
	}
	_, peak, merr := memory()
	if merr != nil {
		return merr
	}
	fmt.Printf("rows %d: RSS before the UPDATE %d MB, peak while applying it %d MB (%.0f bytes per changed row above the start), %s\n",
		rows, before>>20, peak>>20, float64(peak-before)/float64(rows), time.Since(start).Round(time.Millisecond))
	return err
}

// memory reads VmRSS and VmHWM of this process, in bytes.
func memory() (rss, hwm int64, err error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0, fmt.Errorf("reading the process status: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "VmRSS":
			dst = &rss
		case "VmHWM":
			dst = &hwm
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("reading %s %q: %w", k, v, err)
		}
		*dst = kb << 10
	}
	return rss, hwm, sc.Err()
}

func waitFor(cond func() bool, within time.Duration) error {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not done after %s", within)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}
