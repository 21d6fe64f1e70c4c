package contract

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/stranglerfig/strangler/proxy/capture"
)

// shopRecords are capture records shaped like the answers of the example
// shop (testdata/legacyshop): single orders, a list, creates and a miss.
// The same records every call.
func shopRecords() []capture.Record {
	at := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	statuses := []string{"new", "paid", "shipped", "cancelled"}
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	customer := func(id int) map[string]any {
		return map[string]any{"id": id, "name": fmt.Sprintf("Customer %d", id), "email": fmt.Sprintf("customer%d@example.com", id),
			"vip": id%5 == 0, "createdAt": at.Add(time.Duration(id) * time.Hour).Format(time.DateTime)}
	}
	order := func(id int) map[string]any {
		var note any
		if id%3 == 0 {
			note = fmt.Sprintf("deliver to door %d", id)
		}
		return map[string]any{"id": id, "customerId": id%30 + 1, "status": statuses[id%4],
			"total": fmt.Sprintf("%d.%02d", id*7%500+1, id*13%100), "note": note,
			"placedAt": at.Add(time.Duration(id) * 17 * time.Minute).Format(time.DateTime), "customer": customer(id%30 + 1)}
	}
	body := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return string(b)
	}
	var recs []capture.Record
	rec := func(route, method, path, query string, vars map[string]string, reqBody string, status int, respBody string) {
		r := capture.Record{Route: route, At: at.Add(time.Duration(len(recs)) * time.Second), RequestID: fmt.Sprintf("req-%03d", len(recs)),
			Request:  capture.Request{Method: method, Path: path, Query: query, Vars: vars},
			Response: capture.Response{Status: status, Header: jsonHeader, Body: respBody, DurationMS: 3}}
		if reqBody != "" {
			r.Request.Header, r.Request.Body = jsonHeader, reqBody
		}
		recs = append(recs, r)
	}
	for id := 1; id <= 40; id++ {
		o := order(id)
		o["requestId"] = fmt.Sprintf("%016x", id*7919)
		var vars map[string]string
		if id%2 == 0 { // half of the samples come from a route with a variable
			vars = map[string]string{"id": fmt.Sprint(id)}
		}
		rec("orders-read", "GET", fmt.Sprintf("/api/orders/%d", id), "", vars, "", 200, body(map[string]any{"data": o}))
	}
	rec("orders-read", "GET", "/api/orders/9999", "", map[string]string{"id": "9999"}, "", 404, `{"error":"order not found"}`)
	for page := 0; page < 3; page++ {
		var list []any
		for id := page*5 + 1; id <= page*5+5; id++ {
			list = append(list, order(id))
		}
		rec("orders-list", "GET", "/api/orders", fmt.Sprintf("limit=5&offset=%d", page*5), nil, "", 200,
			body(map[string]any{"data": list, "meta": map[string]any{"total": 200}}))
	}
	for i := 1; i <= 4; i++ {
		in := map[string]any{"customerId": i, "total": fmt.Sprintf("%d.50", i), "status": statuses[i%4]}
		switch i % 3 {
		case 0:
			in["note"] = nil
		case 1:
			in["note"] = "leave it at the door"
		}
		o := order(200 + i)
		o["customerId"], o["total"], o["status"], o["note"] = i, in["total"], in["status"], in["note"]
		o["customer"] = customer(i)
		rec("orders-write", "POST", "/api/orders", "", nil, body(in), 201, body(map[string]any{"data": o}))
	}
	for id := 1; id <= 3; id++ {
		rec("customers-read", "GET", fmt.Sprintf("/api/customers/%d", id), "", map[string]string{"id": fmt.Sprint(id)}, "", 200,
			body(map[string]any{"data": customer(id)}))
	}
	return recs
}
