package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stranglerfig/strangler/internal/dbconn"
	"github.com/stranglerfig/strangler/proxy/control"
	"github.com/stranglerfig/strangler/recipes"
	"github.com/stranglerfig/strangler/shadow"
	"github.com/stranglerfig/strangler/shadow/store"
	ssync "github.com/stranglerfig/strangler/sync"
)

// The steps around the rollout of the read routes (demo_shadow.go): the
// facade in front of the shop, capture, extract, serve and sync before it,
// the fault and the manual rollback after it; and how the demo reads the
// facade's and sync's state, through the subcommands.

// readRoutes are the routes whose answers move to the new services.
var readRoutes = []string{routeOrdersRead, routeProductsRead}

// stepStart starts the servers, checks them, loads and serves the shop, and
// puts the capture facade in front of it.
func (d *demoRun) stepStart(ctx context.Context) error {
	if err := d.servers(ctx, d.o); err != nil {
		return err
	}
	d.say("legacy database: %s\nnew database:    %s\nNATS:            %s\ndemo directory:  %s",
		dbconn.Redact(d.legacyDSN), dbconn.Redact(d.newDSN), d.natsURL, d.dir)
	// Nothing is written before both databases are known to be ready and
	// empty.
	if code, out := d.cli(ctx, "doctor", "--legacy", d.legacyDSN, "--new", d.newDSN); code != exitOK {
		d.indent(out)
		return fmt.Errorf("doctor found the databases not ready; nothing was written")
	}
	d.say("$ strangler doctor --legacy ... --new ...: all checks passed (binlog, row image and metadata, server id, wal_level, privileges)")
	if err := demoDatabasesEmpty(ctx, d.legacyDSN, d.newDSN); err != nil {
		return err
	}
	var tag [3]byte
	rand.Read(tag[:])
	run := hex.EncodeToString(tag[:])
	d.events = demoEvents{url: d.natsURL, stream: "STRANGLER_DEMO_" + strings.ToUpper(run), prefix: "strangler-demo-" + run}
	if err := d.createStream(ctx); err != nil {
		return err
	}
	d.say("JetStream stream %s (subjects %s.>) for the events of this run", d.events.stream, d.events.prefix)
	if err := d.startLegacy(ctx); err != nil {
		return err
	}
	ports, err := freePorts(7)
	if err != nil {
		return err
	}
	p := &d.ports
	p.captureListen, p.captureAdmin, p.listen, p.admin, p.orders, p.catalog, p.inventory =
		ports[0], ports[1], ports[2], ports[3], ports[4], ports[5], ports[6]
	d.project = filepath.Join(d.dir, "strangler.yaml")
	text := fmt.Sprintf(captureProject, p.captureListen, d.legacy, p.captureAdmin, d.legacyDSN, d.newDSN, 500, p.orders, p.catalog)
	if err := os.WriteFile(d.project, []byte(text), 0o600); err != nil {
		return err
	}
	d.say("project file %s: the facade at http://%s in front of the shop, routes orders-read and products-read in mode legacy with capture on", d.project, p.captureListen)
	d.capture = d.start("proxy-capture", "proxy")
	if err := d.waitHTTP(ctx, "the facade", "http://"+p.captureAdmin+"/readyz"); err != nil {
		return err
	}
	forSale, err := shopCatalog(ctx, d.legacy)
	if err != nil {
		return err
	}
	d.traffic = newTraffic("http://"+p.captureListen, d.pace.rate, d.sizes, forSale)
	d.say("shop traffic through the facade from now to the end, about %.0f requests a second: %d users (X-User-Id) reading orders,\n"+
		"products and customers, browsing lists and the home page, placing orders of %d products for sale, and a little noise\n"+
		"(unknown customers and paths, answered 404)", d.pace.rate, d.sizes.customers, len(forSale))
	return nil
}

