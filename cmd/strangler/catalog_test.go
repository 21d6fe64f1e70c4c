package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/proxy"
	"github.com/stranglerfig/strangler/proxy/control"
)

const catalogTestToken = "tok-catalog-0123456789abcdef"

// catalogProject is a project file of the example shop's two recipes;
// %[1]s is legacy, %[2]s the new services, %[3]s the recipes' directory,
// %[4]s the rest of the file (listeners, state).
const catalogProject = `%[4]s
legacy: %[1]s
databases:
  legacy: mysql://root@127.0.0.1:3306/shop
  new: postgres://postgres@127.0.0.1:5432/shop
routes:
  - name: orders-read
    match: {path: /api/orders/{id}, methods: [GET]}
    target: %[2]s
    mode: new
    owner: team-orders-read
    service: orders
    slo: {availability: 99.9, p99: 5s}
  - name: orders-write
    match: {path: /api/orders, methods: [POST]}
    target: %[2]s
    service: orders
  - name: products
    match: {prefix: /api/products/}
    target: %[2]s
    mode: canary
    percent: 25
    sticky: header:X-User-Id
    service: catalog
  - name: reports
    match: {prefix: /api/reports/}
    target: %[2]s
sync:
  - name: shop
    tables: [orders, customers]
  - name: products
    tables: [{name: tbl_products, target: products}]
services:
  - recipe: %[3]s/orders.yaml
    listen: 127.0.0.1:9100
    owner: team-orders
    slo: {availability: 99}
  - recipe: %[3]s/catalog.yaml
    listen: 127.0.0.1:9101
    name: catalog
`

// shopRecipes is the example shop's recipe directory, absolute.
func shopRecipes(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../testdata/legacyshop/recipes")
	require.NoError(t, err)
	return dir
}

// writeCatalogProject writes the project file with legacy and target
// servers and returns its path.
func writeCatalogProject(t *testing.T, head string) string {
	t.Helper()
	legacy, target := pxBackend(t, "legacy"), pxBackend(t, "new")
	path := filepath.Join(t.TempDir(), "strangler.yaml")
	writeFile(t, path, fmt.Sprintf(catalogProject, legacy.URL, target.URL, shopRecipes(t), head))
	return path
}

func TestBuildCatalog(t *testing.T) {
	path := writeCatalogProject(t, "")
	cfg, err := config.Load(path, projectChecks{})
	require.NoError(t, err)
	var logs lockedBuffer
	a := &app{log: newLogger(&logs, "json", slog.LevelInfo)}
	cat, err := a.buildCatalog(cfg)
	require.NoError(t, err)
	assert.Empty(t, logs.String(), "every route names a service the file serves")

	f, err := proxy.New(cfg, proxy.WithLogger(newLogger(io.Discard, "json", slog.LevelError)))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	resp := cat.Response(f)
	require.Len(t, resp.Services, 3)
	orders, catalog, none := resp.Services[0], resp.Services[1], resp.Services[2]
	assert.Equal(t, "orders", orders.Name, "the recipe's own service name")
	assert.Equal(t, "team-orders", orders.Owner)
	assert.Equal(t, shopRecipes(t)+"/orders.yaml", orders.Recipe)
	assert.Equal(t, []string{"customers", "orders"}, orders.Tables, "in the recipe's resource order")
	assert.Equal(t, []control.TableSync{{Table: "customers", Pipeline: "shop", Source: "customers"}, {Table: "orders", Pipeline: "shop", Source: "orders"}}, orders.Sync)
	assert.Equal(t, "catalog", catalog.Name)
	assert.Equal(t, []string{"products"}, catalog.Tables)
	assert.Equal(t, []control.TableSync{{Table: "products", Pipeline: "products", Source: "tbl_products"}}, catalog.Sync, "synced under another name")
	assert.Equal(t, "", none.Name)
	assert.Equal(t, "/api/reports/*", none.Routes[0].Path)
	assert.Equal(t, []string{"shop"}, cat.Pipelines("orders-write"))
	assert.Equal(t, []string{"products"}, cat.Pipelines("products"))
	assert.Nil(t, cat.Pipelines("reports"))

	for _, tc := range []struct {
		name    string
		edit    func(string) string
		wantErr string
		wantLog string
	}{
		{"a route naming a service the recipes do not", func(s string) string {
			return strings.Replace(s, "    service: orders\n    slo:", "    service: billing\n    slo:", 1)
		}, "", `routes[0].service: \"billing\" is not the name of any of services[] (orders, catalog): the catalog lists it as a service run elsewhere`},
		{"a recipe that cannot be read", func(s string) string {
			return strings.Replace(s, "/orders.yaml", "/missing-orders.yaml", 1)
		}, "", `catalog: services[0] (missing-orders): its tables are unknown: reading recipe: open `},
		{"two services of one name", func(s string) string {
			return strings.Replace(s, "    name: catalog\n", "    name: orders\n", 1)
		}, `building the catalog: services[0] and services[1] are both named "orders": give one of them a name`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			edited := filepath.Join(t.TempDir(), "strangler.yaml")
			writeFile(t, edited, tc.edit(string(data)))
			cfg, err := config.Load(edited, projectChecks{})
			require.NoError(t, err)
			var logs lockedBuffer
			a := &app{log: newLogger(&logs, "json", slog.LevelInfo)}
			_, err = a.buildCatalog(cfg)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Contains(t, logs.String(), tc.wantLog)
		})
	}
}

