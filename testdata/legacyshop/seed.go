package legacyshop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// SeedOptions say how much Seed writes. The same options write the same
// rows.
type SeedOptions struct {
	// Customers to write, with ids 1 to Customers. Zero: none.
	Customers int
	// Products to write, with ids 1 to Products, each with a stock row.
	// Zero writes nothing of release 2 (no products, stock, order items or
	// logins), so that the first release's schema is enough, as for Seed.
	// Above zero every customer also gets a login (PasswordHash of
	// SeedPassword) and every order one to four items.
	Products int
	// Orders to write, with ids 1 to Orders, each of a random customer. With
	// products, an order's total is the sum of its items; without, a random
	// amount. Customers, statuses, notes and dates are the same either way.
	// Zero: none. Orders without customers is an error.
	Orders int
	// Seed seeds the random generator (the same seed, the same rows).
	Seed uint64
}

// SeedPassword is the password of every seeded customer (with Products).
const SeedPassword = "secret"

// seedBase is the first seeded date; the others follow it, in local time
// as the shop stores dates.
var seedBase = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

// batchRows is how many rows one seeding INSERT writes.
const batchRows = 500

// Seed inserts customers and orders with values drawn from a seeded RNG, so
// that two runs with the same seed hold the same rows. It writes only the
// tables of the first release: SeedWith writes the others too.
func Seed(ctx context.Context, db *sql.DB, customers, orders int, seed uint64) error {
	return SeedWith(ctx, db, SeedOptions{Customers: customers, Orders: orders, Seed: seed})
}

