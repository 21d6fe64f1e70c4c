package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stranglerfig/strangler/internal/localdb"
	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ssync "github.com/stranglerfig/strangler/sync"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// runCLI runs the CLI in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestDoctorPassesOnReadyServers(t *testing.T) {
	my, pg := dbtest.MySQL(t), dbtest.Postgres(t)
	code, out, stderr := runCLI(t, "doctor", "--legacy", my, "--new", pg)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out, stderr)
	assert.Contains(t, out, "ok    binlog format is ROW")
	assert.Contains(t, out, "ok    wal_level is logical")
	assert.Contains(t, out, "all checks passed")
	assert.NotContains(t, out, "FAIL")
}

func TestDoctorFailsAndNamesTheFix(t *testing.T) {
	if testing.Short() {
		t.Skip("needs MariaDB and PostgreSQL; run without -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	my, err := localdb.StartMySQL(ctx, localdb.MySQLOptions{Binlog: false})
	require.NoError(t, err, "starting MariaDB without binlog")
	t.Cleanup(func() { my.Close() })
	pg, err := localdb.StartPostgres(ctx, localdb.PostgresOptions{LogicalWAL: false})
	require.NoError(t, err, "starting PostgreSQL with wal_level=replica")
	t.Cleanup(func() { pg.Close() })

	code, out, _ := runCLI(t, "doctor", "--legacy", my.URL("mysql"), "--new", pg.URL("postgres"))
	require.Equal(t, exitFailed, code, out)
	assert.Contains(t, out, "FAIL  binlog enabled               log_bin=OFF")
	assert.Contains(t, out, "fix: add `log_bin = mysql-bin` under [mysqld] in my.cnf")
	assert.Contains(t, out, "FAIL  wal_level is logical         wal_level=replica")
	assert.Contains(t, out, "fix: ALTER SYSTEM SET wal_level = logical;")

	// sync run checks the same before it writes anything.
	project := filepath.Join(t.TempDir(), "strangler.yaml")
	require.NoError(t, os.WriteFile(project, fmt.Appendf(nil, "databases:\n  legacy: %q\n  new: %q\nsync:\n  - name: shop\n    tables: [orders]\n",
		my.URL("mysql"), pg.URL("postgres")), 0o600))
	code, _, stderr := runCLI(t, "-c", project, "sync", "run")
	require.Equal(t, exitUsage, code, stderr)
	assert.Contains(t, stderr, "sync run: the databases are not ready for change-data capture; nothing was written:")
	assert.Contains(t, stderr, "binlog enabled: log_bin=OFF; fix: add `log_bin = mysql-bin`")
	assert.NotContains(t, stderr, "wal_level", "legacy-to-new sync does not need logical WAL on the target")
	conn, err := pgx.Connect(ctx, pg.URL("postgres"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var schemas int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'strangler'").Scan(&schemas))
	assert.Zero(t, schemas, "no checkpoint schema was created")
	var tables int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").Scan(&tables))
	assert.Zero(t, tables, "no target table was created")

	code, out, _ = runCLI(t, "doctor", "--legacy", my.URL("mysql"), "-o", "json")
	require.Equal(t, exitFailed, code)
	var reports []doctorReport
	require.NoError(t, json.Unmarshal([]byte(out), &reports))
	require.Len(t, reports, 1)
	assert.Equal(t, "legacy MySQL", reports[0].Role)
	assert.Positive(t, reports[0].failed())
}

func TestDoctorReadsTheProjectFile(t *testing.T) {
	my, pg := dbtest.MySQL(t), dbtest.Postgres(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "strangler.yaml")
	require.NoError(t, os.WriteFile(file, []byte("databases:\n  legacy: \""+my+"\"\n  new: \""+pg+"\"\n"), 0o600))
	code, out, stderr := runCLI(t, "doctor", "-c", file)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out, stderr)
	assert.Contains(t, out, "legacy MySQL (")
	assert.Contains(t, out, "new PostgreSQL (")
}

func TestDoctorUnreachableServer(t *testing.T) {
	code, out, _ := runCLI(t, "doctor", "--legacy", "mysql://app:hunter2@127.0.0.1:1/shop", "--timeout", "2s")
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, out, "FAIL  connect")
	assert.NotContains(t, out, "hunter2", "the password never reaches the output")
}

func TestBadProjectFileExits2WithPosition(t *testing.T) {
	file := filepath.Join(t.TempDir(), "strangler.yaml")
	require.NoError(t, os.WriteFile(file, []byte("legacy: http://l:1\nroutes:\n  - name: a\n    match: {path: /a}\n    target: http://n:1\n    mode: canery\n"), 0o600))
	code, _, stderr := runCLI(t, "check", "-c", file)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, file+`:6: routes[0].mode: "canery" is not one of legacy, shadow, canary, new`)
}

func TestHelpListsTheContractCommands(t *testing.T) {
	code, out, _ := runCLI(t, "help")
	require.Equal(t, exitOK, code)
	for _, name := range []string{"proxy", "routes", "rollback", "shadow", "serve", "sync", "extract", "contract", "catalog", "doctor", "demo"} {
		assert.Contains(t, out, "  "+name+" ")
	}
}

// TestDoctorChecksWritesBack: with a new-to-legacy pipeline in the project
// file, doctor also checks that the legacy user may write its database.
func TestDoctorChecksWritesBack(t *testing.T) {
	my, pg := dbtest.MySQL(t), dbtest.Postgres(t)
	file := filepath.Join(t.TempDir(), "strangler.yaml")
	body := "databases:\n  legacy: \"" + my + "\"\n  new: \"" + pg + "\"\n"
	require.NoError(t, os.WriteFile(file, []byte(body), 0o600))
	_, out, _ := runCLI(t, "doctor", "-c", file)
	assert.NotContains(t, out, "write privileges", "no pipeline writes back")

	body += "sync:\n  - name: back\n    direction: new-to-legacy\n    tables: [orders]\n"
	require.NoError(t, os.WriteFile(file, []byte(body), 0o600))
	code, out, stderr := runCLI(t, "doctor", "-c", file)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out, stderr)
	assert.Contains(t, out, "ok    write privileges")
}

