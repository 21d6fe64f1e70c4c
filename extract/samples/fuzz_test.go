package samples_test

import (
	"encoding/json"
	"testing"

	"github.com/stranglerfig/strangler/extract/samples"
	"github.com/stranglerfig/strangler/proxy/capture"
)

// FuzzAnalyze feeds Analyze arbitrary paths, queries and bodies: it must
// not fail, and must give the same result twice.
func FuzzAnalyze(f *testing.F) {
	f.Add("/api/orders/1", "status=paid&sort=-total", `{"data":{"id":1,"total":"1.50","at":"2024-03-01 09:00:00"}}`, `{"customerId":1}`)
	f.Add("/v2/products", "cursor=x&limit=2", `[{"id":"3f2504e0-4f89-41d3-9a0c-0305e82c3301","in_stock":1}]`, "")
	f.Add("//a//b/", "%zz=1&a[gte]=2", `{"items":[1,{"x":[{"id":2}]}],"meta":{"total":"x"}}`, `[`)
	f.Fuzz(func(t *testing.T, path, query, body, reqBody string) {
		recs := []capture.Record{
			{Request: capture.Request{Method: "GET", Path: path, Query: query}, Response: capture.Response{Status: 200, Body: body}},
			{Request: capture.Request{Method: "POST", Path: path, Query: query, Body: reqBody}, Response: capture.Response{Status: 201, Body: body}},
			{Request: capture.Request{Method: "GET", Path: path + "/7"}, Response: capture.Response{Status: 200, Body: body}},
		}
		a, err := json.Marshal(samples.Analyze(recs))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(samples.Analyze(recs))
		if string(a) != string(b) {
			t.Fatalf("two results:\n%s\n%s", a, b)
		}
	})
}
