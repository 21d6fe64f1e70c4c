package recipes

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestErrorStatuses checks every error status with its RFC 9457 body, and
// that a refused write changes nothing.
func TestErrorStatuses(t *testing.T) {
	r := loadRecipe(t, func(s string) string {
		return strings.Replace(s, "base_path: /api", "base_path: /api\nmax_body: 256", 1)
	})
	e := newEnv(t, r)
	e.seed()
	big := `{"note": "` + strings.Repeat("x", 300) + `"}`
	for _, tc := range []struct {
		name    string
		method  string
		path    string
		body    any
		headers []string
		status  int
		fields  map[string]string // field -> part of its message
	}{
		{"malformed JSON", "POST", "/api/orders", `{"customerId": 1,`, nil, 400, nil},
		{"not an object", "POST", "/api/orders", `[1, 2]`, nil, 400, nil},
		{"bad query parameter", "GET", "/api/orders?limit=0&total[gte]=abc&colour=red", nil, nil, 400,
			map[string]string{"limit": "from 1 to 100", "total[gte]": "not a decimal", "colour": "not a known query parameter"}},
		{"unknown sort field", "GET", "/api/orders?sort=note", nil, nil, 400, map[string]string{"sort": "not a sortable field"}},
		{"missing and invalid fields", "POST", "/api/orders", map[string]any{"status": "lost", "total": "-1", "colour": "red", "id": 9}, nil, 422,
			map[string]string{"customerId": "is required", "status": "must be one of new, paid, shipped, cancelled", "total": "must be at least 0",
				"colour": "is not a field of order", "id": "is read-only"}},
		{"wrong JSON type", "POST", "/api/orders", map[string]any{"customerId": "one", "total": "1"}, nil, 422,
			map[string]string{"customerId": "expected an integer, found a string"}},
		{"rule broken", "POST", "/api/orders", map[string]any{"customerId": 1, "total": "0", "status": "shipped"}, nil, 422,
			map[string]string{"total": "a shipped order must have a positive total"}},
		{"rule broken by a patch of another field", "PATCH", "/api/orders/5", map[string]any{"status": "shipped"}, nil, 422,
			map[string]string{"total": "a shipped order must have a positive total"}},
		{"pattern", "POST", "/api/customers", map[string]any{"name": "Cy", "email": "not-an-email"}, nil, 422,
			map[string]string{"email": "must match"}},
		{"missing reference", "POST", "/api/orders", map[string]any{"customerId": 42, "total": "1"}, nil, 422,
			map[string]string{"customerId": "refers to a row that does not exist"}},
		{"unknown key", "GET", "/api/orders/999", nil, nil, 404, nil},
		{"key of the wrong type", "GET", "/api/orders/abc", nil, nil, 404, nil},
		{"no such route", "GET", "/api/nothing", nil, nil, 404, nil},
		{"method not served on the path", "POST", "/api/orders/1", map[string]any{}, nil, 405, nil},
		{"patch of a missing row", "PATCH", "/api/orders/999", map[string]any{"note": "x"}, nil, 404, nil},
		{"patch of the read-only key to another value", "PATCH", "/api/orders/5", map[string]any{"id": 9, "note": "x"}, nil, 422,
			map[string]string{"id": "does not match the key in the path"}},
		{"duplicate unique value", "POST", "/api/customers", map[string]any{"name": "Ada 2", "email": "ada@example.com"}, nil, 409,
			map[string]string{"email": "is already taken"}},
		{"stale If-Match", "PATCH", "/api/orders/1", map[string]any{"note": "x"}, []string{"If-Match", `"stale"`}, 409,
			map[string]string{"If-Match": "is stale"}},
		{"not JSON", "POST", "/api/orders", "customerId=1", []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, nil},
		{"too large", "PATCH", "/api/orders/1", big, nil, 413, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.count("orders") + e.count("customers")
			resp, body := e.do(tc.method, tc.path, tc.body, tc.headers...)
			require.Equal(t, tc.status, resp.StatusCode, body)
			assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
			var p Problem
			require.NoError(t, json.Unmarshal([]byte(body), &p), body)
			assert.Equal(t, tc.status, p.Status)
			assert.NotEmpty(t, p.Title)
			assert.Equal(t, strings.SplitN(tc.path, "?", 2)[0], p.Instance)
			got := map[string]string{}
			for _, f := range p.Errors {
				got[f.Field] = f.Message
			}
			for field, want := range tc.fields {
				assert.Contains(t, got[field], want, "field %s in %s", field, body)
			}
			if tc.fields != nil {
				assert.Len(t, got, len(tc.fields), body)
			}
			assert.Equal(t, before, e.count("orders")+e.count("customers"), "a refused request changes nothing")
		})
	}
	_, body := e.must(200, "GET", "/api/orders/1", nil)
	assert.NotContains(t, body, `"note":"x"`)
}

