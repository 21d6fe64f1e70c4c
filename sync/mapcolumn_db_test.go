package sync

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
)

// TestMapColumnIsLoadTableMap reads a MariaDB table with a column of every
// supported type through ReadColumns and maps each with MapColumn, as
// `strangler extract` does; the columns must equal those LoadTableMap
// builds for the same table, type override and policies included.
func TestMapColumnIsLoadTableMap(t *testing.T) {
	d := newVDB(t)
	ctx := testCtx(t)
	d.mysqlExec(t, "CREATE TABLE every_type ("+
		"id bigint unsigned NOT NULL PRIMARY KEY, i tinyint, b tinyint(1), b_num tinyint(1), si smallint unsigned, "+
		"mi mediumint, n int NOT NULL, big bigint, dec_ decimal(20,4), f float, dbl double, "+
		"b1 bit(1), b5 bit(5), d date NOT NULL, dt datetime(6), ts timestamp(3) NULL DEFAULT NULL, "+
		"tm time, tm6 time(6), y year, c char(10), vc varchar(40) CHARACTER SET latin1, txt text, "+
		"bin binary(4), vb varbinary(16), blb blob, e enum('a','it''s') NOT NULL, st set('x','y','z'), j json, "+
		"g int GENERATED ALWAYS AS (n + 1) VIRTUAL)")
	kinds := map[string]string{
		"id": "uint", "i": "int", "b": "bool", "b_num": "int", "si": "uint", "mi": "int", "n": "int", "big": "int",
		"dec_": "decimal", "f": "float", "dbl": "double", "b1": "bit1", "b5": "bit", "d": "date", "dt": "datetime",
		"ts": "timestamp", "tm": "time", "tm6": "time", "y": "year", "c": "text", "vc": "text", "txt": "text",
		"bin": "binary", "vb": "binary", "blb": "binary", "e": "enum", "st": "set", "j": "json", "g": "int",
	}
	overrides := map[string]string{"b_num": "smallint"}
	for _, zeroDates := range []string{ZeroDatesNull, ZeroDatesError} {
		t.Run("zero_dates "+zeroDates, func(t *testing.T) {
			p := Policies{ZeroDates: zeroDates}
			m, err := LoadTableMap(ctx, d.src, d.schema, config.Table{Name: "every_type", Types: overrides}, p)
			require.NoError(t, err)
			cols, err := ReadColumns(ctx, d.src, d.schema, "every_type")
			require.NoError(t, err)
			require.Len(t, cols, len(m.Columns))
			require.Len(t, cols, len(kinds))
			for i, sc := range cols {
				c, err := MapColumn("every_type", sc, overrides[sc.Name], p)
				require.NoError(t, err, sc.Name)
				want := m.Columns[i]
				if sc.Name == "id" {
					assert.False(t, c.Nullable, "the key is NOT NULL")
				}
				assert.Equal(t, kinds[sc.Name], c.Kind(), sc.Name)
				assert.Equal(t, want.dec == nil, c.dec == nil, "%s: charset decoder", sc.Name)
				want.dec, c.dec = nil, nil // functions: compared by presence above
				assert.Equal(t, want, c, sc.Name)
			}
			byName := map[string]Column{}
			for _, c := range m.Columns {
				byName[c.Name] = c
			}
			assert.True(t, byName["j"].Kind() == "json" && byName["j"].TargetType == "jsonb", "MariaDB's json is found through its CHECK")
			assert.True(t, byName["g"].Skip, "a generated column is not copied")
			assert.Equal(t, zeroDates == ZeroDatesNull, byName["d"].Nullable, "NOT NULL date under the zero-date policy")
			assert.False(t, byName["e"].Nullable)
			assert.Equal(t, []string{"a", "it's"}, byName["e"].Values)
			assert.Equal(t, "numeric(20,0)", byName["id"].TargetType)
			assert.Equal(t, "smallint", byName["b_num"].TargetType)
		})
	}
	t.Run("a missing table has no columns", func(t *testing.T) {
		cols, err := ReadColumns(ctx, d.src, d.schema, "no_such_table")
		require.NoError(t, err)
		assert.Empty(t, cols)
	})
}

func TestMapColumnPolicies(t *testing.T) {
	date := SourceColumn{Name: "d", ColumnType: "date", DataType: "date"}
	c, err := MapColumn("t", date, "", Policies{})
	require.NoError(t, err)
	assert.True(t, c.Nullable, "zero_dates null is the default")
	c, err = MapColumn("t", date, "", Policies{ZeroDates: ZeroDatesError})
	require.NoError(t, err)
	assert.False(t, c.Nullable)
	gen := SourceColumn{Name: "g", ColumnType: "date", DataType: "date", Generated: true}
	c, err = MapColumn("t", gen, "", Policies{})
	require.NoError(t, err)
	assert.True(t, c.Skip)
	assert.False(t, c.Nullable, "a generated column is not copied, so the policy leaves it alone")
	_, err = MapColumn("t", date, "", Policies{ZeroDates: "zero"})
	require.EqualError(t, err, `table t: column d: zero_dates policy "zero": want "null" or "error"`)
	assert.Equal(t, "", Column{}.Kind(), "a column that was not mapped has no kind")
}