// stepExtract waits for enough samples and extracts the two capabilities.
func (d *demoRun) stepExtract(ctx context.Context) error {
	captures := map[string]string{routeOrdersRead: "captures/orders-read.jsonl", routeProductsRead: "captures/products-read.jsonl"}
	need := map[string]int{routeOrdersRead: 60, routeProductsRead: 40}
	lines := map[string]int{}
	err := d.wait(ctx, time.Minute, "captured samples", func() (bool, error) {
		enough := true
		for r, f := range captures {
			b, _ := os.ReadFile(filepath.Join(d.dir, f))
			lines[r] = bytes.Count(b, []byte("\n"))
			enough = enough && lines[r] >= need[r]
		}
		return enough, nil
	})
	if err != nil {
		return err
	}
	d.say("captured %d samples of GET /api/orders/{id} and %d of GET /api/products/{id} (legacy's answers, redacted)",
		lines[routeOrdersRead], lines[routeProductsRead])
	for _, x := range []struct{ name, tables, capture, listen string }{
		{"orders", "orders,customers,order_items", captures[routeOrdersRead], d.ports.orders},
		{"catalog", "products", captures[routeProductsRead], d.ports.catalog},
	} {
		dir := filepath.Join(d.dir, "extracted", x.name)
		out, err := d.mustCLIFiltered(ctx, []string{"extract", "--table", x.tables, "--samples", filepath.Join(d.dir, x.capture),
			"--route-prefix", "/api", "-o", dir, "--listen", x.listen}, "# Written by strangler extract: merge")
		if err != nil {
			return err
		}
		_ = out
		r, _, err := extractedRecipe(dir)
		if err != nil {
			return err
		}
		d.res.Extracted[x.name] = [2]int{len(r.Resources), len(r.Endpoints)}
		var eps []string
		for _, e := range r.Endpoints {
			eps = append(eps, e.Method+" "+r.BasePath+e.Path)
		}
		d.say("extract wrote the recipe %s (service %q): %s, %s (%s), the DDL, sync and route entries",
			filepath.Base(r.File), r.Service, plural(len(r.Resources), "resource"), plural(len(r.Endpoints), "endpoint"), strings.Join(eps, ", "))
	}
	return nil
}

// plural writes n things.
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// extractedRecipe returns the one recipe extract wrote into dir.
func extractedRecipe(dir string) (*recipes.Recipe, string, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	files = slices.DeleteFunc(files, func(f string) bool { return filepath.Base(f) == "strangler.fragment.yaml" })
	if len(files) != 1 {
		return nil, "", fmt.Errorf("extract wrote %d recipes into %s, the demo expects one", len(files), dir)
	}
	r, err := recipes.Load(files[0])
	return r, files[0], err
}

// mustCLIFiltered is mustCLI printing the output up to the first line that
// starts with stop.
func (d *demoRun) mustCLIFiltered(ctx context.Context, args []string, stop string) (string, error) {
	d.say("$ strangler %s", d.shell(args))
	code, out := d.cli(ctx, args...)
	shown := out
	if i := strings.Index(out, "\n"+stop); i >= 0 {
		shown = out[:i]
	}
	d.indent(d.rel(shown))
	if code != exitOK {
		return out, fmt.Errorf("strangler %s: exit %d (see %s)", args[0], code, d.logs.Name())
	}
	return out, nil
}

// rel writes paths in the demo directory relative to it.
func (d *demoRun) rel(s string) string {
	return strings.ReplaceAll(s, d.dir+string(os.PathSeparator), "")
}

