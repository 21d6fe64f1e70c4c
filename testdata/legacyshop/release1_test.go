package legacyshop_test

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/testdata/legacyshop"
)

// TestReleaseOneAnswersAsItAlwaysDid: over the first release's schema
// (Create and Seed, as the demo and the extract tests load it) the orders
// and customers endpoints answer in the shape their users compare, without
// any field of release 2.
func TestReleaseOneAnswersAsItAlwaysDid(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	require.NoError(t, legacyshop.Create(ctx, db))
	require.NoError(t, legacyshop.Seed(ctx, db, 6, 40, 1))
	s := serve(t, db)

	a := s.get(t, "/api/orders/20")
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	assert.Equal(t, "application/json", a.header.Get("Content-Type"))
	assert.Equal(t, "legacyshop/1.0", a.header.Get("X-Powered-By"))
	v := a.json(t)
	assert.Equal(t, []string{"data"}, keys(v))
	o := obj(t, v["data"])
	assert.Equal(t, []string{"customer", "customerId", "id", "note", "placedAt", "requestId", "status", "total"}, keys(o))
	assert.Equal(t, "ring twice &amp; leave it at the door", o["note"], "every 20th order's note, HTML-escaped")
	assert.Regexp(t, moneyRe, o["total"])
	assert.Regexp(t, dateRe, o["placedAt"])
	c := obj(t, o["customer"])
	assert.Equal(t, []string{"createdAt", "email", "id", "name", "vip"}, keys(c))
	assert.IsType(t, true, c["vip"], "release 1 answers booleans as true/false")

	a = s.get(t, "/api/customers/2")
	require.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, []string{"createdAt", "email", "id", "name", "vip"}, keys(a.json(t)["data"]))
	assert.Equal(t, http.StatusNotFound, s.get(t, "/api/customers/99").status)
	a = s.get(t, "/api/orders/999")
	assert.Equal(t, http.StatusNotFound, a.status)
	assert.JSONEq(t, `{"error": "order not found"}`, string(a.body))
	assert.Equal(t, http.StatusBadRequest, s.get(t, "/api/orders/x").status)

	a = s.get(t, "/api/orders?limit=5&offset=5")
	require.Equal(t, http.StatusOK, a.status)
	v = a.json(t)
	assert.Equal(t, []string{"total"}, keys(v["meta"]), "limit/offset pages: meta has the total alone")
	assert.Equal(t, int64(40), num(t, obj(t, v["meta"])["total"]))
	l := list(t, v["data"])
	require.Len(t, l, 5)
	assert.Equal(t, int64(6), num(t, obj(t, l[0])["id"]))
	assert.NotContains(t, keys(l[0]), "requestId")
	for _, st := range []string{"paid", "nosuch"} {
		v = s.get(t, "/api/orders?status="+st).json(t)
		for _, o := range list(t, v["data"]) {
			assert.Equal(t, st, obj(t, o)["status"])
		}
	}

	a = s.do(t, http.MethodPost, "/api/orders", `{"customerId": 3, "status": "paid", "total": "12.50", "note": "a & b"}`)
	require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
	assert.Equal(t, "/api/orders/41", a.header.Get("Location"))
	o = obj(t, a.json(t)["data"])
	assert.Equal(t, []string{"customer", "customerId", "id", "note", "placedAt", "status", "total"}, keys(o))
	assert.Equal(t, "a & b", o["note"], "the create's answer does not escape the note")
	assert.Equal(t, "12.50", o["total"])
	assert.Equal(t, http.StatusBadRequest, s.do(t, http.MethodPost, "/api/orders", `{"customerId": `).status)
	assert.Equal(t, http.StatusUnprocessableEntity, s.do(t, http.MethodPost, "/api/orders", `{"customerId": 3, "total": "x"}`).status)
	// The old code checks no customer: the order is written, its answer
	// fails to read it back, and it is not found afterwards.
	a = s.do(t, http.MethodPost, "/api/orders", `{"customerId": 99, "total": "1.00"}`)
	assert.Equal(t, http.StatusInternalServerError, a.status)
	assert.Equal(t, "/api/orders/42", a.header.Get("Location"))
	assert.Equal(t, http.StatusNotFound, s.get(t, "/api/orders/42").status)

	a = s.get(t, "/api/reports/daily")
	require.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, []string{"orders", "revenue"}, keys(a.json(t)))

	// The pages of release 2 still render, with what there is.
	a = s.get(t, "/")
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	assert.Contains(t, string(a.body), "No products yet.")
	a = s.get(t, "/orders/20")
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	assert.Contains(t, string(a.body), "No items on record.")
	assert.True(t, strings.Contains(string(a.body), "ring twice &amp; leave it at the door"))
}

