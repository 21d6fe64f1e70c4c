package legacyshop_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/testdata/legacyshop"
)

// counts are the rows a placement may write.
func counts(t *testing.T, s *shop) [3]int64 {
	return [3]int64{
		scalar[int64](t, s.db, "SELECT COUNT(*) FROM orders"),
		scalar[int64](t, s.db, "SELECT COUNT(*) FROM order_items"),
		scalar[int64](t, s.db, "SELECT SUM(quantity) FROM stock"),
	}
}

// TestPlaceOrder: POST /api/orders with items takes the stock, writes the
// order with the total of its lines and its lines, in one transaction; a
// short stock is a 409 and a bad body a 422, and neither writes anything.
func TestPlaceOrder(t *testing.T) {
	s := newShop(t, legacyshop.SeedOptions{Customers: 3, Products: 10})
	_, err := s.db.Exec("UPDATE stock SET quantity = 10 WHERE product_id IN (1, 2)")
	require.NoError(t, err)
	price := func(id int) int64 {
		return cents(t, scalar[string](t, s.db, "SELECT price FROM products WHERE id = ?", id))
	}

	a := s.do(t, http.MethodPost, "/api/orders",
		`{"customer_id": 2, "items": [{"product_id": 1, "quantity": 3}, {"product_id": 2, "quantity": 1}, {"product_id": 1, "quantity": 1}], "note": "gift & wrap"}`)
	require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
	o := obj(t, a.json(t)["data"])
	id := num(t, o["id"])
	assert.Equal(t, fmt.Sprintf("/api/orders/%d", id), a.header.Get("Location"))
	assert.Equal(t, int64(2), num(t, o["customerId"]))
	assert.Equal(t, "new", o["status"])
	assert.Equal(t, 4*price(1)+price(2), cents(t, o["total"]), "the total of the lines at today's prices")
	assert.Regexp(t, dateRe, o["placedAt"])
	items := list(t, o["items"])
	require.Len(t, items, 2, "the lines of one product are added up")
	assert.Equal(t, int64(1), num(t, obj(t, items[0])["product_id"]))
	assert.Equal(t, int64(4), num(t, obj(t, items[0])["quantity"]))
	assert.Equal(t, int64(6), scalar[int64](t, s.db, "SELECT quantity FROM stock WHERE product_id = 1"))
	assert.Equal(t, int64(9), scalar[int64](t, s.db, "SELECT quantity FROM stock WHERE product_id = 2"))
	assert.Equal(t, int64(2), scalar[int64](t, s.db, "SELECT COUNT(*) FROM order_items WHERE order_id = ?", id))

	got := obj(t, s.get(t, fmt.Sprintf("/api/orders/%d", id)).json(t)["data"])
	assert.Equal(t, "gift &amp; wrap", got["note"])
	assert.Len(t, list(t, got["items"]), 2)

	// customerId, release 1's name, is taken too.
	a = s.do(t, http.MethodPost, "/api/orders", `{"customerId": 3, "items": [{"product_id": 2, "quantity": 1}]}`)
	require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
	assert.Equal(t, int64(3), num(t, obj(t, a.json(t)["data"])["customerId"]))

	before := counts(t, s)
	// Product 1 is taken first, then product 2 is short: product 1 is
	// given back.
	a = s.do(t, http.MethodPost, "/api/orders", `{"customer_id": 2, "items": [{"product_id": 2, "quantity": 50}, {"product_id": 1, "quantity": 1}]}`)
	require.Equal(t, http.StatusConflict, a.status, "%s", a.body)
	assert.Equal(t, "application/json", a.header.Get("Content-Type"))
	assert.JSONEq(t, `{"error": "insufficient stock", "product_id": 2, "requested": 50, "available": 8}`, string(a.body))
	assert.Equal(t, before, counts(t, s), "a refused order writes nothing")
	a = s.do(t, http.MethodPost, "/api/orders", `{"customer_id": 2, "items": [{"product_id": 8, "quantity": 1}]}`)
	assert.Equal(t, http.StatusConflict, a.status, "%s", a.body) // every 8th seeded product has none

	for _, tc := range []struct{ name, body, field string }{
		{"no items", `{"customer_id": 2, "items": []}`, "items"},
		{"no customer", `{"items": [{"product_id": 1, "quantity": 1}]}`, "customer_id"},
		{"unknown customer", `{"customer_id": 99, "items": [{"product_id": 1, "quantity": 1}]}`, "customer_id"},
		{"no product id", `{"customer_id": 2, "items": [{"quantity": 1}]}`, "items[0].product_id"},
		{"unknown product", `{"customer_id": 2, "items": [{"product_id": 1, "quantity": 1}, {"product_id": 999, "quantity": 1}]}`, "items"},
		{"product not for sale", `{"customer_id": 2, "items": [{"product_id": 10, "quantity": 1}]}`, "items"},
		{"zero quantity", `{"customer_id": 2, "items": [{"product_id": 1, "quantity": 0}]}`, "items[0].quantity"},
		{"negative quantity", `{"customer_id": 2, "items": [{"product_id": 1, "quantity": 2}, {"product_id": 2, "quantity": -1}]}`, "items[1].quantity"},
		{"too many", `{"customer_id": 2, "items": [{"product_id": 1, "quantity": 1001}]}`, "items[0].quantity"},
		{"too many added up", `{"customer_id": 2, "items": [{"product_id": 1, "quantity": 600}, {"product_id": 1, "quantity": 600}]}`, "items[1].quantity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := s.do(t, http.MethodPost, "/api/orders", tc.body)
			require.Equal(t, http.StatusUnprocessableEntity, a.status, "%s", a.body)
			v := a.json(t)
			assert.Equal(t, []string{"error", "field"}, keys(v))
			assert.Equal(t, tc.field, v["field"])
			assert.Equal(t, before, counts(t, s))
		})
	}
	a = s.do(t, http.MethodPost, "/api/orders", `{"customer_id": 2, "items": [`)
	assert.Equal(t, http.StatusBadRequest, a.status)
	assert.JSONEq(t, `{"error": "bad json"}`, string(a.body))
	assert.Equal(t, before, counts(t, s))
}