// stepServe reviews the recipes, merges the fragments, syncs and serves.
func (d *demoRun) stepServe(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Join(d.dir, "recipes"), 0o755); err != nil {
		return err
	}
	for _, x := range []struct{ name, title, was string }{{"orders", "Legacy shop orders", ""}, {"catalog", "Legacy shop catalog", ""}} {
		_, src, err := extractedRecipe(filepath.Join(d.dir, "extracted", x.name))
		if err != nil {
			return err
		}
		was := ""
		_, err = editRecipe(src, filepath.Join(d.dir, "recipes", x.name+".yaml"),
			"Written by strangler extract ("+d.rel(src)+"); reviewed by strangler demo: the service is named "+x.name+".",
			func(r *recipes.Recipe) error { was, r.Service, r.Title = r.Service, x.name, x.title; return nil })
		if err != nil {
			return err
		}
		d.say("review: recipes/%s.yaml is %s with its service named %s (extract names a service after its first table: %s)",
			x.name, d.rel(src), x.name, was)
	}
	if err := writeInventoryRecipe(filepath.Join(d.dir, "recipes", "inventory.yaml"), d.events); err != nil {
		return err
	}
	var tables, indexes int
	for _, name := range []string{"orders", "catalog"} {
		ddl, err := os.ReadFile(filepath.Join(d.dir, "extracted", name, "schema.sql"))
		if err != nil {
			return err
		}
		tables += strings.Count(string(ddl), "CREATE TABLE")
		indexes += strings.Count(string(ddl), "CREATE INDEX") + strings.Count(string(ddl), "CREATE UNIQUE INDEX")
		if err := d.pg(ctx, func(c *pgx.Conn) error { _, err := c.Exec(ctx, string(ddl)); return err }); err != nil {
			return fmt.Errorf("applying extracted/%s/schema.sql: %w", name, err)
		}
	}
	d.say("applied extracted/orders/schema.sql and extracted/catalog/schema.sql to the new database: %d tables, %d indexes carried over from legacy", tables, indexes)

	frags := map[string]fragmentRoute{}
	for name, path := range map[string]string{"orders": "/api/orders/{id}", "catalog": "/api/products/{id}"} {
		r, err := d.readFragment(filepath.Join(d.dir, "extracted", name), path)
		if err != nil {
			return err
		}
		frags[name] = r
	}
	// Extract saw the stock differ between two answers to one request: an
	// order was placed in between. That is not noise the new service may
	// leave out; it is compared, with a tolerance for the sync lag.
	cat := frags["catalog"]
	if kept := slices.DeleteFunc(slices.Clone(cat.Ignore), func(p string) bool { return p == "$.data.stockLevel" || p == "$.data.in_stock" }); len(kept) < len(cat.Ignore) {
		d.say("review: extract saw $.data.stockLevel differ between two answers of legacy to one request and proposed to ignore it;\n" +
			"  it changed because an order was placed in between: it is compared instead, stock levels within 10 being equal")
		cat.Ignore = kept
		frags["catalog"] = cat
	}
	// The controller needs enough requests to the target in its first
	// canary stage (25%) to judge it: min_requests is a fifth of what the
	// traffic sends there in a window (the facade counts traffic in slots
	// of a few seconds, so a short window may see less than it was sent).
	w := d.pace.window.Seconds()
	d.mig = migration{listen: d.ports.listen, admin: d.ports.admin, orders: d.ports.orders, catalog: d.ports.catalog, inv: d.ports.inventory,
		ordersRead: frags["orders"], productsRead: frags["catalog"], window: d.pace.window.String(),
		minOrders: max(5, int(d.pace.rate*0.40*0.25*w/5)), minProducts: max(5, int(d.pace.rate*0.20*0.25*w/5))}
	if err := d.writeMigration(d.mig); err != nil {
		return err
	}
	d.say("strangler.yaml now holds the migration: routes %s (%s, from extract's fragment) and %s (%s), each with a rollout plan\n"+
		"  [shadow, 25%%, 50%%, new], window %s, gates match_rate 99.5%%, error_rate 1%%, p99 within 10x legacy's, min_requests %d and %d;\n"+
		"  route %s (POST /api/orders, mode legacy); pipelines shop (customers, products) and orders (orders, order_items, stock);\n"+
		"  services orders, catalog and inventory",
		routeOrdersRead, frags["orders"].Path, routeProductsRead, frags["catalog"].Path, d.pace.window,
		d.mig.minOrders, d.mig.minProducts, routeOrdersWrite)
	if code, out := d.cli(ctx, "check"); code != exitOK {
		d.indent(out)
		return fmt.Errorf("strangler check refused the project file")
	}

	// One pipeline after the other: the first creates the checkpoint schema.
	d.syncShop = d.start("sync-shop", "sync", "run", "--pipeline", "shop")
	if err := d.waitStreaming(ctx, "shop"); err != nil {
		return err
	}
	d.syncOrders = d.start("sync-orders", "sync", "run", "--pipeline", "orders")
	if err := d.waitStreaming(ctx, "orders"); err != nil {
		return err
	}
	if code, out := d.cli(ctx, "sync", "status"); code == exitOK {
		d.say("$ strangler sync status")
		d.indent(out)
	}
	go d.sampleLag()
	if err := d.lagLine(ctx); err != nil {
		return err
	}
	d.serveOrders = d.start("serve-orders", "serve", "--migrate", filepath.Join(d.dir, "recipes", "orders.yaml")+"="+d.ports.orders)
	if err := d.waitHTTP(ctx, "the orders service", "http://"+d.ports.orders+"/healthz"); err != nil {
		return err
	}
	d.serveCatalog = d.start("serve-catalog", "serve", "--migrate", filepath.Join(d.dir, "recipes", "catalog.yaml")+"="+d.ports.catalog)
	if err := d.waitHTTP(ctx, "the catalog service", "http://"+d.ports.catalog+"/healthz"); err != nil {
		return err
	}
	d.say("the orders service answers at http://%s/api, the catalog service at http://%s/api (OpenAPI at /openapi.json)", d.ports.orders, d.ports.catalog)
	return nil
}

