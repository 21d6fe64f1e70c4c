package contract

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// baseContract is the contract side of the check table: an order read, a
// list with a filter and a create.
const baseContract = `{
  "openapi": "3.1.0",
  "info": {"title": "shop", "version": "1"},
  "paths": {
    "/api/orders/{id}": {"get": {
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
      "responses": {
        "200": {"description": "ok", "content": {"application/json": {"schema": {
          "type": "object", "required": ["data"], "properties": {"data": {
            "type": "object", "required": ["id", "status", "total", "placedAt", "note", "tags"],
            "properties": {
              "id": {"type": "integer"},
              "status": {"type": "string", "enum": ["new", "paid"]},
              "total": {"type": "string", "pattern": "^-?[0-9]+\\.[0-9]{2}$"},
              "placedAt": {"type": "string", "format": "date-time"},
              "note": {"type": ["string", "null"]},
              "amount": {"type": "number"},
              "tags": {"type": "array", "items": {"type": "string"}}
            }}}}}}},
        "404": {"description": "missing", "content": {"application/json": {"schema": {
          "type": "object", "properties": {"error": {"type": "string"}}}}}}
      }}},
    "/api/orders": {
      "get": {
        "parameters": [{"name": "status", "in": "query", "required": false, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "ok"}}},
      "post": {
        "requestBody": {"required": true, "content": {"application/json": {"schema": {
          "type": "object", "required": ["total"], "properties": {
            "total": {"type": "string"},
            "note": {"type": "string"},
            "count": {"type": "integer"},
            "status": {"type": "string", "enum": ["new", "paid"]}}}}}},
        "responses": {"201": {"description": "created"}}}
    }
  }
}`

// edit returns the base contract changed by f.
func edit(t *testing.T, f func(d map[string]any)) []byte {
	t.Helper()
	var d map[string]any
	require.NoError(t, json.Unmarshal([]byte(baseContract), &d))
	if f != nil {
		f(d)
	}
	b, err := json.Marshal(d)
	require.NoError(t, err)
	return b
}

// at walks to a nested object of a decoded document.
func at(v any, keys ...string) map[string]any {
	m := v.(map[string]any)
	for _, k := range keys {
		m = m[k].(map[string]any)
	}
	return m
}

func orderData(d map[string]any) map[string]any {
	return at(d, "paths", "/api/orders/{id}", "get", "responses", "200", "content", "application/json", "schema", "properties", "data")
}

func orderField(d map[string]any, name string) map[string]any {
	return at(orderData(d), "properties", name)
}

func createBody(d map[string]any) map[string]any {
	return at(d, "paths", "/api/orders", "post", "requestBody", "content", "application/json", "schema")
}

func check(t *testing.T, contract, next []byte) *Report {
	t.Helper()
	o, err := Parse("contract.json", contract)
	require.NoError(t, err)
	n, err := Parse("new.json", next)
	require.NoError(t, err)
	return Check(o, n)
}

func lines(r *Report, sev Severity) []string {
	out := []string{}
	for _, c := range r.Changes {
		if c.Severity == sev {
			out = append(out, c.String())
		}
	}
	return out
}

