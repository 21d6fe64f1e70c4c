package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stranglerfig/strangler/proxy"
	"github.com/stranglerfig/strangler/proxy/control"
	ssync "github.com/stranglerfig/strangler/sync"
)

func TestSyncRunStatusAndMetrics(t *testing.T) {
	my, pg := dbtest.MySQL(t), dbtest.Postgres(t)
	db, err := sql.Open("mysql", my)
	require.NoError(t, err)
	defer db.Close()
	for _, s := range []string{
		`CREATE TABLE orders (id int PRIMARY KEY, status enum('new','paid') NOT NULL, total decimal(10,2))`,
		`INSERT INTO orders VALUES (1, 'new', 9.99), (2, 'paid', 20.00)`,
	} {
		_, err := db.Exec(s)
		require.NoError(t, err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "strangler.yaml")
	require.NoError(t, os.WriteFile(file, fmt.Appendf(nil, `databases:
  legacy: %q
  new: %q
sync:
  - name: shop
    tables: [orders]
`, my, pg), 0o600))

	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &lockedBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-c", file, "sync", "run", "--metrics", addr}, io.Discard, stderr) }()

	var st []ssync.Status
	require.Eventually(t, func() bool {
		code, out, _ := runCLI(t, "-c", file, "sync", "status", "-o", "json")
		if code != exitOK || json.Unmarshal([]byte(out), &st) != nil || len(st) != 1 {
			return false
		}
		return st[0].Phase == ssync.PhaseStreaming && len(st[0].Tables) == 1 && st[0].Tables[0].Percent == 100
	}, time.Minute, 50*time.Millisecond, "stderr:\n%s", stderr)
	assert.Equal(t, "shop", st[0].Pipeline)
	assert.NotEmpty(t, st[0].Position.File)
	assert.EqualValues(t, 2, st[0].Tables[0].Rows)

	_, err = db.Exec(`UPDATE orders SET status = 'paid' WHERE id = 1`)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return bytes.Contains(b, []byte(`strangler_sync_changes_total{op="update",pipeline="shop",table="orders"} 1`)) &&
			bytes.Contains(b, []byte(`strangler_sync_changes_total{op="snapshot",pipeline="shop",table="orders"} 2`)) &&
			bytes.Contains(b, []byte(`strangler_sync_lag_seconds{pipeline="shop"}`))
	}, 30*time.Second, 50*time.Millisecond)

	code, out, _ := runCLI(t, "-c", file, "sync", "status")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "PIPELINE")
	assert.Contains(t, out, "shop")
	assert.Contains(t, out, "streaming")

	cancel()
	select {
	case code := <-done:
		assert.Equal(t, exitOK, code, "stderr:\n%s", stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("sync run did not stop after the interrupt")
	}
	assert.NotContains(t, stderr.String(), "password")
}

