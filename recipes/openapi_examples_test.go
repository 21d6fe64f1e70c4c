package recipes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// docOp is one operation of an OpenAPI document, with the endpoint of the
// recipe it serves.
type docOp struct {
	path, method string
	op           *openapi3.Operation
	ep           *Endpoint
}

// TestEveryOperationAcceptsItsExamples serves every recipe of the
// repository on a fresh database, reads the OpenAPI document the service
// serves, and calls each operation with a request built from the document
// alone: path parameters from their schema's example (the key of the row
// created first where the path names the key), required query parameters
// from theirs, the body from the request body schema's example. Each answer
// must be a 2xx, and match the schema the document gives it. kin-openapi
// validates the document first, each example against its schema.
func TestEveryOperationAcceptsItsExamples(t *testing.T) {
	for _, file := range repositoryRecipes(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			r, err := Load(file)
			require.NoError(t, err)
			e := newEnv(t, r)
			_, text := e.must(200, "GET", "/openapi.json", nil)
			spec := loadOpenAPI(t, []byte(text))
			require.NoError(t, spec.Validate(context.Background()), "the document, its examples included, validates")
			router, err := gorillamux.NewRouter(spec)
			require.NoError(t, err)
			checker := &responseChecker{next: e.svc, router: router, seen: map[string]bool{}}
			e.srv.Config.Handler = checker

			creates, others, deletes := planOperations(t, r, spec)
			keys := map[string]map[string]string{} // resource -> key field -> key part of the row created
			for _, o := range creates {
				status, body := sendExample(t, e, o, keys, false)
				require.Equal(t, http.StatusCreated, status, "%s %s: %s", o.method, o.path, body)
				keys[o.ep.Resource] = createdKey(t, r, o.ep, body)
			}
			for _, o := range others {
				status, body := sendExample(t, e, o, keys, false)
				assert.True(t, status >= 200 && status < 300, "%s %s answered %d: %s", o.method, o.path, status, body)
				if o.method == http.MethodGet {
					status, body = sendExample(t, e, o, keys, true)
					assert.True(t, status >= 200 && status < 300, "%s %s with every query parameter's example answered %d: %s", o.method, o.path, status, body)
				}
			}
			for _, o := range deletes {
				status, body := sendExample(t, e, o, keys, false)
				assert.Equal(t, http.StatusNoContent, status, "%s %s: %s", o.method, o.path, body)
			}
			checker.mu.Lock()
			defer checker.mu.Unlock()
			assert.Empty(t, checker.errs, strings.Join(checker.errs, "\n"))
		})
	}
}

// planOperations lists the operations of the document: the creates first,
// a resource after those its fields refer to; then the others in path
// order; the deletes last, in the reverse order of the creates.
func planOperations(t *testing.T, r *Recipe, spec *openapi3.T) (creates, others, deletes []docOp) {
	t.Helper()
	var all []docOp
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			var ep *Endpoint
			for i := range r.Endpoints {
				if r.Endpoints[i].Name == op.OperationID {
					ep = &r.Endpoints[i]
				}
			}
			require.NotNil(t, ep, "operation %s serves an endpoint", op.OperationID)
			all = append(all, docOp{path: path, method: method, op: op, ep: ep})
		}
	}
	require.Len(t, all, len(r.Endpoints), "one operation per endpoint")
	sort.Slice(all, func(i, j int) bool { return all[i].path+all[i].method < all[j].path+all[j].method })
	rank := resourceRanks(r)
	for _, o := range all {
		switch o.ep.Action {
		case ActionCreate:
			creates = append(creates, o)
		case ActionDelete:
			deletes = append(deletes, o)
		default:
			others = append(others, o)
		}
	}
	sort.SliceStable(creates, func(i, j int) bool { return rank[creates[i].ep.Resource] < rank[creates[j].ep.Resource] })
	sort.SliceStable(deletes, func(i, j int) bool { return rank[deletes[i].ep.Resource] > rank[deletes[j].ep.Resource] })
	for _, o := range append(others, deletes...) {
		if needsKey(o.ep) {
			found := false
			for _, c := range creates {
				found = found || c.ep.Resource == o.ep.Resource
			}
			require.True(t, found, "%s needs a row of %s, which no endpoint creates", o.ep.Name, o.ep.Resource)
		}
	}
	return creates, others, deletes
}

// resourceRanks orders resources so that one holding another's key comes
// after it (the foreign keys Migrate creates).
func resourceRanks(r *Recipe) map[string]int {
	rank := map[string]int{}
	var visit func(name string, depth int) int
	visit = func(name string, depth int) int {
		if v, ok := rank[name]; ok || depth > len(r.Resources) {
			return v
		}
		n := 0
		for _, rel := range r.resource(name).Relations {
			if rel.Kind != "many" && rel.Resource != name {
				n = max(n, visit(rel.Resource, depth+1)+1)
			}
		}
		rank[name] = n
		return n
	}
	for _, res := range r.Resources {
		visit(res.Name, 0)
	}
	return rank
}

