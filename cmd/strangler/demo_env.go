package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/stranglerfig/strangler/internal/dbconn"
	"github.com/stranglerfig/strangler/internal/localdb"
	"github.com/stranglerfig/strangler/testdata/legacyshop"
)

// The demo's surroundings: throwaway servers, the legacy shop, the
// subcommands it runs in-process, and waiting.

// demoServers are the throwaway servers the demo started; close stops and
// removes them.
type demoServers struct {
	my   *localdb.MySQL
	pg   *localdb.Postgres
	nats *localdb.NATS
}

func (s *demoServers) close() {
	var closers []func() error
	if s.my != nil {
		closers = append(closers, s.my.Close)
	}
	if s.pg != nil {
		closers = append(closers, s.pg.Close)
	}
	if s.nats != nil {
		closers = append(closers, s.nats.Close)
	}
	var wg sync.WaitGroup
	for _, c := range closers {
		wg.Add(1)
		go func() { defer wg.Done(); c() }()
	}
	wg.Wait()
}

// servers returns the legacy and new DSNs and the NATS URL: the given
// ones, or those of throwaway servers started side by side (database
// "shop").
func (d *demoRun) servers(ctx context.Context, o *demoOptions) error {
	d.legacyDSN, d.newDSN, d.natsURL = o.legacy, o.newDB, o.nats
	s := &demoServers{}
	d.srv = s
	g, gctx := errgroup.WithContext(ctx)
	var mu sync.Mutex
	started := func(what string, pid int) {
		mu.Lock()
		defer mu.Unlock()
		d.res.ServerPIDs = append(d.res.ServerPIDs, pid)
		d.say("started a throwaway %s (pid %d)", what, pid)
	}
	if d.legacyDSN == "" {
		g.Go(func() error {
			// Interleaved ids from the start: the legacy database hands out
			// odd ones, so that both sides can take orders at once later
			// (sync's ids: interleave gives PostgreSQL the even ones).
			mo := localdb.DefaultMySQLOptions()
			mo.ExtraArgs = append(mo.ExtraArgs, "--auto-increment-increment=2", "--auto-increment-offset=1")
			my, err := localdb.StartMySQL(gctx, mo)
			if err != nil {
				return fmt.Errorf("%w\n(the demo starts MariaDB from the installed server package, apt-get install mariadb-server, unless --legacy names a database)", err)
			}
			s.my = my
			if err := my.CreateDatabase(gctx, "shop"); err != nil {
				return err
			}
			d.legacyDSN = my.URL("shop")
			started("MariaDB", my.PID())
			return nil
		})
	}
	if d.newDSN == "" {
		g.Go(func() error {
			pg, err := localdb.StartPostgres(gctx, localdb.DefaultPostgresOptions())
			if err != nil {
				return fmt.Errorf("%w\n(the demo starts PostgreSQL from the installed server package, apt-get install postgresql, unless --new names a database)", err)
			}
			s.pg = pg
			if err := pg.CreateDatabase(gctx, "shop"); err != nil {
				return err
			}
			d.newDSN = pg.URL("shop")
			started("PostgreSQL", pg.PID())
			return nil
		})
	}
	if d.natsURL == "" {
		g.Go(func() error {
			n, err := localdb.StartNATS(gctx, localdb.DefaultNATSOptions())
			if err != nil {
				return fmt.Errorf("%w\n(the demo starts nats-server, apt-get install nats-server, unless --nats names a server with JetStream)", err)
			}
			s.nats = n
			d.natsURL = n.URL()
			started("NATS server with JetStream", n.PID())
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("starting throwaway servers: %w", err)
	}
	return nil
}

// openLegacy opens the legacy database through go-sql-driver.
func openLegacy(dsn string) (*sql.DB, error) {
	cfg, err := dbconn.ParseMySQL(dsn)
	if err != nil {
		return nil, err
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(connector), nil
}

// pg runs fn on a new connection to the new database.
func (d *demoRun) pg(ctx context.Context, fn func(*pgx.Conn) error) error {
	cfg, err := dbconn.ParsePostgres(d.newDSN)
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connecting to the new database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return fn(conn)
}

// startLegacy loads the shop into the legacy database and serves its API.
func (d *demoRun) startLegacy(ctx context.Context) error {
	db, err := openLegacy(d.legacyDSN)
	if err != nil {
		return err
	}
	d.legacyDB = db
	begin := time.Now()
	if err := legacyshop.Migrate(ctx, db); err != nil {
		return fmt.Errorf("creating the shop's tables: %w", err)
	}
	sz := d.sizes
	if err := legacyshop.SeedWith(ctx, db, legacyshop.SeedOptions{Customers: sz.customers, Products: sz.products, Orders: sz.orders, Seed: 1}); err != nil {
		return fmt.Errorf("seeding the shop: %w", err)
	}
	// The new orders service takes an order without checking the stock
	// (a recipe's create checks the row's own rules): a delivery makes
	// sure that no order of the demo finds a product sold out.
	if _, err := db.ExecContext(ctx, "UPDATE stock SET quantity = quantity + ?, updated_at = NOW()", demoRestock); err != nil {
		return fmt.Errorf("restocking the shop: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: legacyshop.New(db), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	d.onExit(func() { srv.Close() })
	d.legacy = "http://" + ln.Addr().String()
	d.say("legacy shop at %s: %d customers, %d products (their stock topped up by a delivery of %d each), %d orders with their items,\n"+
		"  seeded in %s", d.legacy, sz.customers, sz.products, demoRestock, sz.orders, time.Since(begin).Round(time.Millisecond))
	return nil
}

// demoRestock is what the delivery adds to every product's stock.
const demoRestock = 1000

// legacyPosition is the legacy database's current binlog position.
func (d *demoRun) legacyPosition(ctx context.Context) (string, uint32, error) {
	rows, err := d.legacyDB.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return "", 0, fmt.Errorf("reading the legacy binlog position: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", 0, err
	}
	if !rows.Next() {
		return "", 0, fmt.Errorf("reading the legacy binlog position: the binlog is off")
	}
	vals := make([]any, len(cols))
	var file string
	var pos uint32
	vals[0], vals[1] = &file, &pos
	for i := 2; i < len(cols); i++ {
		vals[i] = new(sql.RawBytes)
	}
	if err := rows.Scan(vals...); err != nil {
		return "", 0, fmt.Errorf("reading the legacy binlog position: %w", err)
	}
	return file, pos, rows.Err()
}

// createStream creates the run's JetStream stream, capturing every subject
// under its prefix (events and dead letters); it is deleted at exit.
func (d *demoRun) createStream(ctx context.Context) error {
	nc, err := nats.Connect(d.natsURL, nats.Timeout(5*time.Second))
	if err != nil {
		return fmt.Errorf("connecting to NATS at %s: %w", d.natsURL, err)
	}
	d.onExit(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("connecting to JetStream at %s: %w", d.natsURL, err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: d.events.stream, Subjects: []string{d.events.prefix + ".>"},
		Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute}); err != nil {
		return fmt.Errorf("creating the JetStream stream %s at %s: %w", d.events.stream, d.natsURL, err)
	}
	d.js = js
	d.onExit(func() {
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		js.DeleteStream(dctx, d.events.stream)
	})
	return nil
}

// cli runs one subcommand in-process against the demo's project file and
// returns its exit code and standard output; its standard error goes to the
// demo log.
func (d *demoRun) cli(ctx context.Context, args ...string) (int, string) {
	var out bytes.Buffer
	if d.project != "" {
		args = append(args, "-c", d.project)
	}
	d.logMu.Lock()
	fmt.Fprintf(d.logs, "$ strangler %s\n", strings.Join(args, " "))
	d.logMu.Unlock()
	code := run(ctx, args, &out, lockedWriter{&d.logMu, d.logs})
	return code, out.String()
}

// lockedWriter serialises writes of concurrent subcommands to one file.
type lockedWriter struct {
	mu *sync.Mutex
	w  *os.File
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// mustCLI runs a subcommand, prints what it printed, indented, and fails on
// a non-zero exit.
func (d *demoRun) mustCLI(ctx context.Context, args ...string) (string, error) {
	d.say("$ strangler %s", d.shell(args))
	code, out := d.cli(ctx, args...)
	d.indent(out)
	if code != exitOK {
		return out, fmt.Errorf("strangler %s: exit %d (see %s)", strings.Join(args, " "), code, d.logs.Name())
	}
	return out, nil
}

// shell writes a command line as a shell would read it, with paths in the
// demo directory relative to it.
func (d *demoRun) shell(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		a = d.rel(a)
		if a == "" || strings.ContainsAny(a, " '\"$&;|<>()*?[]{}!#~`\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// mustCLIRoute is mustCLI for a route change: it prints the change's first
// line and the row of route, not the whole route table.
func (d *demoRun) mustCLIRoute(ctx context.Context, route string, args ...string) error {
	d.say("$ strangler %s", d.shell(args))
	code, out := d.cli(ctx, args...)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	for i, l := range lines {
		if i == 0 || strings.HasPrefix(l, "NAME ") || strings.HasPrefix(l, route+" ") {
			d.indent(l)
		}
	}
	if code != exitOK {
		d.indent(out)
		return fmt.Errorf("strangler %s: exit %d (see %s)", d.shell(args), code, d.logs.Name())
	}
	return nil
}

// demoProc is a long-lived subcommand the demo runs in-process, as a team
// would run a process.
type demoProc struct {
	name    string
	cancel  context.CancelFunc
	done    chan struct{}
	stopped atomic.Bool
	code    int
}

// start runs a long-lived subcommand until it is stopped or the demo ends;
// its output goes to its own log file. A subcommand that ends by itself
// fails the demo at its next wait.
func (d *demoRun) start(name string, args ...string) *demoProc {
	args = append(args, "-c", d.project)
	path := filepath.Join(d.dir, name+".log")
	logf, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		logf = d.logs
	} else {
		d.onExit(func() { logf.Close() })
	}
	d.say("$ strangler %s &   (log: %s)", d.shell(args[:len(args)-2]), filepath.Base(path))
	ctx, cancel := context.WithCancel(d.bgctx)
	p := &demoProc{name: name, cancel: cancel, done: make(chan struct{})}
	d.procMu.Lock()
	d.procs = append(d.procs, p)
	d.procMu.Unlock()
	go func() {
		defer close(p.done)
		p.code = run(ctx, args, logf, logf)
		if !p.stopped.Load() && d.bgctx.Err() == nil {
			d.bgFailed.CompareAndSwap(nil, &procError{fmt.Errorf("strangler %s stopped by itself with exit %d; the end of its log (%s):\n%s",
				d.shell(args[:len(args)-2]), p.code, path, tail(path, 12))})
		}
	}()
	return p
}

type procError struct{ err error }

// tail returns the last n lines of the file at path, indented.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "    (" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	lines = lines[max(0, len(lines)-n):]
	return "    " + strings.Join(lines, "\n    ")
}

// stop ends the subcommand and waits until it is gone.
func (p *demoProc) stop() {
	p.stopped.Store(true)
	p.cancel()
	<-p.done
}

// stopAll stops every subcommand still running, the latest first.
func (d *demoRun) stopAll() {
	d.procMu.Lock()
	procs := d.procs
	d.procMu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop()
	}
}

// wait calls fn every 100 ms until it is done, fails, a background
// subcommand stopped by itself, or the timeout passes; what says what was
// awaited.
func (d *demoRun) wait(ctx context.Context, timeout time.Duration, what string, fn func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if pe := d.bgFailed.Load(); pe != nil {
			return fmt.Errorf("waiting for %s: %w", what, pe.err)
		}
		done, err := fn()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("waiting for %s: gave up after %s", what, timeout)
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}

// waitHTTP waits until url answers 200.
func (d *demoRun) waitHTTP(ctx context.Context, what, url string) error {
	c := &http.Client{Timeout: 2 * time.Second}
	return d.wait(ctx, time.Minute, what, func() (bool, error) {
		resp, err := c.Get(url)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
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

// demoDatabasesEmpty refuses databases that already hold tables: the demo
// creates the shop's tables in the legacy database and sync creates them
// in the new one, so a second run or a database in use would fail half way.
func demoDatabasesEmpty(ctx context.Context, legacyDSN, newDSN string) error {
	my, err := openLegacy(legacyDSN)
	if err != nil {
		return err
	}
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
