// Package dbtest gives tests of other packages fresh, empty MariaDB and
// PostgreSQL databases on servers launched once per test binary.
//
// Use it from a package's TestMain:
//
//	func TestMain(m *testing.M) { dbtest.Main(m) }
//
//	func TestOrders(t *testing.T) {
//		db, err := sql.Open("mysql", dbtest.MySQL(t))
//		...
//	}
//
// The first test that asks for a database of a kind starts that server
// (localdb, binary log and logical WAL on); the others share it; Main closes
// it after the last test. Every call creates a new database named after the
// test and drops it when the test ends. Under go test -short, tests that ask
// for a database are skipped; otherwise a server that cannot start fails the
// test with the reason, never skips it.
//
// STRANGLER_TEST_MYSQL (a go-sql-driver DSN or mysql:// URL) and
// STRANGLER_TEST_POSTGRES (a postgres:// URL) point the tests at existing
// servers instead, with rights to create and drop databases. Fault tests,
// which stop and start the server through MySQLServer or PostgresServer,
// cannot run against such servers and fail, saying so.
//
// Without Main the servers still die with the test binary (see localdb), but
// their directories stay in the temporary directory until the next run.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stranglerfig/strangler/internal/localdb"
)

// The environment variables that name external servers.
const (
	EnvMySQL    = "STRANGLER_TEST_MYSQL"
	EnvPostgres = "STRANGLER_TEST_POSTGRES"
)

const (
	startTimeout = 3 * time.Minute  // starting a shared server
	opTimeout    = 30 * time.Second // creating or dropping one database
)

// errClosed is returned when a test asks for a server after Main closed
// them, from a goroutine that outlived its test.
var errClosed = errors.New("the shared servers were closed: the test binary is ending")

// shared holds the servers of one kind, started lazily.
type shared[T interface{ Close() error }] struct {
	mu     sync.Mutex
	srv    T
	ok     bool
	closed bool
	start  func(ctx context.Context) (T, error)
}

// get returns the server, starting it on first use. A start that fails is
// tried again by the next caller.
func (s *shared[T]) get() (T, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var zero T
	if s.closed {
		return zero, errClosed
	}
	if s.ok {
		return s.srv, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	srv, err := s.start(ctx)
	if err != nil {
		return zero, err
	}
	s.srv, s.ok = srv, true
	return srv, nil
}

func (s *shared[T]) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if !s.ok {
		return nil
	}
	s.ok = false
	return s.srv.Close()
}

var (
	mysqlServer = &shared[*localdb.MySQL]{start: func(ctx context.Context) (*localdb.MySQL, error) {
		return localdb.StartMySQL(ctx, localdb.DefaultMySQLOptions())
	}}
	postgresServer = &shared[*localdb.Postgres]{start: func(ctx context.Context) (*localdb.Postgres, error) {
		return localdb.StartPostgres(ctx, localdb.DefaultPostgresOptions())
	}}
)

