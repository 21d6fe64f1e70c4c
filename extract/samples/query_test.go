package samples_test

import (
	"testing"

	"github.com/stranglerfig/strangler/extract/samples"
	"github.com/stranglerfig/strangler/proxy/capture"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQueryClassification(t *testing.T) {
	body := `{"data":[{"id":1,"status":"paid","total":"12.50","placedAt":"2024-03-01 09:17:00","size":"M","order":3}],"meta":{"total":1}}`
	queries := []string{
		"status=paid&sort=-placed_at,total&limit=10&offset=20",
		"status=new&status=paid&sort=total%20desc&per_page=5&page=2",
		"total[gte]=5&total[lt]=100&placedAt_after=2024-01-01&min_total=3",
		"filter[status]=shipped&q=ring&cursor=abc&size=M&order=3",
		"customer_id=7&debug&token=[REDACTED]",
	}
	var recs []capture.Record
	for _, q := range queries {
		recs = append(recs, get("/api/orders?"+q, body))
	}
	res := samples.Analyze(recs)
	ep := endpoint(t, res, "GET", "/api/orders")
	got := map[string]samples.QueryParam{}
	for _, q := range ep.Query {
		got[q.Name] = q
	}
	tests := []struct {
		name string
		want samples.QueryParam
	}{
		{"status", samples.QueryParam{Name: "status", Class: "filter", Field: "status", Values: []string{"new", "paid"}, Distinct: 2, Count: 2}},
		{"sort", samples.QueryParam{Name: "sort", Class: "sort", Fields: []string{"placed_at", "total"},
			Values: []string{"-placed_at,total", "total desc"}, Distinct: 2, Count: 2}},
		{"limit", samples.QueryParam{Name: "limit", Class: "page", Role: "limit", Values: []string{"10"}, Distinct: 1, Count: 1}},
		{"offset", samples.QueryParam{Name: "offset", Class: "page", Role: "offset", Values: []string{"20"}, Distinct: 1, Count: 1}},
		{"per_page", samples.QueryParam{Name: "per_page", Class: "page", Role: "limit", Values: []string{"5"}, Distinct: 1, Count: 1}},
		{"page", samples.QueryParam{Name: "page", Class: "page", Role: "page", Values: []string{"2"}, Distinct: 1, Count: 1}},
		{"cursor", samples.QueryParam{Name: "cursor", Class: "page", Role: "cursor", Values: []string{"abc"}, Distinct: 1, Count: 1}},
		{"total", samples.QueryParam{Name: "total", Class: "filter", Field: "total", Ops: []string{"gte", "lt"},
			Values: []string{"5", "100"}, Distinct: 2, Count: 1}},
		{"placedAt_after", samples.QueryParam{Name: "placedAt_after", Class: "filter", Field: "placed_at", Ops: []string{"after"},
			Values: []string{"2024-01-01"}, Distinct: 1, Count: 1}},
		{"min_total", samples.QueryParam{Name: "min_total", Class: "filter", Field: "total", Ops: []string{"min"},
			Values: []string{"3"}, Distinct: 1, Count: 1}},
		{"filter[status]", samples.QueryParam{Name: "filter[status]", Class: "filter", Field: "status", Values: []string{"shipped"}, Distinct: 1, Count: 1}},
		{"size is a member, not a page size", samples.QueryParam{Name: "size", Class: "filter", Field: "size", Values: []string{"M"}, Distinct: 1, Count: 1}},
		{"order is a member, not a sort", samples.QueryParam{Name: "order", Class: "filter", Field: "order", Values: []string{"3"}, Distinct: 1, Count: 1}},
		{"q", samples.QueryParam{Name: "q", Class: "other", Values: []string{"ring"}, Distinct: 1, Count: 1}},
		{"customer_id matches no member", samples.QueryParam{Name: "customer_id", Class: "other", Values: []string{"7"}, Distinct: 1, Count: 1}},
		{"debug", samples.QueryParam{Name: "debug", Class: "other", Values: []string{""}, Distinct: 1, Count: 1}},
		{"token is redacted", samples.QueryParam{Name: "token", Class: "other", Count: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, ok := got[tc.want.Name]
			require.True(t, ok, "parameter %s", tc.want.Name)
			assert.Equal(t, tc.want, q)
		})
	}
	assert.Len(t, ep.Query, len(tests))
	assert.Contains(t, ep.Notes, "lists are paged by page number; recipes page by offset and limit")
}

func TestQueryOfAnEndpointWithoutAnswers(t *testing.T) {
	// A DELETE's parameters are matched against the members the template's
	// other methods answered.
	res := samples.Analyze([]capture.Record{
		get("/orders/1", `{"id":1,"status":"paid"}`),
		record("DELETE", "/orders/1?status=paid", 204, ""),
	})
	del := endpoint(t, res, "DELETE", "/orders/{id}")
	require.Len(t, del.Query, 1)
	assert.Equal(t, "filter", del.Query[0].Class)
}
