package main

import (
	"database/sql"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDemo runs the whole demo on fresh databases of the shared throwaway
// servers: every step must pass, in the order the lifecycle gives.
func TestDemo(t *testing.T) {
	my, pg := dbtest.MySQL(t), dbtest.Postgres(t)
	t.Setenv("STRANGLER_ADMIN_TOKEN", "") // the demo sets its own; restored after the test
	code, out, stderr := runCLI(t, "demo", "--legacy", my, "--new", pg, "--dir", t.TempDir(), "--orders", "300")
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out, stderr)

	steps := []string{
		"all checks passed",
		`GET /api/orders/20 differs at $.data.note: legacy "ring twice &amp; leave it at the door", new "ring twice & leave it at the door"`,
		"alike for 24 of 25 orders",
		"200 requests through the facade: 200 answered by legacy, 0 by the new service, 0 failed",
		"400 requests through the facade: 400 answered by legacy, 0 by the new service, 0 failed", // shadow
		"orders-read: 96.00% match (400 compared: 384 matched, 16 differed, 0 errors; 0 dropped)",
		`$.data.note  16  legacy "ring twice &amp; leave it at the door", new "ring twice & leave it at the door"`,
		"learned noise (silenced):\n    $.data.requestId (seen 400 times)",
		"(route orders-read; legacy asked again): diff",
		"$.data.requestId  noise (silenced)",
		"answered by the new service after",
		"orders-read  legacy",
		"shop/orders: identical",
		"demo finished: every step passed",
	}
	rest := out
	for _, s := range steps {
		i := strings.Index(rest, s)
		require.GreaterOrEqual(t, i, 0, "missing, or out of order: %q\n%s", s, out)
		rest = rest[i+len(s):]
	}
	assert.Contains(t, out, "400 requests through the facade: 0 answered by legacy, 400 by the new service, 0 failed", "mode new")
	canary := regexp.MustCompile(`(?s)== 8\. canary.*?400 requests through the facade: (\d+) answered by legacy, (\d+) by the new service, 0 failed`).FindStringSubmatch(out)
	require.NotNil(t, canary, out)
	legacy, _ := strconv.Atoi(canary[1])
	fresh, _ := strconv.Atoi(canary[2])
	assert.InDelta(t, 0.3, float64(fresh)/float64(legacy+fresh), 0.15, "a 30%% canary sends about 30%% of requests to the new service")
}

// TestDemoRefusesDatabasesInUse: a second run on the same databases stops
// before it writes anything, names what the databases hold, and removes its
// temporary directory.
func TestDemoRefusesDatabasesInUse(t *testing.T) {
	my, pg := dbtest.MySQL(t), dbtest.Postgres(t)
	db, err := sql.Open("mysql", my)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec("CREATE TABLE legacy_invoices (id int PRIMARY KEY)")
	require.NoError(t, err)

	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("STRANGLER_ADMIN_TOKEN", "")
	code, out, stderr := runCLI(t, "demo", "--legacy", my, "--new", pg)
	assert.Equal(t, exitUsage, code, "stdout:\n%s", out)
	assert.Contains(t, stderr, "demo needs empty databases and the legacy database holds legacy_invoices; nothing was written")
	var tables int
	require.NoError(t, db.QueryRow("SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE()").Scan(&tables))
	assert.Equal(t, 1, tables, "the shop was not loaded")
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "the demo's temporary directory is removed")
}
