package recipes

import (
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite recipe.schema.json and reference.md from Spec")

// good is a small valid recipe that the bad cases break one thing at a time.
const good = `service: shop
resources:
  - name: order
    table: orders
    fields:
      - name: id
        type: integer
        generated: true
      - name: status
        type: string
        enum: [new, paid]
      - name: total
        type: decimal
    rules:
      - expr: "self.total >= 0"
        field: total
endpoints:
  - method: GET
    path: /orders/{id}
    resource: order
    action: get
  - method: GET
    path: /orders
    resource: order
    action: list
    filters: [status]
`

func TestParseGood(t *testing.T) {
	r, err := Parse("shop.yaml", []byte(good))
	require.NoError(t, err)
	assert.Equal(t, "orders", r.Resources[0].Table)
	assert.Equal(t, "public", r.Resources[0].Schema)
	assert.Equal(t, "id", r.Resources[0].Key, "key defaults to id")
	assert.Equal(t, 2, r.Resources[0].Fields[2].Scale, "scale defaults to 2")
	assert.Equal(t, "data", r.Shape.Envelope)
	assert.Equal(t, "rfc3339", r.Shape.TimestampFormat)
	assert.Equal(t, []string{"total", "limit", "offset"}, r.Shape.Meta)
	assert.Equal(t, int64(1<<20), r.MaxBody)
	assert.Equal(t, "500ms", r.Events.Backoff)
	assert.Equal(t, "getOrder", r.Endpoints[0].Name)
	assert.Equal(t, "rule broken: self.total >= 0", r.Resources[0].Rules[0].Message)
}

// TestBadRecipes: each mistake is refused with file:line, the key's path
// and what is wrong.
func TestBadRecipes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string
		line     int
		want     string
	}{
		{"unknown field", "        enum: [new, paid]", "        enum: [new, paid]\n        colour: red", 12, `resources[0].fields[1].colour: unknown field`},
		{"unknown field with a suggestion", "    table: orders", "    tabel: orders", 4, `did you mean "table"?`},
		{"bad field type", "        type: decimal", "        type: money", 13, `resources[0].fields[2].type: "money" is not one of string, integer`},
		{"bad key type", "        generated: true", "        generated: yes please", 8, `resources[0].fields[0].generated: "yes please" is not true or false`},
		{"a list where a mapping goes", "    table: orders", "    table: [orders]", 4, `resources[0].table: expected a string, found a list`},
		{"path parameter without a field", "    path: /orders/{id}", "    path: /orders/{order_id}", 19, `path parameter {order_id} is not the key "id"`},
		{"list path parameter without a field", "    path: /orders\n", "    path: /shops/{shop}/orders\n", 23, `path parameter {shop} is not a field of "order"`},
		{"rule that does not compile", `"self.total >= 0"`, `"self.total >= "`, 15, `resources[0].rules[0].expr: does not compile`},
		{"rule naming a missing field", `"self.total >= 0"`, `"self.amount >= 0"`, 15, `self.amount is not a field of "order"`},
		{"rule that is not boolean", `"self.total >= 0"`, `"len(self.status)"`, 15, `does not compile`},
		{"duplicate route", "    path: /orders\n", "    path: /orders/{key}\n", 23, `route GET /orders/{key} is also declared by endpoints[0]`},
		{"filter on an unknown field", "filters: [status]", "filters: [colour]", 26, `"colour" is not a readable field`},
		{"method that does not fit the action", "- method: GET\n    path: /orders\n", "- method: POST\n    path: /orders\n", 22, `action list is served with GET, not POST`},
		{"missing required key", "    resource: order\n    action: get\n", "    resource: order\n", 18, `missing required field "action"`},
		{"required key given as null", "    resource: order\n    action: get\n", "    resource: order\n    action:\n", 18, `missing required field "action"`},
		{"a null key is as if absent", "        enum: [new, paid]", "        enum: [new, paid]\n        default: lost\n        nullable: null", 12, `default: "lost": must be one of new, paid`},
		{"bad pattern", "        enum: [new, paid]", "        pattern: '(['", 11, `pattern: does not compile`},
		{"default breaking its enum", "        enum: [new, paid]", "        enum: [new, paid]\n        default: lost", 12, `default: "lost": must be one of new, paid`},
		{"unknown relation embedded", "filters: [status]", "embed: [customer]", 26, `"customer" is not a relation of "order"`},
		{"named query with an undeclared parameter", "    filters: [status]\n", "    filters: [status]\n  - method: GET\n    path: /stats\n    action: query\n    query:\n      sql: select :who\n", 31, `:who is not a declared parameter`},
		{"overlapping routes", "    filters: [status]\n", "    filters: [status]\n  - name: a\n    method: GET\n    path: /orders/{status}/lines\n    resource: order\n    action: list\n  - name: b\n    method: GET\n    path: /orders/x/{status}\n    resource: order\n    action: list\n", 34, `cannot be served`},
		{"a route the service keeps for itself", "    path: /orders\n", "    path: /healthz\n", 23, `cannot be served`},
		{"table name PostgreSQL would cut", "    table: orders", "    table: " + strings.Repeat("o", 64), 4, `resources[0].table: "` + strings.Repeat("o", 64) + `" is 64 bytes long; PostgreSQL keeps only 63`},
		{"column name PostgreSQL would cut", "        type: decimal", "        type: decimal\n        column: " + strings.Repeat("c", 64), 14, `resources[0].fields[2].column: "` + strings.Repeat("c", 64) + `" is 64 bytes long`},
		{"invalid YAML", "    table: orders", "    table: orders\n   bad indent", 6, `invalid YAML`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(good, tc.old, tc.new, 1)
			require.NotEqual(t, good, src, "the case must change the recipe")
			_, err := Parse("shop.yaml", []byte(src))
			require.Error(t, err)
			es := errorsOf(err)
			require.NotEmpty(t, es, "a positioned error: %v", err)
			found := false
			for _, e := range es {
				if strings.Contains(e.Error(), tc.want) {
					found = true
					assert.Equal(t, tc.line, e.Line, "line of %q", e.Error())
					assert.True(t, strings.HasPrefix(e.Error(), "shop.yaml:"), e.Error())
				}
			}
			assert.True(t, found, "want %q in\n%v", tc.want, err)
		})
	}
}