// TestSyncResumeInTheRunningProcess: a DDL pause keeps `sync run` up;
// `sync status` names the statement and the one to run on the target;
// after it, `sync resume` lets the running pipeline go on, and the rows
// written after the statement arrive.
func TestSyncResumeInTheRunningProcess(t *testing.T) {
	my, pg := dbtest.MySQL(t), dbtest.Postgres(t)
	db, err := sql.Open("mysql", my)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(`CREATE TABLE orders (id int PRIMARY KEY, note varchar(10))`)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO orders VALUES (1, 'a'), (2, 'b')`)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "strangler.yaml")
	require.NoError(t, os.WriteFile(file, fmt.Appendf(nil, "databases:\n  legacy: %q\n  new: %q\nsync:\n  - name: shop\n    tables: [orders]\n", my, pg), 0o600))

	code, _, stderrOut := runCLI(t, "-c", file, "sync", "resume", "nosuch")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderrOut, `no sync pipeline named "nosuch" in `+file)

	ctx, done, stderr := startStreaming(t, file)
	require.Eventually(t, func() bool {
		code, out, _ := runCLI(t, "-c", file, "sync", "status", "-o", "json")
		var st []ssync.Status
		return code == exitOK && json.Unmarshal([]byte(out), &st) == nil && len(st) == 1 && st[0].Phase == ssync.PhaseStreaming
	}, 30*time.Second, 50*time.Millisecond, "the status row says streaming")
	code, _, stderrOut = runCLI(t, "-c", file, "sync", "resume", "shop")
	assert.Equal(t, exitFailed, code, "a streaming pipeline is not paused")
	assert.Contains(t, stderrOut, `pipeline "shop" is not paused (phase streaming)`)

	_, err = db.Exec(`ALTER TABLE orders MODIFY note varchar(5)`)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO orders VALUES (3, 'after')`)
	require.NoError(t, err)
	const todo = `ALTER TABLE "public"."orders" ALTER COLUMN "note" TYPE varchar(5)`
	var out string
	require.Eventually(t, func() bool {
		code, out, _ = runCLI(t, "-c", file, "sync", "status")
		return code == exitOK && strings.Contains(out, "To do first: ")
	}, 30*time.Second, 50*time.Millisecond, "stderr:\n%s", stderr)
	assert.Contains(t, out, "paused")
	assert.Contains(t, out, "shop is paused on DDL:\n  ALTER TABLE orders MODIFY note varchar(5)")
	assert.Contains(t, out, "  To do first: "+todo+"\n  Then: strangler sync resume shop\n")
	code, jsonOut, _ := runCLI(t, "-c", file, "sync", "status", "-o", "json")
	require.Equal(t, exitOK, code)
	var st []ssync.Status
	require.NoError(t, json.Unmarshal([]byte(jsonOut), &st))
	assert.Equal(t, ssync.PhasePaused, st[0].Phase)
	assert.Equal(t, todo, st[0].Todo)
	assert.Contains(t, jsonOut, `"todo": `)
	assert.Contains(t, stderr.String(), "then: strangler sync resume shop")
	select {
	case code := <-done:
		t.Fatalf("sync run ended on the pause (exit %d)", code)
	default:
	}

	target, err := pgx.Connect(ctx, pg)
	require.NoError(t, err)
	defer target.Close(context.Background())
	_, err = target.Exec(ctx, todo)
	require.NoError(t, err)
	code, out, stderrOut = runCLI(t, "-c", file, "sync", "resume", "shop")
	require.Equal(t, exitOK, code, "stderr:\n%s", stderrOut)
	assert.Contains(t, out, `shop resumed: the running pipeline moved past the statement "ALTER TABLE orders MODIFY note varchar(5)" and streams on`)
	_, err = db.Exec(`INSERT INTO orders VALUES (4, 'later')`)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var n int
		return target.QueryRow(ctx, `SELECT count(*) FROM orders`).Scan(&n) == nil && n == 4
	}, 30*time.Second, 50*time.Millisecond, "stderr:\n%s", stderr)
	code, out, _ = runCLI(t, "-c", file, "sync", "status")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "streaming")
	assert.NotContains(t, out, "paused")
	code, out, stderrOut = runCLI(t, "-c", file, "sync", "verify")
	assert.Equal(t, exitOK, code, "verify:\n%s\n%s", out, stderrOut)
	select {
	case code := <-done:
		t.Fatalf("sync run ended (exit %d)", code)
	default:
	}
}

