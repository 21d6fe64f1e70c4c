package extract_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"io"
	"net/http"
	"net/http/httptest"

	"github.com/getkin/kin-openapi/openapi3"
	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/extract"
	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stranglerfig/strangler/proxy/capture"
	"github.com/stranglerfig/strangler/recipes"
	"github.com/stranglerfig/strangler/testdata/legacyshop"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// legacy returns a fresh MariaDB database and its name.
func legacy(t *testing.T, stmts ...string) (*sql.DB, string) {
	t.Helper()
	return legacyOn(t, dbtest.MySQL(t), stmts...)
}

// legacyOn opens the MariaDB database of dsn and runs stmts in it.
func legacyOn(t *testing.T, dsn string, stmts ...string) (*sql.DB, string) {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	for _, s := range stmts {
		_, err := db.Exec(s)
		require.NoError(t, err, s)
	}
	var name string
	require.NoError(t, db.QueryRow("SELECT DATABASE()").Scan(&name))
	return db, name
}

// loadDDL runs the extracted DDL on a fresh PostgreSQL database.
func loadDDL(t *testing.T, ddl string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbtest.Postgres(t))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(ctx) })
	_, err = conn.Exec(ctx, ddl)
	require.NoError(t, err, ddl)
	return conn
}

// TestExtractTheShopSchema: the example shop's tables give one recipe (the
// orders relate to the customers by the column's name), that loads, with
// the types, lengths, enums and defaults of the schema; the DDL loads and
// carries the legacy secondary index; two runs give the same bytes.
func TestExtractTheShopSchema(t *testing.T) {
	db, name := legacy(t)
	require.NoError(t, legacyshop.Create(context.Background(), db))
	res, err := extract.Extract(context.Background(), db, extract.Options{Database: name, RoutePrefix: "/api"})
	require.NoError(t, err)
	again, err := extract.Extract(context.Background(), db, extract.Options{Database: name, RoutePrefix: "/api"})
	require.NoError(t, err)
	assert.Equal(t, res.Files, again.Files, "two runs give byte-identical files")

	require.Contains(t, res.Files, "customer.yaml")
	r, err := recipes.Parse("customer.yaml", res.Files["customer.yaml"])
	require.NoError(t, err, string(res.Files["customer.yaml"]))
	assert.Equal(t, "/api", r.BasePath)
	require.Len(t, r.Resources, 2)
	cust, ord := r.Resources[0], r.Resources[1]
	assert.Equal(t, "customer", cust.Name)
	assert.Equal(t, "order", ord.Name)
	assert.Equal(t, "id", ord.Key)
	field := func(res recipes.Resource, name string) recipes.Field {
		for _, f := range res.Fields {
			if f.Name == name {
				return f
			}
		}
		t.Fatalf("%s has no field %s", res.Name, name)
		return recipes.Field{}
	}
	assert.True(t, field(ord, "id").Generated)
	assert.Equal(t, recipes.TypeDecimal, field(ord, "total").Type)
	assert.Equal(t, 12, field(ord, "total").Precision)
	assert.Equal(t, 2, field(ord, "total").Scale)
	assert.Equal(t, []string{"new", "paid", "shipped", "cancelled"}, field(ord, "status").Enum)
	assert.Equal(t, "new", field(ord, "status").Default)
	assert.True(t, field(ord, "note").Nullable)
	require.NotNil(t, field(ord, "note").MaxLength)
	assert.Equal(t, 500, *field(ord, "note").MaxLength)
	assert.Equal(t, recipes.TypeBoolean, field(cust, "vip").Type)
	assert.Equal(t, "false", field(cust, "vip").Default)
	assert.Equal(t, "now", field(cust, "created_at").Default)
	assert.True(t, field(cust, "email").Unique)
	assert.Contains(t, ord.Relations, recipes.Relation{Name: "customer", Resource: "customer", Field: "customer_id", Kind: "one", JSON: "customer"})
	assert.Contains(t, cust.Relations, recipes.Relation{Name: "orders", Resource: "order", Field: "customer_id", Kind: "many", JSON: "orders"})

	ddl := string(res.Files["schema.sql"])
	assert.Contains(t, ddl, `CREATE INDEX IF NOT EXISTS "orders_orders_customer" ON "public"."orders" ("customer_id");`)
	assert.Contains(t, ddl, `CREATE UNIQUE INDEX IF NOT EXISTS "customers_customers_email" ON "public"."customers" ("email");`)
	conn := loadDDL(t, ddl)
	var n int
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_indexes WHERE tablename IN ('orders', 'customers')`).Scan(&n))
	assert.Equal(t, 4, n, "two primary keys and the two legacy indexes")

	frag := string(res.Files["strangler.fragment.yaml"])
	assert.Contains(t, frag, "  - name: customer\n    tables: [customers, orders]\n")
	assert.Contains(t, frag, "  - name: customer-get-order\n    match: {path: /api/orders/{id}, methods: [GET]}\n    target: http://127.0.0.1:9100\n    mode: legacy\n")
	report := string(res.Files["report.txt"])
	assert.Contains(t, report, "orders.customer_id -> customers: no foreign key; related by the column's name")
	assert.Regexp(t, `orders\s+6 of 6 columns served`, report)
}

// TestExtractAHostileSchema: composite keys, a table without a primary key,
// unsigned keys, SET/ENUM/YEAR/BLOB/JSON/TIME/BIT/generated columns,
// foreign keys in a cycle, a view, a trigger and a FULLTEXT index. What has
// a key is served, a composite one too; the DDL loads; what is not mapped
// is in the report with the reason.
func TestExtractAHostileSchema(t *testing.T) {
	db, name := legacy(t,
		`CREATE TABLE authors (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, name VARCHAR(80) NOT NULL, best_book BIGINT UNSIGNED NULL,
			born YEAR NULL, tags SET('poet','novelist','critic') NOT NULL DEFAULT 'novelist', avatar BLOB NULL,
			profile JSON NULL, nap TIME NULL, flags BIT(5) NOT NULL DEFAULT b'00000',
			name_upper VARCHAR(80) AS (UPPER(name)) VIRTUAL, FULLTEXT KEY authors_name_ft (name)) ENGINE=InnoDB`,
		`CREATE TABLE books (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, author_id BIGINT UNSIGNED NOT NULL,
			title VARCHAR(200) NOT NULL, kind ENUM('paper','ebook') NOT NULL DEFAULT 'paper', price DECIMAL(8,2) NULL,
			CONSTRAINT books_author FOREIGN KEY (author_id) REFERENCES authors (id)) ENGINE=InnoDB`,
		`ALTER TABLE authors ADD CONSTRAINT authors_best FOREIGN KEY (best_book) REFERENCES books (id)`,
		`CREATE TABLE book_tags (book_id BIGINT UNSIGNED NOT NULL, tag VARCHAR(40) NOT NULL, PRIMARY KEY (book_id, tag)) ENGINE=InnoDB`,
		`CREATE TABLE audit_log (at DATETIME NOT NULL, what TEXT NOT NULL) ENGINE=InnoDB`,
		`CREATE TABLE places (id INT NOT NULL PRIMARY KEY, spot POINT NOT NULL) ENGINE=InnoDB`,
		`CREATE VIEW cheap_books AS SELECT id, title FROM books WHERE price < 10`,
		`CREATE TRIGGER books_audit AFTER INSERT ON books FOR EACH ROW INSERT INTO audit_log VALUES (NOW(), NEW.title)`,
	)
	res, err := extract.Extract(context.Background(), db, extract.Options{Database: name})
	require.NoError(t, err)
	report := string(res.Files["report.txt"])
	for _, want := range []string{
		"audit_log                not served: no primary key",
		"book_tags                2 of 2 columns served",
		"GET     /book_tags/{book_id}/{tag}",
		"book_tags.book_id -> books: no foreign key; related by the column's name",
		"places                   not served: column spot: spatial type point is not supported",
		"authors.name_upper: not served (a generated column",
		"authors: index authors_name_ft is FULLTEXT",
		"views, not carried over: cheap_books",
		"triggers, not carried over: books_audit (on books)",
	} {
		assert.Contains(t, report, want)
	}
	require.Contains(t, res.Files, "author.yaml", "authors and books are related both ways: one recipe")
	r, err := recipes.Parse("author.yaml", res.Files["author.yaml"])
	require.NoError(t, err, string(res.Files["author.yaml"]))
	var names []string
	for _, res := range r.Resources {
		names = append(names, res.Name)
	}
	assert.Equal(t, []string{"author", "book_tag", "book"}, names)
	assert.Equal(t, []string{"book_id", "tag"}, r.Resources[1].Keys, "book_tags keeps its composite key")
	doc, err := recipes.OpenAPI(r)
	require.NoError(t, err)
	spec, err := openapi3.NewLoader().LoadFromData(doc)
	require.NoError(t, err)
	require.NoError(t, spec.Validate(context.Background()), "the recipe's OpenAPI document validates")

	// Served over the DDL extract wrote, with a row of every type.
	ctx := context.Background()
	pgDSN := dbtest.Postgres(t)
	pool, err := pgxpool.New(ctx, pgDSN)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = pool.Exec(ctx, string(res.Files["schema.sql"]))
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO authors (id, name, best_book, born, tags, avatar, profile, nap, flags)
		VALUES (18446744073709551615, 'Ada', NULL, 1815, '{poet,critic}', '\x00ff', '{"a": 1}', '-12:30:00', B'10101')`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO books (id, author_id, title, kind, price) VALUES (1, 18446744073709551615, 'Notes', 'paper', 9.50)`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO book_tags (book_id, tag) VALUES (1, 'essay'), (1, 'notes')`)
	require.NoError(t, err)
	srv := serveRecipe(t, r, pool)
	for _, path := range []string{"/authors", "/authors/18446744073709551615", "/books", "/books/1", "/book_tags", "/book_tags/1/notes"} {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", path, body)
		if path == "/authors/18446744073709551615" {
			assert.Contains(t, string(body), "18446744073709551615")
			assert.Contains(t, string(body), `"10101"`)
			assert.Contains(t, string(body), `"-12:30:00"`)
		}
		if path == "/book_tags/1/notes" {
			assert.Contains(t, string(body), `"tag":"notes"`)
		}
	}
	assert.False(t, strings.Contains(string(res.Files["schema.sql"]), "audit_log"), "a table sync cannot copy gets no DDL")
}