// syncStatus reads every pipeline's status.
func (d *demoRun) syncStatus(ctx context.Context) ([]ssync.Status, error) {
	code, out := d.cli(ctx, "sync", "status", "-o", "json")
	if code != exitOK {
		return nil, fmt.Errorf("strangler sync status: exit %d (see %s)", code, d.logs.Name())
	}
	var st []ssync.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return nil, fmt.Errorf("strangler sync status -o json: %w", err)
	}
	return st, nil
}

// waitStreaming waits until the pipeline streams.
func (d *demoRun) waitStreaming(ctx context.Context, pipeline string) error {
	return d.wait(ctx, 2*time.Minute, "sync pipeline "+pipeline+" to stream", func() (bool, error) {
		st, err := d.syncStatus(ctx)
		if err != nil {
			return false, nil // its status rows may not be there yet
		}
		// Every direction of it (two for a both-ways pipeline).
		seen, streaming := 0, 0
		for _, s := range st {
			if s.Pipeline != pipeline {
				continue
			}
			seen++
			switch s.Phase {
			case ssync.PhaseStreaming:
				streaming++
			case ssync.PhasePaused:
				return false, fmt.Errorf("the sync pipeline %s is %s: %s", pipeline, s.Phase, s.Reason)
			case ssync.PhaseStopped:
				if s.Reason != "" { // else the clean stop of a run before this one
					return false, fmt.Errorf("the sync pipeline %s is %s: %s", pipeline, s.Phase, s.Reason)
				}
			}
		}
		return seen > 0 && streaming == seen, nil
	})
}

// lagLine prints the lag of every running pipeline, and the largest lag
// seen so far.
func (d *demoRun) lagLine(ctx context.Context) error {
	st, err := d.syncStatus(ctx)
	if err != nil {
		return err
	}
	var parts []string
	for _, s := range st {
		if s.Phase != ssync.PhaseStreaming {
			continue
		}
		d.seeLag(s.LagSeconds)
		parts = append(parts, fmt.Sprintf("%s %.2fs (%d changes applied, %d waiting)", s.Pipeline, s.LagSeconds, s.Changes, s.LagEvents))
	}
	d.lagMu.Lock()
	most := d.res.MaxLag
	d.lagMu.Unlock()
	d.say("sync lag now: %s; the largest seen so far (sync status every 0.5s): %.2fs", strings.Join(parts, "; "), most)
	return nil
}

