package legacyshop

import (
	"database/sql"
	"errors"
	"net/http"
	"strconv"
)

const productCols = "p.id, p.sku, p.name, p.price, p.active, DATE_FORMAT(p.created_at, " + sqlDate + ")"

// product is a product as release 2 answers it: snake_case, active as 0/1.
// A single product also says whether it is in stock (0/1, from the stock
// table) and how many are: stockLevel, in camelCase (another hand wrote
// it).
type product struct {
	ID         int64  `json:"id"`
	SKU        string `json:"sku"`
	Name       string `json:"name"`
	Price      string `json:"price"`
	Active     int    `json:"active"`
	CreatedAt  string `json:"created_at"`
	InStock    *int   `json:"in_stock,omitempty"`
	StockLevel *int64 `json:"stockLevel,omitempty"`
}

func scanProduct(sc scanner) (product, error) {
	var p product
	err := sc.Scan(&p.ID, &p.SKU, &p.Name, &p.Price, &p.Active, &p.CreatedAt)
	return p, err
}

// listProducts answers a page of every product, active or not, by id:
// per_page 10 unless asked, at most 50.
func (s *Server) listProducts(w http.ResponseWriter, r *http.Request) {
	pg := pageOf(r, 10, 50)
	var total int64
	if err := s.db.QueryRowContext(r.Context(), "SELECT COUNT(*) FROM products").Scan(&total); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	rows, err := s.db.QueryContext(r.Context(), "SELECT "+productCols+" FROM products p ORDER BY p.id LIMIT ? OFFSET ?", pg.PerPage, pg.offset())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	defer rows.Close()
	list := []product{}
	for rows.Next() {
		p, err := scanProduct(rows)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		list = append(list, p)
	}
	if err := rows.Err(); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": list, "meta": pageMeta{page: pg, Total: total, RequestID: requestID()}})
}

func (s *Server) getProduct(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad id")
		return
	}
	var level int64
	var inStock int
	row := s.db.QueryRowContext(r.Context(), "SELECT "+productCols+", COALESCE(st.quantity, 0), COALESCE(st.quantity, 0) > 0"+
		" FROM products p LEFT JOIN stock st ON st.product_id = p.id WHERE p.id = ?", id)
	var p product
	err = row.Scan(&p.ID, &p.SKU, &p.Name, &p.Price, &p.Active, &p.CreatedAt, &level, &inStock)
	if errors.Is(err, sql.ErrNoRows) {
		writeError(w, http.StatusNotFound, "product not found")
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	p.StockLevel, p.InStock = &level, &inStock
	writeJSON(w, http.StatusOK, map[string]any{"data": p, "meta": map[string]string{"request_id": requestID()}})
}
