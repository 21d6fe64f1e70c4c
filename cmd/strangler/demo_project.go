package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stranglerfig/strangler/internal/config"
)

// The demo's project file, strangler.yaml, in its three versions: the
// capture stage (the facade in front of the monolith, recording samples),
// the migration (the routes, services and sync pipelines extract wrote,
// merged, with rollout plans), and the migration once the writes moved
// (the pipeline of the orders tables turned round).

// captureProject is the project file of the capture stage.
const captureProject = `# Written by strangler demo: the facade in front of the legacy shop,
# recording samples of the two read routes to extract (capture), every
# route answered by legacy.
listen: %[1]s
legacy: %[2]s
admin:
  listen: %[3]s
  token_env: STRANGLER_ADMIN_TOKEN
state: capture.state.json
databases:
  legacy: %[4]q
  new: %[5]q
shadow:
  store: capture-shadow
routes:
  - name: orders-read
    match: {path: "/api/orders/{id}", methods: [GET]}
    target: http://%[7]s # the new service, to come: in mode legacy nothing is sent to it
    mode: legacy
    capture: {sample: 1, max: %[6]d, file: captures/orders-read.jsonl}
  - name: products-read
    match: {path: "/api/products/{id}", methods: [GET]}
    target: http://%[8]s
    mode: legacy
    capture: {sample: 1, max: %[6]d, file: captures/products-read.jsonl}
`

// fragmentRoute is what the demo takes from a route extract wrote.
type fragmentRoute struct {
	Path    string
	Methods []string
	Ignore  []string
}

// readFragment reads the route of path from the fragment extract wrote into
// dir, as a project file (the fragment is one, with the legacy and the
// databases of the demo's).
func (d *demoRun) readFragment(dir, path string) (fragmentRoute, error) {
	file := filepath.Join(dir, "strangler.fragment.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		return fragmentRoute{}, fmt.Errorf("reading what extract wrote: %w", err)
	}
	head := fmt.Sprintf("legacy: %s\ndatabases: {legacy: %q, new: %q}\n", d.legacy, d.legacyDSN, d.newDSN)
	cfg, err := config.Parse(file, append([]byte(head), data...), projectChecks{})
	if err != nil {
		return fragmentRoute{}, fmt.Errorf("reading what extract wrote: %w", err)
	}
	var seen []string
	for _, r := range cfg.Routes {
		if r.Match.Path == path {
			fr := fragmentRoute{Path: r.Match.Path, Methods: r.Match.Methods}
			if r.Shadow != nil {
				fr.Ignore = r.Shadow.Ignore
			}
			return fr, nil
		}
		seen = append(seen, r.Match.Path)
	}
	return fragmentRoute{}, fmt.Errorf("extract wrote no route for %s (it wrote %s)", path, strings.Join(seen, ", "))
}

// migration is what the migration's project file is written from.
type migration struct {
	listen, admin            string
	orders, catalog, inv     string // the services' listen addresses
	ordersRead, productsRead fragmentRoute
	window                   string
	minOrders, minProducts   int
	writesMoved, reverse     bool // the orders tables' pipeline runs new-to-legacy
	both                     bool // the orders tables' pipeline runs both ways
}

// flow writes a list of strings as a YAML flow sequence.
func flow(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// writeMigration writes the migration's project file.
func (d *demoRun) writeMigration(m migration) error {
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by strangler demo. The routes, services and sync pipelines are
# the ones strangler extract wrote (extracted/orders/strangler.fragment.yaml
# and extracted/catalog/strangler.fragment.yaml), merged here with the
# demo's choices: route names, rollout plans, the services' names and
# owners, the write route, and the pipelines grouped so that the tables
# whose writes move (orders, order_items, stock) can later be synced the
# other way on their own.
listen: %s
legacy: %s
admin:
  listen: %s
  token_env: STRANGLER_ADMIN_TOKEN
state: routes.state.json
databases:
  legacy: %q
  new: %q
shadow:
  store: shadow
routes:
`, m.listen, d.legacy, m.admin, d.legacyDSN, d.newDSN)
	read := func(name, service string, r fragmentRoute, target string, min int, extra string) {
		ignore := "[]"
		if len(r.Ignore) > 0 {
			ignore = flow(r.Ignore) + " # from extract: legacy wrote these differently in two answers to one request"
		}
		fmt.Fprintf(&b, `  - name: %s
    match: {path: %q, methods: %s}
    target: http://%s
    mode: legacy
    sticky: header:X-User-Id
    fallback: legacy
    service: %s
    breaker: {open_timeout: 2s}   # half-open 2s after it opened (default 10s)
    shadow:
      sample: 100        # compare every request, in canary too (default there: 10%%)
      learn_sample: 100  # ask legacy twice on every compared read: what it makes up per answer is noise at once
      ignore: %s
%s    rollout:
      stages: [shadow, 25, 50, new]
      window: %s
      # p99 within 10x legacy's: both run on this one machine, where a
      # single slow answer is the p99 of a short window.
      gates: {match_rate: 99.5, error_rate: 1, p99_ratio: 10, min_requests: %d, sync_lag: 10s}
`, name, r.Path, flow(r.Methods), target, service, ignore, extra, m.window, min)
	}
	read(routeOrdersRead, "orders", m.ordersRead, m.orders, m.minOrders, "")
	read(routeProductsRead, "catalog", m.productsRead, m.catalog, m.minProducts,
		`      # The stock moves with every order; the new service reads it one sync
      # lag after legacy did. Stock levels within 10 of each other are equal.
      tolerance: {"$.data.stockLevel": 10}
`)
	mode := "legacy"
	if m.writesMoved {
		mode = "new"
	}
	fmt.Fprintf(&b, `  - name: %s
    match: {path: /api/orders, methods: [POST]}
    target: http://%s
    mode: %s
    service: orders
    # No fallback: an order placement is not repeated on legacy.
sync:
  - name: shop
    tables: [customers, products]
`, routeOrdersWrite, m.orders, mode)
	if m.both {
		b.WriteString(`  # Both ways from the write canary on: both sides take orders. Keys are
  # interleaved (MariaDB hands out odd ids, PostgreSQL even ones); the
  # system of record is legacy until orders-write is new; the stock taken
  # on both sides adds up.
  - name: orders
    direction: both
    ids: interleave
    route: ` + routeOrdersWrite + `
    tables:
      - orders
      - order_items
      - name: stock
        conflict: {add: [quantity]}
`)
	} else if m.reverse {
		b.WriteString(`  # Turned round when the writes moved: the new service writes these
  # tables, and their changes flow back to the monolith. (A write canary,
  # both sides writing at once, would use one direction: both pipeline.)
  - name: orders-back
    direction: new-to-legacy
    tables: [orders, order_items, stock]
`)
	} else {
		b.WriteString(`  - name: orders
    tables: [orders, order_items, stock]
`)
	}
	fmt.Fprintf(&b, `services:
  - {recipe: recipes/orders.yaml, listen: %q, owner: team-orders, slo: {availability: 99.5, p99: 500ms}}
  - {recipe: recipes/catalog.yaml, listen: %q, owner: team-catalog, slo: {availability: 99.5, p99: 500ms}}
  - {recipe: recipes/inventory.yaml, listen: %q, owner: team-inventory}
`, m.orders, m.catalog, m.inv)
	// Replaced at once: subcommands read the file while the demo runs.
	tmp := d.project + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, d.project)
}
