package control_test

import (
	"fmt"

	"github.com/stranglerfig/strangler/proxy/control"
)

// The admin token variable holds one token, or name:token pairs whose names
// the audit log records.
func ExampleParseTokens() {
	ts, err := control.ParseTokens("alice:3f9a1c77e2b04d15,ci:b81e0d2a9c4f6e73")
	if err != nil {
		panic(err)
	}
	who, ok := ts.Match("b81e0d2a9c4f6e73")
	fmt.Println(ts.Names(), who, ok)
	_, ok = ts.Match("ci:b81e0d2a9c4f6e73")
	fmt.Println(ok)
	// Output:
	// [alice ci] ci true
	// false
}

// A change decoded from the body of POST /routes/{name}; bad input names
// the field.
func ExampleDecodeRouteChange() {
	ch, err := control.DecodeRouteChange("orders-read", []byte(`{"mode": "canary", "percent": 25, "reason": "step"}`))
	fmt.Println(ch.Routes, ch.Mode, *ch.Percent, ch.Reason, err)
	_, err = control.DecodeRouteChange("orders-read", []byte(`{"mode": "new", "percent": 25}`))
	fmt.Println(err)
	// Output:
	// [orders-read] canary 25 step <nil>
	// percent: only applies to mode canary, not new
}
