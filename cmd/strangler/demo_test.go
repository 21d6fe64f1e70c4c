package main

import (
	"bytes"
	"context"
	"database/sql"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stranglerfig/strangler/recipes"
)

// TestDemo runs the whole lifecycle (--fast) on the demo's own throwaway
// MariaDB, PostgreSQL and NATS servers, and checks each step from what the
// run measured: no client request failed; every comparison of the read
// routes after the fixes matched; the controller took them through canary
// to new; the automatic and the manual rollback held on the next request;
// every OrderPlaced event was applied exactly once to the stock; sync
// verify is clean in both directions; and nothing is left behind.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("needs MariaDB, PostgreSQL and nats-server; run without -short")
	}
	// A temporary directory of its own, which PostgreSQL (run as the user
	// postgres under root) can enter, to see what is left in it.
	tmp, err := os.MkdirTemp("", "strangler-demo-test-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(tmp) })
	require.NoError(t, os.Chmod(tmp, 0o755))
	t.Setenv("TMPDIR", tmp)
	t.Setenv(envAdminToken, "") // the demo sets its own and puts these back
	t.Setenv(envAdmin, "")

	var out, errOut lockedBuffer
	a := &app{stdout: &out, stderr: &errOut, log: newLogger(&errOut, "json", slog.LevelInfo)}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	res, err := a.demo(ctx, &demoOptions{fast: true, orders: 1000})
	t.Logf("demo took %s; its output:\n%s", res.Took.Round(time.Millisecond), out.String())
	require.NoError(t, err, "stderr:\n%s", errOut.String())

	t.Run("no client request failed because of the migration", func(t *testing.T) {
		c := res.Traffic
		assert.Zero(t, c.Failed, "failures: %v", c.Failures)
		assert.Greater(t, c.Requests, int64(1000))
		assert.Positive(t, c.New, "the new services answered")
		assert.Positive(t, c.Legacy)
		for _, r := range []string{routeOrdersRead, routeProductsRead, routeOrdersWrite} {
			assert.Positive(t, c.Routes[r].New, "%s was answered by the new service", r)
			assert.Zero(t, c.Routes[r].Failed, r)
		}
	})
	t.Run("extract wrote the two recipes", func(t *testing.T) {
		assert.Equal(t, [2]int{3, 1}, res.Extracted["orders"], "orders, customers, order_items; GET /api/orders/{id}")
		assert.Equal(t, [2]int{1, 1}, res.Extracted["catalog"], "products; GET /api/products/{id}")
	})
	t.Run("after the fixes every comparison of the read routes matched", func(t *testing.T) {
		for _, r := range readRoutes {
			m := res.Shadow[r]
			assert.Positive(t, m.Compared, r)
			assert.Equal(t, m.Compared, m.Matched, r)
			assert.Equal(t, 100.0, m.Rate, r)
		}
		assert.Regexp(t, `rolled back: gate broken over the last \S+: match_rate: 0\.00% of \d+ comparisons matched`, out.String(),
			"the extracted recipes first differ: a real difference is found")
		assert.Contains(t, out.String(), "$.data.note", "legacy's HTML-escaped notes")
		assert.Contains(t, out.String(), "fix (recipe change)")
		assert.Contains(t, out.String(), "fix (noise rule)")
	})
	t.Run("the controller moved the read routes through canary to new", func(t *testing.T) {
		for _, r := range readRoutes {
			assert.Equal(t, []string{"shadow", "canary 25%", "canary 50%", "new"}, res.Stages[r], r)
		}
	})
	t.Run("the automatic rollback holds on the next request", func(t *testing.T) {
		ar := res.AutoRollback
		assert.True(t, ar.NextFromLegacy)
		assert.Positive(t, ar.After)
		assert.Less(t, ar.After, 10*time.Second, "rolled back within a few ticks of the controller")
		assert.Contains(t, ar.Reason, "rollout: rolled back: gate broken")
	})
	t.Run("the manual rollback holds on the next request", func(t *testing.T) {
		assert.True(t, res.ManualRollback.NextFromLegacy)
		assert.Less(t, res.ManualRollback.After, 5*time.Second)
	})
	t.Run("every OrderPlaced event was applied exactly once to stock", func(t *testing.T) {
		e := res.Events
		assert.Positive(t, e.PlacedNew)
		assert.LessOrEqual(t, e.PlacedNew, res.Traffic.PlacedNew, "the orders the new service took when the figures were checked")
		assert.Equal(t, e.PlacedNew, e.Published, "an event per order, delivered")
		assert.Equal(t, e.PlacedNew, e.Applied, "applied once each, the duplicate delivery included")
		assert.Equal(t, e.PlacedNew, e.Lines)
		assert.GreaterOrEqual(t, e.Duplicates, int64(1), "the event published again was seen, and ignored")
		assert.Equal(t, 50, e.StockChecked)
		assert.Empty(t, e.StockMismatches, "stock = initial - ordered, for every product")
	})
	t.Run("sync verify is clean in both directions", func(t *testing.T) {
		assert.True(t, res.VerifyClean)
		dirs := map[string]bool{}
		for _, v := range res.Verify {
			assert.True(t, v.Clean, v.Pipeline)
			dirs[v.Direction] = true
		}
		assert.True(t, dirs[config.DirectionLegacyToNew])
		if res.ReverseSync {
			// The demo's own MariaDB hands out interleaved ids: the orders
			// pipeline ran both ways, through a write canary.
			assert.True(t, dirs[config.DirectionBoth])
			assert.GreaterOrEqual(t, res.WriteCanary.Legacy, int64(10), "orders the monolith took during the write canary")
			assert.GreaterOrEqual(t, res.WriteCanary.New, int64(10), "orders the new service took during the write canary")
		} else {
			t.Log("new-to-legacy sync is not in this build: only legacy-to-new was verified")
		}
		assert.NotContains(t, strings.Join(res.NotAvailable, "\n"), "direction: both", "direction: both is built")
	})
	t.Run("nothing is left behind", func(t *testing.T) {
		_, err := os.Stat(res.Dir)
		assert.ErrorIs(t, err, fs.ErrNotExist, "the demo directory %s is removed", res.Dir)
		left, err := os.ReadDir(tmp)
		require.NoError(t, err)
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		assert.Empty(t, names, "nothing is left in the temporary directory")
		require.Len(t, res.ServerPIDs, 3, "MariaDB, PostgreSQL and NATS")
		for _, pid := range res.ServerPIDs {
			assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "server process %d is gone", pid)
			assert.Empty(t, processGroup(pid), "no process is left in the group of server %d", pid)
		}
	})
	assert.Less(t, res.Took, 2*time.Minute, "--fast finishes in under two minutes")
}

