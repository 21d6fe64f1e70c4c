package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/dbconn"
	ssync "github.com/stranglerfig/strangler/sync"
)

// verifyOutput is the document `sync verify -o json` writes (documented in
// docs/verify.md): whether everything is identical, one entry per table,
// and the error that stopped verify early, if any.
type verifyOutput struct {
	Identical bool           `json:"identical"`
	Tables    []verifyReport `json:"tables"`
	Error     string         `json:"error,omitempty"`
}

// verifyReport is one table's verify result.
type verifyReport struct {
	Pipeline      string          `json:"pipeline"`
	Table         string          `json:"table"`
	Identical     bool            `json:"identical"`
	SourceRows    int64           `json:"source_rows"`
	TargetRows    int64           `json:"target_rows"`
	Seconds       float64         `json:"seconds"`
	RowsPerSecond float64         `json:"rows_per_second"`
	Diffs         []ssync.RowDiff `json:"diffs"`
	// Repaired and After are set by --repair: the rows rewritten, and the
	// check that followed.
	Repaired int            `json:"repaired,omitempty"`
	After    *verifyRecheck `json:"after_repair,omitempty"`
}

// verifyRecheck is the check after a repair: the rows still different.
type verifyRecheck struct {
	Identical  bool            `json:"identical"`
	SourceRows int64           `json:"source_rows"`
	TargetRows int64           `json:"target_rows"`
	Diffs      []ssync.RowDiff `json:"diffs"`
}

// final is whether the table is identical once verify (and any repair) ran.
func (r verifyReport) final() bool {
	if r.After != nil {
		return r.After.Identical
	}
	return r.Identical
}