// SeedWith writes the rows o asks for in one transaction, into tables that
// hold none of those ids yet.
func SeedWith(ctx context.Context, db *sql.DB, o SeedOptions) error {
	if o.Customers < 0 || o.Products < 0 || o.Orders < 0 {
		return fmt.Errorf("seeding the legacy shop: negative size in %+v", o)
	}
	if o.Orders > 0 && o.Customers == 0 {
		return errors.New("seeding the legacy shop: orders need customers")
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("seeding the legacy shop: %w", err)
	}
	defer tx.Rollback()
	if err := seedRows(ctx, tx, o); err != nil {
		return fmt.Errorf("seeding the legacy shop: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("seeding the legacy shop: %w", err)
	}
	return nil
}

func seedRows(ctx context.Context, tx *sql.Tx, o SeedOptions) error {
	// The first generator draws what Seed always drew, in the same order,
	// so that its rows stay what they were; the second draws release 2.
	rng := rand.New(rand.NewPCG(o.Seed, 7))
	rng2 := rand.New(rand.NewPCG(o.Seed, 11))

	customers := newBatch(tx, "customers (id, name, email, vip, created_at)", 5)
	for i := 1; i <= o.Customers; i++ {
		if err := customers.add(ctx, i, fmt.Sprintf("Customer %d", i), fmt.Sprintf("customer%d@example.com", i), rng.IntN(5) == 0,
			seedBase.Add(time.Duration(i)*time.Hour).Format(time.DateTime)); err != nil {
			return err
		}
	}
	if err := customers.flush(ctx); err != nil {
		return err
	}

	prices := make([]int64, o.Products+1) // in cents, by product id
	if o.Products > 0 {
		if err := seedCatalog(ctx, tx, rng2, o, prices); err != nil {
			return err
		}
	}

	statuses := []string{"new", "paid", "shipped", "cancelled"}
	orders := newBatch(tx, "orders (id, customer_id, status, total, note, placed_at)", 6)
	items := newBatch(tx, "order_items (order_id, product_id, quantity, unit_price)", 4)
	for i := 1; i <= o.Orders; i++ {
		var note any
		if rng.IntN(3) == 0 {
			note = fmt.Sprintf("deliver to door %d", rng.IntN(90)+1)
		}
		if i%20 == 0 {
			note = "ring twice & leave it at the door"
		}
		cust, status := rng.IntN(o.Customers)+1, statuses[rng.IntN(len(statuses))]
		total := fmt.Sprintf("%d.%02d", rng.IntN(500)+1, rng.IntN(100))
		if o.Products > 0 {
			var cents int64
			seen := map[int]bool{}
			for range 1 + rng2.IntN(4) {
				p := rng2.IntN(o.Products) + 1
				if seen[p] {
					continue
				}
				seen[p] = true
				q := int64(1 + rng2.IntN(3))
				cents += q * prices[p]
				if err := items.add(ctx, i, p, q, formatCents(prices[p])); err != nil {
					return err
				}
			}
			total = formatCents(cents)
		}
		if err := orders.add(ctx, i, cust, status, total, note, seedBase.Add(time.Duration(i)*17*time.Minute).Format(time.DateTime)); err != nil {
			return err
		}
	}
	if err := orders.flush(ctx); err != nil {
		return err
	}
	return items.flush(ctx)
}

// The words of seeded product names.
var (
	adjectives = []string{"Blue", "Red", "Oak", "Steel", "Linen", "Copper", "Glass", "Wool", "Stone", "Bamboo", "Enamel", "Cotton"}
	nouns      = []string{"Teapot", "Mug", "Lamp", "Chair", "Bowl", "Candle", "Blanket", "Vase", "Clock", "Shelf", "Basket", "Kettle"}
)

// seedCatalog writes the products, their stock and the customers' logins,
// and fills prices.
func seedCatalog(ctx context.Context, tx *sql.Tx, rng *rand.Rand, o SeedOptions, prices []int64) error {
	products := newBatch(tx, "products (id, sku, name, price, active, created_at)", 6)
	stock := newBatch(tx, "stock (product_id, quantity, updated_at)", 3)
	for i := 1; i <= o.Products; i++ {
		name := adjectives[rng.IntN(len(adjectives))] + " " + nouns[rng.IntN(len(nouns))]
		if i%15 == 0 {
			name = "Salt & Pepper Set"
		}
		prices[i] = int64(100 + rng.IntN(20000))
		active := 1
		if i%10 == 0 {
			active = 0
		}
		quantity := rng.IntN(40)
		if i%8 == 0 {
			quantity = 0
		}
		// SKUs as the catalog recipe writes them: three letters, four digits.
		sku := fmt.Sprintf("%c%c%c-%04d", 'A'+i/10000%26, 'A'+i/260000%26, 'A'+i/6760000%26, i%10000)
		created := seedBase.Add(-time.Duration(o.Products-i+1) * time.Hour)
		if err := products.add(ctx, i, sku, name, formatCents(prices[i]), active, created.Format(time.DateTime)); err != nil {
			return err
		}
		if err := stock.add(ctx, i, quantity, created.Format(time.DateTime)); err != nil {
			return err
		}
	}
	if err := products.flush(ctx); err != nil {
		return err
	}
	if err := stock.flush(ctx); err != nil {
		return err
	}
	logins := newBatch(tx, "customer_logins (customer_id, password_sha1)", 2)
	hash := PasswordHash(SeedPassword)
	for i := 1; i <= o.Customers; i++ {
		if err := logins.add(ctx, i, hash); err != nil {
			return err
		}
	}
	return logins.flush(ctx)
}

// batch writes rows into one table with multi-row INSERTs.
type batch struct {
	tx   *sql.Tx
	into string // "table (columns)"
	cols int
	args []any
}

func newBatch(tx *sql.Tx, into string, cols int) *batch {
	return &batch{tx: tx, into: into, cols: cols}
}

func (b *batch) add(ctx context.Context, values ...any) error {
	if len(values) != b.cols {
		return fmt.Errorf("writing %s: %d values for %d columns", b.into, len(values), b.cols)
	}
	b.args = append(b.args, values...)
	if len(b.args) >= batchRows*b.cols {
		return b.flush(ctx)
	}
	return nil
}

func (b *batch) flush(ctx context.Context) error {
	n := len(b.args) / b.cols
	if n == 0 {
		return nil
	}
	row := "(?" + strings.Repeat(", ?", b.cols-1) + ")"
	q := "INSERT INTO " + b.into + " VALUES " + row + strings.Repeat(", "+row, n-1)
	if _, err := b.tx.ExecContext(ctx, q, b.args...); err != nil {
		table, _, _ := strings.Cut(b.into, " ")
		return fmt.Errorf("writing %s: %w", table, err)
	}
	b.args = b.args[:0]
	return nil
}
