package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/go-sql-driver/mysql"
	"github.com/spf13/cobra"

	"github.com/stranglerfig/strangler/extract"
	"github.com/stranglerfig/strangler/internal/dbconn"
	"github.com/stranglerfig/strangler/proxy/capture"
)

// extractOptions are the flags of strangler extract.
type extractOptions struct {
	legacy      string
	tables      []string
	samples     []string
	routePrefix string
	out         string
	listen      string
	check       bool
	target      string
}

func (a *app) extractCommand() *cobra.Command {
	o := &extractOptions{}
	c := &cobra.Command{Use: "extract --table T... [--samples FILE...] [--route-prefix P] [-o DIR]",
		Short: "Write recipes, the PostgreSQL DDL, sync and route entries from the legacy schema and captured samples",
		Long: `extract reads the legacy MySQL/MariaDB schema (information_schema: columns
with their exact types, keys, indexes, foreign keys, defaults, enums, generated
columns, comments) and, with --samples, the facade's capture files, and writes
into the output directory, the same bytes for the same input:

  <service>.yaml           a recipe per group of related tables
  schema.sql               the PostgreSQL DDL: the tables as sync creates them
                           (the same type mapper) and the legacy secondary indexes
  strangler.fragment.yaml  sync pipelines, services and one route per endpoint
                           (mode legacy), to merge into strangler.yaml
  report.txt               what was mapped, what was not and why

The legacy database is databases.legacy of the project file, or --legacy.

With --check, extract writes nothing: it sends every captured GET of --samples
to the served recipe (--target, default the first service of the project
file), compares each answer with legacy's captured one with the shadow
differ (leaving out members legacy itself answers differently twice), and
prints the match rate and the differing paths. Exit status 1 when an answer
differs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.runExtract(cmd.Context(), o); err != nil {
				var ee *exitError
				if !errors.As(err, &ee) {
					err = &exitError{code: exitUsage, err: err}
				}
				return err
			}
			return nil
		},
	}
	c.Flags().StringVar(&o.legacy, "legacy", "", "legacy MySQL/MariaDB DSN (default: databases.legacy)")
	c.Flags().StringSliceVar(&o.tables, "table", nil, "legacy tables to extract (repeat or comma-separate; default: every base table)")
	c.Flags().StringSliceVar(&o.samples, "samples", nil, "capture files of the facade (JSON lines)")
	c.Flags().StringVar(&o.routePrefix, "route-prefix", "", "path prefix of the legacy API, e.g. /api: the recipes' base_path")
	c.Flags().StringVarP(&o.out, "output", "o", "extracted", "directory to write into")
	c.Flags().StringVar(&o.listen, "listen", "127.0.0.1:9100", "address of the first service in the fragment (the next ones count up)")
	c.Flags().BoolVar(&o.check, "check", false, "replay the captured GETs against the served recipe and print the match rate")
	c.Flags().StringVar(&o.target, "target", "", "with --check: the served recipe's base URL (default: the first services[].listen)")
	return c
}

func (a *app) runExtract(ctx context.Context, o *extractOptions) error {
	if o.check {
		return a.runExtractCheck(ctx, o)
	}
	dsn := o.legacy
	if dsn == "" {
		cfg, err := a.config(true)
		if err != nil {
			return err
		}
		if cfg != nil {
			dsn = cfg.Databases.Legacy
		}
	}
	if dsn == "" {
		return fmt.Errorf("extract: no legacy database: set databases.legacy in %s or give --legacy", a.configPath)
	}
	myDSN, err := dbconn.MySQLDSN(dsn)
	if err != nil {
		return fmt.Errorf("extract: legacy database: %w", err)
	}
	mcfg, err := mysql.ParseDSN(myDSN)
	if err != nil {
		return fmt.Errorf("extract: legacy database: %w", err)
	}
	if mcfg.DBName == "" {
		return fmt.Errorf("extract: the legacy DSN %s names no database", dbconn.Redact(dsn))
	}
	recs, err := readSamples(o.samples)
	if err != nil {
		return err
	}
	connector, err := mysql.NewConnector(mcfg)
	if err != nil {
		return fmt.Errorf("extract: legacy database: %w", err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("extract: connecting to the legacy database %s: %w", dbconn.Redact(dsn), err)
	}
	res, err := extract.Extract(ctx, db, extract.Options{Database: mcfg.DBName, Tables: o.tables, Samples: recs,
		RoutePrefix: o.routePrefix, Listen: o.listen})
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	names := make([]string, 0, len(res.Files))
	for n := range res.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(o.out, n)
		if err := os.WriteFile(p, res.Files[n], 0o644); err != nil {
			return fmt.Errorf("extract: %w", err)
		}
		fmt.Fprintf(a.stdout, "wrote %s\n", p)
	}
	_, err = fmt.Fprint(a.stdout, "\n"+res.Report.String()+"\n"+string(res.Files["strangler.fragment.yaml"]))
	return err
}

func readSamples(files []string) ([]capture.Record, error) {
	var recs []capture.Record
	for _, f := range files {
		r, err := capture.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("extract: --samples: %w", err)
		}
		recs = append(recs, r...)
	}
	return recs, nil
}

// runExtractCheck replays the captured GETs against a served recipe.
func (a *app) runExtractCheck(ctx context.Context, o *extractOptions) error {
	if len(o.samples) == 0 {
		return fmt.Errorf("extract --check: give the capture files with --samples")
	}
	target := o.target
	if target == "" {
		cfg, err := a.config(true)
		if err != nil {
			return err
		}
		if cfg == nil || len(cfg.Services) == 0 {
			return fmt.Errorf("extract --check: no served recipe: give --target URL or list services in %s", a.configPath)
		}
		target = "http://" + cfg.Services[0].Listen
	}
	recs, err := readSamples(o.samples)
	if err != nil {
		return err
	}
	res, err := extract.Check(ctx, recs, target, nil)
	if err != nil {
		return fmt.Errorf("extract --check: %w", err)
	}
	if _, err := fmt.Fprint(a.stdout, res.String()); err != nil {
		return err
	}
	if res.Matched < res.Sent {
		return &exitError{code: exitFailed, err: fmt.Errorf("extract --check: %d of %d answers differ from legacy's", res.Sent-res.Matched, res.Sent)}
	}
	return nil
}