func TestDoctorChecksPipelineRetention(t *testing.T) {
	my, pg := dbtest.MySQL(t), dbtest.Postgres(t)
	file := filepath.Join(t.TempDir(), "strangler.yaml")
	body := "databases:\n  legacy: \"" + my + "\"\n  new: \"" + pg + "\"\nsync:\n  - name: shop\n    tables: [orders]\n"
	require.NoError(t, os.WriteFile(file, []byte(body), 0o600))
	code, out, stderr := runCLI(t, "doctor", "-c", file)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out, stderr)
	assert.Contains(t, out, "sync pipeline shop (")
	assert.Contains(t, out, "ok    binlog retention             the pipeline never ran: no position to keep;")

	// A position in a binlog file the server no longer has.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg)
	require.NoError(t, err)
	defer conn.Close(ctx)
	require.NoError(t, ssync.EnsureCheckpointSchema(ctx, conn))
	_, err = conn.Exec(ctx, `INSERT INTO strangler.sync_position (pipeline, file, pos) VALUES ('shop', 'binlog.999999', 4)`)
	require.NoError(t, err)
	code, out, _ = runCLI(t, "doctor", "-c", file, "-o", "json")
	require.Equal(t, exitFailed, code, out)
	var reports []doctorReport
	require.NoError(t, json.Unmarshal([]byte(out), &reports))
	require.Len(t, reports, 3)
	r := reports[2]
	assert.Equal(t, "sync pipeline shop", r.Role)
	require.Len(t, r.Checks, 1)
	assert.False(t, r.Checks[0].OK)
	assert.Contains(t, r.Checks[0].Observed, "the pipeline's binlog file binlog.999999 is no longer on the server")
	assert.Contains(t, r.Checks[0].Fix, "re-snapshot it")
}

// TestDoctorChecksBothWaysPipeline: for a direction: both pipeline,
// doctor says whether keys generated on both sides could collide (here
// they could: MySQL steps by 1, PostgreSQL has no generator) and whether
// the forward writes can be marked with a replication origin.
func TestDoctorChecksBothWaysPipeline(t *testing.T) {
	my, pg := dbtest.MySQL(t), dbtest.Postgres(t)
	db, err := sql.Open("mysql", my)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec("CREATE TABLE orders (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, note text)")
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "strangler.yaml")
	body := "databases:\n  legacy: \"" + my + "\"\n  new: \"" + pg + "\"\nsync:\n  - name: shop\n    direction: both\n    tables: [orders]\n"
	require.NoError(t, os.WriteFile(file, []byte(body), 0o600))
	code, out, _ := runCLI(t, "doctor", "-c", file, "-o", "json")
	require.Equal(t, exitFailed, code, out)
	var reports []doctorReport
	require.NoError(t, json.Unmarshal([]byte(out), &reports))
	var checks []ssync.Check
	for _, r := range reports {
		if r.Role == "sync pipeline shop" {
			checks = r.Checks
		}
	}
	byName := map[string]ssync.Check{}
	for _, c := range checks {
		byName[c.Name] = c
	}
	ids, ok := byName["ids of orders.id never collide"]
	require.True(t, ok, "checks: %+v", checks)
	assert.False(t, ids.OK)
	assert.Contains(t, ids.Fix, "SET GLOBAL auto_increment_increment = 2")
	origin := byName["replication origin for the legacy-to-new writes"]
	assert.True(t, origin.OK, "%+v", origin)
	assert.Contains(t, origin.Observed, ssync.OriginName("shop"))
}