// TestSamplesThatDisagreeWithTheSchema: a column the schema says is text
// and every captured answer writes as a number gets a comment in the
// recipe and a line in the report; the endpoints are the ones captured.
func TestSamplesThatDisagreeWithTheSchema(t *testing.T) {
	db, name := legacy(t, `CREATE TABLE prices (id INT NOT NULL PRIMARY KEY, amount VARCHAR(20) NOT NULL, secret_code VARCHAR(10) NULL) ENGINE=InnoDB`)
	var recs []capture.Record
	for i := 1; i <= 3; i++ {
		recs = append(recs, capture.Record{Route: "prices",
			Request: capture.Request{Method: "GET", Path: fmt.Sprintf("/api/prices/%d", i)},
			Response: capture.Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}},
				Body: fmt.Sprintf(`{"id": %d, "amount": %d.5}`, i, i)}})
	}
	recs = append(recs, capture.Record{Route: "prices", Request: capture.Request{Method: "GET", Path: "/api/prices/report"},
		Response: capture.Response{Status: 200, Header: http.Header{"Content-Type": {"text/html"}}, Body: "<html><body>report</body></html>"}})
	res, err := extract.Extract(context.Background(), db, extract.Options{Database: name, Samples: recs, RoutePrefix: "/api"})
	require.NoError(t, err)
	recipe := string(res.Files["price.yaml"])
	assert.Regexp(t, `GET\s+/api/prices/\{id\}\s+price\s+3 samples \(75\.0%\)`, string(res.Files["report.txt"]), "each endpoint's share of the captured requests")
	assert.Contains(t, string(res.Files["report.txt"]), "GET /api/prices/report (1 samples, 25.0%): no JSON answer (HTML, text or only errors); not generated")
	assert.Contains(t, recipe, "{name: amount, type: string, max_length: 20} # the samples show decimal values (1.5, 2.5, 3.5); the column says string")
	assert.Contains(t, recipe, "{name: secret_code, type: string, nullable: true, write_only: true, max_length: 10} # no captured answer holds it", "secret_code is never shown by legacy")
	assert.Contains(t, string(res.Files["report.txt"]), "prices.amount: the samples show decimal values")
	r, err := recipes.Parse("price.yaml", res.Files["price.yaml"])
	require.NoError(t, err, recipe)
	require.Len(t, r.Endpoints, 1, "only the captured endpoint")
	assert.Equal(t, "/prices/{id}", r.Endpoints[0].Path)
}

// serveRecipe serves r over pool on a real listener until t ends.
func serveRecipe(t *testing.T, r *recipes.Recipe, pool *pgxpool.Pool) *httptest.Server {
	t.Helper()
	svc, err := recipes.NewService(r, pool)
	require.NoError(t, err)
	require.NoError(t, svc.Start(context.Background()))
	t.Cleanup(func() { svc.Close(context.Background()) })
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	return srv
}
