package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/stranglerfig/strangler/internal/dbconn"
	"github.com/stranglerfig/strangler/shadow/store"
)

// demoOptions are the flags of strangler demo.
type demoOptions struct {
	legacy, newDB, nats string
	dir                 string
	keep                bool
	fast                bool
	orders              int
	// afterStep, when set, is called after each step that passed (tests
	// interrupt the demo from it).
	afterStep func(step int)
}

// demoCommand runs the whole lifecycle of two capabilities of the example
// legacy shop, driving the same subcommands a team would run, in-process.
func (a *app) demoCommand() *cobra.Command {
	o := &demoOptions{}
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole lifecycle on the example legacy shop, on throwaway local servers unless DSNs are given",
		Long: `demo migrates two capabilities of the example legacy shop (testdata/legacyshop),
the orders and the catalog, from start to end, narrating each step with the
figures it measured: it starts throwaway MariaDB, PostgreSQL and NATS servers
(or uses --legacy, --new and --nats), loads the shop, puts the facade in front
of it and sends shop traffic through it for the whole demo (many users
reading and placing orders, a little noise); it captures samples, extracts
the two capabilities into recipes, serves them, syncs the tables, lets the
rollout controller move the read routes through shadow (where real
differences are found and fixed) and canary to new, injects a fault (the
orders service stops) to show the automatic rollback, rolls back by hand,
moves the order placements to the new service with their events (outbox,
NATS, an inventory service's subscription) through a write canary, both
sides taking orders at once on a both-ways sync pipeline, and verifies both
databases. Each step runs the real subcommand; their logs
go to the demo directory.

It then prints the dashboard and admin URLs, the token and commands to try,
and keeps running until Ctrl-C, unless --fast: that runs the same lifecycle
at once, in under two minutes, and exits. Without --fast the demo paces
itself for a person to watch. On exit it stops everything it started and
removes its temporary directory (not a --dir). Exit 0 only when every step
passed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := a.demo(cmd.Context(), o)
			var ee *exitError
			if err != nil && !errors.As(err, &ee) {
				err = &exitError{code: exitFailed, err: err}
			}
			return err
		},
	}
	c.Flags().StringVar(&o.legacy, "legacy", "", "use this empty MySQL/MariaDB database instead of a throwaway server (needs binlog on)")
	c.Flags().StringVar(&o.newDB, "new", "", "use this empty PostgreSQL database instead of a throwaway server (needs wal_level=logical)")
	c.Flags().StringVar(&o.nats, "nats", "", "use this NATS server (JetStream on) instead of a throwaway one; the demo's stream is deleted at the end")
	c.Flags().StringVar(&o.dir, "dir", "", "directory for the project file, recipes, state and logs, kept at the end (default: a new temporary directory, removed)")
	c.Flags().BoolVar(&o.fast, "fast", false, "run the lifecycle without pauses and exit at the end (under two minutes)")
	c.Flags().BoolVar(&o.keep, "keep", false, "with --fast, keep everything running at the end until interrupted (without --fast it does anyway)")
	c.Flags().IntVar(&o.orders, "orders", 2000, "orders in the example shop (customers: a tenth of them; 50 products)")
	return c
}

// demoSizes are the sizes of the seeded shop.
type demoSizes struct{ customers, products, orders int }

// demoPace is how the demo paces itself.
type demoPace struct {
	rate   float64       // requests a second of the shop traffic
	window time.Duration // of the rollout plans
	pause  time.Duration // between steps, for a person to read
}

// demoResult is what a run of the demo measured: the test reads it.
type demoResult struct {
	Dir        string
	ServerPIDs []int // the throwaway servers the demo started
	Traffic    trafficCounts
	// Extracted are the resources and endpoints of each extracted recipe.
	Extracted map[string][2]int
	// Shadow are, per read route, the comparisons made after the fixes.
	Shadow map[string]matchFigures
	// Stages are, per read route, the modes the rollout controller set.
	Stages         map[string][]string
	AutoRollback   rollbackFigures
	ManualRollback rollbackFigures
	Events         eventFigures
	Verify         []verifyFigures
	VerifyClean    bool
	ReverseSync    bool // the new-to-legacy pipeline ran
	// WriteCanary: the orders each side took while orders-write was in
	// canary, on a both-ways pipeline (zero when the demo turned the
	// pipeline round instead).
	WriteCanary  struct{ Legacy, New int64 }
	MaxLag       float64  // the largest sync lag seen, seconds
	NotAvailable []string // what the demo said this build does not have
	Took         time.Duration
}

// matchFigures are shadow comparisons of one route.
type matchFigures struct {
	Compared, Matched int64
	Rate              float64
}

// rollbackFigures are one rollback and the request after it.
type rollbackFigures struct {
	After          time.Duration // from the fault, or the command, to the route in legacy
	Reason         string
	NextFromLegacy bool // the next request on the route was answered by legacy
}

// eventFigures are the OrderPlaced events of the orders placed through the
// new service.
type eventFigures struct {
	PlacedNew, Published, Applied, Lines, Duplicates int64
	StockChecked                                     int      // products compared
	StockMismatches                                  []string // products whose stock is not initial - ordered
}

// verifyFigures are one pipeline's sync verify.
type verifyFigures struct {
	Pipeline, Direction string
	Clean               bool
}

// demoRun is one run of the demo: where things are and what is running.
type demoRun struct {
	a     *app
	out   io.Writer
	o     *demoOptions
	pace  demoPace
	sizes demoSizes
	begin time.Time
	res   *demoResult

	dir     string
	logs    *os.File
	logMu   sync.Mutex
	project string
	token   string

	legacyDSN, newDSN, natsURL string
	srv                        *demoServers
	legacy                     string // the monolith's base URL
	legacyDB                   *sql.DB
	js                         jetstream.JetStream
	events                     demoEvents

	ports struct{ captureListen, captureAdmin, listen, admin, orders, catalog, inventory string }
	mig   migration

	bgctx    context.Context
	procMu   sync.Mutex
	procs    []*demoProc
	bgFailed atomic.Pointer[procError]
	exits    []func()

	traffic *traffic
	mark    trafficCounts // the traffic's figures at the last look

	// shadowBase are the read routes' shadow reports when they were last
	// handed back to the controller: the comparisons after it count.
	shadowBase     map[string]store.RouteReport
	stageSince     map[string]uint64 // per read route, the state version it was last handed back at
	rolloutVersion uint64            // the route state version the rollout step starts from
	stockBase      map[int]int64
	legacyQtyMark  map[int]int64 // write canary: the quantities the monolith took before the stock was read
	lagMu          sync.Mutex    // guards res.MaxLag

	capture, facade, serveOrders, serveCatalog, serveInventory, syncShop, syncOrders *demoProc
}

func (a *app) demo(ctx context.Context, o *demoOptions) (*demoResult, error) {
	d := &demoRun{a: a, out: a.stdout, o: o, begin: time.Now(), res: &demoResult{Extracted: map[string][2]int{},
		Shadow: map[string]matchFigures{}, Stages: map[string][]string{}}, shadowBase: map[string]store.RouteReport{},
		stageSince: map[string]uint64{}}
	d.sizes = demoSizes{customers: max(o.orders/10, 10), products: 50, orders: max(o.orders, 100)}
	d.pace = demoPace{rate: 40, window: 10 * time.Second, pause: 4 * time.Second}
	if o.fast {
		d.pace = demoPace{rate: 120, window: 3 * time.Second}
	}
	err := d.run(ctx)
	d.res.Took = time.Since(d.begin)
	return d.res, err
}

// run runs the steps, then stops everything it started and removes what it
// wrote, whatever happened.
func (d *demoRun) run(ctx context.Context) (err error) {
	if d.dir = d.o.dir; d.dir == "" {
		if d.dir, err = os.MkdirTemp("", "strangler-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(d.dir) // deferred first, so it runs after everything using it stopped
	} else if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return err
	} else if left, err := os.ReadDir(d.dir); err != nil {
		return err
	} else if len(left) > 0 {
		// A state file of an earlier run would steer the routes.
		return &exitError{code: exitUsage, err: fmt.Errorf("demo: --dir %s holds files of an earlier run (%s); give an empty or new directory", d.dir, left[0].Name())}
	}
	d.res.Dir = d.dir
	if d.logs, err = os.Create(filepath.Join(d.dir, "demo.log")); err != nil {
		return err
	}
	defer d.logs.Close()
	defer d.restoreEnv()()

	d.srv = &demoServers{}
	defer func() { d.srv.close() }()
	defer func() {
		if d.legacyDB != nil {
			d.legacyDB.Close()
		}
	}()
	defer func() {
		for i := len(d.exits) - 1; i >= 0; i-- {
			d.exits[i]()
		}
	}()
	bgctx, bgcancel := context.WithCancel(ctx)
	d.bgctx = bgctx
	tctx, stopTraffic := context.WithCancel(ctx)
	trafficDone := make(chan struct{})
	close(trafficDone)
	defer func() {
		// The traffic first, then the events it caused, then the
		// subcommands one by one, the latest first.
		stopTraffic()
		<-trafficDone
		if d.traffic != nil {
			d.res.Traffic = d.traffic.counts()
		}
		d.settleEvents()
		d.stopAll()
		bgcancel()
	}()

	d.say("strangler demo: the orders and the catalog of the example legacy shop move, step by step,\n" +
		"from the monolith to new services. Every figure below was measured in this run.")
	if d.o.fast {
		d.say("(--fast: no pauses, short rollout windows; it exits at the end)")
	}
	steps := []struct {
		title string
		fn    func(context.Context) error
	}{
		{"Servers, doctor, the legacy shop, and the facade in front of it", d.stepStart},
		{"Capture and extract: the orders and the catalog become recipes", d.stepExtract},
		{"Serve the recipes; sync the legacy tables into PostgreSQL", d.stepServe},
		{"Shadow: the rollout controller compares the new answers with legacy's", d.stepShadow},
		{"Canary with gates, then new: the rollout controller moves the read routes", d.stepRollout},
		{"Fault: the orders service stops; the controller rolls its route back", d.stepFault},
		{"Manual rollback", d.stepManualRollback},
		{"Writes: order placements move to the new orders service, with their events", d.stepWrites},
		{"Verify: both databases hold the same rows", d.stepVerify},
	}
	for i, s := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		d.step(i+1, s.title)
		if err := s.fn(ctx); err != nil {
			d.say("\nthe demo stopped at step %d (%s): %v", i+1, s.title, err)
			if d.o.dir == "" && ctx.Err() == nil {
				d.say("the end of demo.log (the subcommands' errors; the demo directory is removed now, --dir DIR keeps it):\n%s",
					tail(d.logs.Name(), 15))
			}
			return err
		}
		if i == 0 {
			// The traffic starts once the facade is up, and runs to the end.
			trafficDone = make(chan struct{})
			go func() { defer close(trafficDone); d.traffic.run(tctx) }()
			if err := d.settle(ctx, 200); err != nil {
				return err
			}
			d.trafficLine()
		}
		if d.o.afterStep != nil {
			d.o.afterStep(i + 1)
		}
		d.pauseFor(ctx)
	}
	d.summary()
	keep := !d.o.fast || d.o.keep
	d.tryByHand(keep)
	if keep {
		d.traffic.setRate(min(d.pace.rate, 20))
		<-ctx.Done()
		d.say("\ninterrupted: stopping everything the demo started")
	}
	return nil
}

// restoreEnv sets the admin client variables of this process for the
// subcommands the demo runs, and returns what puts them back.
func (d *demoRun) restoreEnv() func() {
	old := map[string]*string{}
	for _, k := range []string{envAdminToken, envAdmin} {
		if v, ok := os.LookupEnv(k); ok {
			old[k] = &v
		} else {
			old[k] = nil
		}
	}
	tok := make([]byte, 16)
	rand.Read(tok)
	d.token = "demo:" + hex.EncodeToString(tok)
	os.Setenv(envAdminToken, d.token)
	os.Unsetenv(envAdmin)
	return func() {
		for k, v := range old {
			if v == nil {
				os.Unsetenv(k)
			} else {
				os.Setenv(k, *v)
			}
		}
	}
}

// onExit registers fn to run when the demo ends, the latest first.
func (d *demoRun) onExit(fn func()) { d.exits = append(d.exits, fn) }

func (d *demoRun) step(n int, title string) {
	fmt.Fprintf(d.out, "\n== %d. %s   [%s]\n", n, title, d.elapsed())
}

func (d *demoRun) elapsed() string {
	return fmt.Sprintf("%.1fs", time.Since(d.begin).Seconds())
}

// say prints a line of narration.
func (d *demoRun) say(format string, args ...any) {
	fmt.Fprintf(d.out, format+"\n", args...)
}

// indent prints what a subcommand printed, indented.
func (d *demoRun) indent(text string) {
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if l != "" {
			fmt.Fprintf(d.out, "    %s\n", l)
		}
	}
}

// pauseFor leaves a person time to read, unless --fast.
func (d *demoRun) pauseFor(ctx context.Context) {
	if d.pace.pause <= 0 {
		return
	}
	t := time.NewTimer(d.pace.pause)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// settle waits until the traffic sent n more requests.
func (d *demoRun) settle(ctx context.Context, n int64) error {
	from := d.traffic.counts().Requests
	return d.wait(ctx, time.Minute, fmt.Sprintf("%d requests of shop traffic", n), func() (bool, error) {
		return d.traffic.counts().Requests >= from+n, nil
	})
}

// trafficLine prints the traffic since the last look.
func (d *demoRun) trafficLine() {
	now := d.traffic.counts()
	c := now.since(d.mark)
	d.mark = now
	line := fmt.Sprintf("traffic: %d requests through the facade since the last look: %d answered by legacy, %d by the new services, %d failed",
		c.Requests, c.Legacy, c.New, c.Failed)
	if c.Placed > 0 {
		line += fmt.Sprintf("; %d orders placed (%d by the new orders service)", c.Placed, c.PlacedNew)
	}
	d.say("%s", line)
	if c.Failed > 0 {
		for _, f := range now.Failures {
			d.say("    failed: %s", f)
		}
	}
}

// routeLine prints one route's traffic since a look.
func (d *demoRun) routeLine(route string, since trafficCounts) {
	c := d.traffic.counts().since(since).Routes[route]
	d.say("%s: %d requests: %d answered by legacy, %d by the new service, %d failed", route, c.Requests, c.Legacy, c.New, c.Failed)
}

// notAvailable says that this build lacks something, and remembers it.
func (d *demoRun) notAvailable(what string) {
	d.res.NotAvailable = append(d.res.NotAvailable, what)
	d.say("NOT AVAILABLE in this build: %s", what)
}

// summary prints what the run measured.
func (d *demoRun) summary() {
	c := d.traffic.counts()
	fmt.Fprintf(d.out, "\n== Summary   [%s]\n", d.elapsed())
	d.say("requests through the facade: %d (%d answered by legacy, %d by the new services); failed: %d (%.2f%%)",
		c.Requests, c.Legacy, c.New, c.Failed, 100*float64(c.Failed)/float64(max(c.Requests, 1)))
	d.say("orders placed: %d, %d of them by the new orders service", c.Placed, c.PlacedNew)
	for _, r := range []string{routeOrdersRead, routeProductsRead} {
		m := d.res.Shadow[r]
		d.say("%s: %.2f%% of %d comparisons matched after the fixes; stages: %s", r, m.Rate, m.Compared, strings.Join(d.res.Stages[r], " -> "))
	}
	d.say("automatic rollback: %s after the fault (%s);\nmanual rollback: the next request was answered by legacy %s after the command",
		d.res.AutoRollback.After.Round(time.Millisecond), d.res.AutoRollback.Reason, d.res.ManualRollback.After.Round(time.Millisecond))
	e := d.res.Events
	d.say("events: %d OrderPlaced published, %d applied to stock, %d duplicate delivery ignored; stock exact for %d products",
		e.Published, e.Applied, e.Duplicates, e.StockChecked-len(e.StockMismatches))
	d.lagMu.Lock()
	most := d.res.MaxLag
	d.lagMu.Unlock()
	d.say("sync: largest lag seen %.2fs; verify: %s", most, map[bool]string{true: "clean", false: "DIFFERENCES"}[d.res.VerifyClean])
	if len(d.res.NotAvailable) > 0 {
		d.say("not available in this build:")
		for _, n := range d.res.NotAvailable {
			d.say("  - %s", n)
		}
	}
	d.say("\ndemo finished in %s: every step passed", time.Since(d.begin).Round(100*time.Millisecond))
}

// tryByHand prints where everything is and commands to try.
func (d *demoRun) tryByHand(keep bool) {
	if keep {
		d.say("\nEverything stays up until you press Ctrl-C; the shop traffic goes on, slower.")
	} else {
		d.say("\nWith --fast the demo stops everything now; without it (or with --keep) it stays up for these:")
	}
	d.say("  dashboard:      http://%s/   (log in with the admin token)", d.ports.admin)
	d.say("  admin API:      http://%s", d.ports.admin)
	d.say("  admin token:    %s", d.token)
	d.say("  facade:         http://%s   (legacy shop behind it: %s)", d.ports.listen, d.legacy)
	d.say("  services:       orders http://%s, catalog http://%s, inventory http://%s", d.ports.orders, d.ports.catalog, d.ports.inventory)
	d.say("  databases:      legacy %s, new %s; NATS %s", dbconn.Redact(d.legacyDSN), dbconn.Redact(d.newDSN), d.natsURL)
	d.say("  project file:   %s (logs beside it)", d.project)
	d.say("Try (from the repository, strangler is go run ./cmd/strangler):")
	d.say("  export STRANGLER_ADMIN_TOKEN=%s", d.token)
	for _, c := range []string{"routes list", "routes history", "shadow report", "catalog", "sync status", "sync verify",
		"routes resume " + routeOrdersRead + " --reason 'back to the controller'", "rollback --all --reason 'try it'"} {
		d.say("  strangler -c %s %s", d.project, c)
	}
	d.say("  curl -s http://%s/api/orders/1", d.ports.listen)
	d.say(`  curl -s -H 'Content-Type: application/json' -d '{"customerId": 3, "total": "%s", "items": [{"product_id": %d, "quantity": 1}]}' http://%s/api/orders`,
		formatCents(d.traffic.forSale[0].cents), d.traffic.forSale[0].id, d.ports.listen)
}

func formatCents(c int64) string { return fmt.Sprintf("%d.%02d", c/100, c%100) }