func TestCheckFindsEachBreakingChange(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(d map[string]any)
		want []string // the breaking lines
	}{
		{"endpoint removed", func(d map[string]any) { delete(at(d, "paths"), "/api/orders/{id}") },
			[]string{"breaking  GET /api/orders/{id}  endpoint removed"}},
		{"method removed", func(d map[string]any) { delete(at(d, "paths", "/api/orders"), "post") },
			[]string{"breaking  POST /api/orders  endpoint removed"}},
		{"response field removed", func(d map[string]any) { delete(at(orderData(d), "properties"), "total") },
			[]string{"breaking  GET /api/orders/{id}  200 $.data.total: field removed"}},
		{"decimal string to number", func(d map[string]any) {
			orderField(d, "total")["type"] = "number"
			delete(orderField(d, "total"), "pattern")
		},
			[]string{"breaking  GET /api/orders/{id}  200 $.data.total: type string -> number"}},
		{"type changed", func(d map[string]any) { orderField(d, "id")["type"] = "string" },
			[]string{"breaking  GET /api/orders/{id}  200 $.data.id: type integer -> string"}},
		{"type widened in an answer", func(d map[string]any) { orderField(d, "id")["type"] = "number" },
			[]string{"breaking  GET /api/orders/{id}  200 $.data.id: type integer -> number"}},
		{"type widened to any", func(d map[string]any) { delete(orderField(d, "id"), "type") },
			[]string{"breaking  GET /api/orders/{id}  200 $.data.id: type integer -> any"}},
		{"format changed", func(d map[string]any) { orderField(d, "placedAt")["format"] = "date" },
			[]string{"breaking  GET /api/orders/{id}  200 $.data.placedAt: format date-time -> date"}},
		{"format dropped", func(d map[string]any) { delete(orderField(d, "placedAt"), "format") },
			[]string{"breaking  GET /api/orders/{id}  200 $.data.placedAt: format date-time -> (none)"}},
		{"decimal pattern dropped", func(d map[string]any) { delete(orderField(d, "total"), "pattern") },
			[]string{"breaking  GET /api/orders/{id}  200 $.data.total: format decimal -> (none)"}},
		{"became optional", func(d map[string]any) { orderData(d)["required"] = []any{"id", "status", "placedAt", "note", "tags"} },
			[]string{"breaking  GET /api/orders/{id}  200 $.data.total: always present before, now optional"}},
		{"became nullable", func(d map[string]any) { orderField(d, "id")["type"] = []any{"integer", "null"} },
			[]string{"breaking  GET /api/orders/{id}  200 $.data.id: became nullable"}},
		{"became nullable through anyOf", func(d map[string]any) {
			orderData(d)["properties"].(map[string]any)["id"] = map[string]any{"anyOf": []any{map[string]any{"type": "integer"}, map[string]any{"type": "null"}}}
		}, []string{"breaking  GET /api/orders/{id}  200 $.data.id: became nullable"}},
		{"response enum member removed", func(d map[string]any) { orderField(d, "status")["enum"] = []any{"new"} },
			[]string{"breaking  GET /api/orders/{id}  200 $.data.status: enum member removed: paid"}},
		{"response enum member added", func(d map[string]any) { orderField(d, "status")["enum"] = []any{"new", "paid", "shipped"} },
			[]string{"breaking  GET /api/orders/{id}  200 $.data.status: enum member added: shipped"}},
		{"response enum dropped", func(d map[string]any) { delete(orderField(d, "status"), "enum") },
			[]string{"breaking  GET /api/orders/{id}  200 $.data.status: no longer restricted to new, paid"}},
		{"array items changed", func(d map[string]any) { at(orderField(d, "tags"), "items")["type"] = "integer" },
			[]string{"breaking  GET /api/orders/{id}  200 $.data.tags[*]: type string -> integer"}},
		{"response removed", func(d map[string]any) { delete(at(d, "paths", "/api/orders/{id}", "get", "responses"), "404") },
			[]string{"breaking  GET /api/orders/{id}  404: response 404 no longer documented"}},
		{"media type changed", func(d map[string]any) {
			c := at(d, "paths", "/api/orders/{id}", "get", "responses", "404", "content")
			c["application/problem+json"] = map[string]any{"schema": map[string]any{"type": "object", "properties": map[string]any{"title": map[string]any{"type": "string"}}}}
			delete(c, "application/json")
		}, []string{
			"breaking  GET /api/orders/{id}  404 application/json: content type application/json -> application/problem+json",
			"breaking  GET /api/orders/{id}  404 $.error: field removed",
		}},
		{"answer body removed", func(d map[string]any) {
			delete(at(d, "paths", "/api/orders/{id}", "get", "responses", "404"), "content")
		},
			[]string{"breaking  GET /api/orders/{id}  404: the answer no longer has a body"}},
		{"new required body field", func(d map[string]any) {
			b := createBody(d)
			at(b, "properties")["customerId"] = map[string]any{"type": "integer"}
			b["required"] = []any{"total", "customerId"}
		}, []string{"breaking  POST /api/orders  request $.customerId: new required field"}},
		{"body field became required", func(d map[string]any) { createBody(d)["required"] = []any{"total", "note"} },
			[]string{"breaking  POST /api/orders  request $.note: became required"}},
		{"request type narrowed", func(d map[string]any) { at(createBody(d), "properties", "note")["type"] = "integer" },
			[]string{"breaking  POST /api/orders  request $.note: type string -> integer"}},
		{"request number narrowed to integer", func(d map[string]any) {
			at(createBody(d), "properties")["count"] = map[string]any{"type": "integer"}
			at(createBody(d), "properties")["amount"] = map[string]any{"type": "integer"}
		}, []string{}},
		{"request format added", func(d map[string]any) { at(createBody(d), "properties", "note")["format"] = "email" },
			[]string{"breaking  POST /api/orders  request $.note: format (none) -> email"}},
		{"request enum member removed", func(d map[string]any) { at(createBody(d), "properties", "status")["enum"] = []any{"new"} },
			[]string{"breaking  POST /api/orders  request $.status: enum member removed: paid"}},
		{"request enum added", func(d map[string]any) { at(createBody(d), "properties", "note")["enum"] = []any{"a", "b"} },
			[]string{"breaking  POST /api/orders  request $.note: restricted to a, b"}},
		{"request null refused", func(d map[string]any) {
			at(d, "paths", "/api/orders", "post", "requestBody", "content", "application/json", "schema", "properties", "note")["type"] = []any{"string", "null"}
		}, []string{}},
		{"request field refused", func(d map[string]any) {
			delete(at(createBody(d), "properties"), "note")
			createBody(d)["additionalProperties"] = false
		}, []string{"breaking  POST /api/orders  request $.note: field no longer accepted"}},
		{"request content type refused", func(d map[string]any) {
			c := at(d, "paths", "/api/orders", "post", "requestBody", "content")
			c["application/x-www-form-urlencoded"] = c["application/json"]
			delete(c, "application/json")
		}, []string{"breaking  POST /api/orders  request application/json: content type application/json no longer accepted"}},
		{"request body removed", func(d map[string]any) { delete(at(d, "paths", "/api/orders", "post"), "requestBody") },
			[]string{"breaking  POST /api/orders  request: the request body is no longer read"}},
		{"new required query parameter", func(d map[string]any) {
			g := at(d, "paths", "/api/orders", "get")
			g["parameters"] = append(g["parameters"].([]any), map[string]any{"name": "limit", "in": "query", "required": true, "schema": map[string]any{"type": "integer"}})
		}, []string{"breaking  GET /api/orders  query limit: new required query parameter"}},
		{"query parameter became required", func(d map[string]any) {
			at(d, "paths", "/api/orders", "get")["parameters"].([]any)[0].(map[string]any)["required"] = true
		}, []string{"breaking  GET /api/orders  query status: became required"}},
		{"query parameter narrowed", func(d map[string]any) {
			at(d, "paths", "/api/orders", "get")["parameters"].([]any)[0].(map[string]any)["schema"] = map[string]any{"type": "integer"}
		}, []string{"breaking  GET /api/orders  query status: type string -> integer"}},
		{"query parameter removed", func(d map[string]any) { delete(at(d, "paths", "/api/orders", "get"), "parameters") },
			[]string{"breaking  GET /api/orders  query status: query parameter no longer declared: the new side ignores or refuses it"}},
		{"path parameter narrowed", func(d map[string]any) {
			at(d, "paths", "/api/orders/{id}", "get")["parameters"].([]any)[0].(map[string]any)["schema"] = map[string]any{"type": "string", "format": "uuid"}
		}, []string{"breaking  GET /api/orders/{id}  path id: type integer -> string"}},
		{"path parameter as a plain string", func(d map[string]any) {
			at(d, "paths", "/api/orders/{id}", "get")["parameters"].([]any)[0].(map[string]any)["schema"] = map[string]any{"type": "string"}
		}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := check(t, edit(t, nil), edit(t, tc.edit))
			got := lines(r, Breaking)
			assert.Equal(t, tc.want, got, "all changes:\n%s", all(r))
			assert.Equal(t, len(tc.want) > 0, r.HasBreaking())
			assert.Equal(t, len(got), r.Breaking)
		})
	}
}

