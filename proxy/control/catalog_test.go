package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/proxy"
)

// catalogYAML has routes of two listed services (orders, customers), of a
// service run elsewhere (stock) and of none; %[1]s is legacy, %[2]s a
// healthy target, %[3]s a target that answers 500 to everything, %[4]s an
// address that refuses connections.
const catalogYAML = `
legacy: %[1]s
databases:
  legacy: mysql://root@127.0.0.1:3306/shop
  new: postgres://postgres@127.0.0.1:5432/shop
routes:
  - name: orders-read
    match: {path: /api/orders/{id}, methods: [GET]}
    target: %[2]s
    mode: new
    service: orders
    owner: team-orders-read
    slo: {availability: 99.9, p99: 5s}
  - name: orders-write
    match: {path: /api/orders, methods: [POST]}
    target: %[2]s
    service: orders
  - name: invoices
    match: {path: /api/invoices/{id}}
    target: %[4]s
    mode: new
    fallback: legacy
    service: orders
  - name: customers
    match: {path: /api/customers/{id}}
    target: %[3]s
    mode: new
    service: customers
    slo: {availability: 99.9}
    rollout: {stages: [shadow, new], window: 2m}
  - name: stock
    match: {prefix: /api/stock/}
    target: %[2]s
    mode: canary
    percent: 40
    service: stock
  - name: reports
    match: {prefix: /api/reports/}
    target: %[2]s
    mode: shadow
    slo: {p99: 1us}
services:
  - recipe: recipes/orders.yaml
    listen: 127.0.0.1:9100
    name: orders
    owner: team-orders
    slo: {availability: 99}
  - recipe: recipes/customers.yaml
    listen: 127.0.0.1:9101
    name: customers
sync:
  - name: shop
    tables: [orders, customers]
`

// catalogRig is a real facade in front of httptest backends, its catalog
// and an admin API serving it.
type catalogRig struct {
	cfg    *config.Config
	facade *proxy.Facade
	front  *httptest.Server
	cat    *Catalog
	admin  *httptest.Server
}

func newCatalogRig(t *testing.T) *catalogRig {
	t.Helper()
	answer := func(code int) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(code)
			fmt.Fprintf(w, `{"code": %d}`, code)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	legacy, good, broken := answer(200), answer(200), answer(500)
	cfg, err := config.Parse("strangler.yaml", []byte(fmt.Sprintf(catalogYAML, legacy.URL, good.URL, broken.URL, "http://127.0.0.1:1")), nil)
	require.NoError(t, err)
	facade, err := proxy.New(cfg, proxy.WithLogger(testLogger(t)))
	require.NoError(t, err)
	t.Cleanup(func() { facade.Close() })
	front := httptest.NewServer(facade)
	t.Cleanup(front.Close)

	// What the binary's catalog builder reads from the recipes: the orders
	// recipe uses orders and customers (both synced by shop), the customers
	// recipe customers and an audit table no pipeline carries.
	services := []CatalogService{
		{Name: "orders", Owner: "team-orders", Recipe: "recipes/orders.yaml", Listen: "127.0.0.1:9100", SLO: SLOFromConfig(cfg.Services[0].SLO),
			Tables: []string{"customers", "orders"},
			Sync:   []TableSync{{Table: "customers", Pipeline: "shop", Source: "customers"}, {Table: "orders", Pipeline: "shop", Source: "orders"}}},
		{Name: "customers", Recipe: "recipes/customers.yaml", Listen: "127.0.0.1:9101", Tables: []string{"customers", "audit.customer_events"},
			Sync: []TableSync{{Table: "customers", Pipeline: "shop", Source: "customers"}}},
	}
	var routes []CatalogRouteSpec
	for _, r := range cfg.Routes {
		spec := CatalogRouteSpec{Name: r.Name, Service: r.Service, Owner: r.Owner, Path: r.Match.Path, Methods: r.Match.Methods, SLO: SLOFromConfig(r.SLO)}
		if r.Match.Prefix != "" {
			spec.Path = r.Match.Prefix + "*"
		}
		if r.Rollout != nil {
			spec.Window = r.Rollout.Window.D()
		}
		routes = append(routes, spec)
	}
	cat, err := NewCatalog(services, routes)
	require.NoError(t, err)

	ctl, err := NewController(cfg, newFileStore(t), facade, WithControllerLogger(testLogger(t)))
	require.NoError(t, err)
	require.NoError(t, ctl.Load(context.Background()))
	tokens, err := ParseTokens(aliceToken)
	require.NoError(t, err)
	a, err := NewAdmin(ctl, tokens, WithAdminLogger(testLogger(t)), WithCatalog(cat, facade))
	require.NoError(t, err)
	admin := httptest.NewServer(a)
	t.Cleanup(admin.Close)
	return &catalogRig{cfg: cfg, facade: facade, front: front, cat: cat, admin: admin}
}