func (a *app) syncVerifyCommand() *cobra.Command {
	var tables, pipelines []string
	var repairRows bool
	var output string
	var chunk int
	c := &cobra.Command{
		Use:   "verify",
		Short: "Compare source and target row by row (exit 0 only when identical)",
		Long: `verify compares each synced table with its target, in key order, by checksums
of key ranges computed on both servers; ranges that differ are bisected and the
differing rows listed by key: missing (only in the source), extra (only in the
target) or different (with the differing columns). The source is the
pipeline's: MySQL for legacy-to-new, PostgreSQL for new-to-legacy.

With --repair, the differing rows are rewritten from the source in one target
transaction (missing and different rows upserted, extra rows deleted), and the
table is checked again. Run it while the pipeline is stopped or caught up: a
change streamed during the repair may be overwritten by the repair's copy.

Exit status: 0 when every table is identical (after the repair, with --repair),
1 when a table differs, 2 for a bad project file or a database error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return &exitError{code: exitUsage, err: fmt.Errorf("sync verify: -o %q: want text or json", output)}
			}
			cfg, err := a.config(false)
			if err != nil {
				return err
			}
			pipes, err := selectPipelines(cfg, pipelines)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			for _, t := range tables {
				if !slices.ContainsFunc(pipes, func(p config.Pipeline) bool {
					return slices.ContainsFunc(p.Tables, func(pt config.Table) bool { return pt.Name == t })
				}) {
					return &exitError{code: exitUsage, err: fmt.Errorf("sync verify: --table %s: no such table in the sync pipelines of %s", t, cfg.File)}
				}
			}
			var reports []verifyReport
			for _, p := range pipes {
				r, err := a.verifyPipeline(cmd.Context(), p, tables, repairRows, chunk)
				reports = append(reports, r...)
				if err != nil {
					if output == "json" {
						writeVerifyJSON(a.stdout, reports, err)
					}
					return &exitError{code: exitUsage, err: err}
				}
			}
			if output == "json" {
				writeVerifyJSON(a.stdout, reports, nil)
			} else {
				printVerify(a.stdout, reports)
			}
			if !slices.ContainsFunc(reports, func(r verifyReport) bool { return !r.final() }) {
				return nil
			}
			return &exitError{code: exitFailed, err: errFailed}
		},
	}
	c.Flags().StringSliceVar(&tables, "table", nil, "only these source tables (default: every synced table)")
	c.Flags().StringSliceVar(&pipelines, "pipeline", nil, "only these pipelines (default: all)")
	c.Flags().BoolVar(&repairRows, "repair", false, "rewrite differing rows from the source, then check again")
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	c.Flags().IntVar(&chunk, "chunk-rows", 0, "rows per checksummed range (default 100000)")
	return c
}

// verifyPipeline verifies the tables of one pipeline.
func (a *app) verifyPipeline(ctx context.Context, p config.Pipeline, only []string, repairRows bool, chunk int) ([]verifyReport, error) {
	reverse := p.Direction == config.DirectionNewToLegacy
	if reverse && repairRows {
		return nil, fmt.Errorf("sync verify --repair: pipeline %q is new-to-legacy, and repairing its legacy tables from PostgreSQL is not available in this build (--repair rewrites PostgreSQL from MySQL)", p.Name)
	}
	srcDSN, err := dbconn.MySQLDSN(p.Source)
	if err != nil {
		return nil, fmt.Errorf("sync pipeline %q: source: %w", p.Name, err)
	}
	dstDSN, err := dbconn.PostgresDSN(p.Target)
	if err != nil {
		return nil, fmt.Errorf("sync pipeline %q: target: %w", p.Name, err)
	}
	myCfg, err := dbconn.ParseMySQL(srcDSN)
	if err != nil {
		return nil, fmt.Errorf("sync pipeline %q: source: %w", p.Name, err)
	}
	myCfg.ParseTime = false
	connector, err := mysql.NewConnector(myCfg)
	if err != nil {
		return nil, fmt.Errorf("sync pipeline %q: source %s: %w", p.Name, dbconn.Redact(srcDSN), err)
	}
	src := sql.OpenDB(connector)
	defer src.Close()
	dstCfg, err := dbconn.ParsePostgresPool(dstDSN)
	if err != nil {
		return nil, fmt.Errorf("sync pipeline %q: target %s: %w", p.Name, dbconn.Redact(dstDSN), err)
	}
	dst, err := pgxpool.NewWithConfig(ctx, dstCfg)
	if err != nil {
		return nil, fmt.Errorf("sync pipeline %q: target %s: %w", p.Name, dbconn.Redact(dstDSN), err)
	}
	defer dst.Close()
	pol := ssync.PoliciesOf(p)
	var out []verifyReport
	for _, t := range p.Tables {
		if len(only) > 0 && !slices.Contains(only, t.Name) {
			continue
		}
		m, err := ssync.LoadTableMap(ctx, src, myCfg.DBName, t, pol)
		if err != nil {
			return out, fmt.Errorf("sync pipeline %q: %w", p.Name, err)
		}
		opts := ssync.VerifyOptions{ChunkRows: chunk, Logger: a.log, Repair: repairRows}
		res, err := ssync.Verify(ctx, src, dst, m, opts)
		if err != nil {
			return out, fmt.Errorf("sync pipeline %q: %w", p.Name, err)
		}
		r := reportOf(p.Name, res)
		if reverse {
			r = sourceIsPostgres(r)
		}
		if repairRows && !res.Identical() {
			opts.Repair = false
			again, err := ssync.Verify(ctx, src, dst, m, opts)
			if err != nil {
				return append(out, r), fmt.Errorf("sync pipeline %q: checking after the repair: %w", p.Name, err)
			}
			r.After = &verifyRecheck{Identical: again.Identical(), SourceRows: again.SourceRows, TargetRows: again.TargetRows, Diffs: nonNil(again.Diffs)}
		}
		out = append(out, r)
	}
	return out, nil
}

func reportOf(pipeline string, res ssync.VerifyResult) verifyReport {
	r := verifyReport{Pipeline: pipeline, Table: res.Table, Identical: res.Identical(), SourceRows: res.SourceRows,
		TargetRows: res.TargetRows, Diffs: nonNil(res.Diffs), Repaired: res.Repaired, Seconds: res.Elapsed.Seconds()}
	if r.Seconds > 0 {
		r.RowsPerSecond = float64(max(r.SourceRows, r.TargetRows)) / r.Seconds
	}
	return r
}

// sourceIsPostgres turns a comparison made from MySQL's side into the
// report of a new-to-legacy pipeline, whose source is PostgreSQL: a row
// only in MySQL is extra, one only in PostgreSQL is missing.
func sourceIsPostgres(r verifyReport) verifyReport {
	r.SourceRows, r.TargetRows = r.TargetRows, r.SourceRows
	diffs := make([]ssync.RowDiff, len(r.Diffs))
	for i, d := range r.Diffs {
		switch d.Kind {
		case ssync.DiffMissing:
			d.Kind = ssync.DiffExtra
		case ssync.DiffExtra:
			d.Kind = ssync.DiffMissing
		}
		diffs[i] = d
	}
	r.Diffs = diffs
	return r
}

// nonNil makes an empty list of diffs a JSON [] rather than null.
func nonNil(d []ssync.RowDiff) []ssync.RowDiff {
	if d == nil {
		return []ssync.RowDiff{}
	}
	return d
}

func writeVerifyJSON(w io.Writer, reports []verifyReport, err error) {
	out := verifyOutput{Identical: err == nil, Tables: reports}
	if out.Tables == nil {
		out.Tables = []verifyReport{}
	}
	for _, r := range reports {
		out.Identical = out.Identical && r.final()
	}
	if err != nil {
		out.Error = err.Error()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}

// printVerify writes the text form: one line per table, then its diffs.
func printVerify(w io.Writer, reports []verifyReport) {
	for _, r := range reports {
		state := "identical"
		if !r.Identical {
			state = fmt.Sprintf("%d rows differ", len(r.Diffs))
		}
		fmt.Fprintf(w, "%s/%s: %s (source %d rows, target %d rows, %.2fs, %.0f rows/s)\n",
			r.Pipeline, r.Table, state, r.SourceRows, r.TargetRows, r.Seconds, r.RowsPerSecond)
		const shown = 100
		for i, d := range r.Diffs {
			if i == shown {
				fmt.Fprintf(w, "  ... and %d more (-o json lists them all)\n", len(r.Diffs)-shown)
				break
			}
			line := "  " + d.Kind + " key " + strings.Join(d.Key, ",")
			if len(d.Columns) > 0 {
				line += " columns " + strings.Join(d.Columns, ",")
			}
			fmt.Fprintln(w, line)
		}
		if r.After != nil {
			state := "identical"
			if !r.After.Identical {
				state = fmt.Sprintf("still %d rows differ", len(r.After.Diffs))
			}
			fmt.Fprintf(w, "  repaired %d rows; after the repair: %s\n", r.Repaired, state)
		}
	}
}