func all(r *Report) string {
	var b strings.Builder
	_ = r.WriteText(&b)
	return b.String()
}

func TestCheckRaisesNoFalseAlarm(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(d map[string]any)
		want []string // the info lines
	}{
		{"the same document", nil, []string{}},
		{"path variables named otherwise", func(d map[string]any) {
			p := at(d, "paths")
			p["/api/orders/{orderId}"] = p["/api/orders/{id}"]
			delete(p, "/api/orders/{id}")
			at(d, "paths", "/api/orders/{orderId}", "get")["parameters"].([]any)[0].(map[string]any)["name"] = "orderId"
		}, []string{}},
		{"added optional response field", func(d map[string]any) {
			at(orderData(d), "properties")["currency"] = map[string]any{"type": "string"}
		}, []string{"info      GET /api/orders/{id}  200 $.data.currency: optional field added"}},
		{"added required response field", func(d map[string]any) {
			at(orderData(d), "properties")["currency"] = map[string]any{"type": "string"}
			orderData(d)["required"] = append(orderData(d)["required"].([]any), "currency")
		}, []string{"info      GET /api/orders/{id}  200 $.data.currency: field added"}},
		{"added endpoint", func(d map[string]any) {
			at(d, "paths", "/api/orders/{id}")["delete"] = map[string]any{"responses": map[string]any{"204": map[string]any{"description": "gone"}}}
		}, []string{"info      DELETE /api/orders/{id}  endpoint added"}},
		{"widened request input", func(d map[string]any) {
			b := createBody(d)
			b["required"] = []any{}
			at(b, "properties", "note")["type"] = []any{"string", "null"}
			at(b, "properties", "count")["type"] = "number"
			at(b, "properties", "status")["enum"] = []any{"new", "paid", "shipped"}
		}, []string{
			"info      POST /api/orders  request $.count: type widened: integer -> number",
			"info      POST /api/orders  request $.note: became nullable",
			"info      POST /api/orders  request $.status: enum member added: shipped",
			"info      POST /api/orders  request $.total: became optional",
		}},
		{"request body optional", func(d map[string]any) { at(d, "paths", "/api/orders", "post", "requestBody")["required"] = false }, []string{}},
		{"added optional query parameter", func(d map[string]any) {
			g := at(d, "paths", "/api/orders", "get")
			g["parameters"] = append(g["parameters"].([]any), map[string]any{"name": "limit", "in": "query", "schema": map[string]any{"type": "integer"}})
		}, []string{"info      GET /api/orders  query limit: new optional query parameter"}},
		{"answer narrowed", func(d map[string]any) {
			orderField(d, "amount")["type"] = "integer"
			orderField(d, "note")["type"] = "string"
			orderData(d)["required"] = append(orderData(d)["required"].([]any), "amount")
		}, []string{
			"info      GET /api/orders/{id}  200 $.data.amount: became required",
			"info      GET /api/orders/{id}  200 $.data.amount: type narrowed: number -> integer",
			"info      GET /api/orders/{id}  200 $.data.note: null no longer answered",
		}},
		{"format added to an answer", func(d map[string]any) { at(orderData(d), "properties", "note")["format"] = "email" },
			[]string{"info      GET /api/orders/{id}  200 $.data.note: format (none) -> email"}},
		{"response added", func(d map[string]any) {
			at(d, "paths", "/api/orders/{id}", "get", "responses")["500"] = map[string]any{"description": "boom"}
		}, []string{"info      GET /api/orders/{id}  500: response 500 added"}},
		{"answer through a reference", func(d map[string]any) {
			d["components"] = map[string]any{"schemas": map[string]any{"Order": orderData(d)}}
			at(d, "paths", "/api/orders/{id}", "get", "responses", "200", "content", "application/json", "schema", "properties")["data"] =
				map[string]any{"$ref": "#/components/schemas/Order"}
		}, []string{}},
		{"answer in allOf", func(d map[string]any) {
			at(d, "paths", "/api/orders/{id}", "get", "responses", "200", "content", "application/json", "schema", "properties")["data"] =
				map[string]any{"allOf": []any{orderData(d)}}
		}, []string{}},
		{"default answer stands for 404", func(d map[string]any) {
			r := at(d, "paths", "/api/orders/{id}", "get", "responses")
			r["default"] = r["404"]
			delete(r, "404")
		}, []string{}},
		{"a type left to the enum", func(d map[string]any) {
			delete(orderField(d, "status"), "type")
		}, []string{}},
		{"error answers added", func(d map[string]any) {
			r := at(d, "paths", "/api/orders", "post", "responses")
			r["422"] = map[string]any{"description": "bad"}
		}, []string{"info      POST /api/orders  422: response 422 added"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := check(t, edit(t, nil), edit(t, tc.edit))
			assert.Empty(t, lines(r, Breaking), "all changes:\n%s", all(r))
			assert.False(t, r.HasBreaking())
			assert.Equal(t, tc.want, lines(r, Info))
		})
	}
}

