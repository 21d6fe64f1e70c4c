package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/proxy/capture"
)

// writeShopCaptures writes a capture file of answers shaped like the
// example shop's (testdata/legacyshop): 30 single orders, a miss and a
// customer.
func writeShopCaptures(t *testing.T, dir string) string {
	t.Helper()
	at := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	statuses := []string{"new", "paid", "shipped", "cancelled"}
	hdr := http.Header{"Content-Type": {"application/json"}}
	var lines []string
	add := func(path string, vars map[string]string, status int, body any) {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rec := capture.Record{Route: "orders-read", At: at.Add(time.Duration(len(lines)) * time.Second),
			Request:  capture.Request{Method: "GET", Path: path, Vars: vars},
			Response: capture.Response{Status: status, Header: hdr, Body: string(b)}}
		line, err := json.Marshal(rec)
		require.NoError(t, err)
		lines = append(lines, string(line))
	}
	customer := func(id int) map[string]any {
		return map[string]any{"id": id, "name": fmt.Sprintf("Customer %d", id), "email": fmt.Sprintf("customer%d@example.com", id),
			"vip": id%4 == 0, "createdAt": at.Add(time.Duration(id) * time.Hour).Format(time.DateTime)}
	}
	for id := 1; id <= 30; id++ {
		var note any
		if id%3 == 0 {
			note = fmt.Sprintf("deliver to door %d", id)
		}
		add(fmt.Sprintf("/api/orders/%d", id), map[string]string{"id": fmt.Sprint(id)}, 200, map[string]any{"data": map[string]any{
			"id": id, "customerId": id%25 + 1, "status": statuses[id%4], "total": fmt.Sprintf("%d.%02d", id*7, id%100), "note": note,
			"placedAt": at.Add(time.Duration(id) * 17 * time.Minute).Format(time.DateTime), "customer": customer(id%25 + 1),
			"requestId": fmt.Sprintf("%016x", id*7919)}})
	}
	add("/api/orders/9999", map[string]string{"id": "9999"}, 404, map[string]any{"error": "order not found"})
	add("/api/customers/3", nil, 200, map[string]any{"data": customer(3)})
	file := filepath.Join(dir, "orders.jsonl")
	writeFile(t, file, strings.Join(lines, "\n")+"\n")
	return file
}

func TestContractInferWritesTheDocument(t *testing.T) {
	dir := t.TempDir()
	caps := writeShopCaptures(t, dir)
	code, out, stderr := runCLI(t, "contract", "infer", "--samples", caps)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stderr, "contract infer: 2 endpoints from 32 samples")
	spec, err := openapi3.NewLoader().LoadFromData([]byte(out))
	require.NoError(t, err)
	require.NoError(t, spec.Validate(context.Background()))
	assert.Equal(t, "3.1.0", spec.OpenAPI)
	for _, p := range []string{"/api/orders/{id}", "/api/customers/{id}"} {
		assert.NotNil(t, spec.Paths.Value(p), p)
	}

	file := filepath.Join(dir, "observed.json")
	code, again, stderr := runCLI(t, "contract", "infer", "--samples", caps, "-o", file)
	require.Equal(t, exitOK, code, stderr)
	assert.Empty(t, again)
	written, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, out, string(written), "the same samples, the same bytes")
}

func TestContractInferRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	writeFile(t, bad, "not a record\n{}\n")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no samples", []string{"contract", "infer"}, "--samples is required"},
		{"missing file", []string{"contract", "infer", "--samples", filepath.Join(dir, "nope.jsonl")}, "nope.jsonl"},
		{"not a capture file", []string{"contract", "infer", "--samples", bad}, "bad.jsonl:1: not a capture record"},
		{"unwritable output", []string{"contract", "infer", "--samples", writeShopCaptures(t, dir), "-o", filepath.Join(dir, "no", "such", "dir.json")}, "writing the document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			assert.Equal(t, exitUsage, code)
			assert.Contains(t, stderr, tc.want)
		})
	}
}

// contractShopRecipe is the example shop's orders recipe.
const contractShopRecipe = "../../testdata/legacyshop/recipes/orders.yaml"