func (d *demoRun) seeLag(s float64) {
	d.lagMu.Lock()
	d.res.MaxLag = max(d.res.MaxLag, s)
	d.lagMu.Unlock()
}

// sampleLag reads the pipelines' lag every half second until the demo
// ends.
func (d *demoRun) sampleLag() {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-d.bgctx.Done():
			return
		case <-t.C:
		}
		if st, err := d.syncStatus(d.bgctx); err == nil {
			for _, s := range st {
				if s.Phase == ssync.PhaseStreaming {
					d.seeLag(s.LagSeconds)
				}
			}
		}
	}
}

// routes reads the route list of the facade.
func (d *demoRun) routes(ctx context.Context) (map[string]control.RouteView, error) {
	code, out := d.cli(ctx, "routes", "list", "-o", "json")
	if code != exitOK {
		return nil, fmt.Errorf("strangler routes list: exit %d (see %s)", code, d.logs.Name())
	}
	var resp control.RoutesResponse
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		return nil, fmt.Errorf("strangler routes list -o json: %w", err)
	}
	m := map[string]control.RouteView{}
	for _, r := range resp.Routes {
		m[r.Name] = r
	}
	return m, nil
}

// history reads the facade's audit log.
func (d *demoRun) history(ctx context.Context) ([]control.HistoryEntry, error) {
	code, out := d.cli(ctx, "routes", "history", "-o", "json")
	if code != exitOK {
		return nil, fmt.Errorf("strangler routes history: exit %d (see %s)", code, d.logs.Name())
	}
	var resp control.HistoryResponse
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		return nil, fmt.Errorf("strangler routes history -o json: %w", err)
	}
	return resp.History, nil
}

// report reads the shadow report of route.
func (d *demoRun) report(ctx context.Context, route string) (store.RouteReport, error) {
	code, out := d.cli(ctx, "shadow", "report", route, "-o", "json")
	if code != exitOK {
		return store.RouteReport{}, fmt.Errorf("strangler shadow report %s: exit %d (see %s)", route, code, d.logs.Name())
	}
	var rep shadow.ReportResponse
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		return store.RouteReport{}, fmt.Errorf("strangler shadow report -o json: %w", err)
	}
	for _, r := range rep.Routes {
		if r.Route == route {
			return r, nil
		}
	}
	return store.RouteReport{Route: route}, nil
}

// printHistorySince prints the audit log entries of the read routes after
// version, and returns the latest version.
func (d *demoRun) printHistorySince(ctx context.Context, version uint64, routes ...string) (uint64, []control.HistoryEntry, error) {
	h, err := d.history(ctx)
	if err != nil {
		return version, nil, err
	}
	var fresh []control.HistoryEntry
	for _, e := range h {
		if e.Version > version && slices.Contains(routes, e.Route) {
			fresh = append(fresh, e)
		}
		version = max(version, e.Version)
	}
	for _, e := range fresh {
		d.say("[%s] %s: %s -> %s (%s): %s", d.elapsed(), e.Route, modeText(e.From), modeText(e.To), e.Who, e.Reason)
	}
	return version, fresh, nil
}

// fromLegacy asks the facade for path and says whether legacy answered.
func (d *demoRun) fromLegacy(ctx context.Context, path string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.ports.listen+path, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("X-User-Id", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("GET %s through the facade answered %d", path, resp.StatusCode)
	}
	return strings.HasPrefix(resp.Header.Get("X-Powered-By"), "legacyshop"), nil
}

