package main

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	gosync "sync"
	"text/tabwriter"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"golang.org/x/term"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/dbconn"
	ssync "github.com/stranglerfig/strangler/sync"
)

func (a *app) syncCommand() *cobra.Command {
	c := &cobra.Command{Use: "sync", Short: "Change-data sync between the legacy and new databases"}
	status := &cobra.Command{Use: "status", Short: "Show each pipeline's phase, position and lag", Args: cobra.NoArgs,
		RunE: a.syncStatus}
	status.Flags().StringP("output", "o", "text", "output format: text or json")
	c.AddCommand(a.syncRunCommand(), status, a.syncVerifyCommand(), a.syncResumeCommand())
	return c
}

func (a *app) syncRunCommand() *cobra.Command {
	var only []string
	var metricsAddr string
	var acceptDDL bool
	c := &cobra.Command{
		Use:   "run",
		Short: "Snapshot, then stream changes, for every pipeline",
		Long: `run syncs every pipeline of the project file (or those named with
--pipeline) until interrupted.

A legacy-to-new pipeline takes a consistent snapshot of each table not yet
copied, then streams the binlog from the snapshot's position. Changes are
applied to PostgreSQL in batches of whole source transactions, each batch
committed together with its binlog position in the schema "strangler" of the
target, so a crash or restart loses nothing and applies nothing twice.

A new-to-legacy pipeline streams PostgreSQL's logical replication (a slot and
a publication it creates, named after it) into the legacy MySQL tables, each
batch committed together with its WAL position in the table
strangler_sync_checkpoint of the legacy database; PostgreSQL is told a
position only after MySQL committed it. It takes no snapshot: it starts from
its slot's creation, on tables that already hold the same rows.

A both-ways pipeline runs the two at once on the same tables, without echo:
the forward writes carry a replication origin the pgoutput reader skips, and
the writes back start with the checkpoint row the binlog reader skips. A row
changed on both sides before either change arrived is a conflict: the table's
policy (the system of record, or the newer timestamp) picks the version both
sides keep, and the conflict is counted and logged with both versions.

A database that goes away is waited for, with a log line per attempt. DDL
that cannot be applied automatically (narrowing, type family changes, ...)
pauses its pipeline, and so does a value the target cannot hold: the
pipeline stays in this process, in phase paused, and the log and
"sync status" name the statement and what to run on the target. Run that,
then "strangler sync resume NAME": the pipeline moves past the statement
and streams on, without a restart. --accept-ddl does the same at a start,
for a pipeline paused by an earlier run.

Exit status: 0 after an interrupt, 1 when every pipeline stopped on a
permanent error (or one had, before the interrupt).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config(false)
			if err != nil {
				return err
			}
			pipes, err := selectPipelines(cfg, only)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			return a.runSync(cmd.Context(), pipes, metricsAddr, acceptDDL)
		},
	}
	c.Flags().StringSliceVar(&only, "pipeline", nil, "run only these pipelines (default: all)")
	c.Flags().StringVar(&metricsAddr, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics (default: off)")
	c.Flags().BoolVar(&acceptDDL, "accept-ddl", false, "resume pipelines paused on DDL, after the paused statement (apply its equivalent to the target first)")
	return c
}

// selectPipelines returns the legacy-to-new pipelines named in only (all
// when empty).
func selectPipelines(cfg *config.Config, only []string) ([]config.Pipeline, error) {
	var out []config.Pipeline
	for _, p := range cfg.Sync {
		if len(only) > 0 && !slices.Contains(only, p.Name) {
			continue
		}
		out = append(out, p)
	}
	for _, n := range only {
		if !slices.ContainsFunc(cfg.Sync, func(p config.Pipeline) bool { return p.Name == n }) {
			return nil, fmt.Errorf("no sync pipeline named %q in %s", n, cfg.File)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no sync pipeline", cfg.File)
	}
	return out, nil
}

func (a *app) runSync(ctx context.Context, pipes []config.Pipeline, metricsAddr string, acceptDDL bool) error {
	if err := syncPreconditions(ctx, pipes); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	reg := prometheus.NewRegistry()
	metrics, err := ssync.NewMetrics(reg)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	mctx, stopMetrics := context.WithCancel(ctx)
	defer stopMetrics()
	g, gctx := errgroup.WithContext(mctx)
	if metricsAddr != "" {
		ln, err := net.Listen("tcp", metricsAddr)
		if err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("metrics listener: %w", err)}
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		a.log.Info("serving metrics at http://" + ln.Addr().String() + "/metrics")
		g.Go(func() error {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		})
	}
	if err := a.startTracing(ctx, a.loadedConfig, "strangler-sync"); err != nil {
		return err
	}
	defer a.stopTracing()
	prog := newProgress(a.stderr, a.log)
	var mu gosync.Mutex
	var failures []error
	var wg gosync.WaitGroup
	records, err := a.routeRecords(mctx, a.loadedConfig, pipes)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	for _, pc := range pipes {
		p, err := ssync.New(pc, pc.Source, pc.Target, ssync.Options{
			Logger: a.log, Metrics: metrics, Progress: prog.update, AcceptDDL: acceptDDL,
			AfterApply: a.syncSpans(pc.Name), Record: records[pc.Name],
		})
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Run(ctx); err != nil {
				mu.Lock()
				failures = append(failures, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	prog.finish()
	stopMetrics() // the pipelines are done
	if err := g.Wait(); err != nil {
		a.log.Error("metrics server", "error", err)
	}
	if len(failures) > 0 {
		for _, f := range failures {
			fmt.Fprintln(a.stderr, "strangler: sync:", f)
		}
		return &exitError{code: exitFailed, err: errFailed}
	}
	return nil
}

// progress shows snapshot progress: a bar per table on a terminal, a log
// line every few seconds otherwise.
type progress struct {
	mu     gosync.Mutex
	w      io.Writer
	tty    bool
	log    interface{ Info(string, ...any) }
	bars   map[string]*progressbar.ProgressBar
	logged map[string]time.Time
	start  map[string]time.Time
	first  map[string]int64
	now    func() time.Time
}

func newProgress(w io.Writer, log interface{ Info(string, ...any) }) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progress{w: w, tty: tty, log: log, bars: map[string]*progressbar.ProgressBar{},
		logged: map[string]time.Time{}, start: map[string]time.Time{}, first: map[string]int64{}, now: time.Now}
}

func (p *progress) update(s ssync.SnapshotProgress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := s.Pipeline + "/" + s.Table
	total := max(s.Total, s.Rows)
	if s.Done {
		total = s.Rows // the estimate was only an estimate
	}
	if p.tty {
		bar := p.bars[key]
		if bar == nil {
			bar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(p.w),
				progressbar.OptionSetDescription(key),
				progressbar.OptionShowCount(),
				progressbar.OptionShowIts(),
				progressbar.OptionSetItsString("rows"),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionSetWidth(30),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }),
			)
			p.bars[key] = bar
		}
		bar.ChangeMax64(total)
		_ = bar.Set64(s.Rows)
		if s.Done {
			_ = bar.Finish()
		}
		return
	}
	if s.Done {
		return // the pipeline logs the table's done line with its rate
	}
	now := p.now()
	if _, ok := p.start[key]; !ok {
		p.start[key], p.first[key], p.logged[key] = now, s.Rows, now
		p.log.Info(fmt.Sprintf("snapshot %s: starting, about %d rows", key, total))
		return
	}
	if now.Sub(p.logged[key]) < 5*time.Second {
		return
	}
	p.logged[key] = now
	// The rate is measured from the first update, at least 5 s ago.
	rate := float64(s.Rows-p.first[key]) / now.Sub(p.start[key]).Seconds()
	eta := "unknown (no rows copied yet)"
	if rate > 0 {
		eta = (time.Duration(float64(max(total-s.Rows, 0))/rate) * time.Second).Round(time.Second).String()
	}
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(s.Rows) / float64(total)
	}
	p.log.Info(fmt.Sprintf("snapshot %s: %d/%d rows (%.1f%%), %.0f rows/s, ETA %s", key, s.Rows, total, pct, rate, eta))
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.bars {
		_ = b.Exit()
	}
}

func (a *app) syncStatus(cmd *cobra.Command, _ []string) error {
	output, _ := cmd.Flags().GetString("output")
	if output != "text" && output != "json" {
		return &exitError{code: exitUsage, err: fmt.Errorf("sync status: -o %q: want text or json", output)}
	}
	cfg, err := a.config(false)
	if err != nil {
		return err
	}
	if len(cfg.Sync) == 0 {
		return &exitError{code: exitUsage, err: fmt.Errorf("%s has no sync pipeline", cfg.File)}
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
	defer cancel()
	var out []ssync.Status
	for _, p := range cfg.Sync {
		for _, h := range pipelineHalves(p) {
			st, err := readPipelineStatus(ctx, h)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			st.Direction = h.Direction
			out = append(out, st)
		}
	}
	if output == "json" {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	printStatus(a.stdout, out)
	return nil
}

// pipelineHalves are the directions of a pipeline, each as a pipeline of
// that direction: itself, or for direction both its legacy-to-new and its
// new-to-legacy half (the same name: each keeps its state where it
// applies).
func pipelineHalves(p config.Pipeline) []config.Pipeline {
	if p.Direction != config.DirectionBoth {
		return []config.Pipeline{p}
	}
	fwd, rev := p, p
	fwd.Direction, rev.Direction = config.DirectionLegacyToNew, config.DirectionNewToLegacy
	return []config.Pipeline{fwd, rev}
}

func readPipelineStatus(ctx context.Context, p config.Pipeline) (ssync.Status, error) {
	if p.Direction == config.DirectionNewToLegacy {
		return readReverseStatus(ctx, p)
	}
	dsn, err := dbconn.PostgresDSN(p.Target)
	if err != nil {
		return ssync.Status{}, fmt.Errorf("sync pipeline %q: %w", p.Name, err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return ssync.Status{}, fmt.Errorf("sync pipeline %q: connecting to %s: %w", p.Name, dbconn.Redact(dsn), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	st, err := ssync.ReadStatus(ctx, conn, p.Name)
	if err != nil {
		return st, err
	}
	// Tables that have no snapshot row yet.
	for _, t := range p.Tables {
		if !slices.ContainsFunc(st.Tables, func(ts ssync.TableStatus) bool { return ts.Table == t.Name }) {
			st.Tables = append(st.Tables, ssync.TableStatus{Table: t.Name, Phase: "not started"})
		}
	}
	return st, nil
}

// printStatus writes the text form of sync status.
func printStatus(w io.Writer, sts []ssync.Status) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PIPELINE\tDIRECTION\tTABLE\tPHASE\tPOSITION\tLAG\tLAG EVENTS\tROWS/S\tUPDATED")
	for _, s := range sts {
		updated := "-"
		if !s.UpdatedAt.IsZero() {
			updated = time.Since(s.UpdatedAt).Round(time.Second).String() + " ago"
		}
		where := s.Position.String()
		if s.Direction == config.DirectionNewToLegacy {
			where = "LSN " + cmp.Or(s.LSN, "(none)")
		}
		fmt.Fprintf(tw, "%s\t%s\t\t%s\t%s\t%.1fs\t%d\t%.0f\t%s\n", s.Pipeline, cmp.Or(s.Direction, config.DirectionLegacyToNew), s.Phase, where, s.LagSeconds, s.LagEvents, s.RowsPerSec, updated)
		for _, t := range s.Tables {
			phase := t.Phase
			if t.Phase == ssync.PhaseSnapshot {
				phase = fmt.Sprintf("snapshot %.1f%% (%d/%d rows)", t.Percent, t.Rows, t.Total)
			}
			fmt.Fprintf(tw, "\t\t%s\t%s\t\t\t\t\t\n", t.Table, phase)
		}
	}
	tw.Flush()
	for _, s := range sts {
		if sl := s.Slot; sl != nil && sl.Missing {
			fmt.Fprintf(w, "\n%s: replication slot %s does not exist (yet)\n", s.Pipeline, sl.Name)
		} else if sl != nil {
			fmt.Fprintf(w, "\n%s: replication slot %s (%s): confirmed LSN %s, %s of WAL after it, %s of WAL retained\n",
				s.Pipeline, sl.Name, map[bool]string{true: "active", false: "inactive"}[sl.Active], sl.ConfirmedLSN,
				byteSize(sl.LagBytes), byteSize(sl.RetainedWALBytes))
		}
	}
	for _, s := range sts {
		if s.Phase == ssync.PhaseStopped && s.Reason != "" {
			fmt.Fprintf(w, "\n%s stopped: %s\n", s.Pipeline, strings.TrimSpace(s.Reason))
			continue
		}
		if s.Phase == ssync.PhaseStreaming && strings.HasPrefix(s.Reason, ssync.KeptColumnsReason) {
			fmt.Fprintf(w, "\n%s: %s\n", s.Pipeline, strings.TrimSpace(s.Reason))
			continue
		}
		if s.Phase != ssync.PhasePaused {
			continue
		}
		if s.Statement != "" {
			fmt.Fprintf(w, "\n%s is paused on DDL:\n  %s\n  %s\n", s.Pipeline, s.Statement, strings.TrimSpace(s.Reason))
		} else {
			fmt.Fprintf(w, "\n%s is paused: %s\n", s.Pipeline, s.Reason)
		}
		if s.Todo != "" {
			fmt.Fprintf(w, "  To do first: %s\n  Then: strangler sync resume %s\n", s.Todo, s.Pipeline)
		}
	}
}

// forwardTargetChecks are the doctor checks of the new PostgreSQL database
// that legacy-to-new sync needs (it writes over an ordinary connection; the
// replication checks concern the other direction).
var forwardTargetChecks = []string{"connect", "database encoded in UTF8", "CREATE on the database"}

// syncPreconditions runs doctor's checks on every pipeline's source and
// target before anything is written, and refuses with each failure and its
// fix: a pipeline that would stop half way (binlog off, no privileges)
// must not have created its target tables first.
func syncPreconditions(ctx context.Context, pipes []config.Pipeline) error {
	var failures []string
	for _, p := range pipes {
		src, err := dbconn.MySQLDSN(p.Source)
		if err != nil {
			return fmt.Errorf("sync pipeline %q: source: %w", p.Name, err)
		}
		dst, err := dbconn.PostgresDSN(p.Target)
		if err != nil {
			return fmt.Errorf("sync pipeline %q: target: %w", p.Name, err)
		}
		if p.Direction == config.DirectionNewToLegacy || p.Direction == config.DirectionBoth {
			// PostgreSQL is this direction's source: logical replication,
			// a slot, a publication; MySQL is written.
			cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			for _, c := range checkLegacyWrites(cctx, src) {
				if !c.OK {
					failures = append(failures, fmt.Sprintf("pipeline %s, legacy MySQL %s: %s: %s; fix: %s", p.Name, dbconn.Redact(src), c.Name, c.Observed, c.Fix))
				}
			}
			for _, c := range checkReverseSource(cctx, dst, p.Name) {
				if !c.OK {
					failures = append(failures, fmt.Sprintf("pipeline %s, new PostgreSQL %s: %s: %s; fix: %s", p.Name, dbconn.Redact(dst), c.Name, c.Observed, c.Fix))
				}
			}
			cancel()
			if p.Direction == config.DirectionNewToLegacy {
				continue
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		srcChecks := checkMySQL(cctx, src)
		dstChecks := checkPostgres(cctx, dst)
		cancel()
		for _, c := range srcChecks {
			if !c.OK {
				failures = append(failures, fmt.Sprintf("pipeline %s, legacy MySQL %s: %s: %s; fix: %s", p.Name, dbconn.Redact(src), c.Name, c.Observed, c.Fix))
			}
		}
		for _, c := range dstChecks {
			if !c.OK && slices.Contains(forwardTargetChecks, c.Name) {
				failures = append(failures, fmt.Sprintf("pipeline %s, new PostgreSQL %s: %s: %s; fix: %s", p.Name, dbconn.Redact(dst), c.Name, c.Observed, c.Fix))
			}
		}
	}
	if len(failures) > 0 {
		return fmt.Errorf("sync run: the databases are not ready for change-data capture; nothing was written:\n  %s", strings.Join(failures, "\n  "))
	}
	return nil
}

// readReverseStatus reads a new-to-legacy pipeline's status from the legacy
// database, where it writes it, and its slot's current figures from
// PostgreSQL (the recorded ones when PostgreSQL cannot be asked): the WAL a
// stopped pipeline's slot retains grows while nobody runs it.
func readReverseStatus(ctx context.Context, p config.Pipeline) (ssync.Status, error) {
	src, err := dbconn.MySQLDSN(p.Source)
	if err != nil {
		return ssync.Status{}, fmt.Errorf("sync pipeline %q: %w", p.Name, err)
	}
	cfg, err := mysql.ParseDSN(src)
	if err != nil {
		return ssync.Status{}, fmt.Errorf("sync pipeline %q: legacy database %s: %w", p.Name, dbconn.Redact(src), err)
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return ssync.Status{}, fmt.Errorf("sync pipeline %q: legacy database %s: %w", p.Name, dbconn.Redact(src), err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	st, err := ssync.ReadReverseStatus(ctx, db, p.Name)
	if err != nil {
		return st, fmt.Errorf("sync pipeline %q: %w", p.Name, err)
	}
	if dst, err := dbconn.PostgresDSN(p.Target); err == nil {
		if conn, err := pgx.Connect(ctx, dst); err == nil {
			if slot, err := ssync.ReadSlotStatus(ctx, conn, p.Name); err == nil {
				st.Slot = &slot
			}
			conn.Close(context.WithoutCancel(ctx))
		}
	}
	for _, t := range p.Tables {
		phase := "not started" // this direction takes no snapshot
		if st.LSN != "" {
			phase = ssync.PhaseStreaming
		}
		st.Tables = append(st.Tables, ssync.TableStatus{Table: t.Name, Phase: phase})
	}
	return st, nil
}

// checkLegacyWrites checks that a new-to-legacy pipeline may write the
// legacy database.
func checkLegacyWrites(ctx context.Context, dsn string) []ssync.Check {
	return checkMySQLWith(ctx, dsn, ssync.CheckLegacyWrites)
}

// checkReverseSource runs doctor's PostgreSQL checks for a new-to-legacy
// pipeline, whose source the new database is.
func checkReverseSource(ctx context.Context, dsn, pipeline string) []ssync.Check {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return connectFailed(err, "check that the server runs, that pg_hba.conf admits the user, and the DSN")
	}
	defer conn.Close(context.WithoutCancel(ctx))
	checks, err := ssync.CheckReverseSource(ctx, conn, dsn, pipeline)
	if err != nil {
		return connectFailed(err, "check that the user may read server settings")
	}
	return checks
}

// byteSize formats a number of bytes: 512 B, 3.2 kB, 48.0 MB.
func byteSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, suffix := float64(n), []string{"kB", "MB", "GB", "TB"}
	i := -1
	for f >= unit && i < len(suffix)-1 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", f, suffix[i])
}