// TestSyncResumeWithoutAProcess: with no `sync run` up, the request is
// stored, the command says so, and the next run goes on after the
// statement.
func TestSyncResumeWithoutAProcess(t *testing.T) {
	my, pg := dbtest.MySQL(t), dbtest.Postgres(t)
	db, err := sql.Open("mysql", my)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(`CREATE TABLE orders (id int PRIMARY KEY, qty int NOT NULL)`)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "strangler.yaml")
	require.NoError(t, os.WriteFile(file, fmt.Appendf(nil, "databases:\n  legacy: %q\n  new: %q\nsync:\n  - name: shop\n    tables: [orders]\n", my, pg), 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	stderr := &lockedBuffer{}
	go func() { done <- run(ctx, []string{"-c", file, "sync", "run"}, io.Discard, stderr) }()
	require.Eventually(t, func() bool {
		code, out, _ := runCLI(t, "-c", file, "sync", "status")
		return code == exitOK && strings.Contains(out, "streaming")
	}, time.Minute, 50*time.Millisecond)
	_, err = db.Exec(`ALTER TABLE orders MODIFY qty smallint NOT NULL`)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO orders VALUES (1, 7)`)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		code, out, _ := runCLI(t, "-c", file, "sync", "status")
		return code == exitOK && strings.Contains(out, "To do first: ")
	}, 30*time.Second, 50*time.Millisecond, "stderr:\n%s", stderr)
	cancel()
	select {
	case code := <-done:
		assert.Equal(t, exitOK, code, "an interrupt of a paused run exits 0; stderr:\n%s", stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("sync run did not stop after the interrupt")
	}

	target, err := pgx.Connect(context.Background(), pg)
	require.NoError(t, err)
	defer target.Close(context.Background())
	_, err = target.Exec(context.Background(), `ALTER TABLE "public"."orders" ALTER COLUMN "qty" TYPE smallint`)
	require.NoError(t, err)
	code, out, stderrOut := runCLI(t, "-c", file, "sync", "resume", "shop", "--wait", "500ms")
	require.Equal(t, exitOK, code, "stderr:\n%s", stderrOut)
	assert.Contains(t, out, "shop: no running sync process took the request within 500ms")
	assert.Contains(t, out, "the next `strangler sync run` goes on after the statement")

	_, done2, stderr2 := startStreaming(t, file)
	require.Eventually(t, func() bool {
		var n int
		return target.QueryRow(context.Background(), `SELECT count(*) FROM orders`).Scan(&n) == nil && n == 1
	}, 30*time.Second, 50*time.Millisecond, "stderr:\n%s", stderr2)
	assert.Contains(t, stderr2.String(), "accepted by a resume request")
	select {
	case code := <-done2:
		t.Fatalf("sync run ended (exit %d)", code)
	default:
	}
}

// TestPrintStatusGivesTheReason: the text form says why a pipeline stopped
// or paused, not only -o json.
func TestPrintStatusGivesTheReason(t *testing.T) {
	var b bytes.Buffer
	printStatus(&b, []ssync.Status{
		{Pipeline: "shop", Phase: ssync.PhaseStopped, Reason: "legacy MySQL: binlog is off (log_bin=OFF)"},
		{Pipeline: "billing", Phase: ssync.PhasePaused, Reason: "a table was renamed"},
		{Pipeline: "crm", Phase: ssync.PhaseStopped},
		{Pipeline: "erp", Phase: ssync.PhaseStreaming, Reason: ssync.KeptColumnsReason + `"public"."orders"."qty"`},
	})
	assert.Contains(t, b.String(), "\nerp: "+ssync.KeptColumnsReason+`"public"."orders"."qty"`+"\n")
	assert.Contains(t, b.String(), "\nshop stopped: legacy MySQL: binlog is off (log_bin=OFF)\n")
	assert.Contains(t, b.String(), "\nbilling is paused: a table was renamed\n")
	assert.NotContains(t, b.String(), "crm stopped")
}

// TestProgressLines: off a terminal, the first line says the snapshot
// starts, later lines carry the rate measured since then, and the done line
// is left to the pipeline.
func TestProgressLines(t *testing.T) {
	var lines []string
	log := logFunc(func(msg string) { lines = append(lines, msg) })
	p := newProgress(io.Discard, log)
	clock := time.Unix(1000, 0)
	p.now = func() time.Time { return clock }
	p.update(ssync.SnapshotProgress{Pipeline: "shop", Table: "orders", Rows: 0, Total: 100000})
	clock = clock.Add(2 * time.Second)
	p.update(ssync.SnapshotProgress{Pipeline: "shop", Table: "orders", Rows: 20000, Total: 100000})
	clock = clock.Add(3 * time.Second)
	p.update(ssync.SnapshotProgress{Pipeline: "shop", Table: "orders", Rows: 50000, Total: 100000})
	p.update(ssync.SnapshotProgress{Pipeline: "shop", Table: "orders", Rows: 100000, Total: 100000, Done: true})
	assert.Equal(t, []string{
		"snapshot shop/orders: starting, about 100000 rows",
		"snapshot shop/orders: 50000/100000 rows (50.0%), 10000 rows/s, ETA 5s",
	}, lines)
}

type logFunc func(string)

func (f logFunc) Info(msg string, _ ...any) { f(msg) }

func TestSyncStatusShowsStop(t *testing.T) {
	my, pg := dbtest.MySQL(t), dbtest.Postgres(t)
	db, err := sql.Open("mysql", my)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(`CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)`)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO accounts VALUES (1, 10)`)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "strangler.yaml")
	require.NoError(t, os.WriteFile(file, fmt.Appendf(nil, "databases:\n  legacy: %q\n  new: %q\nsync:\n  - name: shop\n    tables: [accounts]\n", my, pg), 0o600))

	ctx, done, _ := startStreaming(t, file)
	target, err := pgx.Connect(ctx, pg)
	require.NoError(t, err)
	defer target.Close(context.Background())
	_, err = target.Exec(ctx, `ALTER TABLE accounts ADD CONSTRAINT positive CHECK (balance >= 0)`)
	require.NoError(t, err)
	_, err = db.Exec(`UPDATE accounts SET balance = -1 WHERE id = 1`)
	require.NoError(t, err)
	select {
	case code := <-done:
		assert.Equal(t, exitFailed, code)
	case <-time.After(30 * time.Second):
		t.Fatal("sync run did not stop on the error")
	}
	code, out, _ := runCLI(t, "-c", file, "sync", "status")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "shop stopped: pipeline \"shop\": ")
	assert.Contains(t, out, `violates check constraint "positive"`)
}