// TestSeedWritesWhatItAlwaysWrote: Seed's rows for a seed are the ones it
// wrote before release 2 existed (the demo and the tests count on them);
// SeedWith with the same options writes the same rows twice, and with
// products the same customers, statuses, notes and dates.
func TestSeedWritesWhatItAlwaysWrote(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	require.NoError(t, legacyshop.Create(ctx, db))
	require.NoError(t, legacyshop.Seed(ctx, db, 30, 200, 1))
	assert.Equal(t, "47b660f681fd1dadaf243e48d56f0ac8bf8cdea839f14c8cb004d34fc3af11b6", dump(t, db),
		"the rows of Seed(30 customers, 200 orders, seed 1)")

	o := legacyshop.SeedOptions{Customers: 30, Products: 25, Orders: 200, Seed: 1}
	a, b := newShop(t, o), newShop(t, o)
	assert.Equal(t, dump(t, a.db), dump(t, b.db), "the same options, the same rows")
	o.Seed = 2
	c := newShop(t, o)
	assert.NotEqual(t, dump(t, a.db), dump(t, c.db), "another seed, other rows")

	const same = "SELECT GROUP_CONCAT(CONCAT_WS('|', id, customer_id, status, COALESCE(note, '-'), placed_at) ORDER BY id SEPARATOR '\n') FROM orders"
	assert.Equal(t, scalar[string](t, db, same), scalar[string](t, a.db, same))

	assert.Equal(t, 25, scalar[int](t, a.db, "SELECT COUNT(*) FROM products"))
	assert.Equal(t, 25, scalar[int](t, a.db, "SELECT COUNT(*) FROM stock"))
	assert.Equal(t, 30, scalar[int](t, a.db, "SELECT COUNT(*) FROM customer_logins"))
	assert.Equal(t, 0, scalar[int](t, a.db, `SELECT COUNT(*) FROM orders o WHERE o.total <>
		(SELECT SUM(i.quantity * i.unit_price) FROM order_items i WHERE i.order_id = o.id)`), "a total is the sum of its items")
	assert.Equal(t, 0, scalar[int](t, a.db, `SELECT COUNT(*) FROM orders o WHERE
		(SELECT COUNT(*) FROM order_items i WHERE i.order_id = o.id) NOT BETWEEN 1 AND 4`), "one to four items an order")
	assert.Equal(t, 10, scalar[int](t, a.db, "SELECT COUNT(*) FROM orders WHERE note LIKE '%&%'"), "every 20th order")
	assert.Equal(t, 2, scalar[int](t, a.db, "SELECT COUNT(*) FROM products WHERE active = 0"), "every 10th product")
	assert.GreaterOrEqual(t, scalar[int](t, a.db, "SELECT COUNT(*) FROM stock WHERE quantity = 0"), 3, "every 8th product at least")
	assert.Equal(t, 25, scalar[int](t, a.db, "SELECT COUNT(*) FROM products WHERE sku REGEXP '^[A-Z]{3}-[0-9]{4}$'"))

	assert.ErrorContains(t, legacyshop.SeedWith(ctx, openDB(t), legacyshop.SeedOptions{Orders: 3}), "orders need customers")
	assert.ErrorContains(t, legacyshop.SeedWith(ctx, openDB(t), legacyshop.SeedOptions{Customers: -1}), "negative")
	assert.Error(t, legacyshop.Seed(ctx, db, 30, 200, 1), "the ids are taken")
	assert.Equal(t, 200, scalar[int](t, db, "SELECT COUNT(*) FROM orders"), "a failed seed writes nothing")
}

// TestMigrate creates both releases' tables on an empty database, on one
// of release 1 with its rows, and again on its own result.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	tables := func(t *testing.T, s *shop) string {
		names := strings.Split(scalar[string](t, s.db, "SELECT GROUP_CONCAT(table_name) FROM information_schema.tables WHERE table_schema = DATABASE()"), ",")
		sort.Strings(names)
		return strings.Join(names, ",")
	}
	const all = "customer_logins,customers,order_items,orders,products,sessions,stock"
	empty := newShop(t, legacyshop.SeedOptions{})
	assert.Equal(t, all, tables(t, empty))
	require.NoError(t, legacyshop.Migrate(ctx, empty.db), "a second run")

	db := openDB(t)
	require.NoError(t, legacyshop.Create(ctx, db))
	require.NoError(t, legacyshop.Seed(ctx, db, 5, 10, 1))
	require.NoError(t, legacyshop.Migrate(ctx, db))
	s := serve(t, db)
	assert.Equal(t, all, tables(t, s))
	assert.Equal(t, 10, scalar[int](t, db, "SELECT COUNT(*) FROM orders"), "the rows stay")
	assert.Error(t, legacyshop.Create(ctx, db), "Create makes the tables of release 1, which exist")
	assert.Len(t, legacyshop.Statements(), 2, "release 1: customers and orders")
}
