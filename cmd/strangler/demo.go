package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/stranglerfig/strangler/internal/localdb"
	"golang.org/x/sync/errgroup"
)

// demoCommand runs the lifecycle of one capability on the example legacy
// shop. Each step that is in this build runs; the others are named.
func (a *app) demoCommand() *cobra.Command {
	var legacy, newDB string
	var keep bool
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole lifecycle on the example legacy shop, on throwaway local databases unless DSNs are given",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out := a.stdout
			fmt.Fprintln(out, "== 1. databases")
			if legacy == "" || newDB == "" {
				my, pg, err := startDemoDatabases(ctx)
				if err != nil {
					return &exitError{code: exitFailed, err: err}
				}
				defer my.Close()
				defer pg.Close()
				if err := my.CreateDatabase(ctx, "shop"); err != nil {
					return &exitError{code: exitFailed, err: err}
				}
				if err := pg.CreateDatabase(ctx, "shop"); err != nil {
					return &exitError{code: exitFailed, err: err}
				}
				if legacy == "" {
					legacy = my.URL("shop")
				}
				if newDB == "" {
					newDB = pg.URL("shop")
				}
				fmt.Fprintf(out, "started throwaway MariaDB (pid %d) and PostgreSQL (pid %d)\n", my.PID(), pg.PID())
			}
			fmt.Fprintf(out, "legacy: %s\nnew:    %s\n", legacy, newDB)

			fmt.Fprintln(out, "\n== 2. doctor: are both ready for change-data capture?")
			reports, err := runDoctor(ctx, legacy, newDB, 10*time.Second)
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			if err := printDoctor(out, reports, "text"); err != nil {
				return err
			}
			for _, r := range reports {
				if r.failed() > 0 {
					return &exitError{code: exitFailed, err: errFailed}
				}
			}

			fmt.Fprintln(out, "\n== next steps, not yet in this build:")
			for _, s := range []string{"capture legacy samples", "extract a recipe", "serve it",
				"sync legacy -> new", "shadow and compare", "canary", "cut over", "roll back"} {
				fmt.Fprintln(out, "   -", s)
			}
			if keep {
				fmt.Fprintln(out, "\ndatabases stay up until you press Ctrl-C")
				<-ctx.Done()
			}
			return nil
		},
	}
	c.Flags().StringVar(&legacy, "legacy", "", "use this MySQL/MariaDB instead of a throwaway one (needs binlog on)")
	c.Flags().StringVar(&newDB, "new", "", "use this PostgreSQL instead of a throwaway one (needs wal_level=logical)")
	c.Flags().BoolVar(&keep, "keep", false, "keep the throwaway databases running until interrupted")
	return c
}

// startDemoDatabases starts a MariaDB and a PostgreSQL server side by side.
func startDemoDatabases(ctx context.Context) (*localdb.MySQL, *localdb.Postgres, error) {
	var my *localdb.MySQL
	var pg *localdb.Postgres
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		my, err = localdb.StartMySQL(gctx, localdb.DefaultMySQLOptions())
		return err
	})
	g.Go(func() (err error) {
		pg, err = localdb.StartPostgres(gctx, localdb.DefaultPostgresOptions())
		return err
	})
	if err := g.Wait(); err != nil {
		if my != nil {
			my.Close()
		}
		if pg != nil {
			pg.Close()
		}
		return nil, nil, fmt.Errorf("starting throwaway databases: %w", err)
	}
	return my, pg, nil
}
