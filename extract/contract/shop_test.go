package contract

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stranglerfig/strangler/proxy"
	"github.com/stranglerfig/strangler/proxy/capture"
	"github.com/stranglerfig/strangler/testdata/legacyshop"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// captureShop runs the example shop over MariaDB behind the facade, with
// capture on for its orders and customers routes, sends it the traffic of
// a small day and returns the capture files.
func captureShop(t *testing.T) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, err := sql.Open("mysql", dbtest.MySQL(t))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, legacyshop.Create(ctx, db))
	require.NoError(t, legacyshop.Seed(ctx, db, 30, 200, 1))
	legacy := httptest.NewServer(legacyshop.New(db))
	t.Cleanup(legacy.Close)

	dir := t.TempDir()
	project := fmt.Sprintf(`legacy: %s
routes:
  - name: orders-read
    match: {path: "/api/orders/{id}", methods: [GET]}
    target: http://127.0.0.1:1
    capture: {sample: 1, file: caps/orders-read.jsonl}
  - name: orders
    match: {path: /api/orders}
    target: http://127.0.0.1:1
    capture: {sample: 1, file: caps/orders.jsonl}
  - name: customers-read
    match: {path: "/api/customers/{id}", methods: [GET]}
    target: http://127.0.0.1:1
    capture: {sample: 1, file: caps/customers-read.jsonl}
`, legacy.URL)
	cfg, err := config.Parse(filepath.Join(dir, "strangler.yaml"), []byte(project), nil)
	require.NoError(t, err)
	f, err := proxy.New(cfg, proxy.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	facade := httptest.NewServer(f)

	send := func(method, path, body string) int {
		req, err := http.NewRequestWithContext(ctx, method, facade.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for id := 1; id <= 60; id++ {
		require.Equal(t, http.StatusOK, send("GET", fmt.Sprintf("/api/orders/%d", id), ""))
	}
	require.Equal(t, http.StatusNotFound, send("GET", "/api/orders/99999", ""))
	for page := 0; page < 4; page++ {
		require.Equal(t, http.StatusOK, send("GET", fmt.Sprintf("/api/orders?limit=10&offset=%d", page*10), ""))
	}
	require.Equal(t, http.StatusOK, send("GET", "/api/orders?limit=10&status=paid", ""))
	statuses := []string{"new", "paid", "shipped", "cancelled"}
	for i := 1; i <= 8; i++ {
		note := "null"
		if i%2 == 1 {
			note = fmt.Sprintf("%q", fmt.Sprintf("call %d before", i))
		}
		body := fmt.Sprintf(`{"customerId":%d,"status":%q,"total":"%d.25","note":%s}`, i, statuses[i%4], 10+i, note)
		require.Equal(t, http.StatusCreated, send("POST", "/api/orders", body))
	}
	for id := 1; id <= 5; id++ {
		require.Equal(t, http.StatusOK, send("GET", fmt.Sprintf("/api/customers/%d", id), ""))
	}
	facade.Close()
	require.NoError(t, f.Close())
	var files []string
	for _, n := range []string{"orders-read", "orders", "customers-read"} {
		files = append(files, filepath.Join(dir, "caps", n+".jsonl"))
	}
	return files
}

// TestShopRecipeAgainstItsObservedContract infers the contract of the
// example shop from captured answers and checks the orders recipe against
// it. The recipe reproduces the shop's answers field for field, save for
// what the breaking lines below name:
//
//   - data.requestId: the shop makes one up for every single-order answer;
//     the recipe has no such field (the demo's shadow comparison leaves it
//     out for the same reason).
//   - data.customer: the recipe's document declares every relation
//     optional and nullable ("present where the endpoint embeds it"), even
//     where the endpoint embeds it; the shop always sends it.
//   - 404: the shop answers {"error": "..."} as application/json, the
//     recipe an RFC 9457 problem as application/problem+json.
//   - the create's status: the recipe accepts four values; the shop's
//     database (an ENUM column) does too, but eight creates are too few for
//     the inferred contract to call the field an enum, so the contract
//     says any string was accepted.
//   - the list's status filter: the recipe's document restricts it to the
//     four statuses; the shop takes any text (an unknown status matches no
//     row), and one sample of it says no more than "a string".
func TestShopRecipeAgainstItsObservedContract(t *testing.T) {
	var recs []capture.Record
	for _, f := range captureShop(t) {
		r, err := capture.ReadFile(f)
		require.NoError(t, err)
		recs = append(recs, r...)
	}
	require.Len(t, recs, 60+1+5+8+5)
	res, err := Infer(recs, Options{})
	require.NoError(t, err)
	loadSpec(t, res.Document)
	again, err := Infer(recs, Options{})
	require.NoError(t, err)
	require.Equal(t, string(res.Document), string(again.Document))

	observed, err := Parse("observed.json", res.Document)
	require.NoError(t, err)
	recipe, err := LoadFile("../../testdata/legacyshop/recipes/orders.yaml")
	require.NoError(t, err)
	rep := Check(observed, recipe)
	assert.Equal(t, []string{
		"breaking  GET /api/orders  query status: restricted to new, paid, shipped, cancelled",
		"breaking  GET /api/orders  200 $.data[*].customer: always present before, now optional",
		"breaking  GET /api/orders  200 $.data[*].customer: became nullable",
		"breaking  POST /api/orders  request $.status: restricted to new, paid, shipped, cancelled",
		"breaking  POST /api/orders  201 $.data.customer: always present before, now optional",
		"breaking  POST /api/orders  201 $.data.customer: became nullable",
		"breaking  GET /api/orders/{id}  200 $.data.customer: always present before, now optional",
		"breaking  GET /api/orders/{id}  200 $.data.customer: became nullable",
		"breaking  GET /api/orders/{id}  200 $.data.requestId: field removed",
		"breaking  GET /api/orders/{id}  404 application/json: content type application/json -> application/problem+json",
		"breaking  GET /api/orders/{id}  404 $.error: field removed",
	}, lines(rep, Breaking), "all changes:\n%s", all(rep))
	t.Logf("observed contract vs orders recipe:\n%s", all(rep))
}
