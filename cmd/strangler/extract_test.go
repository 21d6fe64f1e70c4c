package main

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stranglerfig/strangler/testdata/legacyshop"
)

// TestExtractCommand writes the recipe, DDL, fragment and report of the
// shop's schema into -o, the same bytes on a second run.
func TestExtractCommand(t *testing.T) {
	my := dbtest.MySQL(t)
	db, err := sql.Open("mysql", my)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, legacyshop.Create(context.Background(), db))
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "extract", "--legacy", my, "--route-prefix", "/api", "-o", filepath.Join(dir, "a"))
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out, "wrote "+filepath.Join(dir, "a", "customer.yaml"))
	assert.Regexp(t, `orders\s+6 of 6 columns served`, out)
	code, _, _ = runCLI(t, "extract", "--legacy", my, "--route-prefix", "/api", "-o", filepath.Join(dir, "b"))
	require.Equal(t, exitOK, code)
	for _, f := range []string{"customer.yaml", "schema.sql", "strangler.fragment.yaml", "report.txt"} {
		a, err := os.ReadFile(filepath.Join(dir, "a", f))
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(dir, "b", f))
		require.NoError(t, err)
		assert.Equal(t, string(a), string(b), "%s is byte-identical across runs", f)
	}
	code, _, errOut = runCLI(t, "extract", "--legacy", my, "--table", "invoices", "-o", filepath.Join(dir, "c"))
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "--table invoices: no such table")
}

// TestExtractCheckCommand replays a capture file against a served
// service: exit 0 when every answer is legacy's, 1 with the differing
// path otherwise.
func TestExtractCheckCommand(t *testing.T) {
	samples := filepath.Join(t.TempDir(), "orders.jsonl")
	writeFile(t, samples, `{"route":"orders","request":{"method":"GET","path":"/api/orders/1"},"response":{"status":200,"header":{"Content-Type":["application/json"]},"body":"{\"data\":{\"id\":1,\"total\":\"1.00\"}}"}}
{"route":"orders","request":{"method":"GET","path":"/api/orders/2"},"response":{"status":200,"header":{"Content-Type":["application/json"]},"body":"{\"data\":{\"id\":2,\"total\":\"2.00\"}}"}}
`)
	total := map[string]string{"/api/orders/1": "1.00", "/api/orders/2": "2.00"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"data": {"total": "`+total[r.URL.Path]+`", "id": `+r.URL.Path[len("/api/orders/"):]+`}}`)
	}))
	defer srv.Close()
	code, out, errOut := runCLI(t, "extract", "--check", "--samples", samples, "--target", srv.URL)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out, "replayed 2 captured GETs: 2 answered as legacy did (100.00%)")

	total["/api/orders/2"] = "2.0"
	code, out, errOut = runCLI(t, "extract", "--check", "--samples", samples, "--target", srv.URL)
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, out, "replayed 2 captured GETs: 1 answered as legacy did (50.00%)")
	assert.Regexp(t, `\$\.data\.total\s+1\s+legacy "2\.00", new "2\.0" \(GET /api/orders/2\)`, out)
	assert.Contains(t, errOut, "1 of 2 answers differ from legacy's")
}
