package contract

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPathTemplates(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		vars       map[string]string
		want       string
	}{
		{"numeric id", "/api/orders/42", nil, "/api/orders/{id}"},
		{"uuid", "/api/orders/123e4567-e89b-12d3-a456-426614174000", nil, "/api/orders/{id}"},
		{"long hex", "/api/blobs/5f2b8c9e1a3d4f6b7c8d9e0f", nil, "/api/blobs/{id}"},
		{"slug with a digit", "/shop/products/blue-widget-42", nil, "/shop/products/{id}"},
		{"slug of three words", "/shop/products/big-blue-widget", nil, "/shop/products/{id}"},
		{"two words stay literal", "/api/order-history", nil, "/api/order-history"},
		{"version prefix literal", "/v2/orders/7", nil, "/v2/orders/{id}"},
		{"dotted version literal", "/api/v1.1/orders", nil, "/api/v1.1/orders"},
		{"literal words", "/api/reports/daily", nil, "/api/reports/daily"},
		{"nested ids", "/api/customers/3/orders/7", nil, "/api/customers/{customerId}/orders/{id}"},
		{"plural in -ies", "/api/categories/3/items/7", nil, "/api/categories/{categoryId}/items/{id}"},
		{"id then literal", "/api/customers/3/orders", nil, "/api/customers/{id}/orders"},
		{"two ids in a row", "/api/pairs/3/4", nil, "/api/pairs/{pairId}/{id}"},
		{"route variable wins", "/api/reports/daily", map[string]string{"kind": "daily"}, "/api/reports/{kind}"},
		{"route variable named", "/api/orders/42", map[string]string{"orderId": "42"}, "/api/orders/{orderId}"},
		{"redacted variable", "/api/reset/" + redactedMark, nil, "/api/reset/{id}"},
		{"root", "/", nil, "/"},
		{"trailing slash kept", "/api/orders/", nil, "/api/orders/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			segs := splitPath(tc.path, tc.vars)
			var names []string
			for _, s := range segs {
				if s.isVar {
					names = append(names, s.name)
				}
			}
			assert.Equal(t, tc.want, template(segs, nameVars(segs, names)))
			assert.Equal(t, templateShape(tc.want), shapeKey(segs))
		})
	}
}

func TestTemplateShapeIgnoresNames(t *testing.T) {
	assert.Equal(t, templateShape("/api/orders/{id}"), templateShape("/api/orders/{orderId}"))
	assert.NotEqual(t, templateShape("/api/orders/{id}"), templateShape("/api/orders/id"))
	assert.Equal(t, []string{"customer", "id"}, templateVars("/api/customers/{customer}/orders/{id}"))
}

func TestNameVarsKeepsNamesUnique(t *testing.T) {
	segs := splitPath("/a/1/b/2", nil)
	assert.Equal(t, []string{"aId", "id"}, nameVars(segs, []string{"", ""}))
	assert.Equal(t, []string{"id", "id2"}, nameVars(segs, []string{"id", ""}), "a route name taken first")
	assert.Equal(t, []string{"x", "id"}, nameVars(segs, []string{"x", "x"}), "a route name twice")
}
