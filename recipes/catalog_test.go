package recipes

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCatalogShapes serves the catalog recipe — uuid keys, bare answers,
// flags as 1/0, nulls omitted, cursor pages, json and date fields, a
// write-only field — and validates every answer against its OpenAPI schema.
func TestCatalogShapes(t *testing.T) {
	r, err := Load("../testdata/legacyshop/recipes/catalog.yaml")
	require.NoError(t, err)
	e := newEnv(t, r)
	doc, err := OpenAPI(r)
	require.NoError(t, err)
	router, err := gorillamux.NewRouter(loadOpenAPI(t, doc))
	require.NoError(t, err)
	checker := &responseChecker{next: e.svc, router: router, seen: map[string]bool{}}
	e.srv.Config.Handler = checker

	var ids []string
	for i, p := range []map[string]any{
		{"sku": "ABC-0001", "title": "Kettle", "price": 20, "cost": "12.5", "attributes": map[string]any{"colour": "red"}, "released_on": "2025-10-01"},
		{"sku": "ABC-0002", "title": "Teapot", "price": "35.5", "in_stock": 0, "weight_kg": 1.25},
		{"sku": "ABC-0003", "title": "Mug", "price": 4},
	} {
		_, body := e.must(201, "POST", "/v2/products", p)
		var got map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &got), body)
		id, _ := got["id"].(string)
		require.Len(t, id, 36, "a generated uuid: %s", body)
		ids = append(ids, id)
		assert.NotContains(t, body, "cost", "write-only fields are never answered")
		if i == 0 {
			assert.JSONEq(t, `{"id":"`+id+`","sku":"ABC-0001","title":"Kettle","price":20.00,"in_stock":1,"released_on":"2025-10-01","attributes":{"colour":"red"}}`, body)
			assert.Contains(t, body, `"price":20.00`, "decimals as numbers keep their scale")
		}
		if i == 2 {
			assert.NotContains(t, body, "weight_kg", "nulls are omitted")
		}
	}
	_, body := e.must(200, "GET", "/v2/products/"+ids[1], nil)
	assert.JSONEq(t, `{"id":"`+ids[1]+`","sku":"ABC-0002","title":"Teapot","price":35.50,"weight_kg":1.25,"in_stock":0}`, body)
	e.must(404, "GET", "/v2/products/not-a-uuid", nil)
	e.must(404, "GET", "/v2/products/00000000-0000-4000-8000-000000000000", nil)

	t.Run("cursor pages over uuid keys", func(t *testing.T) {
		var seen []string
		path := "/v2/products?limit=2"
		for range 4 {
			resp, body := e.must(200, "GET", path, nil)
			var page []map[string]any
			require.NoError(t, json.Unmarshal([]byte(body), &page), body)
			for _, p := range page {
				seen = append(seen, p["sku"].(string))
			}
			next := resp.Header.Get("X-Next-Cursor")
			if next == "" {
				break
			}
			assert.Equal(t, cursorOf(page[len(page)-1]["id"].(string)), next)
			path = "/v2/products?limit=2&cursor=" + next
		}
		assert.ElementsMatch(t, []string{"ABC-0001", "ABC-0002", "ABC-0003"}, seen)
	})
	t.Run("filters on flags and dates", func(t *testing.T) {
		_, body := e.must(200, "GET", "/v2/products?in_stock=0", nil)
		assert.Contains(t, body, "ABC-0002")
		assert.NotContains(t, body, "ABC-0001")
		_, body = e.must(200, "GET", "/v2/products?released_on[gte]=2025-01-01", nil)
		assert.Contains(t, body, "ABC-0001")
		assert.NotContains(t, body, "ABC-0003")
	})
	t.Run("patch, rules over a write-only field, delete", func(t *testing.T) {
		_, body := e.must(422, "PATCH", "/v2/products/"+ids[0], map[string]any{"price": 10})
		assert.Contains(t, body, "the price is below cost")
		_, body = e.must(200, "PATCH", "/v2/products/"+ids[0], map[string]any{"price": 15, "in_stock": 0})
		assert.Contains(t, body, `"price":15.00,"in_stock":0`)
		e.must(204, "DELETE", "/v2/products/"+ids[2], nil)
		e.must(404, "DELETE", "/v2/products/"+ids[2], nil)
	})
	t.Run("named query with a decimal parameter", func(t *testing.T) {
		_, body := e.must(200, "GET", "/v2/stock-value", nil)
		assert.JSONEq(t, `[{"products":0,"value":0}]`, body)
		e.must(200, "PATCH", "/v2/products/"+ids[1], map[string]any{"in_stock": 1})
		_, body = e.must(200, "GET", "/v2/stock-value?min_price=30", nil)
		assert.JSONEq(t, `[{"products":1,"value":35.50}]`, body)
		e.must(400, "GET", "/v2/stock-value?min_price=lots", nil)
	})
	checker.mu.Lock()
	defer checker.mu.Unlock()
	assert.Empty(t, checker.errs, strings.Join(checker.errs, "\n"))
}

func cursorOf(key string) string {
	return strings.TrimRight(base64URL(key), "=")
}

func base64URL(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
