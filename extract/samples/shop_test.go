package samples_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stranglerfig/strangler/extract/samples"
	"github.com/stranglerfig/strangler/proxy/capture"
	"github.com/stranglerfig/strangler/recipes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shopCustomer and shopOrder write objects as the example legacy shop
// (testdata/legacyshop) answers them.
func shopCustomer(id int) string {
	return fmt.Sprintf(`{"id":%d,"name":"Customer %d","email":"customer%d@example.com","vip":%t,"createdAt":"2024-03-01 %02d:00:00"}`,
		id, id, id, id%5 == 0, 9+id%10)
}

func shopOrder(id int, requestID string) string {
	cust := 1 + id%4
	note := "null"
	if id%3 == 0 {
		note = fmt.Sprintf(`"deliver to door %d"`, id)
	}
	rid := ""
	if requestID != "" {
		rid = fmt.Sprintf(`,"requestId":%q`, requestID)
	}
	status := []string{"new", "paid", "shipped", "cancelled"}[id%4]
	return fmt.Sprintf(`{"id":%d,"customerId":%d,"status":%q,"total":"%d.%02d","note":%s,"placedAt":"2024-03-01 %02d:%02d:00","customer":%s%s}`,
		id, cust, status, 10+id, id*7%100, note, 9+id/60%10, id%60, shopCustomer(cust), rid)
}

// shopRecords is traffic of the legacy shop: single orders (twice the
// same one, with its made-up requestId), lists with filters and pages,
// a customer, a creation, a 404 and the daily report.
func shopRecords() []capture.Record {
	var recs []capture.Record
	for id := 1; id <= 12; id++ {
		recs = append(recs, get(fmt.Sprintf("/api/orders/%d", id), `{"data":`+shopOrder(id, fmt.Sprintf("r%03d", id))+`}`))
	}
	recs = append(recs, get("/api/orders/3", `{"data":`+shopOrder(3, "r999")+`}`))
	recs = append(recs, record(http.MethodGet, "/api/orders/999", 404, `{"error":"order not found"}`))
	list := func(query string, ids ...int) capture.Record {
		items := make([]string, len(ids))
		for i, id := range ids {
			items[i] = shopOrder(id, "")
		}
		return get("/api/orders"+query, fmt.Sprintf(`{"data":[%s],"meta":{"total":40}}`, strings.Join(items, ",")))
	}
	all := make([]int, 20)
	for i := range all {
		all[i] = i + 1
	}
	recs = append(recs,
		list("", all...),
		list("?limit=5", 1, 2, 3, 4, 5),
		list("?limit=5&offset=5", 6, 7, 8, 9, 10),
		list("?status=paid", all[:20]...),
		list("?status=shipped&limit=3", 2, 6, 10),
	)
	for id := 1; id <= 4; id++ {
		recs = append(recs, get(fmt.Sprintf("/api/customers/%d", id), `{"data":`+shopCustomer(id)+`}`))
	}
	create := record(http.MethodPost, "/api/orders", 201, `{"data":`+shopOrder(41, "")+`}`)
	create.Request.Body = `{"customerId":2,"status":"new","total":"18.00","note":null}`
	create.Request.Header = http.Header{"Content-Type": {"application/json"}}
	recs = append(recs, create)
	recs = append(recs, get("/api/reports/daily", `{"orders":40,"revenue":"1234.50"}`))
	return recs
}