// stepFault stops the orders service and follows the controller's rollback.
func (d *demoRun) stepFault(ctx context.Context) error {
	h, err := d.history(ctx)
	if err != nil {
		return err
	}
	version := uint64(0)
	for _, e := range h {
		version = max(version, e.Version)
	}
	mark := d.traffic.counts()
	d.say("the orders service's process (strangler serve recipes/orders.yaml) stops: connections to it are refused")
	fault := time.Now()
	d.serveOrders.stop()
	var entry control.HistoryEntry
	err = d.wait(ctx, 30*time.Second, "the controller to roll orders-read back", func() (bool, error) {
		h, err := d.history(ctx)
		if err != nil {
			return false, err
		}
		for _, e := range h {
			if e.Version > version && e.Route == routeOrdersRead && e.Who == control.RolloutWho && e.To.Hold == control.HoldAborted {
				entry = e
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	d.res.AutoRollback.After = entry.At.Sub(fault)
	d.res.AutoRollback.Reason = entry.Reason
	d.say("[%s] %s: %s -> %s (%s), %s after the fault: %s", d.elapsed(), entry.Route, modeText(entry.From), modeText(entry.To), entry.Who,
		d.res.AutoRollback.After.Round(time.Millisecond), entry.Reason)
	d.routeLine(routeOrdersRead, mark)
	d.say("(while the route was still in new, the facade answered its reads from legacy: fallback on a refused connection)")
	d.serveOrders = d.start("serve-orders", "serve", filepath.Join(d.dir, "recipes", "orders.yaml")+"="+d.ports.orders)
	if err := d.waitHTTP(ctx, "the orders service", "http://"+d.ports.orders+"/healthz"); err != nil {
		return err
	}
	legacy, err := d.fromLegacy(ctx, "/api/orders/1")
	if err != nil {
		return err
	}
	d.res.AutoRollback.NextFromLegacy = legacy
	d.say("the orders service is back; the next GET /api/orders/1 through the facade was answered by %s: the route stays rolled back\n"+
		"until someone hands it back (strangler routes resume)", map[bool]string{true: "legacy", false: "the new service"}[legacy])
	if !legacy {
		return fmt.Errorf("after the automatic rollback, orders-read was answered by the new service")
	}
	return nil
}

// stepManualRollback puts orders-read in new by hand and rolls it back.
func (d *demoRun) stepManualRollback(ctx context.Context) error {
	if err := d.mustCLIRoute(ctx, routeOrdersRead, "routes", "set", routeOrdersRead, "--mode", "new", "--reason", "the orders service is back"); err != nil {
		return err
	}
	d.say("(a change by hand pauses the route's controller)")
	err := d.wait(ctx, 30*time.Second, "the new orders service to answer orders-read", func() (bool, error) {
		legacy, err := d.fromLegacy(ctx, "/api/orders/2")
		return err == nil && !legacy, nil // the breaker closes after its half-open probes
	})
	if err != nil {
		return err
	}
	mark := d.traffic.counts()
	if err := d.settle(ctx, int64(d.pace.rate)); err != nil {
		return err
	}
	d.routeLine(routeOrdersRead, mark)
	begin := time.Now()
	if err := d.mustCLIRoute(ctx, routeOrdersRead, "rollback", routeOrdersRead, "--reason", "manual rollback (demo)"); err != nil {
		return err
	}
	legacy, err := d.fromLegacy(ctx, "/api/orders/3")
	d.res.ManualRollback.After = time.Since(begin)
	if err != nil {
		return err
	}
	d.res.ManualRollback.NextFromLegacy = legacy
	d.say("rollback answered, and the next GET /api/orders/3 through the facade was answered by %s, %s after the command",
		map[bool]string{true: "legacy", false: "the new service"}[legacy], d.res.ManualRollback.After.Round(time.Millisecond))
	if !legacy {
		return fmt.Errorf("after strangler rollback, orders-read was answered by the new service")
	}
	code, out := d.cli(ctx, "routes", "history")
	if code == exitOK {
		d.say("$ strangler routes history   (the last entries)")
		ls := strings.Split(strings.TrimRight(out, "\n"), "\n")
		d.indent(ls[0])
		d.indent(strings.Join(ls[max(1, len(ls)-4):], "\n"))
	}
	d.trafficLine()
	return nil
}
