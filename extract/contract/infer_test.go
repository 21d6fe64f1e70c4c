package contract

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/proxy/capture"
)

// loadSpec loads and validates a document with kin-openapi, which reads
// OpenAPI 3.1 and validates its schemas as JSON Schema 2020-12.
func loadSpec(t *testing.T, doc []byte) *openapi3.T {
	t.Helper()
	spec, err := openapi3.NewLoader().LoadFromData(doc)
	require.NoError(t, err)
	require.True(t, spec.IsOpenAPI31OrLater())
	require.NoError(t, spec.Validate(context.Background()))
	return spec
}

// dig walks a decoded JSON document.
func dig(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		m, ok := v.(map[string]any)
		require.True(t, ok, "at %q: not an object: %v", k, v)
		v, ok = m[k]
		require.True(t, ok, "no %q in %v", k, keysOf(m))
	}
	return v
}

func keysOf(m map[string]any) []string { return sortedKeys(m) }

func TestInferShopOrders(t *testing.T) {
	recs := shopRecords()
	res, err := Infer(recs, Options{})
	require.NoError(t, err)
	again, err := Infer(shopRecords(), Options{})
	require.NoError(t, err)
	assert.Equal(t, string(res.Document), string(again.Document), "the same records give the same bytes")
	assert.Equal(t, len(recs), res.Samples)
	assert.Equal(t, 4, res.Endpoints)
	assert.Empty(t, res.Skipped)

	spec := loadSpec(t, res.Document)
	assert.Equal(t, "3.1.0", spec.OpenAPI)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(res.Document, &doc))
	assert.ElementsMatch(t, []string{"/api/orders/{id}", "/api/orders", "/api/customers/{id}"}, keysOf(dig(t, doc, "paths").(map[string]any)))

	get := dig(t, doc, "paths", "/api/orders/{id}", "get")
	assert.EqualValues(t, 41, dig(t, get, "x-strangler-samples"))
	assert.Equal(t, []any{"orders-read"}, dig(t, get, "x-strangler-routes"))
	params := dig(t, get, "parameters").([]any)
	require.Len(t, params, 1)
	assert.Equal(t, map[string]any{"name": "id", "in": "path", "required": true,
		"schema": map[string]any{"type": "integer", "example": 1.0}}, params[0], "samples with and without route variables meet; the example is the first value seen")

	data := dig(t, get, "responses", "200", "content", "application/json", "schema", "properties", "data")
	assert.Equal(t, []any{"customer", "customerId", "id", "note", "placedAt", "requestId", "status", "total"}, dig(t, data, "required"))
	props := dig(t, data, "properties")
	assert.Equal(t, map[string]any{"type": "integer", "example": 1.0}, dig(t, props, "id"))
	assert.Equal(t, map[string]any{"type": "string", "pattern": `^-?[0-9]+\.[0-9]{2}$`, "example": "8.13"}, dig(t, props, "total"))
	assert.Equal(t, map[string]any{"type": []any{"string", "null"}, "example": "deliver to door 3"}, dig(t, props, "note"))
	assert.Equal(t, map[string]any{"type": "string", "enum": []any{"cancelled", "new", "paid", "shipped"}, "example": "paid"}, dig(t, props, "status"),
		"40 samples, 4 values each seen 10 times: an enum")
	assert.Equal(t, map[string]any{"type": "string", "x-go-time-layout": "2006-01-02 15:04:05",
		"pattern": `^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$`, "example": "2024-03-01 09:17:00"}, dig(t, props, "placedAt"))
	assert.Equal(t, map[string]any{"type": "string", "example": "0000000000001eef"}, dig(t, props, "requestId"), "random hex: neither an enum nor a format")
	cust := dig(t, props, "customer")
	assert.Equal(t, "object", dig(t, cust, "type"))
	assert.Equal(t, map[string]any{"type": "string", "format": "email", "example": "customer2@example.com"}, dig(t, cust, "properties", "email"))
	assert.Equal(t, map[string]any{"type": "boolean", "example": false}, dig(t, cust, "properties", "vip"))
	assert.Equal(t, map[string]any{"type": "string", "example": "Customer 2"}, dig(t, cust, "properties", "name"), "30 distinct names: no enum")

	miss := dig(t, get, "responses", "404")
	assert.Equal(t, "Not Found (1 samples)", dig(t, miss, "description"))
	assert.Equal(t, map[string]any{"type": "object", "required": []any{"error"},
		"properties": map[string]any{"error": map[string]any{"type": "string", "example": "order not found"}}},
		dig(t, miss, "content", "application/json", "schema"))

	list := dig(t, doc, "paths", "/api/orders", "get")
	qp := dig(t, list, "parameters").([]any)
	require.Len(t, qp, 2)
	assert.Equal(t, map[string]any{"name": "limit", "in": "query", "required": true, "schema": map[string]any{"type": "integer", "example": 5.0}}, qp[0])
	assert.Equal(t, "offset", dig(t, qp[1], "name"))
	items := dig(t, list, "responses", "200", "content", "application/json", "schema", "properties", "data", "items")
	assert.NotContains(t, dig(t, items, "properties", "status"), "enum", "15 samples are too few for an enum")
	assert.Equal(t, map[string]any{"type": "integer", "example": 200.0}, dig(t, list, "responses", "200", "content", "application/json", "schema", "properties", "meta", "properties", "total"))

	post := dig(t, doc, "paths", "/api/orders", "post")
	body := dig(t, post, "requestBody")
	assert.Equal(t, true, dig(t, body, "required"))
	in := dig(t, body, "content", "application/json", "schema")
	assert.Equal(t, []any{"customerId", "status", "total"}, dig(t, in, "required"), "note was in 3 of the 4 creates")
	assert.Equal(t, map[string]any{"type": []any{"string", "null"}, "example": "leave it at the door"}, dig(t, in, "properties", "note"))
	assert.Contains(t, dig(t, post, "responses").(map[string]any), "201")
}

