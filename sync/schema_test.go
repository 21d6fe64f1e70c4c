package sync

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
)

func TestMapColumnTargetTypes(t *testing.T) {
	tests := []struct {
		name     string
		ci       SourceColumn
		override string
		want     string
		kind     kind
	}{
		{"tinyint", SourceColumn{ColumnType: "tinyint(4)", DataType: "tinyint"}, "", "smallint", kindInt},
		{"tinyint unsigned", SourceColumn{ColumnType: "tinyint(3) unsigned", DataType: "tinyint"}, "", "smallint", kindUint},
		{"tinyint(1) boolean", SourceColumn{ColumnType: "tinyint(1)", DataType: "tinyint"}, "", "boolean", kindBool},
		{"tinyint(1) smallint override", SourceColumn{ColumnType: "tinyint(1)", DataType: "tinyint"}, "smallint", "smallint", kindInt},
		{"smallint unsigned", SourceColumn{ColumnType: "smallint(5) unsigned", DataType: "smallint"}, "", "integer", kindUint},
		{"mediumint", SourceColumn{ColumnType: "mediumint(9)", DataType: "mediumint"}, "", "integer", kindInt},
		{"mediumint unsigned", SourceColumn{ColumnType: "mediumint(8) unsigned", DataType: "mediumint"}, "", "integer", kindUint},
		{"int", SourceColumn{ColumnType: "int(11)", DataType: "int"}, "", "integer", kindInt},
		{"int unsigned", SourceColumn{ColumnType: "int(10) unsigned", DataType: "int"}, "", "bigint", kindUint},
		{"bigint", SourceColumn{ColumnType: "bigint(20)", DataType: "bigint"}, "", "bigint", kindInt},
		{"bigint unsigned", SourceColumn{ColumnType: "bigint(20) unsigned", DataType: "bigint"}, "", "numeric(20,0)", kindUint},
		{"decimal", SourceColumn{ColumnType: "decimal(65,30)", DataType: "decimal", Precision: 65, Scale: 30}, "", "numeric(65,30)", kindDecimal},
		{"float", SourceColumn{ColumnType: "float", DataType: "float"}, "", "real", kindFloat},
		{"double", SourceColumn{ColumnType: "double", DataType: "double"}, "", "double precision", kindDouble},
		{"bit(1)", SourceColumn{ColumnType: "bit(1)", DataType: "bit", Precision: 1}, "", "boolean", kindBitBool},
		{"bit(64)", SourceColumn{ColumnType: "bit(64)", DataType: "bit", Precision: 64}, "", "bit(64)", kindBit},
		{"date", SourceColumn{ColumnType: "date", DataType: "date"}, "", "date", kindDate},
		{"datetime(6)", SourceColumn{ColumnType: "datetime(6)", DataType: "datetime", FSP: 6}, "", "timestamp(6) without time zone", kindDatetime},
		{"timestamp(3)", SourceColumn{ColumnType: "timestamp(3)", DataType: "timestamp", FSP: 3}, "", "timestamp(3) with time zone", kindTimestamp},
		{"time", SourceColumn{ColumnType: "time", DataType: "time"}, "", "interval(0)", kindTime},
		{"time(6)", SourceColumn{ColumnType: "time(6)", DataType: "time", FSP: 6}, "", "interval", kindTime},
		{"year", SourceColumn{ColumnType: "year(4)", DataType: "year"}, "", "smallint", kindYear},
		{"char latin1", SourceColumn{ColumnType: "char(10)", DataType: "char", CharLen: 10, Charset: "latin1"}, "", "varchar(10)", kindText},
		{"varchar", SourceColumn{ColumnType: "varchar(255)", DataType: "varchar", CharLen: 255, Charset: "utf8mb4"}, "", "varchar(255)", kindText},
		{"char(0)", SourceColumn{ColumnType: "char(0)", DataType: "char", Charset: "utf8mb4"}, "", "text", kindText},
		{"longtext", SourceColumn{ColumnType: "longtext", DataType: "longtext", Charset: "utf8mb4"}, "", "text", kindText},
		{"mariadb json", SourceColumn{ColumnType: "longtext", DataType: "longtext", Charset: "utf8mb4", JSON: true}, "", "jsonb", kindJSON},
		{"json", SourceColumn{ColumnType: "json", DataType: "json"}, "", "jsonb", kindJSON},
		{"json as text", SourceColumn{ColumnType: "json", DataType: "json"}, "text", "text", kindJSON},
		{"varbinary", SourceColumn{ColumnType: "varbinary(16)", DataType: "varbinary"}, "", "bytea", kindBinary},
		{"longblob", SourceColumn{ColumnType: "longblob", DataType: "longblob"}, "", "bytea", kindBinary},
		{"enum", SourceColumn{ColumnType: "enum('a','b')", DataType: "enum", Charset: "utf8mb4"}, "", "text", kindEnum},
		{"set", SourceColumn{ColumnType: "set('x','y')", DataType: "set", Charset: "utf8mb4"}, "", "text[]", kindSet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.ci.Name = "c"
			c, err := MapColumn("t", tt.ci, tt.override, Policies{}.withDefaults())
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.TargetType)
			assert.Equal(t, tt.kind, c.kind)
		})
	}
}