// TestSpecDeclaresEveryKey: every key the structs decode is declared in
// Spec and every declared key decodes into a struct field, so the one
// declaration really is the whole format.
func TestSpecDeclaresEveryKey(t *testing.T) {
	types := map[string]reflect.Type{
		"recipe": reflect.TypeFor[Recipe](), "shape": reflect.TypeFor[Shape](), "events": reflect.TypeFor[Events](),
		"resource": reflect.TypeFor[Resource](), "field": reflect.TypeFor[Field](), "relation": reflect.TypeFor[Relation](),
		"rule": reflect.TypeFor[Rule](), "endpoint": reflect.TypeFor[Endpoint](), "query": reflect.TypeFor[Query](), "param": reflect.TypeFor[Param](),
		"subscription": reflect.TypeFor[Subscription](), "event_param": reflect.TypeFor[EventParam](),
	}
	require.Len(t, Spec, len(types))
	for _, o := range Spec {
		typ, ok := types[o.Name]
		require.True(t, ok, o.Name)
		fields := structFields(typ)
		declared := map[string]bool{}
		for _, f := range o.Fields {
			declared[f.Key] = true
			_, ok := fields[f.Key]
			assert.True(t, ok, "%s.%s is declared but no struct field decodes it", o.Name, f.Key)
			assert.NotEmpty(t, f.Desc, "%s.%s has a description", o.Name, f.Key)
			if f.Kind == KObject || f.Kind == KObjectList {
				assert.NotNil(t, specByName(f.Object), "%s.%s refers to object %q", o.Name, f.Key, f.Object)
			}
		}
		for key := range fields {
			assert.True(t, declared[key], "%s.%s decodes but is not declared in Spec", o.Name, key)
		}
	}
}

// TestGeneratedFilesCurrent keeps recipe.schema.json and reference.md in
// step with Spec (go test ./recipes -run TestGeneratedFilesCurrent -update
// rewrites them).
func TestGeneratedFilesCurrent(t *testing.T) {
	schema, err := JSONSchema()
	require.NoError(t, err)
	ref := []byte(Reference())
	for name, want := range map[string][]byte{"recipe.schema.json": schema, "reference.md": ref} {
		if *update {
			require.NoError(t, os.WriteFile(name, want, 0o644))
		}
		got, err := os.ReadFile(name)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), "%s is stale: run go test ./recipes -run TestGeneratedFilesCurrent -update", name)
	}
}

// TestSchemaAcceptsRecipes: the generated JSON Schema accepts every recipe
// in the repository and refuses what the parser refuses for shape reasons.
func TestSchemaAcceptsRecipes(t *testing.T) {
	schemaJSON, err := JSONSchema()
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(schemaJSON)))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource("recipe.schema.json", doc))
	sch, err := c.Compile("recipe.schema.json")
	require.NoError(t, err)
	validate := func(src []byte) error {
		var v any
		require.NoError(t, yaml.Unmarshal(src, &v))
		return sch.Validate(v)
	}
	for _, file := range append(repositoryRecipes(t), "") {
		src := []byte(good)
		if file != "" {
			src, err = os.ReadFile(file)
			require.NoError(t, err)
		}
		assert.NoError(t, validate(src), file)
	}
	assert.Error(t, validate([]byte(strings.Replace(good, "    table: orders", "    tabel: orders", 1))))
	assert.Error(t, validate([]byte(strings.Replace(good, "type: decimal", "type: money", 1))))
}
