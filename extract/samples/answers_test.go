package samples_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stranglerfig/strangler/extract/samples"
	"github.com/stranglerfig/strangler/proxy/capture"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEnvelopes(t *testing.T) {
	tests := []struct {
		name             string
		recs             []capture.Record
		envelope, kind   string
		dataKey, metaKey string
		meta             []string
		fields           []string
		note             string
	}{{
		name:     "a bare object",
		recs:     []capture.Record{get("/orders/1", `{"id":1,"status":"paid","items":[{"id":9,"sku":"A"}]}`)},
		envelope: "bare", kind: "object", fields: []string{"id", "status", "items"},
	}, {
		name:     "a bare array",
		recs:     []capture.Record{get("/orders", `[{"id":1},{"id":2}]`), get("/orders", `[]`)},
		envelope: "bare", kind: "list", fields: []string{"id"},
	}, {
		name:     "data and meta",
		recs:     []capture.Record{get("/orders", `{"data":[{"id":1}],"meta":{"total":7,"limit":1,"offset":0}}`)},
		envelope: "data", kind: "list", dataKey: "data", metaKey: "meta", meta: []string{"total", "limit", "offset"},
		fields: []string{"id"},
	}, {
		name:     "data alone",
		recs:     []capture.Record{get("/orders/1", `{"data":{"id":1}}`)},
		envelope: "data", kind: "object", dataKey: "data", fields: []string{"id"},
	}, {
		name:     "items and pagination, camelCase cursor",
		recs:     []capture.Record{get("/orders?cursor=abc", `{"items":[{"id":1}],"pagination":{"nextCursor":"def","limit":1}}`)},
		envelope: "data", kind: "list", dataKey: "items", metaKey: "pagination", meta: []string{"next_cursor", "limit"},
		fields: []string{"id"},
	}, {
		name:     "the collection's name as data key, meta beside it",
		recs:     []capture.Record{get("/api/orders", `{"orders":[{"id":1}],"total":3}`)},
		envelope: "data", kind: "list", dataKey: "orders", fields: []string{"id"},
		note: "lists write their meta members beside the data",
	}, {
		name:     "the singular as data key",
		recs:     []capture.Record{get("/api/orders/1", `{"order":{"id":1}}`)},
		envelope: "data", kind: "object", dataKey: "order", fields: []string{"id"},
	}, {
		name:     "members beside data",
		recs:     []capture.Record{get("/orders/1", `{"success":true,"data":{"id":1}}`)},
		envelope: "data", kind: "object", dataKey: "data", fields: []string{"id"},
		note: "answers hold members beside the data and meta: success; recipes write none",
	}, {
		name:     "unknown meta members",
		recs:     []capture.Record{get("/orders", `{"data":[{"id":1}],"meta":{"total":1,"count":1}}`)},
		envelope: "data", kind: "list", dataKey: "data", metaKey: "meta", meta: []string{"total"}, fields: []string{"id"},
		note: "meta members count have no recipe equivalent",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := samples.Analyze(tc.recs)
			require.Len(t, res.Endpoints, 1)
			ep := res.Endpoints[0]
			require.NotNil(t, ep.Answer)
			sh := ep.Answer.Shape
			assert.Equal(t, tc.envelope, sh.Envelope)
			assert.Equal(t, tc.kind, ep.Answer.Kind)
			assert.Equal(t, tc.dataKey, sh.DataKey)
			assert.Equal(t, tc.metaKey, sh.MetaKey)
			if tc.meta != nil {
				assert.Equal(t, tc.meta, sh.Meta)
			}
			assert.Equal(t, tc.fields, jsonNames(ep.Answer.Fields))
			if tc.note != "" {
				assert.Contains(t, strings.Join(ep.Notes, "\n"), tc.note)
			}
		})
	}
}