// catalogAdmin runs the admin API with the catalog built from the project
// file, over a real facade, as runProxy wires it; it returns the admin
// API's and the facade's servers.
func catalogAdmin(t *testing.T) (admin, front *httptest.Server) {
	t.Helper()
	cfg, err := config.Load(writeCatalogProject(t, ""), projectChecks{})
	require.NoError(t, err)
	quiet := newLogger(io.Discard, "json", slog.LevelError)
	f, err := proxy.New(cfg, proxy.WithLogger(quiet))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	store, err := control.NewFileStore(filepath.Join(t.TempDir(), "routes.state.json"))
	require.NoError(t, err)
	ctl, err := control.NewController(cfg, store, f, control.WithControllerLogger(quiet))
	require.NoError(t, err)
	require.NoError(t, ctl.Load(context.Background()))
	cat, err := (&app{log: quiet}).buildCatalog(cfg)
	require.NoError(t, err)
	tokens, err := control.ParseTokens(catalogTestToken)
	require.NoError(t, err)
	a, err := control.NewAdmin(ctl, tokens, control.WithAdminLogger(quiet), control.WithCatalog(cat, f))
	require.NoError(t, err)
	admin, front = httptest.NewServer(a), httptest.NewServer(f)
	t.Cleanup(admin.Close)
	t.Cleanup(front.Close)
	return admin, front
}

// get sends n GET requests to url and checks that each was answered.
func get(t *testing.T, n int, url string) {
	t.Helper()
	for range n {
		resp, err := http.Get(url)
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, url)
	}
}