func TestCheckRecursiveSchemas(t *testing.T) {
	doc := `{"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
	  "paths": {"/nodes/{id}": {"get": {"parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
	    "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}}}}}},
	  "components": {"schemas": {"Node": {"type": "object", "properties": {
	    "id": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}}}}}}`
	next := strings.Replace(doc, `"id": {"type": "integer"}, "children"`, `"id": {"type": "string"}, "children"`, 1)
	r := check(t, []byte(doc), []byte(next))
	assert.Equal(t, []string{"breaking  GET /nodes/{id}  200 $.id: type integer -> string"}, lines(r, Breaking))
}

func TestChangeJSON(t *testing.T) {
	r := check(t, edit(t, nil), edit(t, func(d map[string]any) { orderField(d, "total")["type"] = "number" }))
	require.Len(t, r.Changes, 1)
	b, err := json.Marshal(r)
	require.NoError(t, err)
	assert.JSONEq(t, `{"contract": "contract.json", "new": "new.json", "breaking": 1, "info": 0, "changes": [{
	  "severity": "breaking", "kind": "type_changed", "method": "GET", "path": "/api/orders/{id}", "in": "response",
	  "status": "200", "name": "application/json", "pointer": "$.data.total", "old": "string", "new": "number",
	  "message": "type string -> number"}]}`, string(b))
}