// Main runs the tests, closes the servers they started and exits with the
// tests' status (a failure to close fails the run).
func Main(m *testing.M) {
	code := m.Run()
	if err := errors.Join(mysqlServer.close(), postgresServer.close()); err != nil {
		fmt.Fprintf(os.Stderr, "dbtest: closing the test servers: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// server is what a fresh database needs from a server, launched or external.
type server interface {
	CreateDatabase(ctx context.Context, name string) error
	DropDatabase(ctx context.Context, name string) error
	DSN(database string) string
}

var (
	_ server = (*localdb.MySQL)(nil)
	_ server = (*localdb.Postgres)(nil)
	_ server = (*externalMySQL)(nil)
	_ server = (*externalPostgres)(nil)
)

// MySQL returns a go-sql-driver DSN (parseTime and multiStatements on) to a
// new, empty MariaDB database for t, dropped when t ends. On the launched
// server the user is root, with all privileges (replication included).
func MySQL(t testing.TB) string {
	t.Helper()
	skipShort(t, "MariaDB")
	var srv server
	var err error
	if dsn := os.Getenv(EnvMySQL); dsn != "" {
		srv, err = newExternalMySQL(dsn)
	} else {
		srv, err = mysqlServer.get()
	}
	if err != nil {
		t.Fatalf("dbtest: getting a MariaDB server for %s: %v", t.Name(), err)
	}
	return freshDatabase(t, srv)
}

// Postgres returns a postgres:// URL to a new, empty PostgreSQL database
// for t, dropped (with its sessions ended) when t ends.
func Postgres(t testing.TB) string {
	t.Helper()
	skipShort(t, "PostgreSQL")
	var srv server
	var err error
	if url := os.Getenv(EnvPostgres); url != "" {
		srv, err = newExternalPostgres(url)
	} else {
		srv, err = postgresServer.get()
	}
	if err != nil {
		t.Fatalf("dbtest: getting a PostgreSQL server for %s: %v", t.Name(), err)
	}
	return freshDatabase(t, srv)
}

// MySQLServer returns the shared MariaDB server, for fault tests that stop,
// kill and start it. Whatever the test does, the server runs again when the
// test ends. It fails the test when STRANGLER_TEST_MYSQL points at an
// external server, which it cannot stop.
func MySQLServer(t testing.TB) *localdb.MySQL {
	t.Helper()
	skipShort(t, "MariaDB")
	refuseExternal(t, EnvMySQL)
	srv, err := mysqlServer.get()
	if err != nil {
		t.Fatalf("dbtest: starting MariaDB for %s: %v", t.Name(), err)
	}
	restartAfter(t, srv)
	return srv
}

// PostgresServer returns the shared PostgreSQL server, for fault tests that
// stop, kill and start it. Whatever the test does, the server runs again
// when the test ends. It fails the test when STRANGLER_TEST_POSTGRES points
// at an external server, which it cannot stop.
func PostgresServer(t testing.TB) *localdb.Postgres {
	t.Helper()
	skipShort(t, "PostgreSQL")
	refuseExternal(t, EnvPostgres)
	srv, err := postgresServer.get()
	if err != nil {
		t.Fatalf("dbtest: starting PostgreSQL for %s: %v", t.Name(), err)
	}
	restartAfter(t, srv)
	return srv
}

func skipShort(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs " + what + "; run without -short")
	}
}

func refuseExternal(t testing.TB, env string) {
	t.Helper()
	if os.Getenv(env) != "" {
		t.Fatalf("dbtest: %s needs a server it launched, to stop and start it, but %s points at an external server; unset %s to run it",
			t.Name(), env, env)
	}
}

// starter is a server that can be started again after a fault test.
type starter interface {
	Start(ctx context.Context) error
}

// restartAfter makes sure the shared server runs again after t.
func restartAfter(t testing.TB, srv starter) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		if err := srv.Start(ctx); err != nil {
			t.Errorf("dbtest: restarting the shared server after %s: %v", t.Name(), err)
		}
	})
}

// freshDatabase creates a database for t on srv, registers its drop and
// returns its DSN.
func freshDatabase(t testing.TB, srv server) string {
	t.Helper()
	name := databaseName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := srv.CreateDatabase(ctx, name); err != nil {
		t.Fatalf("dbtest: creating a database for %s: %v", t.Name(), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if s, ok := srv.(starter); ok {
			// A fault test may have left the server stopped; its own
			// restart may come later in the cleanup order.
			if err := s.Start(ctx); err != nil {
				t.Errorf("dbtest: restarting the server to drop database %s: %v", name, err)
				return
			}
		}
		if err := srv.DropDatabase(ctx, name); err != nil {
			t.Errorf("dbtest: dropping database %s of %s: %v", name, t.Name(), err)
		}
	})
	return srv.DSN(name)
}

var databaseSeq atomic.Uint64

// maxNameLen is the longest identifier PostgreSQL keeps (MariaDB takes 64).
const maxNameLen = 63

// databaseName derives a database name from a test name: "t_", the test
// name in lower case with runs of other characters than [a-z0-9] turned into
// "_", then a sequence number and a random suffix, so that test binaries
// sharing an external server do not collide. It fits in maxNameLen.
func databaseName(testName string) string {
	var b strings.Builder
	underscore := true // no leading "_"
	for _, r := range strings.ToLower(testName) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			underscore = false
		} else if !underscore {
			b.WriteByte('_')
			underscore = true
		}
	}
	var random [4]byte
	_, _ = rand.Read(random[:])
	suffix := "_" + strconv.FormatUint(databaseSeq.Add(1), 10) + "_" + hex.EncodeToString(random[:])
	base := b.String()
	if room := maxNameLen - len("t_") - len(suffix); len(base) > room {
		base = base[:room]
	}
	return "t_" + strings.TrimRight(base, "_") + suffix
}
