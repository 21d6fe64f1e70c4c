package sync

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/pgident"
)

// longName is a name of n bytes starting with prefix.
func longName(prefix string, n int) string {
	return prefix + strings.Repeat("x", n-len(prefix))
}

// identTables are table entries whose names share long prefixes, hold dots
// and quotes, or are MySQL's longest (64 bytes, with a target that fits).
func identTables() []config.Table {
	shared := strings.Repeat("customer_order_", 4) // 60 bytes
	return []config.Table{
		{Name: "orders"},
		{Name: longName("a", 55)},
		{Name: longName("a", 56)},
		{Name: shared + "a_b"},
		{Name: shared + "a.b"},
		{Name: shared + `a"b`},
		{Name: longName("é", 63)},
		{Name: longName("z", 64), Target: longName("z", 63)},
		{Name: longName("y", 64), Target: "y"},
	}
}

// identColumns has two enum columns whose names share a 60-byte prefix.
func identColumns() []SourceColumn {
	prefix := strings.Repeat("delivery_state_", 4)
	return []SourceColumn{
		{Name: "id", ColumnType: "int(11)", DataType: "int"},
		{Name: prefix + "1", ColumnType: "enum('a','b')", DataType: "enum", Charset: "utf8mb4", Nullable: true},
		{Name: prefix + "2", ColumnType: "enum('c','d')", DataType: "enum", Charset: "utf8mb4", Nullable: true},
		{Name: "st", ColumnType: "enum('x')", DataType: "enum", Charset: "utf8mb4", Nullable: true},
	}
}

// TestGeneratedIdentifiersFitAndDiffer builds every identifier the sync
// engine generates from user names (staging tables, enum CHECK constraints,
// repair tables) and checks that each fits PostgreSQL's 63 bytes, is valid
// UTF-8, and differs from every other in its namespace.
func TestGeneratedIdentifiersFitAndDiffer(t *testing.T) {
	staging := map[string]string{} // one connection's temp schema: every table, every generation
	repair := map[string]string{}
	for i, tc := range identTables() {
		m, err := buildTableMap("shop", tc, identColumns(), []indexInfo{{Name: "PRIMARY", Columns: []string{"id"}}}, Policies{})
		require.NoError(t, err, tc.Name)
		tbl, err := newTable(m)
		require.NoError(t, err)
		tbl.idx = i
		for gen := range 3 {
			tbl.gen = gen
			rows, keys := stagingNames(tbl)
			for _, n := range []string{rows, keys} {
				requireIdent(t, n)
				owner := fmt.Sprintf("%s gen %d", tc.Name, gen)
				if other, dup := staging[n]; dup {
					t.Fatalf("staging table %q of %s is also one of %s", n, owner, other)
				}
				staging[n] = owner
			}
		}
		checks := map[string]string{} // CHECK names are per table
		for _, c := range m.Columns {
			if c.kind != kindEnum {
				continue
			}
			q := c.checkName(m.Target)
			n := strings.ReplaceAll(strings.Trim(q, `"`), `""`, `"`)
			requireIdent(t, n)
			if other, dup := checks[n]; dup {
				t.Fatalf("table %s: CHECK %q of column %s is also the one of %s", tc.Name, n, c.Name, other)
			}
			checks[n] = c.Name
			assert.Contains(t, c.checkSQL(m.Target), "CONSTRAINT "+q+" CHECK")
		}
		r := pgident.Name("strangler_repair", m.Target)
		requireIdent(t, r)
		if other, dup := repair[r]; dup {
			t.Fatalf("repair table %q of %s is also the one of %s", r, tc.Name, other)
		}
		repair[r] = tc.Name
	}
	// A short enum keeps the name it always had.
	m, err := buildTableMap("shop", config.Table{Name: "orders"}, identColumns(), []indexInfo{{Name: "PRIMARY", Columns: []string{"id"}}}, Policies{})
	require.NoError(t, err)
	assert.Equal(t, `"orders_st_enum"`, m.Columns[3].checkName("orders"))
	assert.Empty(t, m.Columns[3].legacyCheckName("orders"))
	assert.Equal(t, `"orders_`+strings.Repeat("delivery_state_", 4)[:56]+`"`, m.Columns[1].legacyCheckName("orders"))
}

func requireIdent(t *testing.T, n string) {
	t.Helper()
	require.LessOrEqual(t, len(n), pgident.MaxLen, "identifier %q is %d bytes", n, len(n))
	require.True(t, utf8.ValidString(n), "identifier %q is not UTF-8", n)
	require.NotEmpty(t, n)
}

// TestTargetNamesPostgreSQLWouldCutAreRefused: a target table or column
// name longer than 63 bytes (MySQL allows 64) is refused with the fix.
func TestTargetNamesPostgreSQLWouldCutAreRefused(t *testing.T) {
	key := []indexInfo{{Name: "PRIMARY", Columns: []string{"id"}}}
	cols := []SourceColumn{{Name: "id", ColumnType: "int(11)", DataType: "int"}}
	long := longName("t", 64)
	tests := []struct {
		name string
		tc   config.Table
		cols []SourceColumn
		want string // "" : accepted
	}{
		{"64-byte table, no target", config.Table{Name: long}, cols, "name a shorter one with tables[].target"},
		{"64-byte target", config.Table{Name: "t", Target: long}, cols, "is 64 bytes long"},
		{"64-byte target schema", config.Table{Name: "t", Target: long + ".t"}, cols, "target schema"},
		{"64-byte table with a target", config.Table{Name: long, Target: "t"}, cols, ""},
		{"64-byte column", config.Table{Name: "t"}, append(cols, SourceColumn{Name: long, ColumnType: "int(11)", DataType: "int"}), "tables[].rename"},
		{"64-byte column renamed", config.Table{Name: "t", Rename: map[string]string{long: "c"}},
			append(cols, SourceColumn{Name: long, ColumnType: "int(11)", DataType: "int"}), ""},
		{"64-byte column excluded", config.Table{Name: "t", Exclude: []string{long}},
			append(cols, SourceColumn{Name: long, ColumnType: "int(11)", DataType: "int"}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := buildTableMap("shop", tt.tc, tt.cols, key, Policies{})
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "PostgreSQL keeps only 63")
		})
	}
}
