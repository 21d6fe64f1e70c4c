// Package legacyshop is the example legacy monolith: a small shop API over
// MariaDB, answering the way an old PHP application would. `strangler demo`
// migrates its orders endpoints to a recipe service, route by route.
//
// Its single-order answer has two habits of such an application that a
// shadow comparison meets: a requestId made up for every answer, and
// the order's note HTML-escaped (& as &amp;), as the old code did on output
// and the new service does not.
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
	"html"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Schema is the MariaDB DDL of the shop.
//
//go:embed schema.sql
var Schema string

// OrdersRecipe is the recipe that serves the shop's orders from PostgreSQL,
// answering in the legacy API's shape.
//
//go:embed recipes/orders.yaml
var OrdersRecipe []byte

// Statements splits Schema into single statements.
func Statements() []string {
	var lines []string
	for _, l := range strings.Split(Schema, "\n") {
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

// Create creates the shop's tables in db.
func Create(ctx context.Context, db *sql.DB) error {
	for _, st := range Statements() {
		if _, err := db.ExecContext(ctx, st); err != nil {
			return fmt.Errorf("creating the legacy shop schema: %w", err)
		}
	}
	return nil
}

// Seed inserts customers and orders with values drawn from a seeded RNG, so
// that two runs with the same seed hold the same rows.
func Seed(ctx context.Context, db *sql.DB, customers, orders int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 7))
	base := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("seeding the legacy shop: %w", err)
	}
	defer tx.Rollback()
	for i := 1; i <= customers; i++ {
		_, err := tx.ExecContext(ctx, "INSERT INTO customers (id, name, email, vip, created_at) VALUES (?, ?, ?, ?, ?)",
			i, fmt.Sprintf("Customer %d", i), fmt.Sprintf("customer%d@example.com", i), rng.IntN(5) == 0,
			base.Add(time.Duration(i)*time.Hour).Format(time.DateTime))
		if err != nil {
			return fmt.Errorf("seeding customer %d: %w", i, err)
		}
	}
	statuses := []string{"new", "paid", "shipped", "cancelled"}
	for i := 1; i <= orders; i++ {
		var note any
		if rng.IntN(3) == 0 {
			note = fmt.Sprintf("deliver to door %d", rng.IntN(90)+1)
		}
		if i%20 == 0 {
			note = "ring twice & leave it at the door"
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO orders (id, customer_id, status, total, note, placed_at) VALUES (?, ?, ?, ?, ?, ?)",
			i, rng.IntN(customers)+1, statuses[rng.IntN(len(statuses))], fmt.Sprintf("%d.%02d", rng.IntN(500)+1, rng.IntN(100)), note,
			base.Add(time.Duration(i)*17*time.Minute).Format(time.DateTime))
		if err != nil {
			return fmt.Errorf("seeding order %d: %w", i, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("seeding the legacy shop: %w", err)
	}
	return nil
}

// Server is the legacy shop's HTTP API.
type Server struct {
	db  *sql.DB
	mux *http.ServeMux
}

// New returns the legacy API over db (a go-sql-driver connection with
// parseTime off: dates are read as text, as the old application did).
func New(db *sql.DB) *Server {
	s := &Server{db: db, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /api/orders/{id}", s.getOrder)
	s.mux.HandleFunc("GET /api/orders", s.listOrders)
	s.mux.HandleFunc("POST /api/orders", s.createOrder)
	s.mux.HandleFunc("GET /api/customers/{id}", s.getCustomer)
	s.mux.HandleFunc("GET /api/reports/daily", s.dailyReport)
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Powered-By", "legacyshop/1.0")
	s.mux.ServeHTTP(w, r)
}

const customerCols = "c.id, c.name, c.email, c.vip, DATE_FORMAT(c.created_at, '%Y-%m-%d %H:%i:%s')"
const orderCols = "o.id, o.customer_id, o.status, o.total, o.note, DATE_FORMAT(o.placed_at, '%Y-%m-%d %H:%i:%s'), " + customerCols

type customer struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	VIP       bool   `json:"vip"`
	CreatedAt string `json:"createdAt"`
}

type order struct {
	ID         int64     `json:"id"`
	CustomerID int64     `json:"customerId"`
	Status     string    `json:"status"`
	Total      string    `json:"total"`
	Note       *string   `json:"note"`
	PlacedAt   string    `json:"placedAt"`
	Customer   *customer `json:"customer"`
	RequestID  string    `json:"requestId,omitempty"` // single-order answers only
}

type scanner interface{ Scan(...any) error }

func scanOrder(sc scanner) (order, error) {
	var o order
	var c customer
	err := sc.Scan(&o.ID, &o.CustomerID, &o.Status, &o.Total, &o.Note, &o.PlacedAt, &c.ID, &c.Name, &c.Email, &c.VIP, &c.CreatedAt)
	o.Customer = &c
	return o, err
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad id"})
		return
	}
	o, err := scanOrder(s.db.QueryRowContext(r.Context(),
		"SELECT "+orderCols+" FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "order not found"})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	if o.Note != nil {
		esc := html.EscapeString(*o.Note)
		o.Note = &esc
	}
	o.RequestID = requestID()
	writeJSON(w, http.StatusOK, map[string]any{"data": o})
}

// requestID is a random id, as the old application put in its answers.
func requestID() string {
	var b [8]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Server) listOrders(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, offset := 20, 0
	if v, err := strconv.Atoi(q.Get("limit")); err == nil && v > 0 && v <= 100 {
		limit = v
	}
	if v, err := strconv.Atoi(q.Get("offset")); err == nil && v >= 0 {
		offset = v
	}
	where, args := "", []any{}
	if st := q.Get("status"); st != "" {
		where, args = " WHERE o.status = ?", append(args, st)
	}
	var total int64
	if err := s.db.QueryRowContext(r.Context(), "SELECT COUNT(*) FROM orders o"+where, args...).Scan(&total); err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	rows, err := s.db.QueryContext(r.Context(), "SELECT "+orderCols+" FROM orders o JOIN customers c ON c.id = o.customer_id"+
		where+" ORDER BY o.id LIMIT ? OFFSET ?", append(args, limit, offset)...)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	defer rows.Close()
	list := []order{}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		list = append(list, o)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": list, "meta": map[string]int64{"total": total}})
}

func (s *Server) createOrder(w http.ResponseWriter, r *http.Request) {
	var in struct {
		CustomerID int64   `json:"customerId"`
		Status     string  `json:"status"`
		Total      string  `json:"total"`
		Note       *string `json:"note"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad json"})
		return
	}
	if in.Status == "" {
		in.Status = "new"
	}
	res, err := s.db.ExecContext(r.Context(), "INSERT INTO orders (customer_id, status, total, note) VALUES (?, ?, ?, ?)",
		in.CustomerID, in.Status, in.Total, in.Note)
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": err.Error()})
		return
	}
	id, _ := res.LastInsertId()
	w.Header().Set("Location", fmt.Sprintf("/api/orders/%d", id))
	o, err := scanOrder(s.db.QueryRowContext(r.Context(),
		"SELECT "+orderCols+" FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id = ?", id))
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"data": o})
}

func (s *Server) getCustomer(w http.ResponseWriter, r *http.Request) {
	var c customer
	err := s.db.QueryRowContext(r.Context(), "SELECT "+customerCols+" FROM customers c WHERE c.id = ?", r.PathValue("id")).
		Scan(&c.ID, &c.Name, &c.Email, &c.VIP, &c.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "customer not found"})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": c})
}

// dailyReport is an endpoint that stays on the monolith in the demo.
func (s *Server) dailyReport(w http.ResponseWriter, r *http.Request) {
	var n int64
	var sum sql.NullString
	if err := s.db.QueryRowContext(r.Context(), "SELECT COUNT(*), SUM(total) FROM orders").Scan(&n, &sum); err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"orders": n, "revenue": sum.String})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
