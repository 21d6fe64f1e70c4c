package recipes

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEndpointKinds drives every kind of endpoint and checks the exact
// legacy-shaped JSON: data envelope, camelCase names, amounts as strings
// with two decimals, timestamps as "2006-01-02 15:04:05", embedded customer.
func TestEndpointKinds(t *testing.T) {
	e := newEnv(t, loadRecipe(t, nil))
	e.seed()

	t.Run("create", func(t *testing.T) {
		resp, body := e.must(201, "POST", "/api/orders", map[string]any{"customerId": 2, "total": "7.5"})
		assert.Equal(t, "/api/orders/6", resp.Header.Get("Location"))
		assert.NotEmpty(t, resp.Header.Get("ETag"))
		assert.JSONEq(t, `{"data":{"id":6,"customerId":2,"status":"new","total":"7.50","note":null,"placedAt":"2026-03-04 05:06:07"}}`, body)
		assert.True(t, strings.HasPrefix(body, `{"data":{"id":6,"customerId":2,`), "fields keep the recipe's order: %s", body)
	})
	t.Run("get with embedded customer", func(t *testing.T) {
		_, body := e.must(200, "GET", "/api/orders/3", nil)
		assert.Equal(t, `{"data":{"id":3,"customerId":2,"status":"paid","total":"99.99","note":"gift","placedAt":"2026-01-03 10:00:00",`+
			`"customer":{"id":2,"name":"Bob","email":"bob@example.com","vip":false,"createdAt":"2026-03-04 05:06:07"}}}`, body)
	})
	t.Run("get with embedded list of orders", func(t *testing.T) {
		_, body := e.must(200, "GET", "/api/customers/2", nil)
		assert.Equal(t, `{"data":{"id":2,"name":"Bob","email":"bob@example.com","vip":false,"createdAt":"2026-03-04 05:06:07","orders":[`+
			`{"id":3,"customerId":2,"status":"paid","total":"99.99","note":"gift","placedAt":"2026-01-03 10:00:00"},`+
			`{"id":4,"customerId":2,"status":"shipped","total":"5.00","note":null,"placedAt":"2026-01-04 10:00:00"},`+
			`{"id":6,"customerId":2,"status":"new","total":"7.50","note":null,"placedAt":"2026-03-04 05:06:07"}]}}`, body)
		_, body = e.must(201, "POST", "/api/customers", map[string]any{"name": "Cy", "email": "cy@example.com"})
		assert.NotContains(t, body, "orders", "create does not embed")
		_, body = e.must(200, "GET", "/api/customers/3", nil)
		assert.Contains(t, body, `"orders":[]`)
	})
	t.Run("list with total", func(t *testing.T) {
		_, body := e.must(200, "GET", "/api/orders?limit=2", nil)
		var got struct {
			Data []map[string]any `json:"data"`
			Meta map[string]any   `json:"meta"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &got))
		assert.Len(t, got.Data, 2)
		assert.Equal(t, map[string]any{"total": float64(6)}, got.Meta)
		assert.Equal(t, "Ada", got.Data[0]["customer"].(map[string]any)["name"])
	})
	t.Run("list under a parent path", func(t *testing.T) {
		_, body := e.must(200, "GET", "/api/customers/2/orders", nil)
		assert.Equal(t, []float64{3, 4, 6}, ids(t, body))
	})
	t.Run("replace", func(t *testing.T) {
		_, body := e.must(200, "PUT", "/api/orders/2", map[string]any{"customerId": 2, "status": "paid", "total": "30", "placedAt": "2026-01-02 11:00:00"})
		assert.JSONEq(t, `{"data":{"id":2,"customerId":2,"status":"paid","total":"30.00","note":null,"placedAt":"2026-01-02 11:00:00"}}`, body)
	})
	t.Run("patch", func(t *testing.T) {
		_, body := e.must(200, "PATCH", "/api/orders/2", map[string]any{"note": "rush"})
		assert.JSONEq(t, `{"data":{"id":2,"customerId":2,"status":"paid","total":"30.00","note":"rush","placedAt":"2026-01-02 11:00:00"}}`, body)
		_, body = e.must(200, "PATCH", "/api/orders/2", `{"note": null}`)
		assert.Contains(t, body, `"note":null`)
	})
	t.Run("delete", func(t *testing.T) {
		resp, body := e.must(204, "DELETE", "/api/orders/6", nil)
		assert.Empty(t, body)
		assert.Empty(t, resp.Header.Get(HeaderDryRun))
		e.must(404, "GET", "/api/orders/6", nil)
	})
	t.Run("named query", func(t *testing.T) {
		_, body := e.must(200, "GET", "/api/customers/1/stats", nil)
		assert.JSONEq(t, `{"data":{"orderCount":2,"totalSpent":"10.00"}}`, body)
		_, body = e.must(200, "GET", "/api/customers/1/stats?status=paid", nil)
		assert.JSONEq(t, `{"data":{"orderCount":1,"totalSpent":"10.00"}}`, body)
	})
	t.Run("events written in the write's transaction", func(t *testing.T) {
		var types []string
		rows, err := e.pool.Query(testCtx(t), "SELECT event_type FROM strangler_outbox ORDER BY id")
		require.NoError(t, err)
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			types = append(types, s)
		}
		require.NoError(t, rows.Err())
		assert.Equal(t, []string{"OrderPlaced", "OrderPlaced", "OrderPlaced", "OrderPlaced", "OrderPlaced", "OrderPlaced",
			"OrderReplaced", "OrderChanged", "OrderChanged", "OrderDeleted"}, types)
	})
}

func ids(t *testing.T, body string) []float64 {
	t.Helper()
	var got struct {
		Data []map[string]any `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got), body)
	out := []float64{}
	for _, d := range got.Data {
		out = append(out, d["id"].(float64))
	}
	return out
}

func TestListFiltersSortPagination(t *testing.T) {
	e := newEnv(t, loadRecipe(t, nil))
	e.seed()
	for _, tc := range []struct {
		name  string
		query string
		want  []float64
		total float64
	}{
		{"all in key order", "", []float64{1, 2, 3, 4, 5}, 5},
		{"equality", "?status=paid", []float64{1, 3}, 2},
		{"range on a decimal", "?total[gte]=10&total[lt]=99.99", []float64{1, 2}, 2},
		{"range on a timestamp", "?placedAt[gt]=2026-01-02%2010:00:00", []float64{3, 4, 5}, 3},
		{"not equal", "?status[ne]=paid&customerId=1", []float64{2, 5}, 2},
		{"sort descending", "?sort=-total", []float64{3, 2, 1, 4, 5}, 5},
		{"sort by two fields", "?sort=-placedAt,total&limit=2", []float64{5, 4}, 5},
		{"offset and limit", "?limit=2&offset=2", []float64{3, 4}, 5},
		{"offset past the end still counts", "?offset=10", []float64{}, 5},
		{"nothing matches", "?status=shipped&customerId=1", []float64{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, body := e.must(200, "GET", "/api/orders"+tc.query, nil)
			assert.Equal(t, tc.want, ids(t, body))
			var got struct{ Meta struct{ Total float64 } }
			require.NoError(t, json.Unmarshal([]byte(body), &got))
			assert.Equal(t, tc.total, got.Meta.Total)
		})
	}
}

func TestCursorPagination(t *testing.T) {
	r := loadRecipe(t, func(s string) string {
		s = strings.Replace(s, "pagination: offset", "pagination: cursor", 1)
		s = strings.Replace(s, "meta: [total]", "meta: [next_cursor]", 1)
		s = strings.ReplaceAll(s, ", sort: [placed_at, total, id]", "")
		return strings.ReplaceAll(s, ", sort: [placed_at]", "")
	})
	e := newEnv(t, r)
	e.seed()
	var seen []float64
	path := "/api/orders?limit=2&status[ne]=cancelled"
	for range 5 {
		_, body := e.must(200, "GET", path, nil)
		seen = append(seen, ids(t, body)...)
		var got struct{ Meta struct{ NextCursor *string } }
		require.NoError(t, json.Unmarshal([]byte(body), &got))
		if got.Meta.NextCursor == nil {
			break
		}
		path = "/api/orders?limit=2&status[ne]=cancelled&cursor=" + *got.Meta.NextCursor
	}
	assert.Equal(t, []float64{1, 2, 3, 4}, seen)
	resp, body := e.do("GET", "/api/orders?cursor=!!", nil)
	assert.Equal(t, 400, resp.StatusCode, body)
	resp, body = e.do("GET", "/api/orders?offset=2", nil)
	assert.Equal(t, 400, resp.StatusCode, "offset is not a parameter of cursor pagination: %s", body)
}

// TestNamedQueriesAreReadOnly: a named query that tries to write fails in
// its READ ONLY transaction and changes nothing.
func TestNamedQueriesAreReadOnly(t *testing.T) {
	r := loadRecipe(t, func(s string) string {
		return s + `  - name: sneakyWrite
    method: GET
    path: /sneaky/{id}
    action: query
    query:
      sql: update orders set note = 'changed' where id = :id returning id
      params: [{name: id, type: integer}]
`
	})
	e := newEnv(t, r)
	e.seed()
	_, body := e.must(500, "GET", "/api/sneaky/1", nil)
	assert.Contains(t, body, "running query sneakyWrite failed")
	assert.NotContains(t, body, "read-only", "database errors are not shown to clients")
	_, body = e.must(200, "GET", "/api/orders/1", nil)
	assert.Contains(t, body, `"note":null`)
}

// TestNamedQueriesAreDescribed: Start prepares each named query, types its
// row in the OpenAPI document, and refuses a query PostgreSQL refuses; so
// does a reload.
func TestNamedQueriesAreDescribed(t *testing.T) {
	e := newEnv(t, loadRecipe(t, nil))
	_, body := e.must(200, "GET", "/openapi.json", nil)
	assert.Contains(t, body, `"description": "a row of the query: orderCount, totalSpent"`)

	broken := loadRecipe(t, func(s string) string {
		return strings.Replace(s, "from orders where customer_id", "from orderz where customer_id", 1)
	})
	err := e.svc.Reload(broken)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `endpoints[10] (customerStats): query does not prepare`)
	assert.Contains(t, err.Error(), `relation "orderz" does not exist`)
	e.must(200, "GET", "/api/customers/1/stats", nil)

	svc, err := NewService(broken, e.pool)
	require.NoError(t, err, "compiling needs no database")
	err = svc.Start(testCtx(t))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `starting service "orders"`)
}