func TestShopTraffic(t *testing.T) {
	recs := shopRecords()
	res := samples.Analyze(recs)
	require.Equal(t, len(recs), res.Records)
	assert.Equal(t, []string{
		"GET /api/customers/{id}",
		"GET /api/orders",
		"POST /api/orders",
		"GET /api/orders/{id}",
		"GET /api/reports/daily",
	}, routes(res))

	// The shape the orders recipe of testdata/legacyshop writes.
	sh := res.Shape
	assert.Equal(t, samples.Shape{
		Envelope: "data", DataKey: "data", MetaKey: "meta", Meta: []string{"total"}, Casing: "camel",
		Nulls: "null", Decimals: "string", TimestampFormat: "2006-01-02 15:04:05", Booleans: "bool",
		Pagination: "offset", DefaultLimit: 20,
	}, sh)
	rs := sh.Recipe()
	assert.Equal(t, 100, rs.MaxLimit)
	assert.Equal(t, "2006-01-02", rs.DateFormat)
	assert.Contains(t, strings.Join(res.Notes, "\n"), "envelope: bare in GET /api/reports/daily, data overall")

	get := endpoint(t, res, "GET", "/api/orders/{id}")
	assert.Equal(t, recipes.ActionGet, get.Action)
	assert.Equal(t, "order", get.Resource)
	require.Len(t, get.Vars, 1)
	assert.Equal(t, "id", get.Vars[0].Key)
	assert.Equal(t, 13, get.Vars[0].Matched)
	assert.Equal(t, samples.KindInteger, get.Vars[0].Kind)
	assert.Equal(t, map[int]int{200: 13, 404: 1}, get.Statuses)
	assert.InDelta(t, 14.0/float64(len(recs)), get.Share, 1e-9)
	assert.Equal(t, []string{"id", "customerId", "status", "total", "note", "placedAt", "customer", "requestId"}, jsonNames(get.Answer.Fields))
	total := field(t, get.Answer.Fields, "total")
	assert.Equal(t, "decimal", total.Type)
	assert.Equal(t, "string", total.Format)
	assert.Equal(t, 2, total.Scale)
	note := field(t, get.Answer.Fields, "note")
	assert.True(t, note.Nullable)
	assert.False(t, note.Omitted)
	assert.Equal(t, "string", note.Type)
	placed := field(t, get.Answer.Fields, "placedAt")
	assert.Equal(t, "placed_at", placed.Name)
	assert.Equal(t, "timestamp", placed.Type)
	assert.Equal(t, "2006-01-02 15:04:05", placed.Format)
	cust := field(t, get.Answer.Fields, "customer")
	assert.Equal(t, "customer", cust.Nested)
	assert.Equal(t, "customer_id", cust.Via)
	assert.Equal(t, "boolean", field(t, get.Answer.Fields, "customer.vip").Type)
	rid := field(t, get.Answer.Fields, "requestId")
	assert.True(t, rid.Unstable, "requestId is made up per answer")
	assert.Contains(t, strings.Join(get.Notes, "\n"), "requestId differed between answers to the same request")

	list := endpoint(t, res, "GET", "/api/orders")
	assert.Equal(t, recipes.ActionList, list.Action)
	assert.Equal(t, "list", list.Answer.Kind)
	assert.Equal(t, []string{"total"}, jsonNames(list.Answer.Meta))
	assert.Equal(t, 20, list.Answer.Shape.DefaultLimit)
	var classes []string
	for _, q := range list.Query {
		classes = append(classes, q.Name+"="+q.Class+"/"+q.Role+q.Field)
	}
	assert.Equal(t, []string{"limit=page/limit", "offset=page/offset", "status=filter/status"}, classes)
	assert.NotContains(t, jsonNames(list.Answer.Fields), "requestId")

	post := endpoint(t, res, "POST", "/api/orders")
	assert.Equal(t, recipes.ActionCreate, post.Action)
	assert.Equal(t, []string{"customerId", "status", "total", "note"}, jsonNames(post.Body))

	report := endpoint(t, res, "GET", "/api/reports/daily")
	assert.Equal(t, recipes.ActionQuery, report.Action)
	assert.Equal(t, "", report.Resource)
	assert.Equal(t, "bare", report.Answer.Shape.Envelope)
}

// TestShopShapeMakesARecipe checks that the shape read off the shop's
// traffic is one recipes accept.
func TestShopShapeMakesARecipe(t *testing.T) {
	sh := samples.Analyze(shopRecords()).Shape.Recipe()
	meta, _ := json.Marshal(sh.Meta)
	src := fmt.Sprintf(`service: orders
shape:
  envelope: %s
  data_key: %s
  meta_key: %s
  meta: %s
  casing: %s
  nulls: %q
  decimals: %s
  timestamp_format: %q
  date_format: %q
  booleans: %s
  pagination: %s
  default_limit: %d
  max_limit: %d
resources:
  - name: order
    fields:
      - {name: id, type: integer, generated: true}
      - {name: total, type: decimal, scale: 2}
endpoints:
  - {method: GET, path: "/orders/{id}", resource: order, action: get}
`, sh.Envelope, sh.DataKey, sh.MetaKey, meta, sh.Casing, sh.Nulls, sh.Decimals, sh.TimestampFormat, sh.DateFormat,
		sh.Booleans, sh.Pagination, sh.DefaultLimit, sh.MaxLimit)
	r, err := recipes.Parse("orders.yaml", []byte(src))
	require.NoError(t, err, src)
	assert.Equal(t, "2006-01-02 15:04:05", r.Shape.TimestampFormat)
	assert.Equal(t, []string{"total"}, r.Shape.Meta)
}
