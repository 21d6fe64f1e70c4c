package legacyshop_test

import (
	"fmt"
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/testdata/legacyshop"
)

var pageMetaKeys = []string{"page", "per_page", "request_id", "total"}

// TestProductPages: page and per_page (10 unless asked, at most 50, a bad
// value is the default), the total of every product, and the answer's
// shape: snake_case, money as strings, 0/1 flags, local dates.
func TestProductPages(t *testing.T) {
	s := newShop(t, legacyshop.SeedOptions{Customers: 2, Products: 23})
	for _, tc := range []struct {
		name, query            string
		page, perPage, n, from int64
	}{
		{"default", "", 1, 10, 10, 1},
		{"second page", "page=2", 2, 10, 10, 11},
		{"last page", "page=3", 3, 10, 3, 21},
		{"past the end", "page=4", 4, 10, 0, 0},
		{"smaller pages", "page=5&per_page=5", 5, 5, 3, 21},
		{"per_page above the maximum", "per_page=500", 1, 50, 23, 1},
		{"page zero", "page=0", 1, 10, 10, 1},
		{"negative page", "page=-3&per_page=4", 1, 4, 4, 1},
		{"not numbers", "page=x&per_page=y", 1, 10, 10, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := s.get(t, "/api/products?"+tc.query)
			require.Equal(t, http.StatusOK, a.status, "%s", a.body)
			assert.Equal(t, "application/json", a.header.Get("Content-Type"))
			v := a.json(t)
			assert.Equal(t, []string{"data", "meta"}, keys(v))
			meta := obj(t, v["meta"])
			assert.Equal(t, pageMetaKeys, keys(meta))
			assert.Equal(t, tc.page, num(t, meta["page"]))
			assert.Equal(t, tc.perPage, num(t, meta["per_page"]))
			assert.Equal(t, int64(23), num(t, meta["total"]))
			l := list(t, v["data"])
			require.Len(t, l, int(tc.n))
			if tc.n > 0 {
				assert.Equal(t, tc.from, num(t, obj(t, l[0])["id"]))
			}
			for _, p := range l {
				p := obj(t, p)
				assert.Equal(t, []string{"active", "created_at", "id", "name", "price", "sku"}, keys(p))
				assert.Regexp(t, moneyRe, p["price"])
				assert.Regexp(t, dateRe, p["created_at"])
				assert.Contains(t, []int64{0, 1}, num(t, p["active"]))
			}
		})
	}
	var ids []int64
	for page := 1; page <= 4; page++ {
		for _, p := range list(t, s.get(t, fmt.Sprintf("/api/products?page=%d&per_page=7", page)).json(t)["data"]) {
			ids = append(ids, num(t, obj(t, p)["id"]))
		}
	}
	require.Len(t, ids, 23, "the pages hold every product once")
	for i, id := range ids {
		assert.Equal(t, int64(i+1), id)
	}
	assert.Equal(t, int64(0), num(t, obj(t, list(t, s.get(t, "/api/products?per_page=50").json(t)["data"])[9])["active"]),
		"inactive products are listed too")
}

