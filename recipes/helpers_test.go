package recipes

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const ordersRecipe = "../testdata/legacyshop/recipes/orders.yaml"

// fixedNow is the clock of the tests: defaults of `now` take this value.
var fixedNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// env is a recipe service on a fresh database behind a real listener.
type env struct {
	t    *testing.T
	pool *pgxpool.Pool
	svc  *Service
	srv  *httptest.Server
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// loadRecipe reads the orders recipe, optionally edited by edit.
func loadRecipe(t testing.TB, edit func(string) string) *Recipe {
	t.Helper()
	data, err := os.ReadFile(ordersRecipe)
	require.NoError(t, err)
	text := string(data)
	if edit != nil {
		text = edit(text)
	}
	r, err := Parse("orders.yaml", []byte(text))
	require.NoError(t, err)
	return r
}

func openPool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(testCtx(t), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// newEnv serves r on a fresh, migrated database.
func newEnv(t *testing.T, r *Recipe) *env {
	t.Helper()
	pool := openPool(t, dbtest.Postgres(t))
	return newEnvOn(t, r, pool)
}

func newEnvOn(t *testing.T, r *Recipe, pool *pgxpool.Pool, opts ...Option) *env {
	t.Helper()
	ctx := testCtx(t)
	_, err := Migrate(ctx, pool, r)
	require.NoError(t, err)
	svc, err := NewService(r, pool, append([]Option{WithClock(func() time.Time { return fixedNow })}, opts...)...)
	require.NoError(t, err)
	require.NoError(t, svc.Start(ctx))
	t.Cleanup(func() { require.NoError(t, svc.Close(context.Background())) })
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	return &env{t: t, pool: pool, svc: svc, srv: srv}
}

// do sends a request; body may be a string (sent as is) or a value sent as
// JSON. headers are name, value pairs.
func (e *env) do(method, path string, body any, headers ...string) (*http.Response, string) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(e.t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	require.NoError(e.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp, string(data)
}

// must sends a request and requires the status.
func (e *env) must(status int, method, path string, body any, headers ...string) (*http.Response, string) {
	e.t.Helper()
	resp, text := e.do(method, path, body, headers...)
	require.Equal(e.t, status, resp.StatusCode, "%s %s: %s", method, path, text)
	return resp, text
}

func (e *env) count(table string) int {
	e.t.Helper()
	var n int
	require.NoError(e.t, e.pool.QueryRow(testCtx(e.t), "SELECT count(*) FROM "+table).Scan(&n))
	return n
}

// seed creates two customers and some orders through the API.
func (e *env) seed() {
	e.t.Helper()
	e.must(201, "POST", "/api/customers", map[string]any{"name": "Ada", "email": "ada@example.com", "vip": true})
	e.must(201, "POST", "/api/customers", map[string]any{"name": "Bob", "email": "bob@example.com"})
	for i, o := range []map[string]any{
		{"customerId": 1, "status": "paid", "total": "10.00", "placedAt": "2026-01-01 10:00:00"},
		{"customerId": 1, "status": "new", "total": "25.5", "placedAt": "2026-01-02 10:00:00"},
		{"customerId": 2, "status": "paid", "total": 99.99, "placedAt": "2026-01-03 10:00:00", "note": "gift"},
		{"customerId": 2, "status": "shipped", "total": "5", "placedAt": "2026-01-04 10:00:00"},
		{"customerId": 1, "status": "cancelled", "total": "0", "placedAt": "2026-01-05 10:00:00"},
	} {
		_ = i
		e.must(201, "POST", "/api/orders", o)
	}
}
