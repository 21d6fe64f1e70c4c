package localdb_test

import (
	"context"
	"net"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/localdb"
)

func startPostgres(t *testing.T, opts localdb.PostgresOptions) *localdb.Postgres {
	t.Helper()
	skipShort(t)
	opts.Logger = testLogger(t)
	srv, err := localdb.StartPostgres(testContext(t), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return srv
}

func connectPostgres(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx := testContext(t)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func pgSetting(t *testing.T, conn *pgx.Conn, name string) string {
	t.Helper()
	var v string
	require.NoError(t, conn.QueryRow(context.Background(), "SELECT current_setting($1)", name).Scan(&v))
	return v
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	srv := startPostgres(t, localdb.DefaultPostgresOptions())
	ctx := testContext(t)
	conn := connectPostgres(t, srv.DSN("postgres"))

	t.Run("settings for logical replication", func(t *testing.T) {
		require.Equal(t, "logical", pgSetting(t, conn, "wal_level"))
		tests := []struct {
			setting string
			atLeast int
		}{
			{"max_replication_slots", 10},
			{"max_wal_senders", 10},
			{"max_connections", 300},
		}
		for _, tt := range tests {
			t.Run(tt.setting, func(t *testing.T) {
				n, err := strconv.Atoi(pgSetting(t, conn, tt.setting))
				require.NoError(t, err)
				require.GreaterOrEqual(t, n, tt.atLeast)
			})
		}
		require.Equal(t, "UTF8", pgSetting(t, conn, "server_encoding"))
		require.Equal(t, "on", pgSetting(t, conn, "synchronous_commit"))
	})

	t.Run("postgres is a superuser with replication", func(t *testing.T) {
		var super, repl bool
		require.NoError(t, conn.QueryRow(ctx,
			"SELECT rolsuper, rolreplication FROM pg_roles WHERE rolname = current_user").Scan(&super, &repl))
		require.True(t, super)
		require.True(t, repl)
	})

	t.Run("create and drop database", func(t *testing.T) {
		const name = `Made "here"`
		require.NoError(t, srv.CreateDatabase(ctx, name))
		require.Error(t, srv.CreateDatabase(ctx, name), "creating an existing database")
		other := connectPostgres(t, srv.DSN(name))
		var got string
		require.NoError(t, other.QueryRow(ctx, "SELECT current_database()").Scan(&got))
		require.Equal(t, name, got)
		require.NoError(t, srv.DropDatabase(ctx, name), "dropping a database with a session open")
		require.NoError(t, srv.DropDatabase(ctx, name), "dropping a missing database")
		var n int
		require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n))
		require.Zero(t, n)
	})

	t.Run("data survives a restart", func(t *testing.T) {
		require.NoError(t, srv.CreateDatabase(ctx, "restart"))
		setup := connectPostgres(t, srv.DSN("restart"))
		_, err := setup.Exec(ctx, "CREATE TABLE t (id int PRIMARY KEY, v text)")
		require.NoError(t, err)

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
				before := connectPostgres(t, srv.DSN("restart"))
				_, err := before.Exec(ctx, "INSERT INTO t VALUES ($1, $2)", i, tt.name)
				require.NoError(t, err)

				require.NoError(t, tt.halt())
				require.Zero(t, srv.PID())
				requireExited(t, pid)
				require.Empty(t, liveGroupMembers(pid), "backends left after the postmaster")
				require.NoError(t, srv.Start(ctx))
				require.NoError(t, srv.Start(ctx), "starting a running server")
				require.Equal(t, port, srv.Port())
				require.NotEqual(t, pid, srv.PID())

				after := connectPostgres(t, srv.DSN("restart"))
				var v string
				require.NoError(t, after.QueryRow(ctx, "SELECT v FROM t WHERE id = $1", i).Scan(&v))
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

func TestPostgresWithoutLogicalWAL(t *testing.T) {
	t.Parallel()
	srv := startPostgres(t, localdb.PostgresOptions{ExtraConf: map[string]string{"max_connections": "42"}})
	conn := connectPostgres(t, srv.URL(""))
	require.Equal(t, "replica", pgSetting(t, conn, "wal_level"))
	require.Equal(t, "42", pgSetting(t, conn, "max_connections"), "ExtraConf overrides a default")
}

func TestPostgresStartFailures(t *testing.T) {
	skipShort(t)
	t.Parallel()
	tests := []struct {
		name    string
		conf    map[string]string
		wantErr []string
	}{
		{"unknown parameter quotes the log", map[string]string{"no_such_setting": "1"},
			[]string{"exited during start-up", "no_such_setting"}},
		{"launcher parameter refused", map[string]string{"port": "5432"},
			[]string{`"port" is set by the launcher`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := localdb.StartPostgres(testContext(t),
				localdb.PostgresOptions{LogicalWAL: true, ExtraConf: tt.conf, Logger: testLogger(t)})
			if srv != nil {
				srv.Close()
			}
			t.Log(err)
			for _, want := range tt.wantErr {
				require.ErrorContains(t, err, want)
			}
		})
	}
}
