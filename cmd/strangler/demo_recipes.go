package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/stranglerfig/strangler/recipes"
)

// The recipe changes of the demo. Each one is what a team would write into
// the recipe file by hand; the demo makes them through the recipe's Go form
// (recipes.Parse, then recipes.Encode), so that a change that does not hold
// is refused here with its line, as serve would refuse it.

// demoInventoryRecipe is testdata/legacyshop/recipes/demo/inventory.yaml,
// the low-code inventory service (demo_test.go checks that the two are the
// same text). The demo writes it with its run's NATS URL, stream and
// subjects.
const demoInventoryRecipe = `# The inventory service of the demo (strangler demo), low-code: it serves
# the stock table and keeps it in step with the orders placed through the
# new orders service. Each OrderPlaced event (delivered by the orders
# service's outbox to NATS JetStream) takes the ordered quantities off the
# stock in PostgreSQL, once per event id: an event delivered twice finds
# its id in strangler_inbox and changes nothing.
#
# strangler demo writes this recipe with the NATS URL, stream and subjects
# of its run; as it stands it reads the local JetStream server and a stream
# SHOP that captures shop.>.
service: inventory
title: Legacy shop inventory
base_path: /api
shape:
  casing: snake
  timestamp_format: "2006-01-02 15:04:05"
resources:
  - name: stock
    table: stock
    key: product_id
    fields:
      - {name: product_id, type: integer}
      - {name: quantity, type: integer}
      - {name: updated_at, type: timestamp, nullable: true}
endpoints:
  - {name: getStock, method: GET, path: "/stock/{product_id}", resource: stock, action: get}
subscriptions:
  - name: decrementStock
    nats_url: nats://127.0.0.1:4222
    stream: SHOP
    subject: shop.orders.OrderPlaced
    dead_letter: shop.dead.inventory
    sql: |
      update stock s set quantity = s.quantity - i.quantity, updated_at = now() at time zone 'UTC'
      from (select r.product_id, sum(r.quantity) as quantity
            from jsonb_to_recordset(:items::jsonb) as r(product_id int, quantity int)
            group by r.product_id) as i
      where s.product_id = i.product_id
    params:
      - {name: items, type: json, required: true}
`

// getOrderSQL answers GET /api/orders/{id} as legacy does: the order, its
// customer, and its items with each product's SKU and name and the line's
// total (legacy computes them from order_items and products; the extracted
// recipe embedded the customer only).
const getOrderSQL = `select o.id, o.customer_id, o.status, o.total, o.note, o.placed_at,
  jsonb_build_object('id', c.id, 'name', c.name, 'email', c.email, 'vip', c.vip,
    'createdAt', to_char(c.created_at, 'YYYY-MM-DD HH24:MI:SS')) as customer,
  (select jsonb_agg(jsonb_build_object('product_id', i.product_id, 'sku', coalesce(p.sku, ''),
      'name', coalesce(p.name, ''), 'quantity', i.quantity, 'unit_price', i.unit_price::text,
      'line_total', (i.quantity * i.unit_price)::numeric(12,2)::text) order by i.product_id)
    from order_items i left join products p on p.id = i.product_id
    where i.order_id = o.id) as items
from orders o join customers c on c.id = o.customer_id
where o.id = :id
`

// getProductSQL answers GET /api/products/{id} as legacy does: the product
// with in_stock (0/1) and stockLevel from the stock table.
const getProductSQL = `select p.id, p.sku, p.name, p.price, p.active, p.created_at,
  coalesce(s.quantity, 0) > 0 as in_stock, coalesce(s.quantity, 0) as "stockLevel"
from products p left join stock s on s.product_id = p.id
where p.id = :id
`

// recordLinesSQL writes the lines of an order placed through the new
// service from its OrderPlaced event, at the prices of the day, as legacy's
// placement does in its transaction (a recipe's create writes one table).
const recordLinesSQL = `insert into order_items (order_id, product_id, quantity, unit_price)
select :order_id, i.product_id, sum(i.quantity), p.price
from jsonb_to_recordset(:items::jsonb) as i(product_id int, quantity int)
join products p on p.id = i.product_id
group by i.product_id, p.price
on conflict do nothing
`

// editRecipe reads the recipe at src, changes it with edit, checks that the
// result parses, and writes it to dst (atomically: a watching serve never
// reads half a file).
func editRecipe(src, dst, header string, edit func(*recipes.Recipe) error) (*recipes.Recipe, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return nil, fmt.Errorf("reading recipe %s: %w", src, err)
	}
	r, err := recipes.Parse(src, data)
	if err != nil {
		return nil, err
	}
	if err := edit(r); err != nil {
		return nil, fmt.Errorf("changing recipe %s: %w", src, err)
	}
	out, err := recipes.EncodeWith(r, recipes.EncodeOptions{Header: header})
	if err != nil {
		return nil, fmt.Errorf("writing recipe %s: %w", dst, err)
	}
	changed, err := recipes.Parse(dst, out)
	if err != nil {
		return nil, fmt.Errorf("the changed recipe %s does not hold: %w", dst, err)
	}
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp")
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		return nil, fmt.Errorf("writing recipe %s: %w", dst, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return nil, fmt.Errorf("writing recipe %s: %w", dst, err)
	}
	return changed, nil
}

