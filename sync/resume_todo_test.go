package sync

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/stranglerfig/strangler/internal/config"
)

func TestPauseTodo(t *testing.T) {
	p := config.Pipeline{Name: "shop", Tables: []config.Table{
		{Name: "orders"},
		{Name: "customers", Target: "crm.clients", Rename: map[string]string{"nm": "name"}, Types: map[string]string{"age": "integer"}},
	}}
	for _, tc := range []struct{ name, stmt, want string }{
		{"narrowing decimal", "ALTER TABLE orders MODIFY total decimal(6,2) NOT NULL",
			`ALTER TABLE "public"."orders" ALTER COLUMN "total" TYPE numeric(6,2)`},
		{"narrowing varchar, quoted, with COLUMN", "ALTER TABLE `orders` MODIFY COLUMN `note` varchar(5)",
			`ALTER TABLE "public"."orders" ALTER COLUMN "note" TYPE varchar(5)`},
		{"CHANGE without a rename, target and column renamed", "ALTER TABLE customers CHANGE nm nm varchar(10) NOT NULL",
			`ALTER TABLE "crm"."clients" ALTER COLUMN "name" TYPE varchar(10)`},
		{"two columns", "ALTER TABLE orders MODIFY a smallint, MODIFY b int",
			`ALTER TABLE "public"."orders" ALTER COLUMN "a" TYPE smallint, ALTER COLUMN "b" TYPE integer`},
		{"type family change", "ALTER TABLE orders MODIFY qty varchar(10)",
			`ALTER TABLE "public"."orders" ALTER COLUMN "qty" TYPE varchar(10)`},
		{"a type override decides", "ALTER TABLE customers MODIFY age tinyint",
			`apply the equivalent of "ALTER TABLE customers MODIFY age tinyint" to "crm"."clients"`},
		{"CHANGE with a rename", "ALTER TABLE orders CHANGE a b smallint",
			`apply the equivalent of "ALTER TABLE orders CHANGE a b smallint" to "public"."orders"`},
		{"a moved column", "ALTER TABLE orders MODIFY a int FIRST",
			`apply the equivalent of "ALTER TABLE orders MODIFY a int FIRST" to "public"."orders"`},
		{"primary key", "ALTER TABLE orders DROP PRIMARY KEY",
			`apply the equivalent of "ALTER TABLE orders DROP PRIMARY KEY" to "public"."orders"`},
		{"drop table", "DROP TABLE customers",
			`apply the equivalent of "DROP TABLE customers" to "crm"."clients"`},
		{"no synced table named", "DROP TABLE other", `apply the equivalent of "DROP TABLE other" to the target`},
		{"not lexable", "ALTER TABLE orders MODIFY note 'x", `apply the equivalent of "ALTER TABLE orders MODIFY note 'x" to the target`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, PauseTodo(tc.stmt, p))
		})
	}
}
