package legacyshop

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"strconv"
)

const customerCols = "c.id, c.name, c.email, c.vip, DATE_FORMAT(c.created_at, " + sqlDate + ")"
const orderCols = "o.id, o.customer_id, o.status, o.total, o.note, DATE_FORMAT(o.placed_at, " + sqlDate + "), " + customerCols

// customer is a customer as release 1 answers it: camelCase, vip a JSON
// boolean. The two figures are there only where asked for (include=stats,
// /api/me), in snake_case: release 2 added them.
type customer struct {
	ID            int64   `json:"id"`
	Name          string  `json:"name"`
	Email         string  `json:"email"`
	VIP           bool    `json:"vip"`
	CreatedAt     string  `json:"createdAt"`
	OrderCount    *int64  `json:"order_count,omitempty"`
	LifetimeValue *string `json:"lifetime_value,omitempty"`
}

// order is an order as release 1 answers it; the items, in snake_case, are
// there only for orders that have some (placed in release 2).
type order struct {
	ID         int64     `json:"id"`
	CustomerID int64     `json:"customerId"`
	Status     string    `json:"status"`
	Total      string    `json:"total"`
	Note       *string   `json:"note"`
	PlacedAt   string    `json:"placedAt"`
	Customer   *customer `json:"customer"`
	Items      []item    `json:"items,omitempty"`     // single orders only
	RequestID  string    `json:"requestId,omitempty"` // single-order answers only
}

// item is one line of an order.
type item struct {
	ProductID int64  `json:"product_id"`
	SKU       string `json:"sku"`
	Name      string `json:"name"`
	Quantity  int64  `json:"quantity"`
	UnitPrice string `json:"unit_price"`
	LineTotal string `json:"line_total"`
}

type scanner interface{ Scan(...any) error }

func scanOrder(sc scanner) (order, error) {
	var o order
	var c customer
	err := sc.Scan(&o.ID, &o.CustomerID, &o.Status, &o.Total, &o.Note, &o.PlacedAt, &c.ID, &c.Name, &c.Email, &c.VIP, &c.CreatedAt)
	o.Customer = &c
	return o, err
}

// loadOrder reads one order with its customer and its items (none on a
// database of release 1). The note is as stored.
func (s *Server) loadOrder(ctx context.Context, id int64) (order, error) {
	o, err := scanOrder(s.db.QueryRowContext(ctx,
		"SELECT "+orderCols+" FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id = ?", id))
	if err != nil {
		return o, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT i.product_id, COALESCE(p.sku, ''), COALESCE(p.name, ''), i.quantity, i.unit_price,
		i.quantity * i.unit_price FROM order_items i LEFT JOIN products p ON p.id = i.product_id WHERE i.order_id = ? ORDER BY i.product_id`, id)
	if noSuchTable(err) {
		return o, nil
	}
	if err != nil {
		return o, err
	}
	defer rows.Close()
	for rows.Next() {
		var it item
		if err := rows.Scan(&it.ProductID, &it.SKU, &it.Name, &it.Quantity, &it.UnitPrice, &it.LineTotal); err != nil {
			return o, err
		}
		o.Items = append(o.Items, it)
	}
	return o, rows.Err()
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad id")
		return
	}
	o, err := s.loadOrder(r.Context(), id)
	if errors.Is(err, sql.ErrNoRows) {
		writeError(w, http.StatusNotFound, "order not found")
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if o.Note != nil {
		esc := html.EscapeString(*o.Note)
		o.Note = &esc
	}
	o.RequestID = requestID()
	writeJSON(w, http.StatusOK, map[string]any{"data": o})
}

// listOrders pages with limit and offset (release 1: meta {"total"}), or,
// when page or per_page is given, with those (release 2: meta with page,
// per_page, total and request_id). Lists carry no items.
func (s *Server) listOrders(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	paged := q.Has("page") || q.Has("per_page")
	limit, offset := 20, 0
	pg := pageOf(r, 20, 100)
	if paged {
		limit, offset = pg.PerPage, pg.offset()
	} else {
		if v, err := strconv.Atoi(q.Get("limit")); err == nil && v > 0 && v <= 100 {
			limit = v
		}
		if v, err := strconv.Atoi(q.Get("offset")); err == nil && v >= 0 {
			offset = v
		}
	}
	where, args := " WHERE 1 = 1", []any{}
	if st := q.Get("status"); st != "" {
		where, args = where+" AND o.status = ?", append(args, st)
	}
	if c := q.Get("customer_id"); c != "" {
		// As text, the way the old code passed it: MariaDB casts it.
		where, args = where+" AND o.customer_id = ?", append(args, c)
	}
	var total int64
	if err := s.db.QueryRowContext(r.Context(), "SELECT COUNT(*) FROM orders o"+where, args...).Scan(&total); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	rows, err := s.db.QueryContext(r.Context(), "SELECT "+orderCols+" FROM orders o JOIN customers c ON c.id = o.customer_id"+
		where+" ORDER BY o.id LIMIT ? OFFSET ?", append(args, limit, offset)...)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	defer rows.Close()
	list := []order{}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		list = append(list, o)
	}
	if err := rows.Err(); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if paged {
		writeJSON(w, http.StatusOK, map[string]any{"data": list, "meta": pageMeta{page: pg, Total: total, RequestID: requestID()}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": list, "meta": map[string]int64{"total": total}})
}

// orderIn is the body of POST /api/orders in both of its forms: release 1
// writes an order as given (customerId, status, total, note), release 2
// places one from its items (customer_id, items, note).
type orderIn struct {
	CustomerID int64   `json:"customerId"`
	Status     string  `json:"status"`
	Total      string  `json:"total"`
	Note       *string `json:"note"`

	PlaceCustomerID *int64    `json:"customer_id"`
	Items           *[]lineIn `json:"items"`
}

// lineIn is one line of an order to place.
type lineIn struct {
	ProductID int64 `json:"product_id"`
	Quantity  int64 `json:"quantity"`
}

func (s *Server) postOrder(w http.ResponseWriter, r *http.Request) {
	var in orderIn
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "bad json")
		return
	}
	var id int64
	if in.Items != nil {
		cust := in.CustomerID
		if in.PlaceCustomerID != nil {
			cust = *in.PlaceCustomerID
		}
		var err error
		id, err = s.placeOrder(r.Context(), cust, *in.Items, in.Note)
		var short *shortError
		var bad *badOrderError
		switch {
		case errors.As(err, &short):
			writeJSON(w, http.StatusConflict, map[string]any{"error": "insufficient stock",
				"product_id": short.ProductID, "requested": short.Requested, "available": short.Available})
			return
		case errors.As(err, &bad):
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": bad.Message, "field": bad.Field})
			return
		case err != nil:
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
	} else {
		if in.Status == "" {
			in.Status = "new"
		}
		res, err := s.db.ExecContext(r.Context(), "INSERT INTO orders (customer_id, status, total, note) VALUES (?, ?, ?, ?)",
			in.CustomerID, in.Status, in.Total, in.Note)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, err.Error())
			return
		}
		id, _ = res.LastInsertId()
	}
	w.Header().Set("Location", fmt.Sprintf("/api/orders/%d", id))
	o, err := s.loadOrder(r.Context(), id)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"data": o})
}

// dailyReport is an endpoint that stays on the monolith in the demo.
func (s *Server) dailyReport(w http.ResponseWriter, r *http.Request) {
	var n int64
	var sum sql.NullString
	if err := s.db.QueryRowContext(r.Context(), "SELECT COUNT(*), SUM(total) FROM orders").Scan(&n, &sum); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"orders": n, "revenue": sum.String})
}