// processGroup lists the live processes (zombies aside) in the process
// group pgid.
func processGroup(pgid int) []string {
	var live []string
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) >= 3 && string(f[0]) != "Z" && string(f[2]) == strconv.Itoa(pgid) {
			live = append(live, string(b[:i+1]))
		}
	}
	return live
}

// TestDemoInventoryRecipe: the inventory recipe the demo writes is the one
// in testdata/legacyshop/recipes/demo, and it loads.
func TestDemoInventoryRecipe(t *testing.T) {
	file, err := os.ReadFile("../../testdata/legacyshop/recipes/demo/inventory.yaml")
	require.NoError(t, err)
	assert.Equal(t, string(file), demoInventoryRecipe, "demo_recipes.go holds a copy of the file")
	r, err := recipes.Parse("inventory.yaml", file)
	require.NoError(t, err)
	require.Len(t, r.Subscriptions, 1)

	dst := filepath.Join(t.TempDir(), "inventory.yaml")
	ev := demoEvents{url: "nats://127.0.0.1:4999", stream: "DEMO_X", prefix: "demo-x"}
	require.NoError(t, writeInventoryRecipe(dst, ev))
	r, err = recipes.Load(dst)
	require.NoError(t, err)
	s := r.Subscriptions[0]
	assert.Equal(t, []string{ev.url, ev.stream, "demo-x.orders.OrderPlaced", "demo-x.dead.inventory"}, []string{s.NATSURL, s.Stream, s.Subject, s.DeadLetter})
}

// TestDemoRefusesDatabasesInUse: a second run on the same databases stops
// before it writes anything, names what the databases hold, and removes its
// temporary directory and the throwaway NATS server it started.
func TestDemoRefusesDatabasesInUse(t *testing.T) {
	my, pg := dbtest.MySQL(t), dbtest.Postgres(t)
	db, err := sql.Open("mysql", my)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec("CREATE TABLE legacy_invoices (id int PRIMARY KEY)")
	require.NoError(t, err)

	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv(envAdminToken, "")
	code, out, stderr := runCLI(t, "demo", "--legacy", my, "--new", pg, "--fast")
	assert.Equal(t, exitUsage, code, "stdout:\n%s", out)
	assert.Contains(t, stderr, "demo needs empty databases and the legacy database holds legacy_invoices; nothing was written")
	var tables int
	require.NoError(t, db.QueryRow("SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE()").Scan(&tables))
	assert.Equal(t, 1, tables, "the shop was not loaded")
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "the demo's temporary directory and the NATS server's are removed")
	assert.Empty(t, os.Getenv(envAdminToken), "the demo puts the admin variables back")
}

// TestDemoStopsOnInterrupt: cancelled mid-way (Ctrl-C), the demo stops
// everything it started and removes its directory.
func TestDemoStopsOnInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("needs MariaDB, PostgreSQL and nats-server; run without -short")
	}
	my, pg := dbtest.MySQL(t), dbtest.Postgres(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv(envAdminToken, "")
	t.Setenv(envAdmin, "")
	var out, errOut lockedBuffer
	a := &app{stdout: &out, stderr: &errOut, log: newLogger(&errOut, "json", slog.LevelInfo)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Interrupt once the recipes are served and sync runs.
	after := func(step int) {
		if step == 3 {
			cancel()
		}
	}
	res, err := a.demo(ctx, &demoOptions{legacy: my, newDB: pg, fast: true, orders: 300, afterStep: after})
	require.ErrorIs(t, err, context.Canceled, out.String())
	_, err = os.Stat(res.Dir)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left)
	require.Len(t, res.ServerPIDs, 1, "NATS")
	assert.ErrorIs(t, syscall.Kill(res.ServerPIDs[0], 0), syscall.ESRCH)
}