// TestProduct: one product with in_stock (0/1) and stockLevel computed from
// the stock table.
func TestProduct(t *testing.T) {
	s := newShop(t, legacyshop.SeedOptions{Customers: 2, Products: 10})
	_, err := s.db.Exec("UPDATE stock SET quantity = 7 WHERE product_id = 1")
	require.NoError(t, err)
	_, err = s.db.Exec("DELETE FROM stock WHERE product_id = 3")
	require.NoError(t, err)
	for _, tc := range []struct {
		name           string
		id             int
		inStock, level int64
	}{
		{"in stock", 1, 1, 7},
		{"sold out", 8, 0, 0}, // every 8th seeded product has none
		{"no stock row", 3, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := s.get(t, fmt.Sprintf("/api/products/%d", tc.id))
			require.Equal(t, http.StatusOK, a.status, "%s", a.body)
			v := a.json(t)
			assert.Equal(t, []string{"data", "meta"}, keys(v))
			assert.Equal(t, []string{"request_id"}, keys(v["meta"]))
			p := obj(t, v["data"])
			assert.Equal(t, []string{"active", "created_at", "id", "in_stock", "name", "price", "sku", "stockLevel"}, keys(p))
			assert.Equal(t, tc.inStock, num(t, p["in_stock"]))
			assert.Equal(t, tc.level, num(t, p["stockLevel"]))
			assert.Regexp(t, moneyRe, p["price"])
		})
	}
	s = newShop(t, legacyshop.SeedOptions{Customers: 1, Products: 15})
	assert.Equal(t, "Salt & Pepper Set", obj(t, s.get(t, "/api/products/15").json(t)["data"])["name"],
		"every 15th product; JSON answers leave names as they are")
	a := s.get(t, "/api/products/99")
	assert.Equal(t, http.StatusNotFound, a.status)
	assert.JSONEq(t, `{"error": "product not found"}`, string(a.body))
	assert.Equal(t, http.StatusBadRequest, s.get(t, "/api/products/x").status)
}

// TestCustomerFigures: order_count counts every order of the customer,
// lifetime_value adds up those not cancelled, from their items where they
// have some and from their total where they have none.
func TestCustomerFigures(t *testing.T) {
	s := newShop(t, legacyshop.SeedOptions{Customers: 3, Products: 5})
	_, err := s.db.Exec("UPDATE stock SET quantity = 100")
	require.NoError(t, err)
	_, err = s.db.Exec("UPDATE products SET active = 1")
	require.NoError(t, err)
	place := func(body string) map[string]any {
		a := s.do(t, http.MethodPost, "/api/orders", body)
		require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
		return obj(t, a.json(t)["data"])
	}
	kept := place(`{"customer_id": 1, "items": [{"product_id": 1, "quantity": 2}, {"product_id": 2, "quantity": 1}]}`)
	cancelled := place(`{"customer_id": 1, "items": [{"product_id": 3, "quantity": 1}]}`)
	_, err = s.db.Exec("UPDATE orders SET status = 'cancelled' WHERE id = ?", num(t, cancelled["id"]))
	require.NoError(t, err)
	old := place(`{"customerId": 1, "status": "paid", "total": "10.05"}`) // release 1: no items
	place(`{"customer_id": 2, "items": [{"product_id": 4, "quantity": 1}]}`)
	// The stored total of an order with items does not count: its items do.
	_, err = s.db.Exec("UPDATE orders SET total = 0 WHERE id = ?", num(t, kept["id"]))
	require.NoError(t, err)

	a := s.get(t, "/api/customers/1?include=stats")
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	c := obj(t, a.json(t)["data"])
	assert.Equal(t, []string{"createdAt", "email", "id", "lifetime_value", "name", "order_count", "vip"}, keys(c))
	assert.Equal(t, int64(3), num(t, c["order_count"]), "cancelled orders count")
	want := cents(t, kept["total"]) + cents(t, old["total"])
	assert.Equal(t, fmt.Sprintf("%d.%02d", want/100, want%100), c["lifetime_value"])

	c = obj(t, s.get(t, "/api/customers/3?include=stats").json(t)["data"])
	assert.Equal(t, int64(0), num(t, c["order_count"]))
	assert.Equal(t, "0.00", c["lifetime_value"])
	assert.Equal(t, []string{"createdAt", "email", "id", "name", "vip"}, keys(s.get(t, "/api/customers/1").json(t)["data"]),
		"without include=stats, the answer of release 1")
}

