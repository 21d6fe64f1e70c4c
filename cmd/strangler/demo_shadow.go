package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stranglerfig/strangler/proxy"
	"github.com/stranglerfig/strangler/proxy/control"
	"github.com/stranglerfig/strangler/recipes"
	"github.com/stranglerfig/strangler/shadow/store"
)

// The shadow and rollout steps: the controller compares the new answers
// with legacy's, the demo fixes what differs, and the controller moves the
// read routes through canary to new.

// stepShadow starts the migration's facade; its controller starts the read
// routes in shadow, finds differences and rolls them back; the demo fixes
// each difference and hands the routes back, until their shadow stage holds.
func (d *demoRun) stepShadow(ctx context.Context) error {
	d.facade = d.start("proxy", "proxy")
	if err := d.waitHTTP(ctx, "the facade", "http://"+d.ports.admin+"/readyz"); err != nil {
		return err
	}
	d.traffic.switchTo("http://" + d.ports.listen)
	d.capture.stop()
	d.say("the facade of the migration is up at http://%s; the shop traffic moved to it (as a load balancer would move it)\n"+
		"and the capture facade stopped. Dashboard: http://%s/ (admin token %s)", d.ports.listen, d.ports.admin, d.token)
	d.say("the rollout controller starts each read route with its first stage, shadow: legacy answers, and a copy of every\n" +
		"request goes to the new service, whose answer is compared with legacy's.")
	fixed := map[string]bool{} // fixes made, by name
	seen := map[string]map[string]int64{routeOrdersRead: {}, routeProductsRead: {}}
	var version uint64
	for round := 1; ; round++ {
		// Until every read route is out of shadow: rolled back by the
		// controller, or on to its canary stages.
		var aborted []string
		err := d.wait(ctx, 3*d.pace.window+time.Minute, "the shadow stage of the read routes", func() (bool, error) {
			var err error
			if version, _, err = d.printHistorySince(ctx, version, readRoutes...); err != nil {
				return false, err
			}
			rs, err := d.routes(ctx)
			if err != nil {
				return false, err
			}
			aborted = aborted[:0]
			for _, name := range readRoutes {
				r := rs[name]
				switch {
				case r.Hold == control.HoldAborted:
					aborted = append(aborted, name)
				case r.Mode == "canary" || r.Mode == "new":
				default:
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		if version, _, err = d.printHistorySince(ctx, version, readRoutes...); err != nil {
			return err
		}
		if len(aborted) == 0 {
			break
		}
		if round > 3 {
			return fmt.Errorf("the shadow stage still breaks after %d rounds of fixes", round-1)
		}
		d.say("\nround %d: a gate broke (above, with its figures) and the controller rolled %s back to legacy at once;\n"+
			"no client was answered by a new service. What differs:", round, strings.Join(aborted, " and "))
		for _, route := range aborted {
			if err := d.fixDifferences(ctx, route, seen[route], fixed); err != nil {
				return err
			}
		}
		// The comparisons that count are those after the last fix.
		for _, route := range aborted {
			rep, err := d.report(ctx, route)
			if err != nil {
				return err
			}
			d.shadowBase[route] = rep
			d.stageSince[route] = version // the controller cannot move a rolled back route: its later entries are the new rollout
			if err := d.mustCLIRoute(ctx, route, "routes", "resume", route, "--reason", "differences fixed: hand back to the controller"); err != nil {
				return err
			}
		}
		d.say("the controller starts the routes again from their first stage, shadow")
	}
	d.rolloutVersion = version
	return nil
}

// fixDifferences looks at the paths that differed on route since the last
// look and fixes each: a recipe change where the new service must answer
// as legacy does, a pinned noise path where legacy's answer is its own
// artefact. A difference the demo has no fix for stops it.
func (d *demoRun) fixDifferences(ctx context.Context, route string, seen map[string]int64, fixed map[string]bool) error {
	if _, err := d.mustCLI(ctx, "shadow", "report", route, "--top", "6"); err != nil {
		return err
	}
	rep, err := d.report(ctx, route)
	if err != nil {
		return err
	}
	for _, p := range rep.Paths {
		if p.Count <= seen[p.Path] {
			continue // no new occurrence since the last fix
		}
		seen[p.Path] = p.Count
		ex := store.Example{}
		if len(p.Examples) > 0 {
			ex = p.Examples[0]
		}
		fix, err := d.fixFor(route, p.Path, ex)
		if err != nil {
			return err
		}
		if fixed[fix] {
			continue
		}
		fixed[fix] = true
		if err := d.applyFix(ctx, fix); err != nil {
			return err
		}
	}
	return nil
}

// The fixes the demo knows.
const (
	fixOrdersRecipe  = "orders recipe"
	fixCatalogRecipe = "catalog recipe"
	fixNote          = "pin note"
	fixMeta          = "pin meta"
)

// fixFor chooses the fix of a differing path.
func (d *demoRun) fixFor(route, path string, ex store.Example) (string, error) {
	switch {
	case route == routeOrdersRead && (path == "$.data.items" || strings.HasPrefix(path, "$.data.items[")):
		return fixOrdersRecipe, nil
	case route == routeOrdersRead && path == "$.data.note" && strings.Contains(ex.Legacy, "&amp;"):
		return fixNote, nil
	case route == routeProductsRead && (path == "$.data.in_stock" || path == "$.data.stockLevel"):
		return fixCatalogRecipe, nil
	case route == routeProductsRead && path == "$.meta":
		return fixMeta, nil
	}
	return "", fmt.Errorf("%s differs at %s (legacy %s, new %s), a difference the demo has no fix for", route, path, orMissing(ex.Legacy), orMissing(ex.New))
}

// applyFix makes one fix and says why.
func (d *demoRun) applyFix(ctx context.Context, fix string) error {
	switch fix {
	case fixOrdersRecipe:
		d.say("fix (recipe change): legacy answers an order's items, with each product's SKU and name and the line total, computed\n" +
			"  from order_items and products; the extracted recipe embedded the customer only. recipes/orders.yaml now answers\n" +
			"  GET /api/orders/{id} with a named query (SQL in the recipe) that joins them")
		return d.changeAndWait(ctx, "orders", answerOrdersAsLegacy, "http://"+d.ports.orders+"/api/orders/1", `"items"`)
	case fixCatalogRecipe:
		d.say("fix (recipe change): legacy answers a product with in_stock and stockLevel from the stock table; recipes/catalog.yaml\n" +
			"  now answers GET /api/products/{id} with a named query that joins stock")
		return d.changeAndWait(ctx, "catalog", answerProductsAsLegacy, "http://"+d.ports.catalog+"/api/products/1", `"stockLevel"`)
	case fixNote:
		d.say("fix (noise rule): legacy HTML-escapes the note of an order (& as &amp;), a bug of the monolith the new service does\n" +
			"  not copy, on purpose: the path is pinned as known noise of the route, at run time")
		_, err := d.mustCLI(ctx, "shadow", "noise", routeOrdersRead, "--pin", "$.data.note")
		return err
	case fixMeta:
		d.say("fix (noise rule): legacy's meta of a product holds only a request id it makes up per answer; the new service writes\n" +
			"  no meta for one product: the path is pinned as known noise of the route")
		_, err := d.mustCLI(ctx, "shadow", "noise", routeProductsRead, "--pin", "$.meta")
		return err
	}
	return fmt.Errorf("no fix %q", fix)
}

// changeAndWait changes a served recipe and waits until serve, which
// watches the file, answers with the change.
func (d *demoRun) changeAndWait(ctx context.Context, name string, edit func(*recipes.Recipe) error, probe, want string) error {
	path := filepath.Join(d.dir, "recipes", name+".yaml")
	if _, err := editRecipe(path, path, "Written by strangler extract; reviewed and changed by strangler demo (service name, named query).", edit); err != nil {
		return err
	}
	begin := time.Now()
	c := &http.Client{Timeout: 2 * time.Second}
	err := d.wait(ctx, 30*time.Second, "serve to reload recipes/"+name+".yaml", func() (bool, error) {
		resp, err := c.Get(probe)
		if err != nil {
			return false, nil
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK && bytes.Contains(b, []byte(want)), nil
	})
	if err != nil {
		return err
	}
	d.say("  serve reloaded recipes/%s.yaml %s after the change, without a restart", name, time.Since(begin).Round(10*time.Millisecond))
	return nil
}

// stepRollout follows the controller through the canary stages to new.
func (d *demoRun) stepRollout(ctx context.Context) error {
	d.say("the shadow stage held for both routes (above): every gate held for a window. From here on the controller moves\n" +
		"them by itself, a stage each time every gate held for a window (sticky on X-User-Id: a user stays on one side)")
	mark := d.traffic.counts()
	stageMark := map[string]trafficCounts{routeOrdersRead: mark, routeProductsRead: mark}
	version := d.rolloutVersion
	h, err := d.history(ctx)
	if err != nil {
		return err
	}
	for _, e := range h { // the stages since the last resume
		if e.Who == control.RolloutWho && slices.Contains(readRoutes, e.Route) && e.Version > d.stageSince[e.Route] && e.Version <= version {
			d.res.Stages[e.Route] = append(d.res.Stages[e.Route], modeText(proxy.RouteState{Mode: e.To.Mode, Percent: e.To.Percent}))
		}
	}
	lastAbort, retries := map[string]string{}, map[string]int{}
	follow := func() error {
		var fresh []control.HistoryEntry
		var err error
		if version, fresh, err = d.printHistorySince(ctx, version, readRoutes...); err != nil {
			return err
		}
		for _, e := range fresh {
			c := d.traffic.counts()
			rc := c.since(stageMark[e.Route]).Routes[e.Route]
			stageMark[e.Route] = c
			d.say("    %s in %s: %d requests, %d answered by the new service, %d failed", e.Route, modeText(e.From), rc.Requests, rc.New, rc.Failed)
			if e.Who == control.RolloutWho {
				d.res.Stages[e.Route] = append(d.res.Stages[e.Route], modeText(proxy.RouteState{Mode: e.To.Mode, Percent: e.To.Percent}))
			}
			if e.To.Hold == control.HoldAborted {
				lastAbort[e.Route] = e.Reason
			}
		}
		return nil
	}
	err = d.wait(ctx, 12*d.pace.window+time.Minute, "the read routes to reach mode new", func() (bool, error) {
		if err := follow(); err != nil {
			return false, err
		}
		rs, err := d.routes(ctx)
		if err != nil {
			return false, err
		}
		done := true
		for _, name := range readRoutes {
			r := rs[name]
			if r.Hold == control.HoldAborted {
				// A broken match rate is a difference; any other gate may
				// break on a machine that runs every part of the migration
				// at once (a slow answer is the p99 of a short window).
				if lastAbort[name] == "" || strings.Contains(lastAbort[name], "match_rate") || retries[name] == 2 {
					return false, fmt.Errorf("the controller rolled %s back during its rollout: %s", name, lastAbort[name])
				}
				retries[name]++
				d.say("a gate other than the match rate broke on %s, on this machine that runs every part of the migration at once;\n"+
					"  the demo hands the route back to the controller (%d of 2)", name, retries[name])
				d.stageSince[name] = version
				d.res.Stages[name] = nil
				if err := d.mustCLIRoute(ctx, name, "routes", "resume", name, "--reason", "a gate broke on the machine's load: again"); err != nil {
					return false, err
				}
				done = false
				continue
			}
			done = done && r.Mode == "new"
		}
		return done, nil
	})
	if err != nil {
		return err
	}
	if err := follow(); err != nil { // the last change, made after the history was read
		return err
	}
	if err := d.settle(ctx, int64(d.pace.rate)); err != nil {
		return err
	}
	for _, r := range readRoutes {
		d.routeLine(r, mark)
	}
	for _, route := range readRoutes {
		rep, err := d.report(ctx, route)
		if err != nil {
			return err
		}
		base := d.shadowBase[route]
		m := matchFigures{Compared: rep.Compared - base.Compared, Matched: rep.Matched - base.Matched}
		if m.Compared > 0 {
			m.Rate = 100 * float64(m.Matched) / float64(m.Compared)
		}
		d.res.Shadow[route] = m
		d.say("%s: %.2f%% of the %d comparisons since the fixes matched (shadow and canary; learned and pinned noise silenced)", route, m.Rate, m.Compared)
	}
	if _, err := d.mustCLI(ctx, "routes", "list"); err != nil {
		return err
	}
	d.trafficLine()
	return nil
}