// TestConcurrentOrdersSellExactlyTheStock: orders placed at the same time
// for the last items sell exactly the stock, never more; orders of the same
// products listed in opposite orders do not deadlock.
func TestConcurrentOrdersSellExactlyTheStock(t *testing.T) {
	s := newShop(t, legacyshop.SeedOptions{Customers: 3, Products: 5})
	_, err := s.db.Exec("UPDATE stock SET quantity = CASE product_id WHEN 1 THEN 5 ELSE 6 END")
	require.NoError(t, err)

	// place sends every body at once and counts the statuses.
	place := func(bodies []string) map[int]int {
		var mu sync.Mutex
		statuses := map[int]int{}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, b := range bodies {
			wg.Go(func() {
				<-start
				resp, err := http.Post(s.url+"/api/orders", "application/json", strings.NewReader(b))
				code := -1 // the request failed
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				mu.Lock()
				statuses[code]++
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		return statuses
	}

	one := make([]string, 30)
	for i := range one {
		one[i] = fmt.Sprintf(`{"customer_id": %d, "items": [{"product_id": 1, "quantity": 1}]}`, i%3+1)
	}
	assert.Equal(t, map[int]int{http.StatusCreated: 5, http.StatusConflict: 25}, place(one))
	assert.Equal(t, int64(0), scalar[int64](t, s.db, "SELECT quantity FROM stock WHERE product_id = 1"))
	assert.Equal(t, int64(5), scalar[int64](t, s.db, "SELECT SUM(quantity) FROM order_items WHERE product_id = 1"))
	assert.Equal(t, int64(5), scalar[int64](t, s.db, "SELECT COUNT(*) FROM orders"))

	two := make([]string, 20)
	for i := range two {
		a, b := 2, 3
		if i%2 == 1 {
			a, b = b, a
		}
		two[i] = fmt.Sprintf(`{"customer_id": 1, "items": [{"product_id": %d, "quantity": 2}, {"product_id": %d, "quantity": 2}]}`, a, b)
	}
	assert.Equal(t, map[int]int{http.StatusCreated: 3, http.StatusConflict: 17}, place(two))
	assert.Equal(t, int64(0), scalar[int64](t, s.db, "SELECT quantity FROM stock WHERE product_id = 2"))
	assert.Equal(t, int64(0), scalar[int64](t, s.db, "SELECT quantity FROM stock WHERE product_id = 3"))
	assert.Equal(t, int64(0), scalar[int64](t, s.db, "SELECT COUNT(*) FROM stock WHERE quantity < 0"))
	assert.Equal(t, int64(12), scalar[int64](t, s.db, "SELECT SUM(quantity) FROM order_items WHERE product_id IN (2, 3)"))
	assert.Equal(t, int64(0), scalar[int64](t, s.db, `SELECT COUNT(*) FROM orders o WHERE o.total <>
		(SELECT SUM(i.quantity * i.unit_price) FROM order_items i WHERE i.order_id = o.id)`))
}
