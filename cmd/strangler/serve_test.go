package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const shopRecipe = "../../testdata/legacyshop/recipes/orders.yaml"

func TestServeSchemaOpenAPIAndCheck(t *testing.T) {
	code, out, stderr := runCLI(t, "serve", "--schema")
	require.Equal(t, exitOK, code, stderr)
	var schema map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &schema))
	assert.Equal(t, "https://json-schema.org/draft/2020-12/schema", schema["$schema"])

	code, out, stderr = runCLI(t, "serve", "--openapi", shopRecipe)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, `"openapi": "3.1.0"`)

	code, out, stderr = runCLI(t, "serve", "--check", shopRecipe+"=127.0.0.1:9123")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "ok (service orders, 2 resources, 11 endpoints, listen 127.0.0.1:9123)")
}

func TestServeRefusesABadRecipe(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("service: x\nresources: []\nendpoints: []\nshape: {casing: shouty}\n"), 0o644))
	code, _, stderr := runCLI(t, "serve", "--check", bad)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, bad+`:4: shape.casing: "shouty" is not one of snake, camel, pascal, kebab, as_is`)
}

// TestServeRuns migrates and serves the shop recipe from the project file,
// answers on it, and stops cleanly when its context ends.
func TestServeRuns(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	dir := t.TempDir()
	abs, err := filepath.Abs(shopRecipe)
	require.NoError(t, err)
	project := filepath.Join(dir, "strangler.yaml")
	require.NoError(t, os.WriteFile(project, []byte("databases:\n  new: "+dbtest.Postgres(t)+"\nservices:\n  - recipe: "+abs+"\n    listen: "+addr+"\n"), 0o644))

	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut serveOutput
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-c", project, "serve", "--migrate"}, &out, &errOut) }()
	client := &http.Client{Timeout: 5 * time.Second}
	require.Eventually(t, func() bool {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond, "serve did not come up")

	resp, err := client.Post("http://"+addr+"/api/customers", "application/json", strings.NewReader(`{"name":"Ada","email":"ada@example.com"}`))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
	resp, err = client.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(body), `strangler_recipe_requests_total{code="201",endpoint="createCustomer",service="orders"} 1`)

	cancel()
	select {
	case code := <-done:
		assert.Equal(t, exitOK, code, errOut.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	assert.Contains(t, out.String(), `orders: applied: CREATE TABLE "public"."customers" (`)
}

// serveOutput is a bytes.Buffer safe for the server's goroutines and the
// test's reads.
type serveOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *serveOutput) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *serveOutput) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
