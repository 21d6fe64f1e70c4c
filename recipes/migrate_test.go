package recipes

import (
	"errors"
	"strings"
	"testing"

	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMigrate(t *testing.T) {
	ctx := testCtx(t)
	pool := openPool(t, dbtest.Postgres(t))
	r := loadRecipe(t, nil)

	m, err := Migrate(ctx, pool, r)
	require.NoError(t, err)
	require.Len(t, m.Applied, 3, "two tables and the foreign key: %v", m.Applied)
	assert.True(t, strings.HasPrefix(m.Applied[0], `CREATE TABLE "public"."customers"`))

	m, err = Migrate(ctx, pool, r)
	require.NoError(t, err)
	assert.Empty(t, m.Applied, "a second run changes nothing")

	e := newEnvOn(t, r, pool)
	e.seed()

	t.Run("additive changes are applied", func(t *testing.T) {
		added := loadRecipe(t, func(s string) string {
			s = strings.Replace(s, "      - {name: placed_at, type: timestamp, default: now}",
				"      - {name: placed_at, type: timestamp, default: now}\n      - {name: channel, type: string, default: web}\n      - {name: coupon, type: string, nullable: true}", 1)
			return strings.Replace(s, "- {name: note, type: string, nullable: true, max_length: 500}", "- {name: note, type: string, nullable: true, max_length: 500}", 1)
		})
		m, err := Migrate(ctx, pool, added)
		require.NoError(t, err)
		assert.Equal(t, []string{
			`ALTER TABLE "public"."orders" ADD COLUMN "channel" text DEFAULT 'web' NOT NULL`,
			`ALTER TABLE "public"."orders" ADD COLUMN "coupon" text`,
		}, m.Applied)
		require.NoError(t, e.svc.Reload(added))
		_, body := e.must(200, "GET", "/api/orders/1", nil)
		assert.Contains(t, body, `"channel":"web","coupon":null`)
	})
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"type change", "{name: note, type: string, nullable: true, max_length: 500}", "{name: note, type: integer, nullable: true}",
			"orders.note: the column is text, the recipe says integer"},
		{"new NOT NULL column without default on rows", "      - {name: placed_at, type: timestamp, default: now}",
			"      - {name: placed_at, type: timestamp, default: now}\n      - {name: sku, type: string}", "orders.sku: new NOT NULL column without a default"},
		{"nullable made NOT NULL", "{name: note, type: string, nullable: true, max_length: 500}", "{name: note, type: string, max_length: 500}",
			"orders.note: the column is nullable, the recipe says NOT NULL"},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			bad := loadRecipe(t, func(s string) string { return strings.Replace(s, tc.old, tc.new, 1) })
			_, err := Migrate(ctx, pool, bad)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrDestructive))
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "nothing applied")
		})
	}
	_, body := e.must(200, "GET", "/api/orders/1", nil)
	assert.Contains(t, body, `"note":null`, "refused migrations changed nothing")
}
