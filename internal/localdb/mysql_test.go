package localdb_test

import (
	"context"
	"database/sql"
	"net"
	"strconv"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/localdb"
)

func startMySQL(t *testing.T, opts localdb.MySQLOptions) *localdb.MySQL {
	t.Helper()
	skipShort(t)
	opts.Logger = testLogger(t)
	srv, err := localdb.StartMySQL(testContext(t), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return srv
}

func openMySQL(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func mysqlVar(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var v string
	require.NoError(t, db.QueryRow("SELECT @@"+name).Scan(&v))
	return v
}

func TestMySQL(t *testing.T) {
	t.Parallel()
	srv := startMySQL(t, localdb.DefaultMySQLOptions())
	ctx := testContext(t)
	db := openMySQL(t, srv.DSN(""))

	t.Run("binlog settings for change-data capture", func(t *testing.T) {
		tests := []struct{ variable, want string }{
			{"log_bin", "1"},
			{"binlog_format", "ROW"},
			{"binlog_row_image", "FULL"},
			{"binlog_row_metadata", "FULL"},
			{"log_slave_updates", "1"},
			{"character_set_server", "utf8mb4"},
			{"skip_name_resolve", "1"},
			{"max_connections", "500"},
		}
		for _, tt := range tests {
			t.Run(tt.variable, func(t *testing.T) {
				require.Equal(t, tt.want, mysqlVar(t, db, tt.variable))
			})
		}
		require.NotEqual(t, "0", mysqlVar(t, db, "server_id"))
	})

	t.Run("root logs in over TCP with all privileges", func(t *testing.T) {
		var user, grants string
		require.NoError(t, db.QueryRow("SELECT CURRENT_USER()").Scan(&user))
		require.Equal(t, "root@127.0.0.1", user)
		require.NoError(t, db.QueryRow("SHOW GRANTS").Scan(&grants))
		require.Contains(t, grants, "GRANT ALL PRIVILEGES ON *.*")
		require.Contains(t, grants, "WITH GRANT OPTION")
	})

	t.Run("create and drop database", func(t *testing.T) {
		require.NoError(t, srv.CreateDatabase(ctx, "made`here"))
		require.Error(t, srv.CreateDatabase(ctx, "made`here"), "creating an existing database")
		other := openMySQL(t, srv.DSN("made`here"))
		var name string
		require.NoError(t, other.QueryRow("SELECT DATABASE()").Scan(&name))
		require.Equal(t, "made`here", name)
		require.NoError(t, srv.DropDatabase(ctx, "made`here"))
		require.NoError(t, srv.DropDatabase(ctx, "made`here"), "dropping a missing database")
		var n int
		require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'made`here'").Scan(&n))
		require.Zero(t, n)
	})

	t.Run("data survives a restart", func(t *testing.T) {
		require.NoError(t, srv.CreateDatabase(ctx, "restart"))
		setup := openMySQL(t, srv.DSN("restart"))
		_, err := setup.Exec("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(40))")
		require.NoError(t, err)
		require.NoError(t, setup.Close())

		tests := []struct {
			name string
			halt func() error
		}{
			{"stop and start", func() error { return srv.Stop(ctx) }},
			{"kill and start", srv.Kill},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				port, pid := srv.Port(), srv.PID()
				before := openMySQL(t, srv.DSN("restart"))
				_, err := before.Exec("INSERT INTO t VALUES (?, ?)", i, tt.name)
				require.NoError(t, err)
				require.NoError(t, before.Close())

				require.NoError(t, tt.halt())
				require.Zero(t, srv.PID())
				requireExited(t, pid)
				require.NoError(t, srv.Start(ctx))
				require.NoError(t, srv.Start(ctx), "starting a running server")
				require.Equal(t, port, srv.Port())
				require.NotEqual(t, pid, srv.PID())

				after := openMySQL(t, srv.DSN("restart"))
				var v string
				require.NoError(t, after.QueryRow("SELECT v FROM t WHERE id = ?", i).Scan(&v))
				require.Equal(t, tt.name, v)
			})
		}
	})

	t.Run("start fails while another program holds the port", func(t *testing.T) {
		require.NoError(t, srv.Stop(ctx))
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(srv.Port()))
		require.NoError(t, err)
		err = srv.Start(ctx)
		require.NoError(t, l.Close())
		t.Log(err)
		require.ErrorContains(t, err, "exited during start-up")
		require.ErrorContains(t, err, "in use", "the error quotes the server log")
		require.NoError(t, srv.Start(ctx))
	})

	t.Run("close", func(t *testing.T) {
		pid, dir, port := srv.PID(), srv.Dir(), srv.Port()
		require.NoError(t, srv.Close())
		requireGone(t, pid, dir, port)
		require.Zero(t, srv.PID())
		require.NoError(t, srv.Close(), "closing twice")
		require.ErrorIs(t, srv.Start(ctx), localdb.ErrClosed)
		require.ErrorIs(t, srv.CreateDatabase(ctx, "late"), localdb.ErrClosed)
	})
}

func TestMySQLWithoutBinlog(t *testing.T) {
	t.Parallel()
	srv := startMySQL(t, localdb.MySQLOptions{ServerID: 7})
	db := openMySQL(t, srv.DSN(""))
	require.Equal(t, "0", mysqlVar(t, db, "log_bin"))
	require.Equal(t, "7", mysqlVar(t, db, "server_id"))

	t.Run("a stop that runs out of time kills and says so", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		pid := srv.PID()
		require.ErrorIs(t, srv.Stop(ctx), context.Canceled)
		requireExited(t, pid)
		require.NoError(t, srv.Start(testContext(t)))
		require.NoError(t, openMySQL(t, srv.DSN("")).Ping())
	})
}

func TestMySQLStartFailureQuotesLog(t *testing.T) {
	skipShort(t)
	t.Parallel()
	opts := localdb.DefaultMySQLOptions()
	opts.ExtraArgs = []string{"--no-such-option=1"}
	opts.Logger = testLogger(t)
	srv, err := localdb.StartMySQL(testContext(t), opts)
	if srv != nil {
		srv.Close()
	}
	t.Log(err)
	require.ErrorContains(t, err, "exited during start-up")
	require.ErrorContains(t, err, "no-such-option", "the error quotes the server log")
}
