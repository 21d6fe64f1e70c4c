package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"
	"github.com/stranglerfig/strangler/internal/dbconn"
	"github.com/stranglerfig/strangler/internal/localdb"
	"github.com/stranglerfig/strangler/shadow"
	"github.com/stranglerfig/strangler/shadow/compare"
	"github.com/stranglerfig/strangler/testdata/legacyshop"
	"golang.org/x/sync/errgroup"
)

// demoOptions are the flags of strangler demo.
type demoOptions struct {
	legacy, newDB string
	dir           string
	keep          bool
	orders        int
}

// demoCommand runs the lifecycle of one capability on the example legacy
// shop, driving the same subcommands a team would run, in-process.
func (a *app) demoCommand() *cobra.Command {
	o := &demoOptions{}
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole lifecycle on the example legacy shop, on throwaway local databases unless DSNs are given",
		Long: `demo migrates the orders endpoints of the example legacy shop
(testdata/legacyshop) step by step: it starts throwaway MariaDB and PostgreSQL
servers (or uses --legacy / --new, which must be empty databases ready for
change-data capture), loads the shop, checks the databases with doctor, syncs
them, serves the orders recipe, puts the facade in front of the monolith and
moves the route through shadow, canary and new, then rolls it back and
verifies the sync. Each step runs the real subcommand; their logs go to the
demo directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			err := a.demo(cmd.Context(), o)
			var ee *exitError
			if err != nil && !errors.As(err, &ee) {
				err = &exitError{code: exitFailed, err: err}
			}
			return err
		},
	}
	c.Flags().StringVar(&o.legacy, "legacy", "", "use this empty MySQL/MariaDB database instead of a throwaway server (needs binlog on)")
	c.Flags().StringVar(&o.newDB, "new", "", "use this empty PostgreSQL database instead of a throwaway server (needs wal_level=logical)")
	c.Flags().StringVar(&o.dir, "dir", "", "directory for the project file, state and logs (default: a new temporary directory)")
	c.Flags().BoolVar(&o.keep, "keep", false, "keep everything running at the end until interrupted")
	c.Flags().IntVar(&o.orders, "orders", 2000, "orders in the example shop")
	return c
}

// demoRun is one run of the demo: where things are and what is running.
type demoRun struct {
	a       *app
	out     io.Writer
	dir     string
	logs    *os.File
	project string
	legacy  string // the monolith's base URL
	facade  string // the facade's base URL
	admin   string // the admin API's base URL
	service string // the recipe service's base URL
	client  *http.Client
	bg      *errgroup.Group
}

func (a *app) demo(ctx context.Context, o *demoOptions) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d := &demoRun{a: a, out: a.stdout, client: &http.Client{Timeout: 10 * time.Second}}
	var err error
	if d.dir = o.dir; d.dir == "" {
		if d.dir, err = os.MkdirTemp("", "strangler-demo-"); err != nil {
			return err
		}
		if !o.keep {
			defer os.RemoveAll(d.dir) // deferred first, so it runs after everything using it stopped
		}
	} else if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return err
	}
	if d.logs, err = os.Create(filepath.Join(d.dir, "demo.log")); err != nil {
		return err
	}
	defer d.logs.Close()

	d.step("1. databases")
	legacyDSN, newDSN, stop, err := d.databases(ctx, o)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(d.out, "legacy: %s\nnew:    %s\nproject file, state and logs: %s\n", dbconn.Redact(legacyDSN), dbconn.Redact(newDSN), d.dir)

	// Nothing is written before both databases are known to be ready and
	// empty.
	d.step("2. doctor: are both databases ready for change-data capture?")
	if code, out := d.cli(ctx, "doctor", "--legacy", legacyDSN, "--new", newDSN); code != exitOK {
		fmt.Fprint(d.out, out)
		return fmt.Errorf("doctor found the databases not ready; nothing was written")
	}
	fmt.Fprintln(d.out, "all checks passed")
	if err := demoDatabasesEmpty(ctx, legacyDSN, newDSN); err != nil {
		return err
	}

	d.step("3. the legacy shop")
	if err := d.startLegacy(ctx, legacyDSN, o.orders); err != nil {
		return err
	}

	if err := d.writeProject(legacyDSN, newDSN); err != nil {
		return err
	}
	bgctx, bgcancel := context.WithCancel(ctx)
	defer bgcancel()
	d.bg, bgctx = errgroup.WithContext(bgctx)

	d.step("4. sync: snapshot the shop into PostgreSQL, then stream the binlog")
	d.background(bgctx, "sync", "sync", "run")
	if err := d.waitSynced(ctx); err != nil {
		return err
	}

	d.step("5. serve the orders recipe over the synced tables")
	d.background(bgctx, "serve", "serve")
	if err := d.waitHTTP(ctx, d.service+"/healthz"); err != nil {
		return fmt.Errorf("the recipe service did not come up: %w", err)
	}
	if err := d.compareAnswers(ctx, 1, 25); err != nil {
		return err
	}

	d.step("6. the facade in front of the monolith (route orders-read in mode legacy)")
	d.background(bgctx, "proxy", "proxy")
	if err := d.waitHTTP(ctx, d.facade+"/api/reports/daily"); err != nil {
		return fmt.Errorf("the facade did not come up: %w", err)
	}
	if err := d.traffic(ctx, 200); err != nil {
		return err
	}

	d.step("7. shadow: legacy answers; the facade sends a copy of each read to the new service and compares the two answers")
	if err := d.mustCLI(ctx, "routes", "set", "orders-read", "--mode", "shadow", "--reason", "demo"); err != nil {
		return err
	}
	if err := d.traffic(ctx, 400); err != nil {
		return err
	}
	if err := d.shadowReport(ctx, 400); err != nil {
		return err
	}

	for _, s := range []struct{ title, mode, percent string }{
		{"8. canary: 30% of users (sticky on X-User-Id) are answered by the new service", "canary", "30"},
		{"9. new: the new service answers every order read", "new", ""},
	} {
		d.step(s.title)
		args := []string{"routes", "set", "orders-read", "--mode", s.mode, "--reason", "demo"}
		if s.percent != "" {
			args = append(args, "--percent", s.percent)
		}
		if err := d.mustCLI(ctx, args...); err != nil {
			return err
		}
		if err := d.traffic(ctx, 400); err != nil {
			return err
		}
	}

	d.step("10. a write on the monolith reaches the new service through sync")
	if err := d.writeThrough(ctx); err != nil {
		return err
	}

	d.step("11. rollback: every order read goes back to legacy at once")
	start := time.Now()
	if err := d.mustCLI(ctx, "rollback", "orders-read", "--reason", "demo rollback"); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "rollback call answered in %s\n", time.Since(start).Round(time.Millisecond))
	if err := d.traffic(ctx, 200); err != nil {
		return err
	}
	if code, out := d.cli(ctx, "routes", "history"); code == exitOK {
		fmt.Fprint(d.out, out)
	}

	d.step("12. verify: the legacy and new databases hold the same rows")
	if code, out := d.cli(ctx, "sync", "verify"); code != exitOK {
		fmt.Fprint(d.out, out)
		return fmt.Errorf("sync verify found differences (exit %d)", code)
	} else {
		fmt.Fprint(d.out, out)
	}

	fmt.Fprintln(d.out, "\ndemo finished: every step passed")
	if o.keep {
		fmt.Fprintf(d.out, "facade %s, admin API %s and the orders service %s stay up until you press Ctrl-C; try:\n", d.facade, d.admin, d.service)
		fmt.Fprintf(d.out, "  export STRANGLER_ADMIN_TOKEN=%s\n", os.Getenv("STRANGLER_ADMIN_TOKEN"))
		fmt.Fprintf(d.out, "  strangler -c %s routes list\n", d.project)
		fmt.Fprintf(d.out, "  curl -s %s/api/orders/1\n", d.facade)
		fmt.Fprintf(d.out, "the project file, state and logs stay in %s\n", d.dir)
		<-ctx.Done()
	}
	bgcancel()
	if err := d.bg.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func (d *demoRun) step(title string) { fmt.Fprintf(d.out, "\n== %s\n", title) }

// databases returns the legacy and new DSNs: the given ones, or databases
// "shop" on throwaway servers.
func (d *demoRun) databases(ctx context.Context, o *demoOptions) (string, string, func(), error) {
	if o.legacy != "" && o.newDB != "" {
		return o.legacy, o.newDB, func() {}, nil
	}
	my, pg, err := startDemoDatabases(ctx)
	if err != nil {
		return "", "", nil, err
	}
	stop := func() { my.Close(); pg.Close() }
	if err := my.CreateDatabase(ctx, "shop"); err != nil {
		stop()
		return "", "", nil, err
	}
	if err := pg.CreateDatabase(ctx, "shop"); err != nil {
		stop()
		return "", "", nil, err
	}
	fmt.Fprintf(d.out, "started throwaway MariaDB (pid %d) and PostgreSQL (pid %d)\n", my.PID(), pg.PID())
	legacy, newDB := o.legacy, o.newDB
	if legacy == "" {
		legacy = my.URL("shop")
	}
	if newDB == "" {
		newDB = pg.URL("shop")
	}
	return legacy, newDB, stop, nil
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

// startLegacy loads the shop into the legacy database and serves its API.
func (d *demoRun) startLegacy(ctx context.Context, dsn string, orders int) error {
	cfg, err := dbconn.ParseMySQL(dsn)
	if err != nil {
		return err
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	context.AfterFunc(ctx, func() { db.Close() })
	if err := legacyshop.Create(ctx, db); err != nil {
		return err
	}
	if err := legacyshop.Seed(ctx, db, max(orders/10, 1), orders, 1); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: legacyshop.New(db), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	context.AfterFunc(ctx, func() { srv.Close() })
	d.legacy = "http://" + ln.Addr().String()
	fmt.Fprintf(d.out, "legacy shop API at %s: %d customers, %d orders\n", d.legacy, max(orders/10, 1), orders)
	return nil
}

// writeProject writes the demo's strangler.yaml.
func (d *demoRun) writeProject(legacyDSN, newDSN string) error {
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	d.facade = "http://" + ports[0]
	d.admin = "http://" + ports[1]
	d.service = "http://" + ports[2]
	tok := make([]byte, 16)
	rand.Read(tok)
	// The admin clients of this process (routes, rollback) read the same
	// variable as the facade.
	os.Setenv("STRANGLER_ADMIN_TOKEN", "demo:"+hex.EncodeToString(tok))
	if err := os.WriteFile(filepath.Join(d.dir, "orders.yaml"), legacyshop.OrdersRecipe, 0o644); err != nil {
		return err
	}
	project := fmt.Sprintf(`# Written by strangler demo.
listen: %s
legacy: %s
admin:
  listen: %s
  token_env: STRANGLER_ADMIN_TOKEN
state: routes.state.json
databases:
  legacy: %q
  new: %q
routes:
  - name: orders-read
    match: {path: /api/orders/{id}, methods: [GET]}
    target: %s
    mode: legacy
    sticky: header:X-User-Id
    fallback: legacy
    # Ask legacy twice on every compared read (default: 10%%), so that a
    # field it makes up per answer is learned as noise from the first one.
    shadow: {learn_sample: 100}
sync:
  - name: shop
    tables: [customers, orders]
services:
  - recipe: orders.yaml
    listen: %s
`, ports[0], d.legacy, ports[1], legacyDSN, newDSN, d.service, ports[2])
	d.project = filepath.Join(d.dir, "strangler.yaml")
	if err := os.WriteFile(d.project, []byte(project), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "project file: %s\n", d.project)
	return nil
}

func freePorts(n int) ([]string, error) {
	var out []string
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	return out, nil
}

// cli runs one subcommand in-process against the demo's project file and
// returns its exit code and standard output; its standard error goes to the
// demo log.
func (d *demoRun) cli(ctx context.Context, args ...string) (int, string) {
	var out bytes.Buffer
	if d.project != "" {
		args = append(args, "-c", d.project)
	}
	fmt.Fprintf(d.logs, "$ strangler %s\n", strings.Join(args, " "))
	code := run(ctx, args, &out, d.logs)
	return code, out.String()
}

// mustCLI runs a subcommand, prints what it printed and fails on a non-zero exit.
func (d *demoRun) mustCLI(ctx context.Context, args ...string) error {
	fmt.Fprintf(d.out, "$ strangler %s\n", strings.Join(args, " "))
	code, out := d.cli(ctx, args...)
	fmt.Fprint(d.out, out)
	if code != exitOK {
		return fmt.Errorf("strangler %s: exit %d (see %s)", strings.Join(args, " "), code, d.logs.Name())
	}
	return nil
}

// background runs a long-lived subcommand until ctx is done; its output goes
// to its own log file.
func (d *demoRun) background(ctx context.Context, name string, args ...string) {
	args = append(args, "-c", d.project)
	logf, err := os.Create(filepath.Join(d.dir, name+".log"))
	if err != nil {
		logf = d.logs
	}
	fmt.Fprintf(d.out, "$ strangler %s &   (log: %s)\n", strings.Join(args[:len(args)-2], " "), logf.Name())
	d.bg.Go(func() error {
		code := run(ctx, args, logf, logf)
		if ctx.Err() == nil && code != exitOK {
			return fmt.Errorf("strangler %s stopped with exit %d (see %s)", strings.Join(args, " "), code, logf.Name())
		}
		return nil
	})
}

// waitSynced waits until the sync pipeline streams.
func (d *demoRun) waitSynced(ctx context.Context) error {
	return poll(ctx, 2*time.Minute, func() (bool, error) {
		code, out := d.cli(ctx, "sync", "status", "-o", "json")
		if code != exitOK {
			return false, nil
		}
		var st []struct {
			Phase  string `json:"phase"`
			Reason string `json:"reason"`
		}
		if json.Unmarshal([]byte(out), &st) != nil || len(st) == 0 {
			return false, nil
		}
		switch st[0].Phase {
		case "streaming":
			_, text := d.cli(ctx, "sync", "status")
			fmt.Fprint(d.out, text)
			return true, nil
		case "paused":
			return false, fmt.Errorf("the sync pipeline paused: %s", st[0].Reason)
		}
		return false, nil
	})
}

func (d *demoRun) waitHTTP(ctx context.Context, url string) error {
	return poll(ctx, time.Minute, func() (bool, error) {
		resp, err := d.client.Get(url)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// poll calls fn every 100 ms until it is done, fails, or the timeout passes.
func poll(ctx context.Context, timeout time.Duration, fn func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		done, err := fn()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up after %s: %w", timeout, ctx.Err())
		case <-t.C:
		}
	}
}

// get fetches a URL and returns its status, body and whether the monolith
// answered (it marks its answers with X-Powered-By).
func (d *demoRun) get(ctx context.Context, url string, user int) (int, []byte, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, false, err
	}
	req.Header.Set("X-User-Id", fmt.Sprint(user))
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, nil, false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, strings.HasPrefix(resp.Header.Get("X-Powered-By"), "legacyshop"), err
}

// compareAnswers asks the monolith and the recipe service for the same
// orders and compares the answers with the differ the facade's shadow
// comparison uses, leaving out data.requestId, which legacy makes up for
// every answer. It prints each differing path.
func (d *demoRun) compareAnswers(ctx context.Context, from, to int) error {
	cmp, err := compare.Compile(compare.Rules{Ignore: []string{"$.data.requestId"}})
	if err != nil {
		return err
	}
	asJSON := http.Header{"Content-Type": {"application/json"}}
	same := 0
	for id := from; id <= to; id++ {
		path := fmt.Sprintf("/api/orders/%d", id)
		lcode, lb, _, err := d.get(ctx, d.legacy+path, 0)
		if err != nil {
			return err
		}
		ncode, nb, _, err := d.get(ctx, d.service+path, 0)
		if err != nil {
			return err
		}
		res := cmp.Compare(compare.Response{Status: lcode, Header: asJSON, Body: lb}, compare.Response{Status: ncode, Header: asJSON, Body: nb}, nil)
		if res.Match() {
			same++
			continue
		}
		for _, df := range res.Diffs {
			fmt.Fprintf(d.out, "GET %s differs at %s: legacy %s, new %s\n", path, df.Path, orMissing(df.A), orMissing(df.B))
		}
	}
	fmt.Fprintf(d.out, "legacy and new answer GET /api/orders/{id} alike for %d of %d orders (data.requestId left out)\n", same, to-from+1)
	return nil
}

// traffic sends n order reads through the facade from n/4 users and says
// which side answered; every request must succeed.
func (d *demoRun) traffic(ctx context.Context, n int) error {
	legacy, fresh, failed := 0, 0, 0
	for i := range n {
		code, _, fromLegacy, err := d.get(ctx, fmt.Sprintf("%s/api/orders/%d", d.facade, i%50+1), i%(n/4+1))
		if err != nil || code != http.StatusOK {
			failed++
			continue
		}
		if fromLegacy {
			legacy++
		} else {
			fresh++
		}
	}
	fmt.Fprintf(d.out, "%d requests through the facade: %d answered by legacy, %d by the new service, %d failed\n", n, legacy, fresh, failed)
	if failed > 0 {
		return fmt.Errorf("%d requests failed through the facade", failed)
	}
	return nil
}

// shadowReport waits until the facade compared n copies of orders-read,
// prints the shadow report, and replays one differing request.
func (d *demoRun) shadowReport(ctx context.Context, n int64) error {
	var rep shadow.ReportResponse
	err := poll(ctx, 30*time.Second, func() (bool, error) {
		if code, out := d.cli(ctx, "shadow", "report", "orders-read", "-o", "json"); code != exitOK {
			return false, fmt.Errorf("strangler shadow report: exit %d (see %s)", code, d.logs.Name())
		} else if err := json.Unmarshal([]byte(out), &rep); err != nil {
			return false, fmt.Errorf("strangler shadow report -o json: %w", err)
		}
		return len(rep.Routes) == 1 && rep.Routes[0].Compared+rep.Routes[0].Dropped >= n, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the shadow comparisons: %w", err)
	}
	if err := d.mustCLI(ctx, "shadow", "report", "orders-read"); err != nil {
		return err
	}
	for _, p := range rep.Routes[0].Paths {
		if len(p.Examples) > 0 {
			return d.mustCLI(ctx, "shadow", "replay", p.Examples[0].ID)
		}
	}
	return nil
}

// writeThrough creates an order on the monolith and reads it back through
// the facade (route in mode new) once sync has carried it over.
func (d *demoRun) writeThrough(ctx context.Context) error {
	resp, err := d.client.Post(d.legacy+"/api/orders", "application/json",
		strings.NewReader(`{"customerId": 7, "status": "paid", "total": "42.50", "note": "written on the monolith"}`))
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var created struct {
		Data struct {
			ID int64 `json:"id"`
		} `json:"data"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &created) != nil {
		return fmt.Errorf("creating an order on the monolith: %d %s", resp.StatusCode, body)
	}
	start := time.Now()
	path := fmt.Sprintf("/api/orders/%d", created.Data.ID)
	fmt.Fprintf(d.out, "POST %s/api/orders created order %d in MariaDB\n", d.legacy, created.Data.ID)
	err = poll(ctx, 30*time.Second, func() (bool, error) {
		code, _, fromLegacy, err := d.get(ctx, d.facade+path, 1)
		return err == nil && code == http.StatusOK && !fromLegacy, nil
	})
	if err != nil {
		return fmt.Errorf("order %d never reached the new service: %w", created.Data.ID, err)
	}
	fmt.Fprintf(d.out, "GET %s answered by the new service after %s\n", path, time.Since(start).Round(time.Millisecond))
	return d.compareAnswers(ctx, int(created.Data.ID), int(created.Data.ID))
}

