package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"
	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/dbconn"
	ssync "github.com/stranglerfig/strangler/sync"
)

// doctorReport is the result of the checks on one server.
type doctorReport struct {
	Role   string        `json:"role"`   // "legacy MySQL" or "new PostgreSQL"
	Server string        `json:"server"` // the DSN, password redacted
	Checks []ssync.Check `json:"checks"`
}

func (r doctorReport) failed() int {
	n := 0
	for _, c := range r.Checks {
		if !c.OK {
			n++
		}
	}
	return n
}

func (a *app) doctorCommand() *cobra.Command {
	var legacy, newDB, output string
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check that the databases are ready for change-data capture, and say how to fix each failure",
		Long: `doctor connects to the legacy MySQL/MariaDB and the new PostgreSQL databases of
the project file (or --legacy / --new) and checks each prerequisite of
change-data capture: binlog on, ROW format, full row image and metadata, a
server id, a binlog position, replication privileges; wal_level=logical, a
free replication slot and WAL sender, the REPLICATION privilege, CREATE on the
database and a working replication connection; and for each legacy-to-new
pipeline of the project file, that the source keeps its binlogs long enough
for the pipeline's lag and still has its saved position. Each failure prints
the statement or config line that fixes it. Exit status 1 when any check
fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			writesBack := false
			var pipelines []config.Pipeline
			if legacy == "" || newDB == "" {
				cfg, err := a.config(true)
				if err != nil {
					return err
				}
				if cfg != nil {
					pipelines = cfg.Sync
				}
				if cfg != nil {
					for _, p := range cfg.Sync {
						writesBack = writesBack || p.Direction == config.DirectionNewToLegacy || p.Direction == config.DirectionBoth
					}
					if legacy == "" {
						legacy = cfg.Databases.Legacy
					}
					if newDB == "" {
						newDB = cfg.Databases.New
					}
				}
			}
			if legacy == "" && newDB == "" {
				return &exitError{code: exitUsage, err: fmt.Errorf("doctor: no database to check: set databases in %s or give --legacy / --new", a.configPath)}
			}
			reports, err := runDoctor(cmd.Context(), legacy, newDB, timeout, writesBack)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			// One report per forward pipeline (doctor_pipeline.go).
			reports = append(reports, pipelineReports(cmd.Context(), pipelines, timeout)...)
			if err := printDoctor(a.stdout, reports, output); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			for _, r := range reports {
				if r.failed() > 0 {
					return &exitError{code: exitFailed, err: errFailed}
				}
			}
			return nil
		},
	}
	c.Flags().StringVar(&legacy, "legacy", "", "legacy MySQL/MariaDB DSN (default: databases.legacy)")
	c.Flags().StringVar(&newDB, "new", "", "new PostgreSQL DSN (default: databases.new)")
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	c.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for each server")
	return c
}

// runDoctor checks each configured server. A server that cannot be reached
// is a failed "connect" check, not an error: the report says what to fix.
// writesBack adds the legacy write privileges a new-to-legacy pipeline
// needs.
func runDoctor(ctx context.Context, legacy, newDB string, timeout time.Duration, writesBack bool) ([]doctorReport, error) {
	var reports []doctorReport
	if legacy != "" {
		dsn, err := dbconn.MySQLDSN(legacy)
		if err != nil {
			return nil, fmt.Errorf("legacy database: %w", err)
		}
		r := doctorReport{Role: "legacy MySQL", Server: dbconn.Redact(dsn)}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		r.Checks = checkMySQL(cctx, dsn)
		if writesBack {
			r.Checks = append(r.Checks, checkLegacyWrites(cctx, dsn)...)
		}
		cancel()
		reports = append(reports, r)
	}
	if newDB != "" {
		dsn, err := dbconn.PostgresDSN(newDB)
		if err != nil {
			return nil, fmt.Errorf("new database: %w", err)
		}
		r := doctorReport{Role: "new PostgreSQL", Server: dbconn.Redact(dsn)}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		r.Checks = checkPostgres(cctx, dsn)
		cancel()
		reports = append(reports, r)
	}
	return reports, nil
}

func connectFailed(err error, fix string) []ssync.Check {
	return []ssync.Check{{Name: "connect", Observed: err.Error(), Fix: fix}}
}

func checkMySQL(ctx context.Context, dsn string) []ssync.Check {
	return checkMySQLWith(ctx, dsn, ssync.CheckMySQL)
}

// checkMySQLWith connects to the MySQL database at dsn and runs check on
// it; a server that cannot be reached is a failed "connect" check.
func checkMySQLWith(ctx context.Context, dsn string, check func(context.Context, *sql.DB) ([]ssync.Check, error)) []ssync.Check {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return connectFailed(err, "give a DSN such as mysql://user:pass@host:3306/db")
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return connectFailed(err, "give a DSN such as mysql://user:pass@host:3306/db")
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	fix := "check that the server runs at " + cfg.Addr + " and that the user may log in"
	if err := db.PingContext(ctx); err != nil {
		return connectFailed(err, fix)
	}
	checks, err := check(ctx, db)
	if err != nil {
		return connectFailed(err, fix)
	}
	return checks
}

func checkPostgres(ctx context.Context, dsn string) []ssync.Check {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return connectFailed(err, "check that the server runs, that pg_hba.conf admits the user, and the DSN")
	}
	defer conn.Close(context.WithoutCancel(ctx))
	checks, err := ssync.CheckPostgres(ctx, conn, dsn)
	if err != nil {
		return connectFailed(err, "check that the user may read server settings")
	}
	return checks
}

func printDoctor(w io.Writer, reports []doctorReport, output string) error {
	switch output {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(reports)
	case "text", "":
	default:
		return fmt.Errorf("--output %q is not text or json", output)
	}
	failed := 0
	for _, r := range reports {
		fmt.Fprintf(w, "%s (%s)\n", r.Role, r.Server)
		for _, c := range r.Checks {
			mark := "ok  "
			if !c.OK {
				mark = "FAIL"
				failed++
			}
			fmt.Fprintf(w, "  %s  %-28s %s\n", mark, c.Name, c.Observed)
			if !c.OK && c.Fix != "" {
				fmt.Fprintf(w, "        fix: %s\n", c.Fix)
			}
		}
	}
	if failed == 0 {
		fmt.Fprintln(w, "all checks passed: ready for change-data capture")
	} else {
		fmt.Fprintf(w, "%d check(s) failed\n", failed)
	}
	return nil
}