func TestInferIsDeterministicWhateverTheMapOrder(t *testing.T) {
	// Many runs: Go randomises map order, so a map walked in its own order
	// would show here.
	first, err := Infer(shopRecords(), Options{})
	require.NoError(t, err)
	for range 20 {
		res, err := Infer(shopRecords(), Options{})
		require.NoError(t, err)
		require.Equal(t, string(first.Document), string(res.Document))
	}
}

func TestInferBodiesItCannotRead(t *testing.T) {
	recs := []capture.Record{
		{Request: capture.Request{Method: "POST", Path: "/upload", Header: http.Header{"Content-Type": {"application/json"}}, Body: `{"a":`, Truncated: true},
			Response: capture.Response{Status: 200, Header: http.Header{"Content-Type": {"text/html; charset=utf-8"}}, Body: "<p>ok</p>"}},
		{Request: capture.Request{Method: "POST", Path: "/upload", Header: http.Header{"Content-Type": {"application/json"}}, Body: `not json`},
			Response: capture.Response{Status: 200, BodyBase64: []byte{0xff, 0xfe}}},
		{Request: capture.Request{Method: "GET", Path: "/items", Query: "tag=a&tag=b&secret=" + redactedMark},
			Response: capture.Response{Status: 200, Body: `{"token":"[REDACTED]","n":1.5}`}},
	}
	res, err := Infer(recs, Options{})
	require.NoError(t, err)
	loadSpec(t, res.Document)
	assert.Equal(t, []string{"POST /upload request: body is not JSON (1)", "POST /upload request: body truncated by the capture (1)"}, res.Skipped)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(res.Document, &doc))
	up := dig(t, doc, "paths", "/upload", "post")
	assert.Equal(t, map[string]any{}, dig(t, up, "requestBody", "content", "application/json", "schema"))
	content := dig(t, up, "responses", "200", "content").(map[string]any)
	assert.Equal(t, map[string]any{"schema": map[string]any{"type": "string"}}, content["text/html"])
	assert.Equal(t, map[string]any{"schema": map[string]any{}}, content["application/octet-stream"])
	items := dig(t, doc, "paths", "/items", "get")
	qp := dig(t, items, "parameters").([]any)
	assert.Equal(t, map[string]any{"name": "secret", "in": "query", "required": true, "schema": map[string]any{"description": "redacted in every sample"}}, qp[0])
	assert.Equal(t, map[string]any{"name": "tag", "in": "query", "required": true,
		"schema": map[string]any{"type": "array", "items": map[string]any{"type": "string", "example": "a"}}}, qp[1])
	resp := dig(t, items, "responses", "200", "content", "application/json", "schema", "properties")
	assert.Equal(t, map[string]any{"description": "redacted in every sample"}, dig(t, resp, "token"))
	assert.Equal(t, map[string]any{"type": "number", "example": 1.5}, dig(t, resp, "n"))
}

