package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/dbconn"
	"github.com/stranglerfig/strangler/recipes"
	"golang.org/x/sync/errgroup"
)

// serveOptions are the flags of strangler serve.
type serveOptions struct {
	listen   string
	database string
	migrate  bool
	schema   bool
	openapi  bool
	check    bool
	watch    time.Duration
}

// serviceSpec is one recipe to serve, where, and on which database.
type serviceSpec struct {
	recipe   string
	listen   string
	database string // "" until resolved
}

func (a *app) serveCommand() *cobra.Command {
	o := &serveOptions{}
	c := &cobra.Command{
		Use:   "serve [RECIPE[=HOST:PORT]...]",
		Short: "Run recipe services (the project file's services when no recipe is named)",
		Long: `Serve each recipe as a REST service over PostgreSQL: one HTTP server per
recipe, with /openapi.json, /healthz and /metrics. Without arguments the
services of the project file are served. A recipe named on the command line
listens on --listen, or on the address after '=' (orders.yaml=127.0.0.1:9100).

The database is --database, else the service's database in the project
file (default databases.new), else $STRANGLER_DATABASE. A changed recipe file is reloaded without dropping
requests (--watch); a bad one is refused and the running one kept.`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.serve(cmd.Context(), o, args) },
	}
	f := c.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:9100", "address of a recipe named without =HOST:PORT")
	f.StringVar(&o.database, "database", "", "PostgreSQL URL for every service (default: each service's database in the project file, else $STRANGLER_DATABASE, else databases.new)")
	f.BoolVar(&o.migrate, "migrate", false, "create or update the services' tables from the recipes (additive changes only), then serve")
	f.BoolVar(&o.schema, "schema", false, "print the JSON Schema of the recipe format and exit")
	f.BoolVar(&o.openapi, "openapi", false, "print the OpenAPI 3.1 document of each recipe and exit")
	f.BoolVar(&o.check, "check", false, "validate the recipes, print what they declare and exit")
	f.DurationVar(&o.watch, "watch", time.Second, "how often recipe files are checked for changes; 0 turns reloading off")
	return c
}

func (a *app) serve(ctx context.Context, o *serveOptions, args []string) error {
	if o.schema {
		b, err := recipes.JSONSchema()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(a.stdout, string(b))
		return err
	}
	specs, cfg, err := a.serviceSpecs(o, args)
	if err != nil {
		return err
	}
	loaded := make([]*recipes.Recipe, len(specs))
	for i, s := range specs {
		r, err := recipes.Load(s.recipe)
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		loaded[i] = r
	}
	if o.openapi {
		for _, r := range loaded {
			doc, err := recipes.OpenAPI(r)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, string(doc))
		}
		return nil
	}
	if o.check {
		for i, r := range loaded {
			fmt.Fprintf(a.stdout, "%s: ok (service %s, %d resources, %d endpoints, listen %s)\n",
				specs[i].recipe, r.Service, len(r.Resources), len(r.Endpoints), specs[i].listen)
		}
		return nil
	}
	if err := a.startTracing(ctx, cfg, "strangler-serve"); err != nil {
		return err
	}
	defer a.stopTracing()
	pools := map[string]*pgxpool.Pool{}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	for i := range specs {
		dsn := o.database
		if dsn == "" {
			dsn = specs[i].database // a project-file service: services[].database, default databases.new
		}
		if dsn == "" {
			dsn = os.Getenv("STRANGLER_DATABASE")
		}
		if dsn == "" && cfg != nil {
			dsn = cfg.Databases.New
		}
		if dsn == "" {
			return &exitError{code: exitUsage, err: fmt.Errorf("serve %s: no database: give --database, set STRANGLER_DATABASE or databases.new in the project file", specs[i].recipe)}
		}
		if _, ok := pools[dsn]; !ok {
			pcfg, err := dbconn.ParsePostgresPool(dsn)
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("serve: opening %s: %w", dbconn.Redact(dsn), err)}
			}
			if a.tracing {
				pcfg.ConnConfig.Tracer = recipes.PGXTracer(a.tracer)
			}
			pool, err := pgxpool.NewWithConfig(ctx, pcfg)
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("serve: opening %s: %w", dbconn.Redact(dsn), err)}
			}
			pools[dsn] = pool
		}
		specs[i].database = dsn
	}
	return a.runServices(ctx, o, pools, specs, loaded)
}