func TestMapColumnRefusals(t *testing.T) {
	tests := []struct {
		name string
		ci   SourceColumn
		want string
	}{
		{"spatial", SourceColumn{Name: "geom", ColumnType: "geometry", DataType: "geometry"},
			"table t: column geom: spatial type geometry is not supported; exclude it with tables[].exclude"},
		{"point", SourceColumn{Name: "p", ColumnType: "point", DataType: "point"},
			"table t: column p: spatial type point is not supported; exclude it with tables[].exclude"},
		{"unknown", SourceColumn{Name: "u", ColumnType: "vector(3)", DataType: "vector"},
			"table t: column u: type vector(3) is not supported; exclude it with tables[].exclude"},
		{"charset", SourceColumn{Name: "s", ColumnType: "varchar(3)", DataType: "varchar", Charset: "tis620"},
			"table t: column s: character set tis620 is not supported; convert the column to utf8mb4 or exclude it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := MapColumn("t", tt.ci, "", Policies{}.withDefaults())
			require.EqualError(t, err, tt.want)
		})
	}
}

func TestParseMembers(t *testing.T) {
	got, err := parseMembers(`enum('a','it''s','b\c','')`)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "it's", `b\c`, ""}, got)
	for _, bad := range []string{"enum", "enum(a)", "enum('a'", "enum('a' 'b')"} {
		_, err := parseMembers(bad)
		assert.Error(t, err, bad)
	}
}

func sampleCols() []SourceColumn {
	return []SourceColumn{
		{Name: "id", ColumnType: "bigint(20) unsigned", DataType: "bigint"},
		{Name: "name", ColumnType: "varchar(40)", DataType: "varchar", CharLen: 40, Charset: "utf8mb4", Nullable: true},
		{Name: "born", ColumnType: "date", DataType: "date"},
		{Name: "kind", ColumnType: "enum('a','b')", DataType: "enum", Charset: "utf8mb4", Nullable: true},
		{Name: "total", ColumnType: "decimal(10,2)", DataType: "decimal", Precision: 10, Scale: 2, Nullable: true, Generated: true},
		{Name: "geom", ColumnType: "geometry", DataType: "geometry", Nullable: true},
	}
}

func TestBuildTableMap(t *testing.T) {
	tbl := config.Table{Name: "people", Target: "app.persons", Rename: map[string]string{"name": "full_name"}, Exclude: []string{"geom"}}
	m, err := buildTableMap("shop", tbl, sampleCols(), []indexInfo{{Name: "PRIMARY", Columns: []string{"id"}}}, Policies{})
	require.NoError(t, err)
	assert.Equal(t, []int{0, 1, 2, 3}, m.Copied())
	assert.Equal(t, []int{0}, m.Key)
	assert.Equal(t, "app", m.TargetSchema)
	assert.Equal(t, "persons", m.Target)
	assert.Equal(t, []string{
		`CREATE TABLE IF NOT EXISTS "app"."persons" ("id" numeric(20,0) NOT NULL, "full_name" varchar(40), "born" date, ` +
			`"kind" text CONSTRAINT "persons_kind_enum" CHECK ("kind" IN ('', 'a', 'b')), PRIMARY KEY ("id"))`,
	}, m.CreateTargetSQL())
	assert.Equal(t, "SELECT `id`, `name`, CAST(`born` AS CHAR), `kind` FROM `shop`.`people`", m.SelectSQL())
	assert.Len(t, m.Notes, 2, "generated column and nullable date")
}

func TestBuildTableMapRefusals(t *testing.T) {
	pk := []indexInfo{{Name: "PRIMARY", Columns: []string{"id"}}}
	tests := []struct {
		name string
		tbl  config.Table
		keys []indexInfo
		want string
	}{
		{"no primary key", config.Table{Name: "t", Exclude: []string{"geom"}}, []indexInfo{{Name: "u", Columns: []string{"name"}}},
			"table t: no primary key; name the columns of a unique not-null key with tables[].key"},
		{"key not unique", config.Table{Name: "t", Exclude: []string{"geom"}, Key: []string{"born"}}, nil,
			"table t: key (born) named in tables[].key is not a unique index of the table"},
		{"nullable key", config.Table{Name: "t", Exclude: []string{"geom"}, Key: []string{"name"}}, []indexInfo{{Name: "u", Columns: []string{"name"}}},
			"table t: key column name is nullable; name a unique key of NOT NULL columns"},
		{"spatial not excluded", config.Table{Name: "t"}, pk,
			"table t: column geom: spatial type geometry is not supported; exclude it with tables[].exclude"},
		{"unknown column", config.Table{Name: "t", Exclude: []string{"nope"}}, pk,
			"table t: column nope named in the pipeline config does not exist"},
		{"excluded key", config.Table{Name: "t", Exclude: []string{"geom", "id"}}, pk,
			"table t: key column id is excluded or generated; a key column must be copied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := buildTableMap("shop", tt.tbl, sampleCols(), tt.keys, Policies{})
			require.EqualError(t, err, tt.want)
		})
	}
	_, err := buildTableMap("shop", config.Table{Name: "t", Exclude: []string{"geom"}}, sampleCols(), nil, Policies{})
	assert.True(t, errors.Is(err, ErrNoKey))
}
