package sync

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
)

// TestClassifyDDLAppliesOnPostgres runs the same DDL on MariaDB and, as
// ClassifyDDL translates it, on PostgreSQL, one statement after the other,
// and checks with Verify that both tables hold the same rows afterwards
// (existing rows included: defaults, implicit defaults, widened types).
func TestClassifyDDLAppliesOnPostgres(t *testing.T) {
	d := newVDB(t)
	ctx := testCtx(t)
	d.mysqlExec(t,
		"CREATE TABLE orders (id int NOT NULL PRIMARY KEY, name varchar(40), qty smallint NOT NULL, price decimal(10,2), state enum('new','paid'))",
		"INSERT INTO orders SELECT seq, CONCAT('o', seq), seq, seq / 3, ELT(1 + seq % 2, 'new', 'paid') FROM seq_1_to_50",
	)
	m := d.copiedTable(t, config.Table{Name: "orders"})
	maps := map[string]*TableMap{"orders": m}
	for _, stmt := range []string{
		"ALTER TABLE orders ADD COLUMN note varchar(100) NULL AFTER id",
		"ALTER TABLE orders ADD big bigint unsigned NOT NULL DEFAULT 18446744073709551615",
		"ALTER TABLE orders ADD flag tinyint(1) NOT NULL FIRST",
		"ALTER TABLE orders ADD c varchar(5) NOT NULL DEFAULT 'it''s', ADD b varbinary(4) NOT NULL, ADD e enum('x','y') NOT NULL",
		"ALTER TABLE orders MODIFY name varchar(80)",
		"ALTER TABLE orders CHANGE qty qty int NOT NULL",
		"ALTER TABLE orders MODIFY price decimal(14,4)",
		"ALTER TABLE orders MODIFY qty int NULL",
		"ALTER TABLE orders MODIFY state enum('new','paid','shipped')",
		"ALTER TABLE orders ADD INDEX (name)",
	} {
		a, concern, err := ClassifyDDL(stmt, maps)
		require.NoError(t, err)
		require.True(t, concern, stmt)
		require.False(t, a.Pause, "%s: %s", stmt, a.Reason)
		d.mysqlExec(t, stmt)
		d.pgExec(t, a.Apply...)
		maps["orders"] = a.Map
	}
	d.mysqlExec(t, "INSERT INTO orders (id, name, qty, state, e) VALUES (100, 'after', 70000, 'shipped', 'y')")
	d.pgExec(t, "INSERT INTO orders (id, name, qty, state, e, note, big, flag, c, b) VALUES (100, 'after', 70000, 'shipped', 'y', NULL, 18446744073709551615, false, 'it''s', '\\x')")

	fresh, err := LoadTableMap(ctx, d.src, d.schema, config.Table{Name: "orders"}, Policies{})
	require.NoError(t, err)
	var freshNames, mapNames []string
	for i, c := range fresh.Columns {
		freshNames = append(freshNames, c.Name+" "+c.TargetType)
		mapNames = append(mapNames, maps["orders"].Columns[i].Name+" "+maps["orders"].Columns[i].TargetType)
	}
	assert.Equal(t, freshNames, mapNames, "the map DDL built equals the map read from the changed table")
	res, err := Verify(ctx, d.src, d.dst, maps["orders"], VerifyOptions{})
	require.NoError(t, err)
	assert.Empty(t, res.Diffs)
	assert.EqualValues(t, 51, res.TargetRows)
}
