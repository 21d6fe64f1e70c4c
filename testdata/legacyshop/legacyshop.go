// Package legacyshop is the example legacy monolith: a shop over MariaDB
// (customers, products, stock, orders and their items, logins and sessions)
// with a JSON API and a few HTML pages, answering the way an old PHP
// application would. `strangler demo` migrates its orders reads to a recipe
// service, route by route; cmd/legacyshop runs it alone.
//
// It is written the way legacy code is, on purpose, and its answers keep
// the habits a migration meets (README.md lists them all): a requestId made
// up for every single-order answer and a request_id in the meta of the newer
// endpoints; the order's note HTML-escaped (& as &amp;), as the old code did
// on output and the new service does not; camelCase in the first endpoints
// and snake_case in the later ones; money as strings with two decimals;
// local-time "2006-01-02 15:04:05" dates; booleans as true/false in release
// 1 and as 0/1 in release 2; two pagination styles on one endpoint.
//
// The schema comes in two releases. schema.sql (customers, orders) is what
// Create makes, and what the demo and the extract tests migrate; release2.sql
// adds products, stock, order_items, customer_logins and sessions, and
// Migrate makes both. The endpoints of release 1 answer over a database of
// release 1 alone; those of release 2 need Migrate.
package legacyshop

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// Schema is the MariaDB DDL of the shop's first release: customers and
// orders.
//
//go:embed schema.sql
var Schema string

// SchemaRelease2 is the DDL of the tables the second release added:
// products, stock, order_items, customer_logins and sessions. Every
// statement is CREATE TABLE IF NOT EXISTS.
//
//go:embed release2.sql
var SchemaRelease2 string

// OrdersRecipe is the recipe that serves the shop's orders from PostgreSQL,
// answering in the legacy API's shape.
//
//go:embed recipes/orders.yaml
var OrdersRecipe []byte

// Statements splits Schema (the first release) into single statements.
func Statements() []string { return split(Schema) }

// split cuts a DDL file into statements, leaving out comment lines.
func split(ddl string) []string {
	var lines []string
	for _, l := range strings.Split(ddl, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			lines = append(lines, l)
		}
	}
	var out []string
	for _, s := range strings.Split(strings.Join(lines, "\n"), ";") {
		if st := strings.TrimSpace(s); st != "" {
			out = append(out, st)
		}
	}
	return out
}

// Create creates the tables of the shop's first release (customers,
// orders) in db; it fails when one exists. Migrate creates every table.
func Create(ctx context.Context, db *sql.DB) error {
	for _, st := range Statements() {
		if _, err := db.ExecContext(ctx, st); err != nil {
			return fmt.Errorf("creating the legacy shop schema: %w", err)
		}
	}
	return nil
}

// Migrate creates every table of both releases that db does not hold yet,
// so that it runs on an empty database, on one Create made, and again on
// its own result.
func Migrate(ctx context.Context, db *sql.DB) error {
	var stmts []string
	for _, st := range Statements() {
		stmts = append(stmts, strings.Replace(st, "CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ", 1))
	}
	stmts = append(stmts, split(SchemaRelease2)...)
	for _, st := range stmts {
		if _, err := db.ExecContext(ctx, st); err != nil {
			return fmt.Errorf("migrating the legacy shop schema: %w", err)
		}
	}
	return nil
}

// Server is the legacy shop's HTTP API and pages.
type Server struct {
	db  *sql.DB
	mux *http.ServeMux
}

// New returns the legacy shop over db, a go-sql-driver connection (with
// parseTime on or off: dates are formatted by the database, as the old
// application did).
func New(db *sql.DB) *Server {
	s := &Server{db: db, mux: http.NewServeMux()}
	// Release 1.
	s.mux.HandleFunc("GET /api/orders/{id}", s.getOrder)
	s.mux.HandleFunc("GET /api/orders", s.listOrders)
	s.mux.HandleFunc("POST /api/orders", s.postOrder)
	s.mux.HandleFunc("GET /api/customers/{id}", s.getCustomer)
	s.mux.HandleFunc("GET /api/reports/daily", s.dailyReport)
	// Release 2.
	s.mux.HandleFunc("GET /api/products", s.listProducts)
	s.mux.HandleFunc("GET /api/products/{id}", s.getProduct)
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.HandleFunc("POST /logout", s.logout)
	s.mux.HandleFunc("GET /api/me", s.me)
	s.mux.HandleFunc("GET /{$}", s.homePage)
	s.mux.HandleFunc("GET /orders/{id}", s.orderPage)
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Powered-By", "legacyshop/1.0")
	s.mux.ServeHTTP(w, r)
}

// The date format of every answer: the database's local time, no zone.
const sqlDate = "'%Y-%m-%d %H:%i:%s'"

// requestID is a random id, as the old application put in its answers.
func requestID() string { return randomHex(8) }

// randomHex is n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client is gone: nothing to tell it
}

// writeError answers {"error": msg}, the one error shape of the old code.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// page is the page/per_page pagination of release 2.
type page struct {
	Page    int `json:"page"`
	PerPage int `json:"per_page"`
}

// pageOf reads page and per_page: a page below 1 or not a number is 1, a
// per_page that is not a positive number is def, one above most is most.
func pageOf(r *http.Request, def, most int) page {
	p := page{Page: 1, PerPage: def}
	q := r.URL.Query()
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 1 {
		p.Page = v
	}
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		p.PerPage = min(v, most)
	}
	return p
}

func (p page) offset() int { return (p.Page - 1) * p.PerPage }

// pageMeta is the meta of a page of release 2's lists.
type pageMeta struct {
	page
	Total     int64  `json:"total"`
	RequestID string `json:"request_id"`
}

// noSuchTable reports whether err is MariaDB's "table doesn't exist": the
// database is of release 1.
func noSuchTable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1146
}
