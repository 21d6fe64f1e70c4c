package samples_test

import (
	"fmt"
	"strings"

	"github.com/stranglerfig/strangler/extract/samples"
	"github.com/stranglerfig/strangler/proxy/capture"
)

func ExampleAnalyze() {
	answer := func(path, body string) capture.Record {
		return capture.Record{Request: capture.Request{Method: "GET", Path: path},
			Response: capture.Response{Status: 200, Body: body}}
	}
	res := samples.Analyze([]capture.Record{
		answer("/api/orders/123", `{"data":{"id":123,"customerId":7,"total":"12.50","vip":0,"placedAt":"2024-03-01 09:17:00"}}`),
		answer("/api/orders/456", `{"data":{"id":456,"customerId":8,"total":"3.00","vip":1,"placedAt":"2024-03-02 10:00:00"}}`),
	})
	for _, ep := range res.Endpoints {
		fmt.Println(ep.Method, ep.Template, ep.Action, ep.Resource, "key:", ep.Vars[0].Key)
		for _, f := range ep.Answer.Fields {
			fmt.Println(strings.TrimSpace(fmt.Sprintf("  %s -> %s %s %s", f.JSON, f.Name, f.Type, f.Format)))
		}
	}
	s := res.Shape.Recipe()
	fmt.Println(s.Envelope, s.Casing, s.Decimals, s.Booleans, s.TimestampFormat)
	// Output:
	// GET /api/orders/{id} get order key: id
	// id -> id integer
	// customerId -> customer_id integer
	// total -> total decimal string
	// vip -> vip boolean int
	// placedAt -> placed_at timestamp 2006-01-02 15:04:05
	// data camel string int 2006-01-02 15:04:05
}