// checkCatalogOutput runs `strangler catalog` and `-o json` with args and
// checks what they print after 10 orders reads and 3 unmatched requests.
func checkCatalogOutput(t *testing.T, args ...string) {
	t.Helper()
	t.Run("text", func(t *testing.T) {
		code, out, errOut := cli(t, append(args, "catalog")...)
		require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
		for _, want := range []string{
			"orders (owner team-orders, recipe " + shopRecipes(t) + "/orders.yaml, listen 127.0.0.1:9100)\n",
			"  tables: customers (sync shop), orders (sync shop)\n",
			"  slo:    99% over 1m0s: 10 requests, 0 failed; availability 100% >= 99%; met\n",
			"ROUTE", "MODE", "ENDPOINT", "OWNER", "SLO", "MEASURED", "STANDING",
			"  orders-read   new     GET /api/orders/{id}  team-orders-read  99.9%, p99 5s  100% of 10, p99 ",
			"catalog (recipe " + shopRecipes(t) + "/catalog.yaml, listen 127.0.0.1:9101)\n",
			"  tables: products (sync products)\n",
			"  products  canary 25%  /api/products/*  -      -    -         -\n",
			"  reports  legacy  /api/reports/*  -      -    -         -\n",
			"(none) (routes that name no service)\n",
			"legacy still answers:\n",
			"  orders-write  orders   legacy      100%          POST /api/orders\n",
			"  products      catalog  canary 25%  75%           /api/products/*\n",
			"  reports       -        legacy      100%          /api/reports/*\n",
			"unmatched traffic (legacy answers it), last 1m0s: 3 requests, 0 errors (0.00%), ",
		} {
			require.Contains(t, out, want)
		}
		require.Regexp(t, `\n  orders-read .* in 1m0s\s+met\n  orders-write  legacy  POST /api/orders      team-orders       99%            no requests in 1m0s\s+-\n`, out)
	})
	t.Run("json", func(t *testing.T) {
		code, out, errOut := cli(t, append(args, "catalog", "-o", "json")...)
		require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
		var resp control.CatalogResponse
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&resp), out)
		require.Len(t, resp.Services, 3)
		read := resp.Services[0].Routes[0]
		assert.Equal(t, "orders-read", read.Name)
		require.NotNil(t, read.SLO)
		assert.Equal(t, int64(10), read.SLO.Requests)
		require.NotNil(t, read.SLO.Met)
		assert.True(t, *read.SLO.Met)
		assert.Equal(t, int64(3), resp.Unmatched.Requests)
		var left []string
		for _, l := range resp.Left {
			left = append(left, fmt.Sprintf("%s %s %g", l.Route, l.Mode, l.Percent))
		}
		assert.Equal(t, []string{"orders-write legacy 100", "products canary 75", "reports legacy 100"}, left)
		for _, key := range []string{`"legacy_percent": 75`, `"measured_availability": 100`, `"window": "1m0s"`, `"tables": [`} {
			assert.Contains(t, out, key)
		}
	})
	t.Run("bad output", func(t *testing.T) {
		code, _, errOut := cli(t, append(args, "catalog", "-o", "yaml")...)
		require.Equal(t, exitUsage, code)
		require.Contains(t, errOut, `-o "yaml": use text or json`)
	})
}

func TestCatalogCommand(t *testing.T) {
	admin, front := catalogAdmin(t)
	t.Setenv(envAdminToken, catalogTestToken)
	t.Setenv(envAdmin, "")
	get(t, 10, front.URL+"/api/orders/7")
	get(t, 3, front.URL+"/about")
	checkCatalogOutput(t, "--admin", admin.URL)

	t.Run("without the token", func(t *testing.T) {
		t.Setenv(envAdminToken, "")
		code, _, errOut := cli(t, "--admin", admin.URL, "catalog")
		require.Equal(t, exitFailed, code)
		require.Contains(t, errOut, "admin API refused GET /catalog (401 Unauthorized): missing or wrong bearer token")
	})
	t.Run("an admin API without the catalog", func(t *testing.T) {
		srv, _ := adminServer(t, catalogTestToken)
		code, _, errOut := cli(t, "--admin", srv.URL, "catalog")
		require.Equal(t, exitFailed, code)
		require.Contains(t, errOut, "admin API refused GET /catalog (404 Not Found): the admin API has no /catalog")
	})
}

// TestCatalogCommandAgainstProxy runs `strangler proxy` in-process and
// reads its catalog, found through the project file's admin.listen.
func TestCatalogCommandAgainstProxy(t *testing.T) {
	listen, admin := freeAddr(t), freeAddr(t)
	dir := t.TempDir()
	head := fmt.Sprintf("listen: %s\nadmin:\n  listen: %s\nstate: %s\nproxy:\n  shutdown_timeout: 2s\n",
		listen, admin, filepath.Join(dir, "routes.state.json"))
	project := writeCatalogProject(t, head)
	t.Setenv(envAdminToken, catalogTestToken)
	t.Setenv(envAdmin, "")
	startProxy(t, project, listen, admin)

	get(t, 10, "http://"+listen+"/api/orders/7")
	get(t, 3, "http://"+listen+"/about")
	checkCatalogOutput(t, "-c", project)
}
