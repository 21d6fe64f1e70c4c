package sync

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/pgident"
)

func ddlMaps(t testing.TB) map[string]*TableMap {
	t.Helper()
	cols := []SourceColumn{
		{Name: "id", ColumnType: "int(11)", DataType: "int"},
		{Name: "name", ColumnType: "varchar(40)", DataType: "varchar", CharLen: 40, Charset: "utf8mb4", Nullable: true},
		{Name: "qty", ColumnType: "smallint(6)", DataType: "smallint"},
		{Name: "price", ColumnType: "decimal(10,2)", DataType: "decimal", Precision: 10, Scale: 2, Nullable: true},
		{Name: "state", ColumnType: "enum('new','paid')", DataType: "enum", Charset: "utf8mb4", Nullable: true},
	}
	m, err := buildTableMap("shop", config.Table{Name: "orders"}, cols, []indexInfo{{Name: "PRIMARY", Columns: []string{"id"}}}, Policies{})
	require.NoError(t, err)
	return map[string]*TableMap{"orders": m}
}

func TestClassifyDDL(t *testing.T) {
	tests := []struct {
		name       string
		stmt       string
		concern    bool
		pause      bool
		apply      []string
		concurrent []string
		kept       []string
		renamed    string   // the map's new source name
		key        string   // the key column's name afterwards; "" is id
		cols       []string // column names of the new map, when applied
	}{
		{name: "other table", stmt: "ALTER TABLE customers ADD COLUMN x int"},
		{name: "begin", stmt: "BEGIN"},
		{name: "dml", stmt: "INSERT INTO orders VALUES (1)"},
		{name: "add column", stmt: "ALTER TABLE `orders` ADD COLUMN note varchar(100) NULL", concern: true,
			apply: []string{`ALTER TABLE "public"."orders" ADD COLUMN IF NOT EXISTS "note" varchar(100)`},
			cols:  []string{"id", "name", "qty", "price", "state", "note"}},
		{name: "add column after, qualified", stmt: "alter table shop.orders add big bigint unsigned not null default 7 after id", concern: true,
			apply: []string{`ALTER TABLE "public"."orders" ADD COLUMN IF NOT EXISTS "big" numeric(20,0) NOT NULL DEFAULT 7`},
			cols:  []string{"id", "big", "name", "qty", "price", "state"}},
		{name: "add not null implicit default", stmt: "ALTER TABLE orders ADD flag tinyint(1) NOT NULL FIRST", concern: true,
			apply: []string{`ALTER TABLE "public"."orders" ADD COLUMN IF NOT EXISTS "flag" boolean NOT NULL DEFAULT false`},
			cols:  []string{"flag", "id", "name", "qty", "price", "state"}},
		{name: "add text default with quote", stmt: "ALTER TABLE orders ADD c varchar(5) NOT NULL DEFAULT 'it''s'", concern: true,
			apply: []string{`ALTER TABLE "public"."orders" ADD COLUMN IF NOT EXISTS "c" varchar(5) NOT NULL DEFAULT 'it''s'::varchar(5)`}},
		{name: "add two columns", stmt: "ALTER TABLE orders ADD COLUMN (a int, b text)", concern: true,
			apply: []string{`ALTER TABLE "public"."orders" ADD COLUMN IF NOT EXISTS "a" integer`, `ALTER TABLE "public"."orders" ADD COLUMN IF NOT EXISTS "b" text`}},
		{name: "add generated", stmt: "ALTER TABLE orders ADD total decimal(12,2) AS (qty*price) VIRTUAL", concern: true,
			cols: []string{"id", "name", "qty", "price", "state", "total"}},
		{name: "add default expression", stmt: "ALTER TABLE orders ADD at datetime NOT NULL DEFAULT CURRENT_TIMESTAMP", concern: true, pause: true},
		{name: "add spatial", stmt: "ALTER TABLE orders ADD g point", concern: true, pause: true},
		{name: "widen varchar", stmt: "ALTER TABLE orders MODIFY name varchar(80)", concern: true,
			apply: []string{`ALTER TABLE "public"."orders" ALTER COLUMN "name" TYPE varchar(80)`}},
		{name: "varchar to text", stmt: "ALTER TABLE orders MODIFY COLUMN name text", concern: true,
			apply: []string{`ALTER TABLE "public"."orders" ALTER COLUMN "name" TYPE text`}},
		{name: "shorten varchar", stmt: "ALTER TABLE orders MODIFY name varchar(10)", concern: true, pause: true},
		{name: "widen int", stmt: "ALTER TABLE orders CHANGE qty qty int NOT NULL", concern: true,
			apply: []string{`ALTER TABLE "public"."orders" ALTER COLUMN "qty" TYPE integer`}},
		{name: "int to unsigned", stmt: "ALTER TABLE orders MODIFY qty smallint unsigned NOT NULL", concern: true, pause: true},
		{name: "widen decimal", stmt: "ALTER TABLE orders MODIFY price decimal(14,4)", concern: true,
			apply: []string{`ALTER TABLE "public"."orders" ALTER COLUMN "price" TYPE numeric(14,4)`}},
		{name: "narrow decimal", stmt: "ALTER TABLE orders MODIFY price decimal(10,1)", concern: true, pause: true},
		{name: "drop not null", stmt: "ALTER TABLE orders MODIFY qty smallint NULL", concern: true,
			apply: []string{`ALTER TABLE "public"."orders" ALTER COLUMN "qty" DROP NOT NULL`}},
		{name: "enum append", stmt: "ALTER TABLE orders MODIFY state enum('new','paid','shipped')", concern: true,
			apply: []string{`ALTER TABLE "public"."orders" DROP CONSTRAINT IF EXISTS "orders_state_enum", ADD CONSTRAINT "orders_state_enum" CHECK ("state" IN ('', 'new', 'paid', 'shipped'))`}},
		{name: "enum reorder", stmt: "ALTER TABLE orders MODIFY state enum('paid','new')", concern: true, pause: true},
		{name: "change with rename", stmt: "ALTER TABLE orders CHANGE name title varchar(40)", concern: true,
			apply: []string{`ALTER TABLE "public"."orders" RENAME COLUMN "name" TO "title"`},
			cols:  []string{"id", "title", "qty", "price", "state"}},
		{name: "change with rename and widening", stmt: "ALTER TABLE orders CHANGE name title varchar(80)", concern: true,
			apply: []string{`ALTER TABLE "public"."orders" RENAME COLUMN "name" TO "title"`, `ALTER TABLE "public"."orders" ALTER COLUMN "title" TYPE varchar(80)`}},
		{name: "change with rename and narrowing", stmt: "ALTER TABLE orders CHANGE name title varchar(4)", concern: true, pause: true},
		{name: "rename column", stmt: "ALTER TABLE orders RENAME COLUMN qty TO amount", concern: true,
			apply: []string{`ALTER TABLE "public"."orders" RENAME COLUMN "qty" TO "amount"`},
			cols:  []string{"id", "name", "amount", "price", "state"}},
		{name: "rename key column", stmt: "ALTER TABLE orders RENAME COLUMN id TO order_id", concern: true,
			apply: []string{`ALTER TABLE "public"."orders" RENAME COLUMN "id" TO "order_id"`},
			cols:  []string{"order_id", "name", "qty", "price", "state"}, key: "order_id"},
		{name: "rename enum column renames its check", stmt: "ALTER TABLE orders RENAME COLUMN state TO st", concern: true,
			apply: []string{`ALTER TABLE "public"."orders" RENAME COLUMN "state" TO "st"`,
				`ALTER TABLE "public"."orders" RENAME CONSTRAINT "orders_state_enum" TO "orders_st_enum"`}},
		{name: "rename onto an existing column", stmt: "ALTER TABLE orders RENAME COLUMN qty TO name", concern: true, pause: true},
		{name: "rename unknown column", stmt: "ALTER TABLE orders RENAME COLUMN nope TO x", concern: true, pause: true},
		{name: "drop column", stmt: "ALTER TABLE orders DROP COLUMN qty", concern: true,
			apply: []string{`ALTER TABLE "public"."orders" ALTER COLUMN "qty" DROP NOT NULL`},
			cols:  []string{"id", "name", "price", "state"}, kept: []string{"qty"}},
		{name: "drop nullable column", stmt: "ALTER TABLE orders DROP name", concern: true,
			cols: []string{"id", "qty", "price", "state"}, kept: []string{"name"}},
		{name: "drop key column", stmt: "ALTER TABLE orders DROP COLUMN id", concern: true, pause: true},
		{name: "type family", stmt: "ALTER TABLE orders MODIFY name int", concern: true, pause: true},
		{name: "add index", stmt: "ALTER TABLE orders ADD INDEX (name), ALGORITHM=INPLACE", concern: true,
			concurrent: []string{`CREATE INDEX CONCURRENTLY IF NOT EXISTS "orders_name" ON "public"."orders" ("name")`}},
		{name: "add named unique key", stmt: "ALTER TABLE orders ADD UNIQUE KEY `by qty` USING BTREE (qty DESC, name)", concern: true,
			concurrent: []string{`CREATE INDEX CONCURRENTLY IF NOT EXISTS "orders_by qty" ON "public"."orders" ("qty", "name")`}},
		{name: "add constraint unique", stmt: "ALTER TABLE orders ADD CONSTRAINT u UNIQUE (qty)", concern: true,
			concurrent: []string{`CREATE INDEX CONCURRENTLY IF NOT EXISTS "orders_u" ON "public"."orders" ("qty")`}},
		{name: "add column and index in one", stmt: "ALTER TABLE orders ADD note text, ADD INDEX n (qty)", concern: true,
			apply: []string{`ALTER TABLE "public"."orders" ADD COLUMN IF NOT EXISTS "note" text`, `CREATE INDEX IF NOT EXISTS "orders_n" ON "public"."orders" ("qty")`}},
		{name: "prefix index not carried", stmt: "ALTER TABLE orders ADD INDEX p (name(10))", concern: true},
		{name: "fulltext not carried", stmt: "ALTER TABLE orders ADD FULLTEXT ft (name)", concern: true},
		{name: "foreign key not carried", stmt: "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (qty) REFERENCES c (id)", concern: true},
		{name: "create index", stmt: "CREATE INDEX i ON orders (name)", concern: true,
			concurrent: []string{`CREATE INDEX CONCURRENTLY IF NOT EXISTS "orders_i" ON "public"."orders" ("name")`}},
		{name: "create unique index", stmt: "CREATE UNIQUE INDEX i USING BTREE ON orders (qty, price)", concern: true,
			concurrent: []string{`CREATE INDEX CONCURRENTLY IF NOT EXISTS "orders_i" ON "public"."orders" ("qty", "price")`}},
		{name: "create index long name is hashed", stmt: "CREATE INDEX " + strings.Repeat("x", 64) + " ON orders (name)", concern: true,
			concurrent: []string{`CREATE INDEX CONCURRENTLY IF NOT EXISTS "` + pgident.Name("orders", strings.Repeat("x", 64)) + `" ON "public"."orders" ("name")`}},
		{name: "create or replace index", stmt: "CREATE OR REPLACE INDEX i ON orders (qty)", concern: true,
			concurrent: []string{`DROP INDEX CONCURRENTLY IF EXISTS "public"."orders_i"`, `CREATE INDEX CONCURRENTLY IF NOT EXISTS "orders_i" ON "public"."orders" ("qty")`}},
		{name: "drop index", stmt: "DROP INDEX i ON shop.orders", concern: true,
			concurrent: []string{`DROP INDEX CONCURRENTLY IF EXISTS "public"."orders_i"`}},
		{name: "alter drop index", stmt: "ALTER TABLE orders DROP INDEX i, DROP KEY j", concern: true,
			concurrent: []string{`DROP INDEX CONCURRENTLY IF EXISTS "public"."orders_i"`, `DROP INDEX CONCURRENTLY IF EXISTS "public"."orders_j"`}},
		{name: "drop index primary", stmt: "DROP INDEX `PRIMARY` ON orders", concern: true, pause: true},
		{name: "alter drop index primary", stmt: "ALTER TABLE orders DROP INDEX `PRIMARY`", concern: true, pause: true},
		{name: "rename index", stmt: "ALTER TABLE orders RENAME INDEX i TO j", concern: true,
			apply: []string{`ALTER INDEX IF EXISTS "public"."orders_i" RENAME TO "orders_j"`}},
		{name: "primary key", stmt: "ALTER TABLE orders DROP PRIMARY KEY, ADD PRIMARY KEY (id, qty)", concern: true, pause: true},
		{name: "mixed pauses all", stmt: "ALTER TABLE orders ADD x int, MODIFY qty tinyint", concern: true, pause: true},
		{name: "truncate", stmt: "TRUNCATE TABLE orders", concern: true,
			apply: []string{`TRUNCATE TABLE "public"."orders"`}, cols: []string{"id", "name", "qty", "price", "state"}},
		{name: "truncate without table keyword", stmt: "truncate shop.`orders`;", concern: true,
			apply: []string{`TRUNCATE TABLE "public"."orders"`}},
		{name: "truncate other table", stmt: "TRUNCATE TABLE customers"},
		{name: "drop table", stmt: "DROP TABLE IF EXISTS a, `orders`", concern: true, pause: true},
		{name: "rename table", stmt: "RENAME TABLE orders TO orders_old", concern: true, renamed: "orders_old"},
		{name: "rename table qualified, with others", stmt: "RENAME TABLE a TO b, shop.orders TO shop.orders2", concern: true, renamed: "orders2"},
		{name: "rename table to another database", stmt: "RENAME TABLE orders TO archive.orders", concern: true, pause: true},
		{name: "rename table swap", stmt: "RENAME TABLE orders TO orders_old, orders_new TO orders", concern: true, pause: true},
		{name: "rename other table onto synced", stmt: "RENAME TABLE orders_new TO orders", concern: true, pause: true},
		{name: "rename other tables", stmt: "RENAME TABLE a TO b"},
		{name: "alter rename table", stmt: "ALTER TABLE orders RENAME TO orders_old", concern: true, renamed: "orders_old"},
		{name: "alter rename table to another database", stmt: "ALTER TABLE orders RENAME AS archive.orders", concern: true, pause: true},
		{name: "engine", stmt: "ALTER TABLE orders ENGINE=InnoDB", concern: true},
		{name: "executable comment", stmt: "/*!40000 ALTER TABLE `orders` DISABLE KEYS */", concern: true},
		{name: "comment hides nothing", stmt: "ALTER TABLE orders /* note */ MODIFY name varchar(80) -- wider\n", concern: true,
			apply: []string{`ALTER TABLE "public"."orders" ALTER COLUMN "name" TYPE varchar(80)`}},
		{name: "partitioning", stmt: "ALTER TABLE orders PARTITION BY HASH(id) PARTITIONS 4", concern: true, pause: true},
		{name: "unparsable", stmt: "ALTER TABLE orders ADD c varchar(5) DEFAULT 'x", concern: true, pause: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			maps := ddlMaps(t)
			before := len(maps["orders"].Columns)
			a, concern, err := ClassifyDDL(tt.stmt, maps)
			require.NoError(t, err)
			assert.Equal(t, tt.concern, concern)
			assert.Len(t, maps["orders"].Columns, before, "the input map is not modified")
			if !tt.concern {
				return
			}
			assert.Equal(t, "orders", a.Table)
			assert.NotEmpty(t, a.Reason)
			assert.Equal(t, tt.pause, a.Pause, a.Reason)
			assert.Equal(t, tt.apply, a.Apply)
			var conc []string
			for _, ix := range a.Concurrent {
				conc = append(conc, ix.SQL(true))
			}
			assert.Equal(t, tt.concurrent, conc)
			assert.Equal(t, tt.kept, a.Kept)
			if tt.renamed != "" && assert.NotNil(t, a.Map) {
				assert.Equal(t, tt.renamed, a.Map.Name)
				assert.Equal(t, "orders", a.Map.Target, "the target table keeps its name")
			}
			if tt.pause {
				assert.Nil(t, a.Map)
				assert.Contains(t, a.Reason, "orders")
				return
			}
			if tt.cols != nil && assert.NotNil(t, a.Map) {
				var names []string
				for _, c := range a.Map.Columns {
					names = append(names, c.Name)
				}
				assert.Equal(t, tt.cols, names)
				key := "id"
				if tt.key != "" {
					key = tt.key
				}
				assert.Equal(t, key, a.Map.Columns[a.Map.Key[0]].Name, "the key follows its column")
			}
		})
	}
}