// TestOrdersOfACustomer: customer_id filters the list, page and per_page
// page it with release 2's meta; limit and offset keep release 1's.
func TestOrdersOfACustomer(t *testing.T) {
	s := newShop(t, legacyshop.SeedOptions{Customers: 5, Products: 10, Orders: 120})
	want := scalar[int64](t, s.db, "SELECT COUNT(*) FROM orders WHERE customer_id = 2")
	require.Greater(t, want, int64(14))
	var ids []int64
	for page := 1; ; page++ {
		a := s.get(t, fmt.Sprintf("/api/orders?customer_id=2&page=%d&per_page=7", page))
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		v := a.json(t)
		meta := obj(t, v["meta"])
		assert.Equal(t, pageMetaKeys, keys(meta))
		assert.Equal(t, want, num(t, meta["total"]))
		assert.Equal(t, int64(page), num(t, meta["page"]))
		assert.Equal(t, int64(7), num(t, meta["per_page"]))
		l := list(t, v["data"])
		if len(l) == 0 {
			break
		}
		for _, o := range l {
			o := obj(t, o)
			assert.Equal(t, int64(2), num(t, o["customerId"]))
			assert.NotContains(t, keys(o), "items", "lists carry no items")
			ids = append(ids, num(t, o["id"]))
		}
	}
	require.Len(t, ids, int(want))
	assert.IsIncreasing(t, ids)

	v := s.get(t, "/api/orders?customer_id=2&limit=3").json(t)
	assert.Equal(t, []string{"total"}, keys(v["meta"]))
	assert.Equal(t, want, num(t, obj(t, v["meta"])["total"]))
	assert.Len(t, list(t, v["data"]), 3)

	v = s.get(t, "/api/orders?per_page=1000").json(t)
	assert.Equal(t, int64(100), num(t, obj(t, v["meta"])["per_page"]), "at most 100")
	assert.Equal(t, int64(120), num(t, obj(t, v["meta"])["total"]))
	assert.Len(t, list(t, v["data"]), 100)

	// The old code hands the filter to MariaDB as text, which casts it.
	v = s.get(t, "/api/orders?customer_id=2abc&page=1").json(t)
	assert.Equal(t, want, num(t, obj(t, v["meta"])["total"]))
}

// TestOrderWithItems: an order with items answers them, in snake_case
// inside the camelCase order; its total is their sum.
func TestOrderWithItems(t *testing.T) {
	s := newShop(t, legacyshop.SeedOptions{Customers: 5, Products: 10, Orders: 30})
	a := s.get(t, "/api/orders/7")
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	o := obj(t, a.json(t)["data"])
	assert.Equal(t, []string{"customer", "customerId", "id", "items", "note", "placedAt", "requestId", "status", "total"}, keys(o))
	var sum int64
	items := list(t, o["items"])
	require.NotEmpty(t, items)
	for _, it := range items {
		it := obj(t, it)
		assert.Equal(t, []string{"line_total", "name", "product_id", "quantity", "sku", "unit_price"}, keys(it))
		assert.Equal(t, num(t, it["quantity"])*cents(t, it["unit_price"]), cents(t, it["line_total"]))
		sum += cents(t, it["line_total"])
	}
	assert.Equal(t, sum, cents(t, o["total"]))
}

// TestRequestIDPerAnswer: the request id is made up for every answer.
func TestRequestIDPerAnswer(t *testing.T) {
	s := newShop(t, legacyshop.SeedOptions{Customers: 2, Products: 3, Orders: 3})
	hex16 := regexp.MustCompile(`^[0-9a-f]{16}$`)
	for _, tc := range []struct{ path, in, field string }{
		{"/api/orders/1", "data", "requestId"},
		{"/api/orders?page=1", "meta", "request_id"},
		{"/api/products", "meta", "request_id"},
		{"/api/products/1", "meta", "request_id"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			seen := map[string]bool{}
			for range 5 {
				id, _ := obj(t, s.get(t, tc.path).json(t)[tc.in])[tc.field].(string)
				assert.Regexp(t, hex16, id)
				assert.False(t, seen[id], "%s answered twice", id)
				seen[id] = true
			}
		})
	}
}