func TestCasingAndNames(t *testing.T) {
	tests := []struct {
		name, body, casing string
		names              []string
		note               string
	}{
		{"camel", `{"id":1,"customerId":2,"placedAt":"x","HTTPStatus":3}`, "camel",
			[]string{"id", "customer_id", "placed_at", "http_status"}, "names not written in camel casing (give their fields json:): HTTPStatus (http_status)"},
		{"snake", `{"id":1,"customer_id":2,"placed_at":"x","userID":4}`, "snake",
			[]string{"id", "customer_id", "placed_at", "user_id"}, "userID (user_id)"},
		{"pascal", `{"Id":1,"CustomerId":2,"PlacedAt":"x"}`, "pascal", []string{"id", "customer_id", "placed_at"}, ""},
		{"kebab", `{"id":1,"customer-id":2,"placed-at":"x"}`, "kebab", []string{"id", "customer_id", "placed_at"}, ""},
		{"single words show no casing", `{"id":1,"total":2}`, "", []string{"id", "total"}, ""},
		{"screaming", `{"ORDER_ID":1,"CUSTOMER_ID":2,"TOTAL":3}`, "as_is", []string{"order_id", "customer_id", "total"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := samples.Analyze([]capture.Record{get("/orders/1", tc.body)})
			assert.Equal(t, tc.casing, res.Shape.Casing)
			var names []string
			for _, f := range res.Endpoints[0].Answer.Fields {
				names = append(names, f.Name)
			}
			assert.Equal(t, tc.names, names)
			if tc.note != "" {
				assert.Contains(t, strings.Join(res.Notes, "\n"), tc.note)
			}
		})
	}
}

func TestSnakeNameAndSingular(t *testing.T) {
	for in, want := range map[string]string{
		"customerId": "customer_id", "placedAt": "placed_at", "PlacedAt": "placed_at", "HTTPStatus": "http_status",
		"userID": "user_id", "weight-kg": "weight_kg", "address2Line": "address2_line", "_links": "links",
		"2fa": "f_2fa", "": "field", "déjà": "dj",
	} {
		assert.Equal(t, want, samples.SnakeName(in), in)
	}
	for in, want := range map[string]string{
		"orders": "order", "categories": "category", "addresses": "address", "statuses": "status", "boxes": "box",
		"people": "person", "order-items": "order_item", "status": "status", "news": "news", "order": "order",
	} {
		assert.Equal(t, want, samples.Singular(in), in)
	}
	assert.Equal(t, "customerId", samples.ApplyCasing("camel", "customer_id"))
	assert.Equal(t, "Customer-Id", samples.ApplyCasing("as_is", "Customer-Id"))
}