func TestClassifyDDLAddedColumnConverts(t *testing.T) {
	a, _, err := ClassifyDDL("ALTER TABLE orders ADD COLUMN big bigint unsigned", ddlMaps(t))
	require.NoError(t, err)
	require.NotNil(t, a.Map)
	i := a.Map.columnIndex("big")
	v, err := a.Map.FromBinlog(i, int64(-1))
	require.NoError(t, err)
	assert.Equal(t, "18446744073709551615", numericString(t, v))
}

func TestClassifyDDLRenameKeepsConfigRename(t *testing.T) {
	cols := []SourceColumn{
		{Name: "id", ColumnType: "int(11)", DataType: "int"},
		{Name: "name", ColumnType: "varchar(40)", DataType: "varchar", CharLen: 40, Charset: "utf8mb4", Nullable: true},
	}
	m, err := buildTableMap("shop", config.Table{Name: "orders", Rename: map[string]string{"name": "title"}}, cols,
		[]indexInfo{{Name: "PRIMARY", Columns: []string{"id"}}}, Policies{})
	require.NoError(t, err)
	a, concern, err := ClassifyDDL("ALTER TABLE orders RENAME COLUMN name TO label", map[string]*TableMap{"orders": m})
	require.NoError(t, err)
	require.True(t, concern)
	require.False(t, a.Pause, a.Reason)
	assert.Empty(t, a.Apply, "the target column named by tables[].rename keeps its name")
	c := a.Map.Columns[1]
	assert.Equal(t, "label", c.Name)
	assert.Equal(t, "title", c.Target)
	assert.Contains(t, a.Reason, "keeps its name")
}
