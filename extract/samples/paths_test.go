package samples_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stranglerfig/strangler/extract/samples"
	"github.com/stranglerfig/strangler/proxy/capture"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTemplates(t *testing.T) {
	notFound := func(path string) capture.Record {
		return record(http.MethodGet, path, 404, `{"error":"not found"}`)
	}
	ordersList := `{"data":[{"id":1,"status":"paid"},{"id":2,"status":"new"}]}`
	tests := []struct {
		name string
		recs []capture.Record
		want []string
	}{{
		name: "integer ids",
		recs: []capture.Record{get("/api/orders/123", `{"id":123}`), get("/api/orders/456", `{"id":456}`)},
		want: []string{"GET /api/orders/{id}"},
	}, {
		name: "a single id is still a variable",
		recs: []capture.Record{notFound("/api/orders/7")},
		want: []string{"GET /api/orders/{id}"},
	}, {
		name: "slugs found in their answers",
		recs: []capture.Record{
			get("/products/blue-shirt", `{"slug":"blue-shirt","title":"Blue shirt"}`),
			get("/products/red-hat", `{"slug":"red-hat","title":"Red hat"}`),
		},
		want: []string{"GET /products/{slug}"},
	}, {
		name: "slugs without answers, most seen once",
		recs: []capture.Record{notFound("/products/blue-shirt"), notFound("/products/red-hat"),
			notFound("/products/green-socks"), notFound("/products/blue-shirt")},
		want: []string{"GET /products/{id}"},
	}, {
		name: "UUIDs under a version prefix",
		recs: []capture.Record{
			get("/v2/products/3f2504e0-4f89-41d3-9a0c-0305e82c3301", `{"id":"3f2504e0-4f89-41d3-9a0c-0305e82c3301"}`),
			get("/v2/products/9b2c6f4e-1d2a-4c3b-8e5f-6a7b8c9d0e1f", `{"id":"9b2c6f4e-1d2a-4c3b-8e5f-6a7b8c9d0e1f"}`),
		},
		want: []string{"GET /v2/products/{id}"},
	}, {
		name: "version prefixes stay literal",
		recs: []capture.Record{get("/v1/orders/1", `{"id":1}`), get("/v2/orders/2", `{"id":2}`), get("/v2/orders/3", `{"id":3}`)},
		want: []string{"GET /v1/orders/{id}", "GET /v2/orders/{id}"},
	}, {
		name: "a nested resource",
		recs: []capture.Record{
			get("/api/customers/7/orders", `{"data":[{"id":1,"customerId":7},{"id":4,"customerId":7}]}`),
			get("/api/customers/8/orders", `{"data":[{"id":2,"customerId":8}]}`),
			get("/api/customers/7/orders/4", `{"data":{"id":4,"customerId":7}}`),
		},
		want: []string{"GET /api/customers/{customer_id}/orders", "GET /api/customers/{customer_id}/orders/{id}"},
	}, {
		name: "a literal next to ids",
		recs: append([]capture.Record{
			get("/api/orders/recent", ordersList), get("/api/orders/recent", ordersList), get("/api/orders/recent?limit=2", ordersList),
		}, objects(5, "/api/orders/%d", `{"data":{"id":%d,"status":"paid"}}`)...),
		want: []string{"GET /api/orders/recent", "GET /api/orders/{id}"},
	}, {
		name: "a literal seen once next to ids",
		recs: append([]capture.Record{get("/api/orders/recent", ordersList)},
			objects(5, "/api/orders/%d", `{"data":{"id":%d}}`)...),
		want: []string{"GET /api/orders/recent", "GET /api/orders/{id}"},
	}, {
		name: "named reports stay literal",
		recs: []capture.Record{get("/api/reports/daily", `{"orders":4}`), get("/api/reports/weekly", `{"orders":30}`),
			get("/api/reports/monthly", `{"orders":120}`)},
		want: []string{"GET /api/reports/daily", "GET /api/reports/monthly", "GET /api/reports/weekly"},
	}, {
		name: "codes and hex ids",
		recs: []capture.Record{notFound("/api/skus/ABC-1234"), notFound("/api/skus/XYZ-0001"),
			notFound("/api/blobs/5f2b9c1e8a7d"), notFound("/api/blobs/aa00bb11cc22")},
		want: []string{"GET /api/blobs/{id}", "GET /api/skus/{id}"},
	}, {
		name: "redacted variables",
		recs: []capture.Record{notFound("/api/tokens/[REDACTED]")},
		want: []string{"GET /api/tokens/{id}"},
	}, {
		name: "methods share a template; slashes merged",
		recs: []capture.Record{
			get("/api/orders/1/", `{"id":1}`),
			record(http.MethodPut, "/api/orders/2", 200, `{"id":2}`),
			record(http.MethodDelete, "//api/orders/3", 204, ""),
			record(http.MethodPatch, "/api/orders/4", 200, `{"id":4}`),
		},
		want: []string{"GET /api/orders/{id}", "PUT /api/orders/{id}", "PATCH /api/orders/{id}", "DELETE /api/orders/{id}"},
	}, {
		name: "the root",
		recs: []capture.Record{get("/", `{"ok":true}`)},
		want: []string{"GET /"},
	}, {
		name: "a variable before another",
		recs: []capture.Record{notFound("/files/12/34"), notFound("/files/13/35")},
		want: []string{"GET /files/{file_id}/{id}"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, routes(samples.Analyze(tc.recs)))
		})
	}
}

