package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/localdb"
)

func TestDatabaseName(t *testing.T) {
	valid := regexp.MustCompile(`^t_[a-z0-9_]+$`)
	tests := []struct {
		name, testName, wantPrefix string
	}{
		{"plain", "TestOrders", "t_testorders_"},
		{"subtests and spaces", "TestOrders/read one/#01", "t_testorders_read_one_01_"},
		{"only symbols", "//??", "t__"},
		{"non-ASCII", "TestÜberGröße", "t_test_bergr_e_"},
		{"long", "Test" + strings.Repeat("VeryLongName", 20), "t_testverylongname"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := databaseName(tt.testName), databaseName(tt.testName)
			require.NotEqual(t, a, b)
			for _, n := range []string{a, b} {
				require.LessOrEqual(t, len(n), maxNameLen)
				require.Regexp(t, valid, n)
				require.True(t, strings.HasPrefix(n, tt.wantPrefix), "%q should start with %q", n, tt.wantPrefix)
			}
		})
	}
}

// databaseOf returns the database a DSN or URL names.
func databaseOf(t *testing.T, dsn string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") {
		u, err := url.Parse(dsn)
		require.NoError(t, err)
		return strings.TrimPrefix(u.Path, "/")
	}
	cfg, err := mysql.ParseDSN(dsn)
	require.NoError(t, err)
	return cfg.DBName
}

// kinds runs the same checks on both servers.
var kinds = []struct {
	name     string
	fresh    func(t testing.TB) string
	tables   func(t *testing.T, dsn string) []string
	mkTable  func(t *testing.T, dsn string)
	dbExists func(t *testing.T, dsn, name string) bool // dsn: any database of the server
}{
	{"mariadb", MySQL, mysqlTables, func(t *testing.T, dsn string) {
		db := openMySQL(t, dsn)
		_, err := db.Exec("CREATE TABLE marker (id INT PRIMARY KEY)")
		require.NoError(t, err)
	}, func(t *testing.T, dsn, name string) bool {
		cfg, err := mysql.ParseDSN(dsn)
		require.NoError(t, err)
		cfg.DBName = ""
		db := openMySQL(t, cfg.FormatDSN())
		var n int
		require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", name).Scan(&n))
		return n > 0
	}},
	{"postgres", Postgres, postgresTables, func(t *testing.T, dsn string) {
		conn := connectPostgres(t, dsn)
		_, err := conn.Exec(context.Background(), "CREATE TABLE marker (id int PRIMARY KEY)")
		require.NoError(t, err)
	}, func(t *testing.T, dsn, name string) bool {
		u, err := url.Parse(dsn)
		require.NoError(t, err)
		u.Path = "/postgres"
		conn := connectPostgres(t, u.String())
		var n int
		require.NoError(t, conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n))
		return n > 0
	}},
}

func TestFreshDatabases(t *testing.T) {
	skipShort(t, "MariaDB and PostgreSQL")
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			var dsns []string
			for _, sub := range []string{"first", "second"} {
				t.Run(sub, func(t *testing.T) {
					dsn := k.fresh(t)
					require.Empty(t, k.tables(t, dsn), "a fresh database is empty")
					k.mkTable(t, dsn) // the next test must not see it
					dsns = append(dsns, dsn)
				})
			}
			require.Len(t, dsns, 2)
			first, second := databaseOf(t, dsns[0]), databaseOf(t, dsns[1])
			require.NotEqual(t, first, second)
			require.Contains(t, first, "first")
			for _, name := range []string{first, second} {
				require.False(t, k.dbExists(t, dsns[0], name), "database %s should be dropped after its test", name)
			}
		})
	}
}

func TestSharedServerRunsAgainAfterAFaultTest(t *testing.T) {
	t.Run("mariadb", func(t *testing.T) {
		var pid int
		t.Run("stops the server", func(t *testing.T) {
			srv := MySQLServer(t)
			pid = srv.PID()
			MySQL(t) // its drop must still work
			require.NoError(t, srv.Stop(context.Background()))
		})
		srv := MySQLServer(t)
		require.NotZero(t, srv.PID())
		require.NotEqual(t, pid, srv.PID())
		require.NoError(t, openMySQL(t, MySQL(t)).Ping())
	})
	t.Run("postgres", func(t *testing.T) {
		var pid int
		t.Run("kills the server", func(t *testing.T) {
			srv := PostgresServer(t)
			pid = srv.PID()
			Postgres(t)
			require.NoError(t, srv.Kill())
		})
		srv := PostgresServer(t)
		require.NotZero(t, srv.PID())
		require.NotEqual(t, pid, srv.PID())
		require.NoError(t, connectPostgres(t, Postgres(t)).Ping(context.Background()))
	})
}

// TestExternalServers points the environment variables at servers launched
// here, in each accepted form, and checks that databases come and go there.
func TestExternalServers(t *testing.T) {
	skipShort(t, "MariaDB and PostgreSQL")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	my, err := localdb.StartMySQL(ctx, localdb.MySQLOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, my.Close()) })
	pg, err := localdb.StartPostgres(ctx, localdb.PostgresOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, pg.Close()) })

	tests := []struct {
		name, env, value string
		fresh            func(testing.TB) string
		wantPort         int
	}{
		{"mysql URL", EnvMySQL, my.URL("ignored"), MySQL, my.Port()},
		{"go-sql-driver DSN", EnvMySQL, my.DSN(""), MySQL, my.Port()},
		{"postgres URL", EnvPostgres, pg.URL("postgres"), Postgres, pg.Port()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(tt.env, tt.value)
			var dsn string
			t.Run("test", func(t *testing.T) {
				dsn = tt.fresh(t)
				require.Contains(t, dsn, fmt.Sprintf(":%d", tt.wantPort))
				require.Empty(t, tablesOf(t, dsn))
			})
			k := kinds[0]
			if tt.env == EnvPostgres {
				k = kinds[1]
			}
			require.False(t, k.dbExists(t, dsn, databaseOf(t, dsn)), "dropped after the test")
		})
	}

	t.Run("fault tests refuse an external server", func(t *testing.T) {
		t.Setenv(EnvMySQL, my.DSN(""))
		t.Setenv(EnvPostgres, pg.URL(""))
		for name, get := range map[string]func(testing.TB){
			"mariadb":  func(tb testing.TB) { MySQLServer(tb) },
			"postgres": func(tb testing.TB) { PostgresServer(tb) },
		} {
			t.Run(name, func(t *testing.T) {
				msg := fatalOf(t, get)
				require.Contains(t, msg, "external server")
			})
		}
	})
}

func tablesOf(t *testing.T, dsn string) []string {
	if strings.HasPrefix(dsn, "postgres://") {
		return postgresTables(t, dsn)
	}
	return mysqlTables(t, dsn)
}

// fakeTB records the message of a Fatalf and ends the goroutine like the
// real one does.
type fakeTB struct {
	testing.TB
	fatal string
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func fatalOf(t *testing.T, fn func(testing.TB)) string {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	require.NotEmpty(t, f.fatal, "expected a fatal error")
	return f.fatal
}

func openMySQL(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func mysqlTables(t *testing.T, dsn string) []string {
	t.Helper()
	rows, err := openMySQL(t, dsn).Query("SHOW TABLES")
	require.NoError(t, err)
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		names = append(names, n)
	}
	require.NoError(t, rows.Err())
	return names
}

func connectPostgres(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func postgresTables(t *testing.T, dsn string) []string {
	t.Helper()
	rows, err := connectPostgres(t, dsn).Query(context.Background(),
		"SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
	require.NoError(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return names
}