func needsKey(ep *Endpoint) bool {
	switch ep.Action {
	case ActionGet, ActionReplace, ActionPatch, ActionDelete:
		return true
	}
	return false
}

// sendExample sends the request the document describes for o: every path
// parameter and each required query parameter (every one when allQuery)
// from its schema's example, the body from the request body's example. It
// checks the request against the document before sending it.
func sendExample(t *testing.T, e *env, o docOp, keys map[string]map[string]string, allQuery bool) (int, string) {
	t.Helper()
	path := o.path
	query := url.Values{}
	for _, pr := range o.op.Parameters {
		p := pr.Value
		var value string
		switch {
		case p.In == "path" && needsKey(o.ep):
			value = keys[o.ep.Resource][p.Name]
		case p.In == "path" || (p.In == "query" && (p.Required || allQuery)):
			require.NotNil(t, p.Schema.Value.Example, "%s: parameter %s has an example", o.ep.Name, p.Name)
			value = exampleText(p.Schema.Value.Example)
		default:
			continue
		}
		if p.In == "path" {
			path = strings.Replace(path, "{"+p.Name+"}", url.PathEscape(value), 1)
		} else {
			query.Set(p.Name, value)
		}
	}
	var body io.Reader
	var payload []byte
	if o.op.RequestBody != nil {
		media := o.op.RequestBody.Value.Content.Get("application/json")
		require.NotNil(t, media, "%s: a JSON request body", o.ep.Name)
		ex := media.Schema.Value.Example
		require.NotNil(t, ex, "%s: the request body schema has an example", o.ep.Name)
		var err error
		payload, err = json.Marshal(ex)
		require.NoError(t, err)
		body = bytes.NewReader(payload)
	}
	target := e.srv.URL + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequest(strings.ToUpper(o.method), target, body)
	require.NoError(t, err)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	route, params, err := e.srv.Config.Handler.(*responseChecker).router.FindRoute(req)
	require.NoError(t, err, "%s %s", req.Method, target)
	check := req.Clone(context.Background())
	if payload != nil {
		check.Body = io.NopCloser(bytes.NewReader(payload))
	}
	require.NoError(t, openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
		Request: check, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}), "the request built from the document matches the document: %s %s %s", req.Method, target, payload)
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, fmt.Sprintf("%s %s -> %s", payload, target, data)
}

// exampleText writes an example as a path or query parameter value.
func exampleText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// createdKey reads the key of the row a create answered: each part by the
// name and the JSON name of its field.
func createdKey(t *testing.T, r *Recipe, ep *Endpoint, answer string) map[string]string {
	t.Helper()
	_, data, _ := strings.Cut(answer, " -> ")
	dec := json.NewDecoder(strings.NewReader(data))
	dec.UseNumber()
	var doc map[string]any
	require.NoError(t, dec.Decode(&doc), answer)
	if r.Shape.Envelope == "data" {
		doc, _ = doc[r.Shape.DataKey].(map[string]any)
	}
	res := r.resource(ep.Resource)
	out := map[string]string{}
	for _, name := range res.Keys {
		f := res.field(name)
		v := doc[f.JSON]
		require.NotNil(t, v, "the answer holds the key part %s: %s", name, answer)
		out[f.Name], out[f.JSON] = exampleText(fmt.Sprint(v)), exampleText(fmt.Sprint(v))
	}
	return out
}

// TestOpenAPIValidationRefusesBadExamples shows that the validation above
// reads the examples: a body example the field's pattern refuses, or a
// time in another layout, fails it.
func TestOpenAPIValidationRefusesBadExamples(t *testing.T) {
	r := loadRecipe(t, nil)
	doc, err := OpenAPI(r)
	require.NoError(t, err)
	spec := loadOpenAPI(t, doc)
	require.NoError(t, spec.Validate(context.Background()))
	for name, bad := range map[string]func(s openapi3.Schemas){
		"decimal in the wrong form": func(s openapi3.Schemas) { s["OrderInput"].Value.Properties["total"].Value.Example = "1.5" },
		"time in another layout":    func(s openapi3.Schemas) { s["Order"].Value.Properties["placedAt"].Value.Example = "2025-11-28 22:45" },
		"body missing a field": func(s openapi3.Schemas) {
			delete(s["CustomerInput"].Value.Example.(map[string]any), "email")
		},
	} {
		t.Run(name, func(t *testing.T) {
			spec := loadOpenAPI(t, doc)
			bad(spec.Components.Schemas)
			assert.Error(t, spec.Validate(context.Background()))
		})
	}
}