// startStreaming runs `sync run` on the project file until sync status says
// it streams; done receives its exit code and stderr holds its log. The run
// ends with the test.
func startStreaming(t *testing.T, file string) (context.Context, <-chan int, *lockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan int, 1)
	stderr := &lockedBuffer{}
	go func() { done <- run(ctx, []string{"-c", file, "sync", "run"}, io.Discard, stderr) }()
	require.Eventually(t, func() bool {
		code, out, _ := runCLI(t, "-c", file, "sync", "status")
		return code == exitOK && bytes.Contains([]byte(out), []byte("streaming"))
	}, time.Minute, 50*time.Millisecond)
	return ctx, done, stderr
}

// TestSyncBothWaysFollowsTheRoute: a direction: both pipeline through the
// CLI. `sync status` shows a line per direction; the pipeline follows its
// route for the system of record: a row changed on both sides while the
// route is legacy ends with legacy's version, and after the route moves to
// new (in the route state store, while `sync run` runs) with new's.
func TestSyncBothWaysFollowsTheRoute(t *testing.T) {
	my, pg := dbtest.MySQL(t), dbtest.Postgres(t)
	db, err := sql.Open("mysql", my)
	require.NoError(t, err)
	defer db.Close()
	for _, s := range []string{
		`CREATE TABLE orders (id int PRIMARY KEY, note varchar(20) NOT NULL)`,
		`INSERT INTO orders VALUES (1, 'first'), (2, 'second')`,
	} {
		_, err := db.Exec(s)
		require.NoError(t, err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "strangler.yaml")
	state := filepath.Join(dir, "routes.state.json")
	require.NoError(t, os.WriteFile(file, fmt.Appendf(nil, `legacy: http://127.0.0.1:9
state: %s
databases:
  legacy: %q
  new: %q
routes:
  - name: orders-write
    match: {path: /orders}
    target: http://127.0.0.1:9
    mode: legacy
sync:
  - name: shop
    direction: both
    ids: none
    route: orders-write
    tables: [orders]
`, state, my, pg), 0o600))
	pgc, err := pgx.Connect(context.Background(), pg)
	require.NoError(t, err)
	defer pgc.Close(context.Background())

	both := func() bool {
		var st []ssync.Status
		code, out, _ := runCLI(t, "-c", file, "sync", "status", "-o", "json")
		if code != exitOK || json.Unmarshal([]byte(out), &st) != nil || len(st) != 2 {
			return false
		}
		return st[0].Direction == "legacy-to-new" && st[0].Phase == ssync.PhaseStreaming &&
			st[1].Direction == "new-to-legacy" && st[1].Phase == ssync.PhaseStreaming
	}
	// conflict changes row id on both sides while no sync runs, then
	// runs sync until both sides hold want.
	conflict := func(id int, want string) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		stderr := &lockedBuffer{}
		go func() { done <- run(ctx, []string{"-c", file, "sync", "run"}, io.Discard, stderr) }()
		require.Eventually(t, both, time.Minute, 50*time.Millisecond, "stderr:\n%s", stderr)
		cancel()
		require.Equal(t, exitOK, <-done, "stderr:\n%s", stderr)

		_, err := db.Exec(`UPDATE orders SET note = 'legacy' WHERE id = ?`, id)
		require.NoError(t, err)
		_, err = pgc.Exec(context.Background(), `UPDATE orders SET note = 'new' WHERE id = $1`, id)
		require.NoError(t, err)

		ctx, cancel = context.WithCancel(context.Background())
		defer cancel()
		go func() { done <- run(ctx, []string{"-c", file, "sync", "run"}, io.Discard, stderr) }()
		require.Eventually(t, func() bool {
			var l, n string
			return db.QueryRow(`SELECT note FROM orders WHERE id = ?`, id).Scan(&l) == nil && l == want &&
				pgc.QueryRow(context.Background(), `SELECT note FROM orders WHERE id = $1`, id).Scan(&n) == nil && n == want
		}, time.Minute, 50*time.Millisecond, "stderr:\n%s", stderr)
		assert.Contains(t, stderr.String(), "conflict on orders key "+fmt.Sprint(id))
		assert.Contains(t, stderr.String(), want+" wins (the system of record)")
		// Both directions caught up before the next step (and the next
		// change of the system of record: see docs/sync.md).
		var wal string
		require.NoError(t, pgc.QueryRow(context.Background(), `SELECT pg_current_wal_lsn()::text`).Scan(&wal))
		require.Eventually(t, func() bool {
			var lsn string
			var behind bool
			return db.QueryRow(`SELECT lsn_text FROM strangler_sync_checkpoint WHERE pipeline = 'shop'`).Scan(&lsn) == nil &&
				pgc.QueryRow(context.Background(), `SELECT $1::pg_lsn < $2::pg_lsn`, lsn, wal).Scan(&behind) == nil && !behind
		}, time.Minute, 20*time.Millisecond)
		cancel()
		require.Equal(t, exitOK, <-done, "stderr:\n%s", stderr)
	}

	conflict(1, "legacy")
	code, out, _ := runCLI(t, "-c", file, "sync", "status")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "shop      legacy-to-new")
	assert.Contains(t, out, "shop      new-to-legacy")

	// The route moves to new.
	store, err := control.NewFileStore(state)
	require.NoError(t, err)
	require.NoError(t, store.Apply(context.Background(), 0, proxy.State{Version: 1, Routes: map[string]proxy.RouteState{"orders-write": {Mode: "new"}}},
		[]control.HistoryEntry{{At: time.Now(), Version: 1, Route: "orders-write", From: proxy.RouteState{Mode: "legacy"}, To: proxy.RouteState{Mode: "new"}}}))
	conflict(2, "new")

	code, out, _ = runCLI(t, "-c", file, "sync", "verify")
	assert.Equal(t, exitOK, code, out)
}