func TestVariablesTiedToKeys(t *testing.T) {
	recs := []capture.Record{
		get("/api/orders/123", `{"data":{"id":123,"customerId":7}}`),
		get("/api/orders/456", `{"data":{"id":456,"customerId":8}}`),
		get("/api/customers/7/orders", `{"data":[{"id":123,"customerId":7},{"id":9,"customerId":7}],"meta":{"total":2}}`),
		get("/api/customers/8/orders", `{"data":[{"id":456,"customerId":8}],"meta":{"total":1}}`),
		get("/api/customers/9/orders", `{"data":[],"meta":{"total":0}}`),
		get("/v2/products/blue-shirt", `{"sku":"ABC-1234","slug":"blue-shirt"}`),
		get("/v2/products/red-hat", `{"sku":"ABC-9999","slug":"red-hat"}`),
		record(http.MethodGet, "/v2/tags/1", 404, `{"error":"no"}`),
		record(http.MethodGet, "/v2/tags/2", 404, `{"error":"no"}`),
	}
	res := samples.Analyze(recs)
	tests := []struct {
		name, method, template string
		want                   samples.Var
	}{{
		name: "an order's id", method: "GET", template: "/api/orders/{id}",
		want: samples.Var{Name: "id", Segment: 2, Kind: "integer", Resource: "order", Key: "id", Matched: 2, Checked: 2,
			Values: []string{"123", "456"}, Distinct: 2},
	}, {
		name: "a parent's id in every item", method: "GET", template: "/api/customers/{customer_id}/orders",
		want: samples.Var{Name: "customer_id", Segment: 2, Kind: "integer", Resource: "customer", Key: "customer_id",
			Matched: 2, Checked: 2, Values: []string{"7", "8", "9"}, Distinct: 3},
	}, {
		name: "a slug key", method: "GET", template: "/v2/products/{slug}",
		want: samples.Var{Name: "slug", Segment: 2, Kind: "slug", Resource: "product", Key: "slug", Matched: 2, Checked: 2,
			Values: []string{"blue-shirt", "red-hat"}, Distinct: 2},
	}, {
		name: "no answer to tie to", method: "GET", template: "/v2/tags/{id}",
		want: samples.Var{Name: "id", Segment: 2, Kind: "integer", Resource: "tag", Values: []string{"1", "2"}, Distinct: 2},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ep := endpoint(t, res, tc.method, tc.template)
			require.Len(t, ep.Vars, 1)
			assert.Equal(t, tc.want, ep.Vars[0])
		})
	}
}

func TestActions(t *testing.T) {
	recs := []capture.Record{
		get("/orders", `[{"id":1}]`),
		get("/orders/1", `{"id":1}`),
		record(http.MethodPost, "/orders", 201, `{"id":2}`),
		record(http.MethodPut, "/orders/1", 200, `{"id":1}`),
		record(http.MethodPatch, "/orders/1", 200, `{"id":1}`),
		record(http.MethodDelete, "/orders/1", 204, ""),
		record(http.MethodPost, "/orders/1/cancel", 200, `{"id":1}`),
		get("/stats", `{"orders":4}`),
		record(http.MethodGet, "/health", 503, ""),
	}
	res := samples.Analyze(recs)
	got := map[string]string{}
	for _, ep := range res.Endpoints {
		got[ep.Method+" "+ep.Template] = ep.Action + " " + ep.Resource
	}
	assert.Equal(t, map[string]string{
		"GET /orders":                    "list order",
		"GET /orders/{id}":               "get order",
		"POST /orders":                   "create order",
		"PUT /orders/{id}":               "replace order",
		"PATCH /orders/{id}":             "patch order",
		"DELETE /orders/{id}":            "delete order",
		"POST /orders/{order_id}/cancel": "unknown ",
		"GET /stats":                     "query ",
		"GET /health":                    "unknown ",
	}, got)
	del := endpoint(t, res, "DELETE", "/orders/{id}")
	assert.Nil(t, del.Answer)
	assert.Equal(t, map[int]int{204: 1}, del.Statuses)
}

func TestCountsAndExamples(t *testing.T) {
	var recs []capture.Record
	for i := range 8 {
		recs = append(recs, get(fmt.Sprintf("/a/%d", i+1), fmt.Sprintf(`{"id":%d}`, i+1)))
	}
	recs = append(recs, record(http.MethodGet, "/a/99", 404, ""), record(http.MethodGet, "/b", 500, ""))
	res := samples.Analyze(recs)
	a := endpoint(t, res, "GET", "/a/{id}")
	assert.Equal(t, 9, a.Count)
	assert.InDelta(t, 0.9, a.Share, 1e-9)
	assert.Equal(t, map[int]int{200: 8, 404: 1}, a.Statuses)
	assert.Equal(t, []int{0, 1, 2, 3, 8}, a.Examples, "the first of each status, then the first ones")
	assert.Equal(t, []string{"legacy"}, a.Routes)
}
