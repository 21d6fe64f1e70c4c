package contract

import (
	"context"
	"net/http"
	"testing"

	"github.com/stranglerfig/strangler/proxy/capture"
)

// FuzzParse feeds Parse arbitrary files: it refuses or returns a
// document, and a document can be checked against itself without a
// breaking change.
func FuzzParse(f *testing.F) {
	f.Add([]byte(baseContract))
	f.Add([]byte("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n"))
	f.Add([]byte(`{"swagger": "2.0"}`))
	f.Add([]byte("service: orders\n"))
	f.Add([]byte("- a\n- b\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		if r := Check(d, d); r.HasBreaking() {
			t.Fatalf("a document breaks itself: %v", r.Changes)
		}
	})
}

// FuzzInfer feeds Infer arbitrary paths, queries and bodies: the document
// it writes loads, and is the same for the same records.
func FuzzInfer(f *testing.F) {
	f.Add("/api/orders/7", "limit=5", `{"data":{"id":7,"total":"1.50","note":null}}`, `{"a":[1,"x",{"b":true}]}`)
	f.Add("/", "", "", "")
	f.Add("/a//b/{x}/%zz", "a=%zz&&=", `[[[]]]`, `{"":{"":null}}`)
	f.Fuzz(func(t *testing.T, path, query, reqBody, respBody string) {
		hdr := http.Header{"Content-Type": {"application/json"}}
		recs := []capture.Record{
			{Request: capture.Request{Method: "POST", Path: path, Query: query, Header: hdr, Body: reqBody},
				Response: capture.Response{Status: 200, Header: hdr, Body: respBody}},
			{Request: capture.Request{Method: "GET", Path: path, Vars: map[string]string{"v": query}},
				Response: capture.Response{Status: 404, Body: respBody}},
		}
		a, err := Infer(recs, Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := Infer(recs, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if string(a.Document) != string(b.Document) {
			t.Fatal("two runs differ")
		}
		d, err := Parse("inferred.json", a.Document)
		if err != nil {
			t.Fatalf("the inferred document does not load: %v\n%s", err, a.Document)
		}
		if err := d.spec.Validate(context.Background()); err != nil {
			t.Fatalf("the inferred document is not valid: %v\n%s", err, a.Document)
		}
	})
}
