package proxy_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/proxy"
)

// A route moves from legacy to the new service with one Apply; requests
// that no route matches always go to legacy.
func Example() {
	legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "legacy %s", r.URL.Path)
	}))
	defer legacy.Close()
	orders := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "orders service %s", r.URL.Path)
	}))
	defer orders.Close()

	cfg, err := config.Parse("strangler.yaml", []byte(`
legacy: `+legacy.URL+`
routes:
  - name: orders-read
    match: {path: "/api/orders/{id}", methods: [GET]}
    target: `+orders.URL+`
    rewrite: "/orders/{id}"
`), nil)
	if err != nil {
		panic(err)
	}
	f, err := proxy.New(cfg, proxy.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	front := httptest.NewServer(f)
	defer front.Close()

	get := func(path string) {
		resp, err := http.Get(front.URL + path)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(string(body))
	}
	get("/api/orders/7")
	if err := f.Apply(proxy.State{Version: 1, Routes: map[string]proxy.RouteState{
		"orders-read": {Mode: "new"},
	}}); err != nil {
		panic(err)
	}
	get("/api/orders/7")
	get("/api/customers/7")
	fmt.Println(f.Routes()[0].Mode, f.Version())
	// Output:
	// legacy /api/orders/7
	// orders service /orders/7
	// legacy /api/customers/7
	// new 1
}
