package legacyshop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Limits of an order to place.
const (
	maxLines    = 100  // lines in one order
	maxQuantity = 1000 // of one product in one order
)

// shortError is a placement refused because a product has too little in
// stock (409).
type shortError struct {
	ProductID, Requested, Available int64
}

func (e *shortError) Error() string {
	return fmt.Sprintf("product %d: %d requested, %d in stock", e.ProductID, e.Requested, e.Available)
}

// badOrderError is a placement refused for what it asks (422): Field names
// the body's field.
type badOrderError struct {
	Field, Message string
}

func (e *badOrderError) Error() string { return e.Field + ": " + e.Message }

// placeOrder places an order of customer for lines, in one transaction:
// it checks and takes the stock of every product, writes the order with
// the total of its lines at today's prices and writes its lines. Nothing is
// written when it fails: a *badOrderError for what the request asks, a
// *shortError when a product has too little in stock.
func (s *Server) placeOrder(ctx context.Context, customer int64, lines []lineIn, note *string) (int64, error) {
	if customer <= 0 {
		return 0, &badOrderError{"customer_id", "a customer id is required"}
	}
	want, err := mergeLines(lines)
	if err != nil {
		return 0, err
	}
	ids := make([]int64, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	// Stock rows are taken in product order, so that two orders of the
	// same products wait for each other instead of deadlocking.
	slices.Sort(ids)

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("placing an order: %w", err)
	}
	defer tx.Rollback()

	var one int
	switch err := tx.QueryRowContext(ctx, "SELECT 1 FROM customers WHERE id = ?", customer).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return 0, &badOrderError{"customer_id", fmt.Sprintf("no customer %d", customer)}
	case err != nil:
		return 0, fmt.Errorf("placing an order: reading customer %d: %w", customer, err)
	}
	prices, err := productPrices(ctx, tx, ids)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, id := range ids {
		total += prices[id] * want[id]
	}
	for _, id := range ids {
		res, err := tx.ExecContext(ctx, "UPDATE stock SET quantity = quantity - ?, updated_at = NOW() WHERE product_id = ? AND quantity >= ?",
			want[id], id, want[id])
		if err != nil {
			return 0, fmt.Errorf("placing an order: taking the stock of product %d: %w", id, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("placing an order: taking the stock of product %d: %w", id, err)
		}
		if n == 0 {
			var have int64
			if err := tx.QueryRowContext(ctx, "SELECT COALESCE((SELECT quantity FROM stock WHERE product_id = ?), 0)", id).Scan(&have); err != nil {
				return 0, fmt.Errorf("placing an order: reading the stock of product %d: %w", id, err)
			}
			return 0, &shortError{ProductID: id, Requested: want[id], Available: have}
		}
	}
	res, err := tx.ExecContext(ctx, "INSERT INTO orders (customer_id, status, total, note) VALUES (?, 'new', ?, ?)",
		customer, formatCents(total), note)
	if err != nil {
		return 0, fmt.Errorf("placing an order: writing it: %w", err)
	}
	order, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("placing an order: its id: %w", err)
	}
	var q strings.Builder
	q.WriteString("INSERT INTO order_items (order_id, product_id, quantity, unit_price) VALUES ")
	args := make([]any, 0, 4*len(ids))
	for i, id := range ids {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?)")
		args = append(args, order, id, want[id], formatCents(prices[id]))
	}
	if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
		return 0, fmt.Errorf("placing an order: writing its items: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("placing an order: %w", err)
	}
	return order, nil
}

// mergeLines checks the lines and adds up those of one product.
func mergeLines(lines []lineIn) (map[int64]int64, error) {
	if len(lines) == 0 {
		return nil, &badOrderError{"items", "an order needs at least one item"}
	}
	if len(lines) > maxLines {
		return nil, &badOrderError{"items", fmt.Sprintf("at most %d items", maxLines)}
	}
	want := map[int64]int64{}
	for i, l := range lines {
		if l.ProductID <= 0 {
			return nil, &badOrderError{fmt.Sprintf("items[%d].product_id", i), "a product id is required"}
		}
		if l.Quantity <= 0 || l.Quantity > maxQuantity {
			return nil, &badOrderError{fmt.Sprintf("items[%d].quantity", i), fmt.Sprintf("the quantity must be 1 to %d", maxQuantity)}
		}
		want[l.ProductID] += l.Quantity
		if want[l.ProductID] > maxQuantity {
			return nil, &badOrderError{fmt.Sprintf("items[%d].quantity", i), fmt.Sprintf("at most %d of product %d", maxQuantity, l.ProductID)}
		}
	}
	return want, nil
}

// productPrices reads the prices, in cents, of the products ids, all of
// which must exist and be for sale.
func productPrices(ctx context.Context, tx *sql.Tx, ids []int64) (map[int64]int64, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := tx.QueryContext(ctx, "SELECT id, price, active FROM products WHERE id IN (?"+strings.Repeat(", ?", len(ids)-1)+")", args...)
	if err != nil {
		return nil, fmt.Errorf("placing an order: reading prices: %w", err)
	}
	defer rows.Close()
	prices := map[int64]int64{}
	inactive := map[int64]bool{}
	for rows.Next() {
		var id int64
		var price string
		var active bool
		if err := rows.Scan(&id, &price, &active); err != nil {
			return nil, fmt.Errorf("placing an order: reading prices: %w", err)
		}
		c, err := parseCents(price)
		if err != nil {
			return nil, fmt.Errorf("placing an order: the price of product %d: %w", id, err)
		}
		prices[id], inactive[id] = c, !active
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("placing an order: reading prices: %w", err)
	}
	for _, id := range ids {
		if _, ok := prices[id]; !ok {
			return nil, &badOrderError{"items", fmt.Sprintf("no product %d", id)}
		}
		if inactive[id] {
			return nil, &badOrderError{"items", fmt.Sprintf("product %d is not for sale", id)}
		}
	}
	return prices, nil
}

// parseCents reads a DECIMAL(…,2) as MariaDB writes it ("12.50") in cents.
func parseCents(s string) (int64, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 {
		return 0, fmt.Errorf("parsing amount %q: more than two decimals", s)
	}
	frac += strings.Repeat("0", 2-len(frac))
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing amount %q: %w", s, err)
	}
	f, err := strconv.ParseUint(frac, 10, 8)
	if err != nil {
		return 0, fmt.Errorf("parsing amount %q: %w", s, err)
	}
	if strings.HasPrefix(whole, "-") {
		return w*100 - int64(f), nil
	}
	return w*100 + int64(f), nil
}

// formatCents writes cents as the shop answers money: "12.50".
func formatCents(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
}
