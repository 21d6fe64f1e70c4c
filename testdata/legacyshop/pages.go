package legacyshop

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"html/template"
	"net/http"
	"strconv"
)

// The HTML pages, rendered on the server as the old application did.
var pages = template.Must(template.New("layout").Parse(`{{define "top"}}<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{{.}} - Legacy Shop</title></head>
<body>
<h1><a href="/">Legacy Shop</a></h1>
{{end}}
{{define "bottom"}}<p class="footer">legacyshop/1.0</p>
</body>
</html>
{{end}}
{{define "home"}}{{template "top" "Home"}}
{{with .Customer}}<p class="welcome">Welcome back, {{.Name}}.</p>
<form method="post" action="/logout"><button>Log out</button></form>
{{else}}<form method="post" action="/login" class="login">
<label>Email <input name="email" type="email"></label>
<label>Password <input name="password" type="password"></label>
<button>Log in</button>
</form>
{{end}}
<h2>Products</h2>
<table class="products">
<tr><th>SKU</th><th>Name</th><th>Price</th><th>Stock</th></tr>
{{range .Products}}<tr><td>{{.SKU}}</td><td>{{.Name}}</td><td>{{.Price}}</td><td>{{if .InStock}}in stock{{else}}sold out{{end}}</td></tr>
{{else}}<tr><td colspan="4">No products yet.</td></tr>
{{end}}</table>
{{if .Orders}}<h2>Your orders</h2>
<ul class="orders">
{{range .Orders}}<li><a href="/orders/{{.ID}}">Order {{.ID}}</a>, {{.PlacedAt}}, {{.Status}}, {{.Total}}</li>
{{end}}</ul>
{{end}}{{template "bottom"}}{{end}}
{{define "order"}}{{template "top" (printf "Order %d" .ID)}}
<h2>Order {{.ID}}</h2>
<dl class="order">
<dt>Customer</dt><dd>{{.Customer.Name}} &lt;{{.Customer.Email}}&gt;</dd>
<dt>Status</dt><dd class="status">{{.Status}}</dd>
<dt>Placed</dt><dd>{{.PlacedAt}}</dd>
{{with .Note}}<dt>Note</dt><dd class="note">{{.}}</dd>
{{end}}</dl>
<table class="items">
<tr><th>SKU</th><th>Product</th><th>Quantity</th><th>Unit price</th><th>Line total</th></tr>
{{range .Items}}<tr><td>{{.SKU}}</td><td>{{.Name}}</td><td>{{.Quantity}}</td><td>{{.UnitPrice}}</td><td>{{.LineTotal}}</td></tr>
{{else}}<tr><td colspan="5">No items on record.</td></tr>
{{end}}</table>
<p class="total">Total: {{.Total}}</p>
{{template "bottom"}}{{end}}
{{define "notfound"}}{{template "top" "Not found"}}
<p>{{.}}</p>
{{template "bottom"}}{{end}}`))

// writeHTML renders page name with data; a template that fails gives a
// 500, not half a page.
func writeHTML(w http.ResponseWriter, code int, name string, data any) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		http.Error(w, "the page could not be rendered: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = b.WriteTo(w)
}

type homeProduct struct {
	SKU, Name, Price string
	InStock          bool
}

// homePage shows the first ten products for sale and, for a logged-in
// customer, a greeting and their last five orders.
func (s *Server) homePage(w http.ResponseWriter, r *http.Request) {
	var data struct {
		Customer *customer
		Products []homeProduct
		Orders   []order
	}
	ctx := r.Context()
	id, ok, err := s.sessionCustomer(r)
	if noSuchTable(err) { // a database of release 1: nobody logs in
		ok, err = false, nil
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if ok {
		c, err := s.loadCustomer(ctx, id, false)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if err == nil {
			data.Customer = &c
			if data.Orders, err = s.recentOrders(ctx, id); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
	}
	if data.Products, err = s.homeProducts(ctx); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeHTML(w, http.StatusOK, "home", data)
}

func (s *Server) homeProducts(ctx context.Context) ([]homeProduct, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT p.sku, p.name, p.price, COALESCE(st.quantity, 0) > 0
		FROM products p LEFT JOIN stock st ON st.product_id = p.id WHERE p.active = 1 ORDER BY p.id LIMIT 10`)
	if noSuchTable(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []homeProduct
	for rows.Next() {
		var p homeProduct
		if err := rows.Scan(&p.SKU, &p.Name, &p.Price, &p.InStock); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (s *Server) recentOrders(ctx context.Context, customer int64) ([]order, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+orderCols+" FROM orders o JOIN customers c ON c.id = o.customer_id"+
		" WHERE o.customer_id = ? ORDER BY o.id DESC LIMIT 5", customer)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// orderPage shows one order with its items, to anyone who asks: the old
// code checked no session here.
func (s *Server) orderPage(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeHTML(w, http.StatusNotFound, "notfound", "There is no such order.")
		return
	}
	o, err := s.loadOrder(r.Context(), id)
	if errors.Is(err, sql.ErrNoRows) {
		writeHTML(w, http.StatusNotFound, "notfound", "There is no such order.")
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeHTML(w, http.StatusOK, "order", o)
}