// replaceEndpoint puts e in place of the recipe's endpoint with e's method
// and path.
func replaceEndpoint(r *recipes.Recipe, e recipes.Endpoint) error {
	i := slices.IndexFunc(r.Endpoints, func(x recipes.Endpoint) bool { return x.Method == e.Method && x.Path == e.Path })
	if i < 0 {
		return fmt.Errorf("no endpoint %s %s to change", e.Method, e.Path)
	}
	r.Endpoints[i] = e
	return nil
}

// answerOrdersAsLegacy is the recipe change that makes GET /api/orders/{id}
// answer the order's items as legacy does.
func answerOrdersAsLegacy(r *recipes.Recipe) error {
	return replaceEndpoint(r, recipes.Endpoint{Name: "getOrder", Method: "GET", Path: "/orders/{id}", Action: "query",
		Doc: "An order with its customer and its items (SKU, name, line total), as legacy answers it.",
		Query: &recipes.Query{SQL: getOrderSQL, Single: true,
			Params: []recipes.Param{{Name: "id", Type: "integer", Required: true}}}})
}

// answerProductsAsLegacy is the recipe change that makes GET
// /api/products/{id} answer the stock as legacy does.
func answerProductsAsLegacy(r *recipes.Recipe) error {
	return replaceEndpoint(r, recipes.Endpoint{Name: "getProduct", Method: "GET", Path: "/products/{id}", Action: "query",
		Doc: "A product with in_stock and stockLevel from the stock table, as legacy answers it.",
		Query: &recipes.Query{SQL: getProductSQL, Single: true,
			Params: []recipes.Param{{Name: "id", Type: "integer", Required: true}}}})
}

// demoEvents is where the run's events go: a NATS server, a stream of its
// own and the subjects under its prefix.
type demoEvents struct {
	url, stream, prefix string
}

func (e demoEvents) placed() string       { return e.prefix + ".orders.OrderPlaced" }
func (e demoEvents) dead(s string) string { return e.prefix + ".dead." + s }

// placeOrdersInNewService is the recipe change that lets the orders service
// take order placements: POST /api/orders writes the order with its items
// (a json column only PostgreSQL has) and an OrderPlaced event through the
// outbox to NATS; a subscription to that event writes the order's lines.
func placeOrdersInNewService(ev demoEvents) func(*recipes.Recipe) error {
	return func(r *recipes.Recipe) error {
		i := slices.IndexFunc(r.Resources, func(x recipes.Resource) bool { return x.Table == "orders" })
		if i < 0 {
			return fmt.Errorf("no resource over the table orders")
		}
		res := &r.Resources[i]
		if !slices.ContainsFunc(res.Fields, func(f recipes.Field) bool { return f.Name == "items" }) {
			res.Fields = append(res.Fields, recipes.Field{Name: "items", Type: "json", Nullable: true,
				Doc: "The lines as the client sent them: [{product_id, quantity}]."})
		}
		r.Endpoints = append(r.Endpoints, recipes.Endpoint{Name: "createOrder", Method: "POST", Path: "/orders",
			Resource: res.Name, Action: "create", Event: "OrderPlaced", Embed: []string{"customer"}})
		r.Events = recipes.Events{NATSURL: ev.url, NATSSubject: ev.prefix + ".orders.{type}"}
		r.Subscriptions = append(r.Subscriptions, recipes.Subscription{Name: "recordLines", NATSURL: ev.url,
			Stream: ev.stream, Subject: ev.placed(), DeadLetter: ev.dead("orders"), SQL: recordLinesSQL,
			Params: []recipes.EventParam{
				{Name: "order_id", From: "data.id", Type: "integer", Required: true},
				{Name: "items", Type: "json", Required: true},
			}})
		return nil
	}
}

// writeInventoryRecipe writes the inventory recipe for the run's events.
func writeInventoryRecipe(dst string, ev demoEvents) error {
	src := filepath.Join(filepath.Dir(dst), ".inventory.template.yaml")
	if err := os.WriteFile(src, []byte(demoInventoryRecipe), 0o644); err != nil {
		return err
	}
	defer os.Remove(src)
	_, err := editRecipe(src, dst, "Written by strangler demo from testdata/legacyshop/recipes/demo/inventory.yaml,\n"+
		"with the NATS server, stream and subjects of this run.", func(r *recipes.Recipe) error {
		if len(r.Subscriptions) != 1 {
			return fmt.Errorf("the inventory recipe has %d subscriptions, not 1", len(r.Subscriptions))
		}
		s := &r.Subscriptions[0]
		s.NATSURL, s.Stream, s.Subject, s.DeadLetter = ev.url, ev.stream, ev.placed(), ev.dead("inventory")
		return nil
	})
	return err
}
