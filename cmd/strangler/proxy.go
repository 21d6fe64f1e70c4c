package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/stranglerfig/strangler/proxy/control"
	"github.com/stranglerfig/strangler/shadow"
	"github.com/stranglerfig/strangler/shadow/store"

	"github.com/spf13/cobra"
	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/dbconn"
	"github.com/stranglerfig/strangler/proxy"
	"golang.org/x/sync/errgroup"
)

// adminShutdown bounds the admin listener's graceful shutdown.
const adminShutdown = 5 * time.Second

// shadowShutdown bounds how long the shadow engine may finish the copies
// queued when the facade stops; the rest are counted dropped.
const shadowShutdown = 10 * time.Second

func (a *app) proxyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "proxy",
		Short: "Run the routing facade",
		Long: `Run the routing facade: client traffic on listen, the admin API on admin.listen.

Route state (modes and percents changed at run time) is loaded from the
state store (a file, or a postgres:// URL shared by several replicas) and
every change another replica stores is applied here. SIGINT or SIGTERM
stops accepting, lets requests in flight finish (proxy.shutdown_timeout)
and exits 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runProxy(cmd.Context()) },
	}
}

func (a *app) runProxy(ctx context.Context) error {
	cfg, err := a.config(false)
	if err != nil {
		return err
	}
	tokens, err := control.ParseTokens(os.Getenv(cfg.Admin.TokenEnv))
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("admin.token_env %s: %w", cfg.Admin.TokenEnv, err)}
	}
	if err := control.CheckAdminListen(cfg.Admin.Listen, tokens); err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("admin.listen: %w (%s is empty)", err, cfg.Admin.TokenEnv)}
	}
	for _, w := range proxyWarnings(cfg, tokens) {
		a.log.Warn(w)
	}
	if !isPostgresState(cfg.State) {
		a.log.Info("route state is kept in a file: replicas on other machines do not see its changes; use a postgres:// state for several replicas",
			"file", cfg.Resolve(cfg.State))
	}

	routeStore, err := a.openStore(ctx, cfg)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	defer routeStore.Close()
	diffs, err := a.openShadowStore(ctx, cfg)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	defer diffs.Close()
	if err := a.startTracing(ctx, cfg, "strangler-proxy"); err != nil {
		return err
	}
	defer a.stopTracing()
	sopts := []shadow.Option{shadow.WithLogger(a.log)}
	fopts := []proxy.Option{proxy.WithLogger(a.log)}
	if a.tracing {
		sopts = append(sopts, shadow.WithTracerProvider(a.tracer))
		fopts = append(fopts, proxy.WithTracerProvider(a.tracer))
	}
	engine, err := shadow.New(cfg, diffs, sopts...)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	facade, err := proxy.New(cfg, append(fopts, proxy.WithShadower(engine))...)
	if err != nil {
		engine.Close(ctx)
		return &exitError{code: exitUsage, err: err}
	}
	defer facade.Close()
	defer func() {
		// After the facade stopped serving: nothing hands copies over any more.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shadowShutdown)
		defer cancel()
		if err := engine.Close(cctx); err != nil {
			a.log.Warn("closing the shadow engine", "error", err.Error())
		}
	}()
	engine.SetReplayer(facade)
	if err := facade.Registry().Register(engine); err != nil {
		return err
	}
	ctl, err := control.NewController(cfg, routeStore, facade, control.WithControllerLogger(a.log))
	if err != nil {
		return err
	}
	if err := ctl.Load(ctx); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	a.warnOverrides(ctx, ctl)
	cat, err := a.buildCatalog(cfg)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	syncs := newSyncWatch(cfg, cat.Pipelines)
	signals := control.Signals{Traffic: facade, Shadow: shadowComparisons{engine}}
	if len(cfg.Sync) > 0 {
		signals.SyncLag = syncs
	}
	ropts := []control.RolloutOption{control.WithRolloutLogger(a.log)}
	if l, ok := routeStore.(interface{ Leaser() control.Leaser }); ok {
		ropts = append(ropts, control.WithLeaser(l.Leaser()))
	}
	rollout, err := control.NewRollout(cfg, ctl, signals, ropts...)
	if err != nil {
		return err
	}
	if err := facade.Registry().Register(rollout); err != nil {
		return err
	}
	feed, err := control.NewFeed(ctl, signals, rollout, 0)
	if err != nil {
		return err
	}
	admin, err := control.NewAdmin(ctl, tokens, control.WithAdminLogger(a.log), control.WithGatherer(facade.Registry()),
		control.WithAdminListen(cfg.Admin.Listen), control.WithMount("/shadow/", engine.Handler()),
		control.WithFeed(feed), control.WithRollout(rollout), control.WithCatalog(cat, facade),
		control.WithMount("/sync/", syncs.handler()))
	if err != nil {
		return err
	}

	var lc net.ListenConfig
	adminLn, err := lc.Listen(ctx, "tcp", cfg.Admin.Listen)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("admin.listen: %w", err)}
	}
	clientLn, err := lc.Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		adminLn.Close()
		return &exitError{code: exitUsage, err: fmt.Errorf("listen: %w", err)}
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return facade.Serve(gctx, clientLn, cfg.Proxy.ShutdownTimeout.D()) })
	g.Go(func() error { return serveAdmin(gctx, adminLn, admin, a.log) })
	g.Go(func() error {
		if err := ctl.Watch(gctx); err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("watching route state: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		if err := rollout.Run(gctx); err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("rollout controller: %w", err)
		}
		return nil
	})
	admin.SetReady(true)
	a.log.Info("facade ready", "listen", clientLn.Addr().String(), "admin", adminLn.Addr().String(),
		"state", stateKind(cfg.State), "version", ctl.State().Version, "routes", len(cfg.Routes))
	<-gctx.Done()
	admin.SetReady(false)
	if ctx.Err() != nil {
		a.log.Info("shutting down: finishing requests in flight", "timeout", cfg.Proxy.ShutdownTimeout.D())
	}
	if err := g.Wait(); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	a.log.Info("facade stopped")
	return nil
}

// serveAdmin serves the admin API on ln until ctx is done.
func serveAdmin(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving the admin API on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), adminShutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-errc
	return nil
}

func isPostgresState(s string) bool { return config.IsPostgresURL(s) }

// openShadowStore opens the shadow store the project file names: a
// directory, or a PostgreSQL database that several replicas share.
func (a *app) openShadowStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	ret := store.Retention{Max: cfg.Shadow.Retention.Max, Age: cfg.Shadow.Retention.Age.D()}
	if config.IsPostgresURL(cfg.Shadow.Store) {
		dsn, err := dbconn.PostgresDSN(cfg.Shadow.Store)
		if err != nil {
			return nil, fmt.Errorf("shadow.store: %w", err)
		}
		octx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s, err := store.OpenPostgres(octx, dsn, ret, store.WithLogger(a.log))
		if err != nil {
			return nil, fmt.Errorf("shadow.store: %w", err)
		}
		return s, nil
	}
	s, err := store.OpenFile(cfg.Resolve(cfg.Shadow.Store), ret, store.WithLogger(a.log))
	if err != nil {
		return nil, fmt.Errorf("shadow.store: %w", err)
	}
	return s, nil
}

func stateKind(s string) string {
	if isPostgresState(s) {
		return dbconn.Redact(s)
	}
	return "file " + s
}

// openStore opens the route state store the project file names.
func (a *app) openStore(ctx context.Context, cfg *config.Config) (control.Store, error) {
	if isPostgresState(cfg.State) {
		dsn, err := dbconn.PostgresDSN(cfg.State)
		if err != nil {
			return nil, fmt.Errorf("state: %w", err)
		}
		octx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s, err := control.OpenPostgresStore(octx, dsn, control.WithPostgresLogger(a.log))
		if err != nil {
			return nil, fmt.Errorf("state: %w", err)
		}
		return s, nil
	}
	s, err := control.NewFileStore(cfg.Resolve(cfg.State), control.WithFileLogger(a.log))
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return s, nil
}

// proxyWarnings are the dangerous but legal settings of the facade that
// depend on its environment (the admin token), beside the project file's
// own warnings: proxy logs them at start, check prints them.
func proxyWarnings(cfg *config.Config, tokens control.Tokens) []string {
	var out []string
	if tokens.Empty() {
		out = append(out, "ADMIN API WITHOUT AUTHENTICATION: "+cfg.Admin.TokenEnv+" is empty, so anyone who can reach "+
			cfg.Admin.Listen+" (every local user and process) can change and roll back routes; set a token")
	}
	for _, n := range tokens.Weak() {
		out = append(out, fmt.Sprintf("admin token %q is short; use at least %d random characters", n, control.MinTokenLength))
	}
	return out
}

// warnOverrides logs each route whose stored run-time override differs from
// what the project file now says: the override wins until it is reset.
func (a *app) warnOverrides(ctx context.Context, ctl *control.Controller) {
	routes, err := ctl.Routes(ctx)
	if err != nil {
		a.log.Warn("reading route overrides", "error", err.Error())
		return
	}
	for _, r := range routes {
		if r.Source != control.SourceOverride || (r.Mode == r.File.Mode && r.Percent == r.File.Percent) {
			continue
		}
		a.log.Warn(fmt.Sprintf("route %s runs in mode %s (%s), not the project file's %s %g%%: a run-time override outlives restarts; `strangler routes reset %s` returns it to the file",
			r.Name, r.Mode, routeSource(r), r.File.Mode, r.File.Percent, r.Name), "route", r.Name)
	}
}

// shadowComparisons gives the rollout controller and the dashboard the
// shadow engine's comparisons over a window.
type shadowComparisons struct{ e *shadow.Engine }

func (s shadowComparisons) Comparisons(route string, span time.Duration) control.ShadowCounts {
	c := s.e.Window(route, span)
	return control.ShadowCounts{Compared: c.Compared, Matched: c.Matched, Diffs: c.Diffs, Errors: c.Errors, Dropped: c.Dropped}
}