func TestValueFormats(t *testing.T) {
	tests := []struct {
		name         string
		values       []string // JSON values of one member, one answer each
		typ, format  string
		scale        int
		note         string
		nullable, om bool
	}{
		{name: "decimals as strings", values: []string{`"12.50"`, `"3.00"`, `"100.99"`}, typ: "decimal", format: "string", scale: 2},
		{name: "decimals as numbers", values: []string{`12.50`, `3.00`, `100.99`}, typ: "decimal", format: "number", scale: 2},
		{name: "floats", values: []string{`1.5`, `2.25`, `3`}, typ: "number"},
		{name: "integers", values: []string{`1`, `2`, `30`}, typ: "integer"},
		{name: "integers as strings", values: []string{`"1"`, `"20"`}, typ: "integer", format: "string",
			note: "holds integers written as strings"},
		{name: "decimal scales vary", values: []string{`"1.50"`, `"2.5"`, `"3.75"`}, typ: "decimal", format: "string", scale: 2,
			note: "is written with 2 digits after the point in 2 and 1 digits after the point in 1"},
		{name: "0/1 booleans", values: []string{`0`, `1`, `1`}, typ: "boolean", format: "int"},
		{name: "true/false", values: []string{`true`, `false`}, typ: "boolean", format: "bool"},
		{name: "booleans as strings", values: []string{`"true"`, `"false"`}, typ: "boolean", format: "string"},
		{name: "uuids", values: []string{`"3f2504e0-4f89-41d3-9a0c-0305e82c3301"`}, typ: "uuid"},
		{name: "mysql datetime", values: []string{`"2024-03-01 09:17:00"`, `"2024-12-31 23:59:59"`}, typ: "timestamp", format: "2006-01-02 15:04:05"},
		{name: "rfc3339 utc", values: []string{`"2024-03-01T09:17:00Z"`, `"2024-12-31T23:59:59Z"`}, typ: "timestamp", format: "2006-01-02T15:04:05Z07:00"},
		{name: "rfc3339 with offsets", values: []string{`"2024-03-01T09:17:00+01:00"`, `"2024-12-31T23:59:59+00:00"`}, typ: "timestamp", format: "2006-01-02T15:04:05-07:00",
			note: "total carries a zone other than UTC in 1 values; recipes write times in UTC"},
		{name: "several layouts", values: []string{`"2024-03-01 09:17:00"`, `"2024-03-02 09:17:00"`, `"2024-03-01T09:17:00Z"`}, typ: "timestamp", format: "2006-01-02 15:04:05",
			note: "total is written in several layouts: 2006-01-02 15:04:05 in 2 of 3 values"},
		{name: "rfc3339 milliseconds", values: []string{`"2024-03-01T09:17:00.120Z"`, `"2024-12-31T23:59:59.000Z"`}, typ: "timestamp", format: "2006-01-02T15:04:05.000Z07:00"},
		{name: "rfc3339 varying fractions", values: []string{`"2024-03-01T09:17:00.12Z"`, `"2024-12-31T23:59:59Z"`}, typ: "timestamp", format: "2006-01-02T15:04:05.999999999Z07:00"},
		{name: "no zone", values: []string{`"2024-03-01T09:17:00"`}, typ: "timestamp", format: "2006-01-02T15:04:05"},
		{name: "day first", values: []string{`"31/01/2024"`, `"02/03/2024"`}, typ: "date", format: "02/01/2006"},
		{name: "month first", values: []string{`"01/31/2024"`, `"03/02/2024"`}, typ: "date", format: "01/02/2006"},
		{name: "day or month first", values: []string{`"01/02/2024"`, `"03/04/2024"`}, typ: "date", format: "02/01/2006",
			note: "reads as 02/01/2006 and as 01/02/2006 (no day above 12 seen); 02/01/2006 assumed"},
		{name: "iso dates", values: []string{`"2024-03-01"`}, typ: "date", format: "2006-01-02"},
		{name: "dotted dates with time", values: []string{`"31.01.2024 09:17"`}, typ: "timestamp", format: "02.01.2006 15:04"},
		{name: "rfc1123", values: []string{`"Fri, 01 Mar 2024 09:17:00 GMT"`}, typ: "timestamp", format: "Mon, 02 Jan 2006 15:04:05 MST"},
		{name: "text", values: []string{`"ring twice"`, `"Customer 3"`}, typ: "string"},
		{name: "null written", values: []string{`null`, `"x"`}, typ: "string", nullable: true},
		{name: "member omitted", values: []string{``, `"x"`}, typ: "string", om: true},
		{name: "conflicting kinds", values: append(repeat(`"12.50"`, 38), `12.5`, `13.5`), typ: "decimal", format: "string", scale: 2,
			note: "total is a string in 38 answers and a number in 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var recs []capture.Record
			for i, v := range tc.values {
				body := fmt.Sprintf(`{"id":%d}`, i+1)
				if v != "" {
					body = fmt.Sprintf(`{"id":%d,"total":%s}`, i+1, v)
				}
				recs = append(recs, get(fmt.Sprintf("/orders/%d", i+1), body))
			}
			ep := samples.Analyze(recs).Endpoints[0]
			f := field(t, ep.Answer.Fields, "total")
			assert.Equal(t, tc.typ, f.Type)
			assert.Equal(t, tc.format, f.Format)
			assert.Equal(t, tc.scale, f.Scale)
			assert.Equal(t, tc.nullable, f.Nullable)
			assert.Equal(t, tc.om, f.Omitted)
			if tc.note != "" {
				assert.Contains(t, strings.Join(ep.Notes, "\n"), tc.note)
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestShapeFormats(t *testing.T) {
	// The catalog of testdata/legacyshop: bare, snake_case, 1/0 flags,
	// nulls left out, cursor pages.
	recs := []capture.Record{
		get("/v2/products?limit=2", `[{"id":"3f2504e0-4f89-41d3-9a0c-0305e82c3301","sku":"ABC-1234","price":12.50,"in_stock":1,"released_on":"2024-03-01"},`+
			`{"id":"9b2c6f4e-1d2a-4c3b-8e5f-6a7b8c9d0e1f","sku":"ABC-9999","price":3.00,"in_stock":0}]`),
		get("/v2/products?cursor=9b2c6f4e&limit=2", `[{"id":"aa2c6f4e-1d2a-4c3b-8e5f-6a7b8c9d0e1f","sku":"XYZ-0001","price":7.25,"in_stock":1,"weight_kg":0.5}]`),
		get("/v2/products/3f2504e0-4f89-41d3-9a0c-0305e82c3301", `{"id":"3f2504e0-4f89-41d3-9a0c-0305e82c3301","sku":"ABC-1234","price":12.50,"in_stock":1,"released_on":"2024-03-01"}`),
	}
	recs[0].Response.Header.Set("X-Next-Cursor", "9b2c6f4e")
	recs[1].Response.Header.Set("X-Next-Cursor", "")
	res := samples.Analyze(recs)
	assert.Equal(t, samples.Shape{Envelope: "bare", Casing: "snake", Nulls: "omit", Decimals: "number",
		DateFormat: "2006-01-02", Booleans: "int", Pagination: "cursor"}, res.Shape)
	rs := res.Shape.Recipe()
	assert.Equal(t, []string{"next_cursor", "limit"}, rs.Meta)
	assert.Equal(t, "rfc3339", rs.TimestampFormat)
	list := endpoint(t, res, "GET", "/v2/products")
	w := field(t, list.Answer.Fields, "weight_kg")
	assert.True(t, w.Omitted)
	assert.False(t, w.Nullable)
	assert.Equal(t, 1, w.Present)
	assert.Equal(t, 3, w.Objects)
}

func TestNullsConflict(t *testing.T) {
	res := samples.Analyze([]capture.Record{
		get("/a/1", `{"id":1,"note":null,"memo":"x"}`),
		get("/a/2", `{"id":2,"note":"y","tag":"t"}`),
		get("/a/3", `{"id":3,"note":null,"tag":"t"}`),
	})
	ep := res.Endpoints[0]
	assert.Equal(t, "omit", res.Shape.Nulls, "two members left out against one written null")
	assert.Contains(t, strings.Join(ep.Notes, "\n"), "nulls: omit in 2 and null in 1 (omit taken)")
}

func TestDefaultAndMaxLimits(t *testing.T) {
	list := func(q string, n, total int) capture.Record {
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf(`{"id":%d}`, i+1)
		}
		return get("/orders"+q, fmt.Sprintf(`{"data":[%s],"meta":{"total":%d}}`, strings.Join(items, ","), total))
	}
	res := samples.Analyze([]capture.Record{
		list("", 25, 400), list("?status=paid", 25, 90), list("?limit=500", 200, 400), list("?limit=10", 10, 400), list("", 3, 3),
	})
	assert.Equal(t, 25, res.Shape.DefaultLimit)
	assert.Equal(t, 200, res.Shape.MaxLimit)
	assert.Equal(t, 25, res.Shape.Recipe().DefaultLimit)

	res = samples.Analyze([]capture.Record{list("?limit=150", 150, 400)})
	assert.Equal(t, 150, res.Shape.MaxLimit)
	assert.Contains(t, strings.Join(res.Notes, "\n"), "150 is the largest limit honoured")
	assert.Equal(t, 20, res.Shape.Recipe().DefaultLimit)
}

func TestRecipeDefaults(t *testing.T) {
	rs := samples.Shape{}.Recipe()
	assert.Equal(t, "data", rs.Envelope)
	assert.Equal(t, "meta", rs.MetaKey)
	assert.Equal(t, []string{"total", "limit", "offset"}, rs.Meta)
	rs = samples.Shape{DefaultLimit: 250, Meta: []string{}}.Recipe()
	assert.Equal(t, 250, rs.MaxLimit)
	assert.Equal(t, []string{}, rs.Meta)
	rs = samples.Shape{DefaultLimit: 250, MaxLimit: 200, Pagination: "cursor", Meta: []string{"total", "next_cursor"}}.Recipe()
	assert.Equal(t, 200, rs.DefaultLimit)
	assert.Equal(t, []string{"next_cursor"}, rs.Meta)
}

func TestEndpointsDisagree(t *testing.T) {
	res := samples.Analyze([]capture.Record{
		get("/a/1", `{"id":1,"createdAt":"2024-03-01 09:00:00","price":"1.50"}`),
		get("/a/2", `{"id":2,"createdAt":"2024-03-01 09:00:00","price":"1.50"}`),
		get("/b/1", `{"id":1,"bornOn":"01/02/2024","updatedAt":"2024-03-01T09:00:00Z","amount":2.50}`),
	})
	notes := strings.Join(res.Notes, "\n")
	assert.Equal(t, "2006-01-02 15:04:05", res.Shape.TimestampFormat)
	assert.Equal(t, "string", res.Shape.Decimals)
	assert.Contains(t, notes, "timestamp_format: 2006-01-02T15:04:05Z07:00 in GET /b/{id}, 2006-01-02 15:04:05 overall")
	assert.Contains(t, notes, "times written in another layout than the shape's (give their fields format:): updatedAt (2006-01-02T15:04:05Z07:00)")
	assert.Contains(t, notes, "decimals not written as string: amount; recipes write every decimal alike")
	assert.Contains(t, notes, "decimals: number in GET /b/{id}, string overall")
}

func TestBodiesNotRead(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`{"id":1,"total":"1.00"}`))
	require.NoError(t, zw.Close())
	zipped := get("/a/1", "")
	zipped.Response.BodyBase64 = gz.Bytes()
	zipped.Response.Header = http.Header{"Content-Encoding": {"gzip"}}
	cut := get("/a/2", `{"id":2,"to`)
	cut.Response.Truncated = true
	res := samples.Analyze([]capture.Record{zipped, cut, get("/a/3", `<html>oops</html>`), get("/a/4", `{"id":`)})
	ep := res.Endpoints[0]
	require.NotNil(t, ep.Answer)
	assert.Equal(t, 1, ep.Answer.Answers)
	assert.Equal(t, map[string]int{"truncated": 1, "not_json": 1, "bad_json": 1}, ep.Answer.Skipped)
	assert.Equal(t, "decimal", field(t, ep.Answer.Fields, "total").Type)
	assert.Contains(t, strings.Join(ep.Notes, "\n"), "successful answers not read: 1 bad_json, 1 not_json and 1 truncated")
}

func TestMemberOrderIsMerged(t *testing.T) {
	res := samples.Analyze([]capture.Record{
		get("/a/1", `{"id":1,"b":2,"d":4}`),
		get("/a/2", `{"id":2,"b":2,"c":3,"d":4}`),
		get("/a/3", `{"a":0,"id":3}`),
	})
	assert.Equal(t, []string{"a", "id", "b", "c", "d"}, jsonNames(res.Endpoints[0].Answer.Fields))
}