func TestInferNothing(t *testing.T) {
	res, err := Infer(nil, Options{})
	require.NoError(t, err)
	loadSpec(t, res.Document)
	assert.Zero(t, res.Endpoints)
}

func TestEnumThreshold(t *testing.T) {
	run := func(values []string, o Options) any {
		n := &node{}
		for _, v := range values {
			n.observe(v)
		}
		return n.schema(&o)["enum"]
	}
	repeat := func(n int, vs ...string) []string {
		var out []string
		for i := 0; i < n; i++ {
			out = append(out, vs[i%len(vs)])
		}
		return out
	}
	assert.Equal(t, []any{"a", "b"}, run(repeat(20, "b", "a"), Options{}))
	assert.Nil(t, run(repeat(19, "b", "a"), Options{}), "fewer than 20 samples")
	assert.Nil(t, run(repeat(40, "a", "b", "c", "d", "e", "f", "g", "h", "i"), Options{}), "9 values")
	assert.Nil(t, run(append(repeat(30, "a", "b"), "c"), Options{}), "a value seen once")
	assert.Equal(t, []any{"a", "b", "c"}, run(repeat(6, "a", "b", "c"), Options{EnumMinSamples: 6, EnumMaxValues: 3}))
	assert.Nil(t, run(repeat(40, "a", "b"), Options{EnumMinSamples: -1}))
	n := &node{}
	for _, v := range append(repeat(20, "x", "y"), "") {
		n.observe(v)
	}
	n.observe(nil)
	assert.Nil(t, n.schema(&Options{})["enum"], `"" seen once`)
	n = &node{}
	for _, v := range repeat(20, "x", "y") {
		n.observe(v)
	}
	n.observe(nil)
	s := n.schema(&Options{})
	assert.Equal(t, []any{"x", "y", nil}, s["enum"], "a nullable enum lists null")
	assert.Equal(t, []string{"string", "null"}, s["type"])
}

func TestValueKind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"2024-03-01T09:17:00Z", "date-time"},
		{"2024-03-01T09:17:00.123+02:00", "date-time"},
		{"2024-03-01", "date"},
		{"2024-02-30", ""},
		{"2024-03-01 09:17:00", "layout 2006-01-02 15:04:05"},
		{"2024-03-01T09:17:00", "layout 2006-01-02T15:04:05"},
		{"09:17:00", "layout 15:04:05"},
		{"123e4567-e89b-12d3-a456-426614174000", "uuid"},
		{"ada@example.com", "email"},
		{"12.50", "decimal"},
		{"-0.125", "decimal"},
		{"12", ""},
		{"paid", ""},
	} {
		assert.Equal(t, tc.want, valueKind(tc.in), tc.in)
	}
}

func TestPatternIsDecimal(t *testing.T) {
	for p, want := range map[string]bool{
		`^-?[0-9]+\.[0-9]{2}$`:     true,
		`^-?[0-9]+(\.[0-9]+)?$`:    true,
		`^-?\d+\.\d+$`:             true,
		`^-?[0-9]+$`:               false,
		`^[0-9]{4}-[0-9]{2}$`:      false,
		`[0-9]`:                    false,
		`^[^@\s]+@[^@\s]+$`:        false,
		`(unclosed`:                false,
		`^(?:[0-9]{4}-[0-9]{2})$`:  false,
		`^[0-9]+([.][0-9]{1,4})?$`: true,
	} {
		assert.Equal(t, want, patternIsDecimal(p), p)
	}
}
