package legacyshop_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stranglerfig/strangler/testdata/legacyshop"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// openDB opens a fresh MariaDB database.
func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dbtest.MySQL(t))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// shop is the shop of a test: its database and its server.
type shop struct {
	db  *sql.DB
	url string
}

// newShop migrates a fresh database, seeds it with o and serves it.
func newShop(t *testing.T, o legacyshop.SeedOptions) *shop {
	t.Helper()
	db := openDB(t)
	require.NoError(t, legacyshop.Migrate(context.Background(), db))
	require.NoError(t, legacyshop.SeedWith(context.Background(), db, o))
	return serve(t, db)
}

func serve(t *testing.T, db *sql.DB) *shop {
	t.Helper()
	srv := httptest.NewServer(legacyshop.New(db))
	t.Cleanup(srv.Close)
	return &shop{db: db, url: srv.URL}
}

// answer is one HTTP answer, read.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic value, numbers kept as written.
func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	dec := json.NewDecoder(strings.NewReader(string(a.body)))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&v), "body: %s", a.body)
	return v
}

// do sends a request; body is sent as JSON unless contentType says else.
func (s *shop) do(t *testing.T, method, path, body string, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := noRedirect.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func (s *shop) get(t *testing.T, path string, hdr ...string) answer {
	t.Helper()
	return s.do(t, http.MethodGet, path, "", hdr...)
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// keys returns the sorted keys of a JSON object.
func keys(v any) []string {
	m, _ := v.(map[string]any)
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// obj and list assert a JSON value's kind.
func obj(t *testing.T, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	require.True(t, ok, "an object: %v", v)
	return m
}

func list(t *testing.T, v any) []any {
	t.Helper()
	l, ok := v.([]any)
	require.True(t, ok, "an array: %v", v)
	return l
}

// The formats of the shop's money and dates.
const (
	moneyRe = `^[0-9]+\.[0-9]{2}$`
	dateRe  = `^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$`
)

// num reads a JSON integer.
func num(t *testing.T, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	require.True(t, ok, "a number: %#v", v)
	i, err := n.Int64()
	require.NoError(t, err, "an integer: %s", n)
	return i
}

// cents reads a money string.
func cents(t *testing.T, v any) int64 {
	t.Helper()
	s, ok := v.(string)
	require.True(t, ok, "money as a string: %#v", v)
	require.Regexp(t, moneyRe, s)
	whole, frac, _ := strings.Cut(s, ".")
	w, err := strconv.ParseInt(whole, 10, 64)
	require.NoError(t, err)
	f, err := strconv.ParseInt(frac, 10, 64)
	require.NoError(t, err)
	return w*100 + f
}

// scalar queries one value.
func scalar[T any](t *testing.T, db *sql.DB, q string, args ...any) T {
	t.Helper()
	var v T
	require.NoError(t, db.QueryRow(q, args...).Scan(&v), q)
	return v
}

// dump hashes every row of the shop's tables that exist, in key order, so
// that two databases can be compared.
func dump(t *testing.T, db *sql.DB) string {
	t.Helper()
	h := sha256.New()
	for _, q := range []string{
		"SELECT id, name, email, vip, DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s') FROM customers ORDER BY id",
		"SELECT id, customer_id, status, total, COALESCE(note, '<null>'), DATE_FORMAT(placed_at, '%Y-%m-%d %H:%i:%s') FROM orders ORDER BY id",
		"SELECT id, sku, name, price, active, DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s') FROM products ORDER BY id",
		"SELECT product_id, quantity, DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s') FROM stock ORDER BY product_id",
		"SELECT order_id, product_id, quantity, unit_price FROM order_items ORDER BY order_id, product_id",
		"SELECT customer_id, password_sha1 FROM customer_logins ORDER BY customer_id",
	} {
		rows, err := db.Query(q)
		if err != nil && strings.Contains(err.Error(), "doesn't exist") {
			continue
		}
		require.NoError(t, err, q)
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			for _, v := range vals {
				fmt.Fprintf(h, "%s\x00", v)
			}
			fmt.Fprint(h, "\n")
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	return hex.EncodeToString(h.Sum(nil))
}
