package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
)

func TestSyncVerifyExitCodesAndRepair(t *testing.T) {
	my, pg := dbtest.MySQL(t), dbtest.Postgres(t)
	ctx := context.Background()
	db, err := sql.Open("mysql", my)
	require.NoError(t, err)
	defer db.Close()
	for _, s := range []string{
		"CREATE TABLE items (id int PRIMARY KEY, name varchar(20), price decimal(8,2))",
		"INSERT INTO items SELECT seq, CONCAT('item ', seq), seq / 4 FROM seq_1_to_500",
	} {
		_, err := db.Exec(s)
		require.NoError(t, err, s)
	}
	conn, err := pgx.Connect(ctx, pg)
	require.NoError(t, err)
	defer conn.Close(ctx)
	for _, s := range []string{
		"CREATE TABLE items (id integer NOT NULL PRIMARY KEY, name varchar(20), price numeric(8,2))",
		"INSERT INTO items SELECT id, 'item ' || id, (id / 4.0)::numeric(8,2) FROM generate_series(1, 500) id",
	} {
		_, err := conn.Exec(ctx, s)
		require.NoError(t, err, s)
	}
	file := filepath.Join(t.TempDir(), "strangler.yaml")
	require.NoError(t, os.WriteFile(file, fmt.Appendf(nil, "databases:\n  legacy: %q\n  new: %q\nsync:\n  - name: shop\n    tables: [items]\n", my, pg), 0o600))

	code, out, stderr := runCLI(t, "-c", file, "sync", "verify")
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out, stderr)
	assert.Contains(t, out, "shop/items: identical (source 500 rows, target 500 rows")

	for _, s := range []string{
		"DELETE FROM items WHERE id = 1",
		"UPDATE items SET name = 'changed' WHERE id = 200",
		"INSERT INTO items VALUES (900, 'extra', 1)",
	} {
		_, err := conn.Exec(ctx, s)
		require.NoError(t, err, s)
	}
	code, out, _ = runCLI(t, "-c", file, "sync", "verify", "--table", "items")
	require.Equal(t, exitFailed, code, out)
	t.Logf("verify output:\n%s", out)
	assert.Contains(t, out, "shop/items: 3 rows differ (source 500 rows, target 500 rows")
	assert.Contains(t, out, "  missing key 1\n")
	assert.Contains(t, out, "  different key 200 columns name\n")
	assert.Contains(t, out, "  extra key 900\n")

	code, out, _ = runCLI(t, "-c", file, "sync", "verify", "-o", "json")
	require.Equal(t, exitFailed, code, out)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	assert.Equal(t, false, doc["identical"])
	tables := doc["tables"].([]any)
	require.Len(t, tables, 1)
	table := tables[0].(map[string]any)
	assert.Equal(t, "items", table["table"])
	assert.Equal(t, false, table["identical"])
	assert.ElementsMatch(t, []any{
		map[string]any{"kind": "missing", "key": []any{"1"}},
		map[string]any{"kind": "different", "key": []any{"200"}, "columns": []any{"name"}},
		map[string]any{"kind": "extra", "key": []any{"900"}},
	}, table["diffs"])
	for key := range table {
		assert.Regexp(t, `^[a-z_]+$`, key, "snake_case keys")
	}

	code, out, stderr = runCLI(t, "-c", file, "sync", "verify", "--repair", "-o", "json")
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out, stderr)
	var repaired verifyOutput
	require.NoError(t, json.Unmarshal([]byte(out), &repaired))
	assert.True(t, repaired.Identical)
	require.Len(t, repaired.Tables, 1)
	assert.Equal(t, 3, repaired.Tables[0].Repaired)
	assert.Len(t, repaired.Tables[0].Diffs, 3, "each differing row listed once, before the repair")
	require.NotNil(t, repaired.Tables[0].After)
	assert.Empty(t, repaired.Tables[0].After.Diffs)
	_, err = conn.Exec(ctx, "DELETE FROM items WHERE id = 2")
	require.NoError(t, err)
	code, out, stderr = runCLI(t, "-c", file, "sync", "verify", "--repair")
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out, stderr)
	assert.Contains(t, out, "repaired 1 rows; after the repair: identical")

	code, out, _ = runCLI(t, "-c", file, "sync", "verify")
	require.Equal(t, exitOK, code, out)

	code, _, stderr = runCLI(t, "-c", file, "sync", "verify", "--table", "nope")
	require.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "--table nope: no such table")
}