func TestContractCheckExitCodes(t *testing.T) {
	dir := t.TempDir()
	observed := filepath.Join(dir, "observed.json")
	code, _, stderr := runCLI(t, "contract", "infer", "--samples", writeShopCaptures(t, dir), "-o", observed)
	require.Equal(t, exitOK, code, stderr)
	notDoc := filepath.Join(dir, "notes.yaml")
	writeFile(t, notDoc, "hello: world\n")
	brokenRecipe := filepath.Join(dir, "broken.yaml")
	writeFile(t, brokenRecipe, "service: orders\nresources: 7\n")
	swagger := filepath.Join(dir, "swagger.json")
	writeFile(t, swagger, `{"swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": {}}`)
	narrower := filepath.Join(dir, "narrower.json")
	data, err := os.ReadFile(observed)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(data, &doc))
	delete(doc["paths"].(map[string]any), "/api/customers/{id}")
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	writeFile(t, narrower, string(b))

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string // a line the output holds
		stderr string
	}{
		{"the contract against itself", []string{"contract", "check", observed, observed}, exitOK, "", "0 breaking, 0 info"},
		{"a recipe against itself", []string{"contract", "check", contractShopRecipe, contractShopRecipe}, exitOK, "", "0 breaking"},
		{"an added endpoint", []string{"contract", "check", narrower, observed}, exitOK, "info      GET /api/customers/{id}  endpoint added", "0 breaking, 1 info"},
		{"a removed endpoint", []string{"contract", "check", observed, narrower}, exitFailed, "breaking  GET /api/customers/{id}  endpoint removed", "1 breaking, 0 info"},
		{"the recipe against the observed contract", []string{"contract", "check", "--against", observed, contractShopRecipe}, exitFailed,
			"breaking  GET /api/orders/{id}  200 $.data.requestId: field removed", ""},
		{"missing file", []string{"contract", "check", observed, filepath.Join(dir, "nope.yaml")}, exitUsage, "", "nope.yaml"},
		{"neither a document nor a recipe", []string{"contract", "check", "--against", notDoc, contractShopRecipe}, exitUsage, "",
			"notes.yaml: neither an OpenAPI 3 document nor a recipe"},
		{"a recipe that does not load", []string{"contract", "check", observed, brokenRecipe}, exitUsage, "", "loading recipe " + brokenRecipe},
		{"OpenAPI 2", []string{"contract", "check", swagger, observed}, exitUsage, "", "swagger.json: neither an OpenAPI 3 document nor a recipe: swagger 2.0"},
		{"one argument", []string{"contract", "check", observed}, exitUsage, "", "give --against OPENAPI RECIPE, or OLD NEW"},
		{"--against and two arguments", []string{"contract", "check", "--against", observed, observed, contractShopRecipe}, exitUsage, "", "give one recipe or document"},
		{"bad output format", []string{"contract", "check", "-o", "yaml", observed, observed}, exitUsage, "", `-o "yaml"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, tc.args...)
			assert.Equal(t, tc.code, code, "stdout:\n%s\nstderr:\n%s", out, stderr)
			if tc.stdout != "" {
				assert.Contains(t, strings.Split(out, "\n"), tc.stdout, out)
			}
			assert.Contains(t, stderr, tc.stderr)
			if tc.code == exitUsage {
				assert.Empty(t, out)
			}
		})
	}
}

func TestContractCheckJSON(t *testing.T) {
	dir := t.TempDir()
	observed := filepath.Join(dir, "observed.json")
	code, _, stderr := runCLI(t, "contract", "infer", "--samples", writeShopCaptures(t, dir), "-o", observed)
	require.Equal(t, exitOK, code, stderr)
	code, out, stderr := runCLI(t, "contract", "check", "--against", observed, contractShopRecipe, "-o", "json")
	require.Equal(t, exitFailed, code, stderr)
	assert.Empty(t, stderr, "the JSON report is the only output")
	var rep struct {
		Contract string           `json:"contract"`
		New      string           `json:"new"`
		Breaking int              `json:"breaking"`
		Info     int              `json:"info"`
		Changes  []map[string]any `json:"changes"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.Equal(t, observed, rep.Contract)
	assert.Equal(t, contractShopRecipe, rep.New)
	assert.Positive(t, rep.Info)
	assert.Len(t, rep.Changes, rep.Breaking+rep.Info)
	assert.Contains(t, rep.Changes, map[string]any{"severity": "breaking", "kind": "field_removed", "method": "GET",
		"path": "/api/orders/{id}", "in": "response", "status": "200", "name": "application/json",
		"pointer": "$.data.requestId", "message": "field removed"})
	// What else the observed shop and the recipe disagree on: see
	// extract/contract's TestShopRecipeAgainstItsObservedContract.
	var breaking []string
	for _, c := range rep.Changes {
		if c["severity"] == "breaking" {
			pointer, _ := c["pointer"].(string) // left out where there is none
			breaking = append(breaking, strings.TrimSpace(fmt.Sprintf("%s %s %s", c["kind"], c["status"], pointer)))
		}
	}
	assert.Equal(t, []string{
		"became_optional 200 $.data.customer",
		"became_nullable 200 $.data.customer",
		"field_removed 200 $.data.requestId",
		"media_type_removed 404",
		"field_removed 404 $.error",
	}, breaking)
}