// serviceSpecs lists the recipes to serve: those named on the command
// line, else the project file's services.
func (a *app) serviceSpecs(o *serveOptions, args []string) ([]serviceSpec, *config.Config, error) {
	cfg, err := a.config(len(args) > 0)
	if err != nil {
		return nil, nil, err
	}
	var specs []serviceSpec
	for _, arg := range args {
		file, addr, ok := strings.Cut(arg, "=")
		if !ok {
			addr = o.listen
		}
		specs = append(specs, serviceSpec{recipe: file, listen: addr})
	}
	if len(args) == 0 {
		for _, s := range cfg.Services {
			specs = append(specs, serviceSpec{recipe: cfg.Resolve(s.Recipe), listen: s.Listen, database: s.Database})
		}
	}
	if len(specs) == 0 {
		return nil, nil, &exitError{code: exitUsage, err: errors.New("serve: no recipe named and no services in the project file")}
	}
	seen := map[string]string{}
	for _, s := range specs {
		if other, dup := seen[s.listen]; dup {
			return nil, nil, &exitError{code: exitUsage, err: fmt.Errorf("serve: %s and %s both listen on %s", other, s.recipe, s.listen)}
		}
		seen[s.listen] = s.recipe
	}
	return specs, cfg, nil
}

func (a *app) runServices(ctx context.Context, o *serveOptions, pools map[string]*pgxpool.Pool, specs []serviceSpec, loaded []*recipes.Recipe) error {
	// Bind every listener before anything is written: a port in use stops
	// serve before a migration ran.
	lns := make([]net.Listener, len(specs))
	defer func() {
		for _, ln := range lns {
			if ln != nil {
				ln.Close()
			}
		}
	}()
	for i, spec := range specs {
		ln, err := net.Listen("tcp", spec.listen)
		if err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("serve: listening on %s for %s: %w", spec.listen, spec.recipe, err)}
		}
		lns[i] = ln
	}
	for i, r := range loaded {
		db := pools[specs[i].database]
		if !o.migrate {
			missing, err := recipes.MissingTables(ctx, db, r)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if len(missing) > 0 {
				what := "table " + missing[0] + " does not exist"
				if len(missing) > 1 {
					what = "tables " + strings.Join(missing, ", ") + " do not exist"
				}
				return &exitError{code: exitUsage, err: fmt.Errorf("serve %s: service %q: %s: run strangler serve --migrate to create them",
					specs[i].recipe, r.Service, what)}
			}
			continue
		}
		m, err := recipes.Migrate(ctx, db, r)
		if err != nil {
			return &exitError{code: exitFailed, err: err}
		}
		for _, s := range m.Applied {
			fmt.Fprintf(a.stdout, "%s: applied:\n    %s\n", r.Service, strings.ReplaceAll(s, "\n", "\n    "))
		}
		for _, n := range m.Notes {
			fmt.Fprintf(a.stdout, "%s: note: %s\n", r.Service, n)
		}
		if len(m.Applied) == 0 {
			fmt.Fprintf(a.stdout, "%s: tables up to date\n", r.Service)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	// abort stops the services already started when a later one cannot start.
	abort := func(err error) error {
		cancel()
		_ = g.Wait()
		return err
	}
	for i, spec := range specs {
		sopts := []recipes.Option{recipes.WithLogger(a.log)}
		if a.tracing {
			sopts = append(sopts, recipes.WithTracerProvider(a.tracer))
		}
		svc, err := recipes.NewService(loaded[i], pools[spec.database], sopts...)
		if err != nil {
			return abort(err)
		}
		if err := svc.Start(ctx); err != nil {
			return abort(err)
		}
		ln := lns[i]
		lns[i] = nil // the server closes it from now on
		srv := &http.Server{Handler: svc, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}
		a.log.Info("serving recipe", "service", loaded[i].Service, "listen", ln.Addr().String(), "recipe", spec.recipe)
		g.Go(func() error {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serving %s: %w", spec.recipe, err)
			}
			return nil
		})
		g.Go(func() error {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			err := srv.Shutdown(sctx)
			return errors.Join(err, svc.Close(sctx))
		})
		if o.watch > 0 {
			g.Go(func() error { return svc.Watch(ctx, spec.recipe, o.watch) })
		}
	}
	return g.Wait()
}
