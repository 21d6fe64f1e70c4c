// Command legacyshop runs the example legacy shop alone, over a MariaDB or
// MySQL database:
//
//	go run ./testdata/legacyshop/cmd/legacyshop -dsn 'root@tcp(127.0.0.1:3306)/shop' -migrate -seed
//
// -migrate creates the database and the shop's tables where they are
// missing; -seed fills an empty shop with generated rows (-customers,
// -products, -orders, -random-seed) and leaves one that holds customers as
// it is. It prints the address it listens on, and stops on SIGINT or
// SIGTERM.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/stranglerfig/strangler/internal/dbconn"
	"github.com/stranglerfig/strangler/testdata/legacyshop"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	var usage usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.As(err, &usage): // the flag package said what was wrong
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "legacyshop:", err)
		os.Exit(1)
	}
}

// usageError is a bad command line, already reported with the usage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// options are the program's flags.
type options struct {
	dsn     string
	listen  string
	migrate bool
	seed    bool
	sizes   legacyshop.SeedOptions
}

func parseFlags(args []string, errOut io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("legacyshop", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprintln(errOut, "usage: legacyshop [-dsn DSN] [-listen ADDR] [-migrate] [-seed [-customers N] [-products N] [-orders N] [-random-seed N]]")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.dsn, "dsn", "root@tcp(127.0.0.1:3306)/shop", "the shop's MySQL/MariaDB database: a go-sql-driver DSN or a mysql:// URL")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9000", "the address to serve the shop on (port 0: any free port)")
	fs.BoolVar(&o.migrate, "migrate", false, "create the database and the shop's tables where they are missing")
	fs.BoolVar(&o.seed, "seed", false, "fill an empty shop with generated rows (a shop that holds customers is left as it is)")
	fs.IntVar(&o.sizes.Customers, "customers", 100, "customers to seed")
	fs.IntVar(&o.sizes.Products, "products", 50, "products to seed (0: only the first release's tables, customers and orders)")
	fs.IntVar(&o.sizes.Orders, "orders", 1000, "orders to seed")
	fs.Uint64Var(&o.sizes.Seed, "random-seed", 1, "the seed of the generated rows: the same seed, the same rows")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, usageError{err}
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
		fmt.Fprintln(errOut, err)
		fs.Usage()
		return o, usageError{err}
	}
	return o, nil
}

// run is the program: it returns when ctx ends (nil) or something fails.
func run(ctx context.Context, args []string, out, errOut io.Writer) error {
	o, err := parseFlags(args, errOut)
	if err != nil {
		return err
	}
	cfg, err := dbconn.ParseMySQL(o.dsn)
	if err != nil {
		return err
	}
	if cfg.DBName == "" {
		return fmt.Errorf("the DSN %q names no database", dbconn.Redact(o.dsn))
	}
	if o.migrate {
		if err := createDatabase(ctx, cfg); err != nil {
			return err
		}
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", cfg.Addr, err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("connecting to database %s at %s: %w", cfg.DBName, cfg.Addr, err)
	}
	if o.migrate {
		if err := legacyshop.Migrate(ctx, db); err != nil {
			return err
		}
		fmt.Fprintf(out, "migrated database %s\n", cfg.DBName)
	}
	if o.seed {
		if err := seed(ctx, db, o.sizes, out); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.listen, err)
	}
	srv := &http.Server{Handler: legacyshop.New(db), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "legacyshop listening on http://%s\n", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("stopping: %w", err)
	}
	return nil
}

// createDatabase creates the DSN's database when it is missing.
func createDatabase(ctx context.Context, cfg *mysql.Config) error {
	server := cfg.Clone()
	server.DBName = ""
	connector, err := mysql.NewConnector(server)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", cfg.Addr, err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	name := "`" + strings.ReplaceAll(cfg.DBName, "`", "``") + "`"
	if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+name+" CHARACTER SET utf8mb4"); err != nil {
		return fmt.Errorf("creating database %s at %s: %w", cfg.DBName, cfg.Addr, err)
	}
	return nil
}

// seed fills the shop when it holds no customers yet.
func seed(ctx context.Context, db *sql.DB, sizes legacyshop.SeedOptions, out io.Writer) error {
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM customers").Scan(&n); err != nil {
		return fmt.Errorf("seeding: counting customers (run with -migrate to create the tables): %w", err)
	}
	if n > 0 {
		fmt.Fprintf(out, "not seeding: the shop already holds %d customers\n", n)
		return nil
	}
	start := time.Now()
	if err := legacyshop.SeedWith(ctx, db, sizes); err != nil {
		return err
	}
	fmt.Fprintf(out, "seeded %d customers, %d products, %d orders (random seed %d) in %s\n",
		sizes.Customers, sizes.Products, sizes.Orders, sizes.Seed, time.Since(start).Round(time.Millisecond))
	return nil
}