// send sends n requests through the facade and checks the status clients
// got: one of want.
func (r *catalogRig) send(t *testing.T, n int, method, path string, want ...int) {
	t.Helper()
	for range n {
		req, err := http.NewRequestWithContext(context.Background(), method, r.front.URL+path, strings.NewReader(`{}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Contains(t, want, resp.StatusCode, "%s %s", method, path)
	}
}

func (r *catalogRig) catalog(t *testing.T) CatalogResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, r.admin.URL+"/catalog", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+aliceToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var out CatalogResponse
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&out), string(body))
	return out
}

func serviceNamed(t *testing.T, resp CatalogResponse, name string) ServiceView {
	t.Helper()
	for _, s := range resp.Services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no service %q in the catalog", name)
	return ServiceView{}
}

func routeNamed(t *testing.T, s ServiceView, name string) CatalogRoute {
	t.Helper()
	for _, r := range s.Routes {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no route %q in service %q", name, s.Name)
	return CatalogRoute{}
}

func routeNames(s ServiceView) []string {
	var out []string
	for _, r := range s.Routes {
		out = append(out, r.Name)
	}
	return out
}

// TestCatalogFromLiveTraffic sends traffic through a real facade and reads
// the catalog from the admin API: routes grouped by service, what legacy
// still answers, each objective's standing, unmatched traffic.
func TestCatalogFromLiveTraffic(t *testing.T) {
	r := newCatalogRig(t)

	before := r.catalog(t)
	t.Run("before any traffic", func(t *testing.T) {
		orders := routeNamed(t, serviceNamed(t, before, "orders"), "orders-read")
		require.NotNil(t, orders.SLO)
		assert.Nil(t, orders.SLO.Met, "nothing to judge")
		assert.Nil(t, orders.SLO.MeasuredAvailability)
		assert.Equal(t, "no requests in the last 1m0s", orders.SLO.Detail)
		assert.Zero(t, before.Unmatched.Requests)
	})

	r.send(t, 20, "GET", "/api/orders/7", 200)         // orders-read: the healthy target
	r.send(t, 5, "POST", "/api/orders", 200)           // orders-write: legacy
	r.send(t, 4, "GET", "/api/invoices/3", 200)        // invoices: the target refuses, legacy answers
	r.send(t, 10, "GET", "/api/customers/1", 500, 503) // customers: the broken target, then its open breaker
	r.send(t, 3, "GET", "/api/reports/daily", 200)     // reports: shadow, legacy answers
	r.send(t, 6, "GET", "/api/unknown/thing", 200)     // no route: legacy
	r.send(t, 2, "DELETE", "/api/orders/7", 200)       // orders-read is GET only: unmatched
	resp := r.catalog(t)

	t.Run("services in order", func(t *testing.T) {
		var names []string
		for _, s := range resp.Services {
			names = append(names, s.Name)
		}
		assert.Equal(t, []string{"orders", "customers", "stock", ""}, names, "listed, then run elsewhere, then none")
		assert.Equal(t, DefaultSLOWindow.String(), resp.Window)
		assert.WithinDuration(t, time.Now(), resp.At, time.Minute)
	})

	t.Run("routes grouped by service", func(t *testing.T) {
		orders := serviceNamed(t, resp, "orders")
		assert.Equal(t, []string{"orders-read", "orders-write", "invoices"}, routeNames(orders))
		assert.Equal(t, "team-orders", orders.Owner)
		assert.Equal(t, "recipes/orders.yaml", orders.Recipe)
		assert.Equal(t, "127.0.0.1:9100", orders.Listen)
		assert.Equal(t, []string{"customers", "orders"}, orders.Tables)
		assert.Len(t, orders.Sync, 2)
		read := routeNamed(t, orders, "orders-read")
		assert.Equal(t, "team-orders-read", read.Owner, "the route's own owner")
		assert.Equal(t, "new", read.Mode)
		assert.Equal(t, "/api/orders/{id}", read.Path)
		assert.Equal(t, []string{"GET"}, read.Methods)
		write := routeNamed(t, orders, "orders-write")
		assert.Equal(t, "team-orders", write.Owner, "the service's owner")
		assert.Equal(t, "legacy", write.Mode)

		stock := serviceNamed(t, resp, "stock")
		assert.Empty(t, stock.Recipe, "a service run elsewhere")
		assert.Equal(t, []string{}, stock.Tables)
		assert.Equal(t, "canary", routeNamed(t, stock, "stock").Mode)
		assert.Equal(t, 40.0, routeNamed(t, stock, "stock").Percent)
		none := serviceNamed(t, resp, "")
		assert.Equal(t, []string{"reports"}, routeNames(none))
		assert.Equal(t, "/api/reports/*", routeNamed(t, none, "reports").Path)
	})

	t.Run("objective met", func(t *testing.T) {
		s := routeNamed(t, serviceNamed(t, resp, "orders"), "orders-read").SLO
		require.NotNil(t, s)
		assert.Equal(t, 99.9, s.Availability)
		assert.Equal(t, 5000.0, s.P99Ms)
		assert.Equal(t, "1m0s", s.Window)
		assert.Equal(t, int64(20), s.Requests)
		assert.Zero(t, s.Errors)
		require.NotNil(t, s.MeasuredAvailability)
		assert.Equal(t, 100.0, *s.MeasuredAvailability)
		require.NotNil(t, s.MeasuredP99Ms)
		assert.Greater(t, *s.MeasuredP99Ms, 0.0)
		require.NotNil(t, s.Met)
		assert.True(t, *s.Met, s.Detail)
		assert.Contains(t, s.Detail, "20 requests, 0 failed; availability 100% >= 99.9%; p99 ")
		assert.True(t, strings.HasSuffix(s.Detail, "<= 5s; met"), s.Detail)
	})

	t.Run("objective missed on errors", func(t *testing.T) {
		s := routeNamed(t, serviceNamed(t, resp, "customers"), "customers").SLO
		require.NotNil(t, s)
		assert.Equal(t, "2m0s", s.Window, "the rollout's window")
		assert.Equal(t, int64(10), s.Requests)
		assert.Equal(t, int64(10), s.Errors)
		assert.Equal(t, 0.0, *s.MeasuredAvailability)
		require.NotNil(t, s.Met)
		assert.False(t, *s.Met)
		assert.Equal(t, "10 requests, 10 failed; availability 0% < 99.9%; missed", s.Detail)
		assert.Nil(t, serviceNamed(t, resp, "customers").SLO, "the service sets no objective")
	})

	t.Run("objective missed on latency", func(t *testing.T) {
		s := routeNamed(t, serviceNamed(t, resp, ""), "reports").SLO
		require.NotNil(t, s)
		assert.Zero(t, s.Availability, "no availability objective")
		assert.Equal(t, 0.001, s.P99Ms)
		assert.Equal(t, int64(3), s.Requests)
		require.NotNil(t, s.Met)
		assert.False(t, *s.Met, s.Detail)
		assert.Contains(t, s.Detail, "> 1µs; missed")
	})

	t.Run("a fallback is one request legacy answered", func(t *testing.T) {
		// invoices sets no objective: it is judged against its service's.
		s := routeNamed(t, serviceNamed(t, resp, "orders"), "invoices").SLO
		require.NotNil(t, s)
		assert.Equal(t, 99.0, s.Availability, "the service's objective")
		assert.Equal(t, int64(4), s.Requests, "the failed attempts on the target are not counted again")
		assert.Zero(t, s.Errors, "legacy answered every one")
		assert.True(t, *s.Met, s.Detail)
	})

	t.Run("service objective over all its routes", func(t *testing.T) {
		s := serviceNamed(t, resp, "orders").SLO
		require.NotNil(t, s)
		assert.Equal(t, 99.0, s.Availability)
		assert.Equal(t, int64(20+5+4), s.Requests)
		assert.Zero(t, s.Errors)
		assert.True(t, *s.Met, s.Detail)
	})

	t.Run("legacy still answers", func(t *testing.T) {
		assert.Equal(t, []LeftView{
			{Route: "orders-write", Service: "orders", Mode: "legacy", Percent: 100, Path: "/api/orders", Methods: []string{"POST"}},
			{Route: "stock", Service: "stock", Mode: "canary", Percent: 60, Path: "/api/stock/*"},
			{Route: "reports", Mode: "shadow", Percent: 100, Path: "/api/reports/*"},
		}, resp.Left)
	})

	t.Run("unmatched traffic", func(t *testing.T) {
		assert.Equal(t, int64(8), resp.Unmatched.Requests)
		assert.Zero(t, resp.Unmatched.Errors)
		assert.Greater(t, resp.Unmatched.RPS, 0.0)
	})

	t.Run("pipelines of a route's service", func(t *testing.T) {
		assert.Equal(t, []string{"shop"}, r.cat.Pipelines("orders-read"))
		assert.Equal(t, []string{"shop"}, r.cat.Pipelines("customers"))
		assert.Nil(t, r.cat.Pipelines("stock"), "a service run elsewhere: tables unknown")
		assert.Nil(t, r.cat.Pipelines("reports"), "no service")
		assert.Nil(t, r.cat.Pipelines("nope"))
	})
}

// TestCatalogFollowsRouteChanges: the modes the catalog shows are the
// facade's as it runs, after a run-time change.
func TestCatalogFollowsRouteChanges(t *testing.T) {
	r := newCatalogRig(t)
	require.NoError(t, r.facade.Apply(proxy.State{Version: 1, Routes: map[string]proxy.RouteState{
		"orders-write": {Mode: config.ModeNew}, "stock": {Mode: config.ModeLegacy},
	}}))
	resp := r.catalog(t)
	assert.Equal(t, "new", routeNamed(t, serviceNamed(t, resp, "orders"), "orders-write").Mode)
	var left []string
	for _, l := range resp.Left {
		left = append(left, l.Route+" "+l.Mode)
	}
	assert.Equal(t, []string{"stock legacy", "reports shadow"}, left)
}

func TestCatalogEndpoint(t *testing.T) {
	r := newCatalogRig(t)
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"without a token", "", http.StatusUnauthorized},
		{"wrong token", "nope", http.StatusUnauthorized},
		{"with the token", aliceToken, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, r.admin.URL+"/catalog", nil)
			require.NoError(t, err)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, tc.want, resp.StatusCode)
		})
	}

	t.Run("not served without WithCatalog", func(t *testing.T) {
		f := newAdminFixture(t, aliceToken)
		code, body := f.do(t, "GET", "/catalog", aliceToken, "")
		require.Equal(t, http.StatusNotFound, code)
		p := decodeProblem(t, body)
		assert.Equal(t, "the admin API has no /catalog", p.Detail)
	})

	t.Run("WithCatalog checks its arguments", func(t *testing.T) {
		_, err := NewAdmin(r.facadeControls(t), Tokens{}, WithCatalog(nil, r.facade))
		require.ErrorContains(t, err, "admin catalog: want a catalog and the facade's traffic")
		_, err = NewAdmin(r.facadeControls(t), Tokens{}, WithCatalog(r.cat, nil))
		require.Error(t, err)
	})
}

func (r *catalogRig) facadeControls(t *testing.T) Controls {
	t.Helper()
	ctl, err := NewController(r.cfg, newFileStore(t), r.facade, WithControllerLogger(testLogger(t)))
	require.NoError(t, err)
	return ctl
}

func TestNewCatalogRefuses(t *testing.T) {
	for _, tc := range []struct {
		name     string
		services []CatalogService
		routes   []CatalogRouteSpec
		want     string
	}{
		{"service without a name", []CatalogService{{Owner: "x"}}, nil, "new catalog: services[0] has no name"},
		{"service twice", []CatalogService{{Name: "a"}, {Name: "a"}}, nil, `new catalog: service "a" is listed twice`},
		{"route without a name", nil, []CatalogRouteSpec{{Service: "a"}}, "new catalog: a route has no name"},
		{"route twice", nil, []CatalogRouteSpec{{Name: "r"}, {Name: "r"}}, `new catalog: route "r" is listed twice`},
		{"availability above 100", []CatalogService{{Name: "a", SLO: &SLOTarget{Availability: 101}}}, nil,
			`new catalog: service "a": slo availability 101 is not a percent between 0 and 100`},
		{"empty objective", nil, []CatalogRouteSpec{{Name: "r", SLO: &SLOTarget{}}}, `new catalog: route "r": slo names no objective`},
		{"negative p99", nil, []CatalogRouteSpec{{Name: "r", SLO: &SLOTarget{P99: -time.Second}}}, `new catalog: route "r": slo p99 -1s is negative`},
		{"negative window", nil, []CatalogRouteSpec{{Name: "r", Window: -time.Second}}, `new catalog: route "r": window -1s is negative`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewCatalog(tc.services, tc.routes)
			require.EqualError(t, err, tc.want)
		})
	}
}

// TestSLOArithmetic checks how the two backends' figures of a window make
// what clients got (pure: no facade).
func TestSLOArithmetic(t *testing.T) {
	backend := func(req, errs int64, p99 float64) proxy.BackendStats {
		return proxy.BackendStats{Requests: req, Errors: errs, P99: p99}
	}
	for _, tc := range []struct {
		name      string
		stats     []proxy.RouteStats
		slo       SLOTarget
		requests  int64
		errors    int64
		p99       *float64
		met       *bool
		detailHas string
	}{
		{"legacy and target add up", []proxy.RouteStats{{Legacy: backend(900, 1, 20), New: backend(100, 0, 30)}},
			SLOTarget{Availability: 99.9, P99: 50 * time.Millisecond}, 1000, 1, ptr(30.0), ptr(true), "availability 99.9% >= 99.9%; p99 30ms <= 50ms; met"},
		{"a slow canary of 1% or more counts", []proxy.RouteStats{{Legacy: backend(990, 0, 20), New: backend(10, 0, 400)}},
			SLOTarget{P99: 300 * time.Millisecond}, 1000, 0, ptr(400.0), ptr(false), "p99 400ms > 300ms; missed"},
		{"a slow canary under 1% does not stand for the route", []proxy.RouteStats{{Legacy: backend(995, 0, 20), New: backend(5, 0, 400)}},
			SLOTarget{P99: 300 * time.Millisecond}, 1000, 0, ptr(20.0), ptr(true), "p99 20ms <= 300ms; met"},
		{"fallbacks are counted once, as legacy's answers", []proxy.RouteStats{{Legacy: backend(50, 0, 10), New: backend(50, 50, 0), Fallbacks: 50}},
			SLOTarget{Availability: 99}, 50, 0, ptr(10.0), ptr(true), "50 requests, 0 failed"},
		{"target errors without fallback count", []proxy.RouteStats{{Legacy: backend(0, 0, 0), New: backend(200, 3, 12)}},
			SLOTarget{Availability: 99}, 200, 3, ptr(12.0), ptr(false), "availability 98.5% < 99%; missed"},
		{"several routes of a service", []proxy.RouteStats{{Legacy: backend(10, 0, 5)}, {New: backend(10, 10, 8)}},
			SLOTarget{Availability: 50}, 20, 10, ptr(8.0), ptr(true), "availability 50% >= 50%; met"},
		{"no requests", []proxy.RouteStats{{}}, SLOTarget{Availability: 99}, 0, 0, nil, nil, "no requests in the last 1m0s"},
		{"no latency to judge", []proxy.RouteStats{{Legacy: backend(4, 0, 0)}}, SLOTarget{Availability: 99, P99: time.Second}, 4, 0, nil, nil,
			"p99 unknown: no answer had a latency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tl tally
			for _, rs := range tc.stats {
				tl.add(rs)
			}
			s := tl.standing(&tc.slo, time.Minute)
			assert.Equal(t, tc.requests, s.Requests)
			assert.Equal(t, tc.errors, s.Errors)
			assert.Equal(t, tc.p99, s.MeasuredP99Ms)
			assert.Equal(t, tc.met, s.Met)
			assert.Contains(t, s.Detail, tc.detailHas)
		})
	}
	t.Run("availability is cut, not rounded up", func(t *testing.T) {
		assert.Equal(t, "99.999", percent(99.99999))
		assert.Equal(t, "100", percent(100))
	})
}