// demoDatabasesEmpty refuses databases that already hold tables: the demo
// creates the shop's tables in the legacy database and sync creates them
// in the new one, so a second run or a database in use would fail half way.
func demoDatabasesEmpty(ctx context.Context, legacyDSN, newDSN string) error {
	mcfg, err := dbconn.ParseMySQL(legacyDSN)
	if err != nil {
		return err
	}
	connector, err := mysql.NewConnector(mcfg)
	if err != nil {
		return err
	}
	my := sql.OpenDB(connector)
	defer my.Close()
	var legacyTables []string
	rows, err := my.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name LIMIT 6")
	if err != nil {
		return fmt.Errorf("listing the tables of the legacy database: %w", err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("listing the tables of the legacy database: %w", err)
		}
		legacyTables = append(legacyTables, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("listing the tables of the legacy database: %w", err)
	}
	pcfg, err := dbconn.ParsePostgres(newDSN)
	if err != nil {
		return err
	}
	pg, err := pgx.ConnectConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("connecting to the new database: %w", err)
	}
	defer pg.Close(context.WithoutCancel(ctx))
	prows, err := pg.Query(ctx, `SELECT table_schema || '.' || table_name FROM information_schema.tables
		WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1 LIMIT 6`)
	if err != nil {
		return fmt.Errorf("listing the tables of the new database: %w", err)
	}
	newTables, err := pgx.CollectRows(prows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("listing the tables of the new database: %w", err)
	}
	var held []string
	if len(legacyTables) > 0 {
		held = append(held, "the legacy database holds "+listSome(legacyTables))
	}
	if len(newTables) > 0 {
		held = append(held, "the new database holds "+listSome(newTables))
	}
	if len(held) > 0 {
		return &exitError{code: exitUsage, err: fmt.Errorf("demo needs empty databases and %s; nothing was written: give empty databases, or leave out --legacy and --new for throwaway ones", strings.Join(held, " and "))}
	}
	return nil
}

// listSome names up to five items and says when there are more.
func listSome(names []string) string {
	if len(names) > 5 {
		return strings.Join(names[:5], ", ") + " and more"
	}
	return strings.Join(names, ", ")
}
