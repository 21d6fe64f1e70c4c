package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stranglerfig/strangler/internal/dbconn"
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

// startServe runs `serve --migrate` of the shop recipe on database dsn from
// a project file until it answers; stop ends it and returns its exit code,
// standard output and standard error.
func startServe(t *testing.T, dsn string) (base string, stop func() (int, string, string)) {
	t.Helper()
	addr := freeAddr(t)
	dir := t.TempDir()
	abs, err := filepath.Abs(shopRecipe)
	require.NoError(t, err)
	project := filepath.Join(dir, "strangler.yaml")
	require.NoError(t, os.WriteFile(project, []byte("databases:\n  new: "+dsn+"\nservices:\n  - recipe: "+abs+"\n    listen: "+addr+"\n"), 0o644))

	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-c", project, "serve", "--migrate"}, out, errOut) }()
	stop = func() (int, string, string) {
		cancel()
		select {
		case code := <-done:
			return code, out.String(), errOut.String()
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop")
			return 0, "", ""
		}
	}
	client := &http.Client{Timeout: 5 * time.Second}
	up := assert.Eventually(t, func() bool {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond, "serve did not come up")
	if !up {
		_, _, stderr := stop()
		t.Fatalf("serve's standard error: %s", stderr)
	}
	return "http://" + addr, stop
}

// post sends body as JSON and returns the status and the answer.
func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestServeRuns migrates and serves the shop recipe from the project file,
// answers on it, and stops cleanly when its context ends.
func TestServeRuns(t *testing.T) {
	base, stop := startServe(t, dbtest.Postgres(t))
	code, body := post(t, base+"/api/customers", `{"name":"Ada","email":"ada@example.com"}`)
	require.Equal(t, http.StatusCreated, code, body)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(base + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(metrics), `strangler_recipe_requests_total{code="201",endpoint="createCustomer",service="orders"} 1`)

	code, out, stderr := stop()
	assert.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "orders: applied:\n    CREATE TABLE \"public\".\"customers\" (\n    \t")
	assert.Contains(t, out, "\n    )\n", "every line of each statement is printed")
}

// TestServeBindsBeforeMigrating: with its port taken, serve --migrate stops
// before it writes anything; without --migrate a missing table stops serve
// with the flag to use.
func TestServeBindsBeforeMigrating(t *testing.T) {
	dsn := dbtest.Postgres(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	abs, err := filepath.Abs(shopRecipe)
	require.NoError(t, err)
	project := filepath.Join(t.TempDir(), "strangler.yaml")
	require.NoError(t, os.WriteFile(project, []byte("databases:\n  new: "+dsn+"\nservices:\n  - recipe: "+abs+"\n    listen: "+taken.Addr().String()+"\n"), 0o644))

	code, _, stderr := runCLI(t, "-c", project, "serve", "--migrate")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "serve: listening on "+taken.Addr().String())

	conn, err := pgx.Connect(context.Background(), dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var tables int
	require.NoError(t, conn.QueryRow(context.Background(), "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").Scan(&tables))
	assert.Zero(t, tables, "nothing was migrated")

	require.NoError(t, taken.Close())
	code, _, stderr = runCLI(t, "-c", project, "serve")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, `service "orders": tables public.customers, public.orders do not exist: run strangler serve --migrate to create them`)
}

// TestServeOnLatin1Database serves a recipe from a database encoded in
// LATIN1: text is stored as its characters, not as LATIN1's reading of
// their UTF-8 bytes, and a character LATIN1 cannot hold is refused with a
// 422 that says so.
func TestServeOnLatin1Database(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, dbtest.Postgres(t))
	require.NoError(t, err)
	defer admin.Close(context.Background())
	name := "latin1_" + strings.ToLower(t.Name())
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name+" ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	cc := admin.Config()
	dsn := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cc.User, cc.Host, cc.Port, name)

	base, stop := startServe(t, dsn)
	code, body := post(t, base+"/api/customers", `{"name":"Renée Müller","email":"renee@example.com"}`)
	require.Equal(t, http.StatusCreated, code, body)
	assert.Contains(t, body, `"name":"Renée Müller"`)
	code, body = post(t, base+"/api/customers", `{"name":"Euro €","email":"euro@example.com"}`)
	assert.Equal(t, http.StatusUnprocessableEntity, code, body)
	assert.Contains(t, body, "has no equivalent in encoding")
	code, _, stderr := stop()
	assert.Equal(t, exitOK, code, stderr)

	cfg, err := dbconn.ParsePostgres(dsn)
	require.NoError(t, err)
	db, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	defer db.Close(context.Background())
	var stored string
	var chars int
	require.NoError(t, db.QueryRow(ctx, "SELECT name, length(name) FROM customers").Scan(&stored, &chars))
	assert.Equal(t, "Renée Müller", stored)
	assert.Equal(t, 12, chars, "two accented letters, one LATIN1 character each")
}