func TestETagIfMatch(t *testing.T) {
	e := newEnv(t, loadRecipe(t, nil))
	e.seed()
	resp, _ := e.must(200, "GET", "/api/orders/1", nil)
	v1 := resp.Header.Get("ETag")
	require.NotEmpty(t, v1)
	resp, _ = e.must(200, "GET", "/api/orders/1", nil)
	assert.Equal(t, v1, resp.Header.Get("ETag"), "the ETag is stable while the row is")
	e.must(304, "GET", "/api/orders/1", nil, "If-None-Match", v1)

	resp, _ = e.must(200, "PATCH", "/api/orders/1", map[string]any{"note": "first"}, "If-Match", v1)
	v2 := resp.Header.Get("ETag")
	assert.NotEqual(t, v1, v2, "a write moves the version on")
	_, body := e.must(409, "PATCH", "/api/orders/1", map[string]any{"note": "lost update"}, "If-Match", v1)
	assert.Contains(t, body, "changed since")
	e.must(409, "PUT", "/api/orders/1", map[string]any{"customerId": 1, "total": "1"}, "If-Match", v1)
	e.must(409, "DELETE", "/api/orders/1", nil, "If-Match", v1)
	e.must(200, "PATCH", "/api/orders/1", map[string]any{"note": "second"}, "If-Match", v2)
	_, body = e.must(200, "GET", "/api/orders/1", nil)
	assert.Contains(t, body, `"note":"second"`)
	resp, _ = e.must(200, "GET", "/api/orders/1", nil)
	e.must(204, "DELETE", "/api/orders/1", nil, "If-Match", resp.Header.Get("ETag"))
}

// TestDryRun: X-Strangler-Shadow: 1 answers what the write would have
// answered, then rolls back: the row count is unchanged and no event is in
// the outbox.
func TestDryRun(t *testing.T) {
	e := newEnv(t, loadRecipe(t, nil))
	e.seed()
	outbox := e.count("strangler_outbox")
	orders := e.count("orders")
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		contains           string
	}{
		{"create", "POST", "/api/orders", map[string]any{"customerId": 1, "total": "3.20"}, 201, `"total":"3.20"`},
		{"replace", "PUT", "/api/orders/2", map[string]any{"customerId": 2, "total": "8"}, 200, `"total":"8.00"`},
		{"patch", "PATCH", "/api/orders/2", map[string]any{"status": "cancelled"}, 200, `"status":"cancelled"`},
		{"delete", "DELETE", "/api/orders/3", nil, 204, ""},
		{"refused write", "POST", "/api/orders", map[string]any{"total": "1"}, 422, "customerId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.must(tc.status, tc.method, tc.path, tc.body, HeaderShadow, "1")
			if tc.status < 300 {
				assert.Equal(t, "1", resp.Header.Get(HeaderDryRun))
			}
			assert.Contains(t, body, tc.contains)
			assert.Equal(t, orders, e.count("orders"))
			assert.Equal(t, outbox, e.count("strangler_outbox"), "no event from a dry run")
		})
	}
	_, body := e.must(200, "GET", "/api/orders/2", nil)
	assert.Contains(t, body, `"status":"new","total":"25.50"`, "the row is as it was")
	e.must(200, "GET", "/api/orders/3", nil)
}

// TestConcurrentIfMatch: writers racing with the same ETag — exactly one
// wins, the others get 409, and no update is lost silently.
func TestConcurrentIfMatch(t *testing.T) {
	e := newEnv(t, loadRecipe(t, nil))
	e.seed()
	resp, _ := e.must(200, "GET", "/api/orders/1", nil)
	etag := resp.Header.Get("ETag")
	const writers = 8
	codes := make(chan int, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest("PATCH", e.srv.URL+"/api/orders/1", strings.NewReader(fmt.Sprintf(`{"note":"writer %d"}`, i)))
			if err != nil {
				codes <- 0
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("If-Match", etag)
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	assert.Equal(t, map[int]int{200: 1, 409: writers - 1}, count)
}

// TestPatchNamingNoFieldWritesNothing: an empty patch answers the row as it
// is, writes nothing and emits no event; the key echoed back is accepted.
func TestPatchNamingNoFieldWritesNothing(t *testing.T) {
	e := newEnv(t, loadRecipe(t, nil))
	e.seed()
	outbox := e.count("strangler_outbox")
	resp, _ := e.must(200, "GET", "/api/orders/1", nil)
	etag := resp.Header.Get("ETag")
	resp, _ = e.must(200, "PATCH", "/api/orders/1", map[string]any{})
	assert.Equal(t, etag, resp.Header.Get("ETag"), "the row did not change")
	assert.Equal(t, outbox, e.count("strangler_outbox"), "an empty patch emits no event")
	e.must(200, "PATCH", "/api/orders/1", map[string]any{"id": 1, "note": "echo"})
	assert.Equal(t, outbox+1, e.count("strangler_outbox"), "a patch that writes emits its event")
}
