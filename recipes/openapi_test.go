package recipes

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// repositoryRecipes lists every recipe kept in the repository.
func repositoryRecipes(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"../testdata/legacyshop/recipes/*.yaml", "testdata/recipes/*.yaml"} {
		m, err := filepath.Glob(pattern)
		require.NoError(t, err)
		files = append(files, m...)
	}
	require.NotEmpty(t, files)
	return files
}

func loadOpenAPI(t *testing.T, doc []byte) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	spec, err := loader.LoadFromData(doc)
	require.NoError(t, err)
	require.Equal(t, "3.1.0", spec.OpenAPI)
	require.True(t, spec.IsOpenAPI31OrLater())
	return spec
}

// TestOpenAPIOfEveryRecipeValidates generates the OpenAPI 3.1 document of
// every recipe in the repository and validates it with kin-openapi, which
// loads 3.1 and validates its schemas as JSON Schema 2020-12.
func TestOpenAPIOfEveryRecipeValidates(t *testing.T) {
	for _, file := range repositoryRecipes(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			r, err := Load(file)
			require.NoError(t, err)
			doc, err := OpenAPI(r)
			require.NoError(t, err)
			spec := loadOpenAPI(t, doc)
			require.NoError(t, spec.Validate(context.Background()))
			for _, e := range r.Endpoints {
				item := spec.Paths.Find(r.BasePath + e.Path)
				require.NotNil(t, item, "path of %s", e.Name)
				op := item.GetOperation(e.Method)
				require.NotNil(t, op, "operation of %s", e.Name)
				assert.Equal(t, e.Name, op.OperationID)
			}
		})
	}
}

// responseChecker validates every answer of a handler against the
// OpenAPI document: status, content type and body schema.
type responseChecker struct {
	next   http.Handler
	router routers.Router
	mu     sync.Mutex
	errs   []string
	seen   map[string]bool // operationId + status
}

func (c *responseChecker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	c.next.ServeHTTP(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
	if r.URL.Path == "/openapi.json" {
		return
	}
	route, params, err := c.router.FindRoute(r)
	if err != nil {
		return // a path no endpoint serves: its 404 is not an operation's
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: rec.Code, Header: rec.Header(), Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	err = openapi3filter.ValidateResponse(r.Context(), in)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[fmt.Sprintf("%s %d", route.Operation.OperationID, rec.Code)] = true
	if err != nil {
		c.errs = append(c.errs, fmt.Sprintf("%s %s -> %d %s: %v", r.Method, r.URL, rec.Code, rec.Body.String(), err))
	}
}

// TestResponsesMatchTheirSchemas runs real requests against every endpoint
// — successes and errors — and validates each answer against the schema
// its operation declares (openapi3filter.ValidateResponse).
func TestResponsesMatchTheirSchemas(t *testing.T) {
	r := loadRecipe(t, nil)
	e := newEnv(t, r)
	doc, err := OpenAPI(r)
	require.NoError(t, err)
	spec := loadOpenAPI(t, doc)
	router, err := gorillamux.NewRouter(spec)
	require.NoError(t, err)
	checker := &responseChecker{next: e.svc, router: router, seen: map[string]bool{}}
	e.srv.Config.Handler = checker

	e.seed()
	resp, _ := e.must(200, "GET", "/api/orders/1", nil)
	etag := resp.Header.Get("ETag")
	for _, q := range []struct {
		status       int
		method, path string
		body         any
		headers      []string
	}{
		{200, "GET", "/api/orders?status=paid&sort=-total&limit=2&offset=0", nil, nil},
		{200, "GET", "/api/orders?placedAt[gte]=2026-01-02%2000:00:00", nil, nil},
		{200, "GET", "/api/customers/1/orders?sort=-placedAt", nil, nil},
		{200, "GET", "/api/customers?vip=true", nil, nil},
		{200, "GET", "/api/customers/1", nil, nil},
		{200, "GET", "/api/orders/2", nil, nil},
		{200, "PUT", "/api/orders/2", map[string]any{"customerId": 2, "total": "12.5", "note": "n"}, nil},
		{200, "PATCH", "/api/orders/2", map[string]any{"status": "paid"}, nil},
		{200, "PATCH", "/api/orders/1", map[string]any{"note": nil}, []string{"If-Match", etag}},
		{201, "POST", "/api/orders", map[string]any{"customerId": 1, "total": "1.10"}, []string{HeaderShadow, "1"}},
		{204, "DELETE", "/api/orders/4", nil, nil},
		{200, "GET", "/api/customers/1/stats?status=paid", nil, nil},
		{400, "GET", "/api/orders?limit=1000", nil, nil},
		{400, "POST", "/api/orders", "{", nil},
		{404, "GET", "/api/orders/4", nil, nil},
		{404, "GET", "/api/customers/abc/stats", nil, nil},
		{400, "GET", "/api/customers/1/stats?bogus=1", nil, nil},
		{409, "POST", "/api/customers", map[string]any{"name": "A", "email": "ada@example.com"}, nil},
		{409, "DELETE", "/api/orders/1", nil, []string{"If-Match", etag}},
		{415, "PUT", "/api/orders/2", "x", []string{"Content-Type", "text/plain"}},
		{422, "PATCH", "/api/orders/2", map[string]any{"total": "-3"}, nil},
	} {
		e.must(q.status, q.method, q.path, q.body, q.headers...)
	}
	t.Run("the checker catches a wrong body", func(t *testing.T) {
		req := httptest.NewRequest("GET", e.srv.URL+"/api/orders/1", nil)
		route, params, err := router.FindRoute(req)
		require.NoError(t, err)
		for _, body := range []string{`{"data":{"id":1}}`, `{"data":{"id":1,"customerId":1,"status":"paid","total":10.5,"note":null,"placedAt":"x"}}`} {
			in := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
				Status:                 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)),
			}
			assert.Error(t, openapi3filter.ValidateResponse(context.Background(), in), body)
		}
	})
	checker.mu.Lock()
	defer checker.mu.Unlock()
	assert.Empty(t, checker.errs, strings.Join(checker.errs, "\n"))
	for _, ep := range r.Endpoints {
		found := false
		for k := range checker.seen {
			found = found || strings.HasPrefix(k, ep.Name+" 2")
		}
		assert.True(t, found, "endpoint %s answered successfully at least once", ep.Name)
	}
}
