package legacyshop_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/testdata/legacyshop"
)

// TestHTMLPages: the home page and an order's page are HTML, escaped once.
func TestHTMLPages(t *testing.T) {
	s := newShop(t, legacyshop.SeedOptions{Customers: 3, Products: 16, Orders: 40})
	const html = "text/html; charset=utf-8"

	_, err := s.db.Exec("UPDATE products SET name = 'Tea & Toast <Set>' WHERE id = 1")
	require.NoError(t, err)
	a := s.get(t, "/")
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	assert.Equal(t, html, a.header.Get("Content-Type"))
	assert.Equal(t, "legacyshop/1.0", a.header.Get("X-Powered-By"))
	body := string(a.body)
	assert.Contains(t, body, `<form method="post" action="/login" class="login">`)
	assert.Equal(t, 10, strings.Count(body, "<tr><td>"), "the first ten products for sale")
	assert.NotContains(t, body, "AAA-0010", "product 10 is not for sale")
	assert.Contains(t, body, "<td>Tea &amp; Toast &lt;Set&gt;</td>")
	assert.Contains(t, body, "sold out", "product 8")

	a = s.get(t, "/orders/20")
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	assert.Equal(t, html, a.header.Get("Content-Type"))
	body = string(a.body)
	assert.Contains(t, body, `<dd class="note">ring twice &amp; leave it at the door</dd>`)
	assert.NotContains(t, body, "&amp;amp;")
	o := obj(t, s.get(t, "/api/orders/20").json(t)["data"])
	assert.Contains(t, body, fmt.Sprintf(`<p class="total">Total: %s</p>`, o["total"]))
	for _, it := range list(t, o["items"]) {
		assert.Contains(t, body, "<td>"+obj(t, it)["sku"].(string)+"</td>")
	}

	for _, p := range []string{"/orders/999", "/orders/x"} {
		a = s.get(t, p)
		assert.Equal(t, http.StatusNotFound, a.status, p)
		assert.Equal(t, html, a.header.Get("Content-Type"), p)
		assert.Contains(t, string(a.body), "There is no such order.", p)
	}
}
