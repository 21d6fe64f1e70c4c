package proxy

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/gorilla/mux"

	"github.com/stranglerfig/strangler/internal/config"
)

// FuzzRouteMatch checks that the route index finds exactly the route that
// gorilla/mux's linear scan finds, for any three templates (paths or
// prefixes, with or without a method restriction) and any request path.
func FuzzRouteMatch(f *testing.F) {
	f.Add("/api/orders/{id}", "/api/", "/{tenant}/orders", uint8(0b000010), "GET", "/api/orders/7")
	f.Add("/api/orders/{id:[0-9]+}", "/api/orders/new", "/", uint8(0b100000), "POST", "/api/orders/new")
	f.Add("/files/{path:.*}", "/files", "/fil", uint8(0b001100), "GET", "/files/a/b/c")
	f.Add("/a//b", "/a/{x}/b", "/a", uint8(0b000100), "DELETE", "/a//b")
	f.Add("/v{version}/x", "/v1/x", "/v1/", uint8(0), "GET", "/v1/x")
	f.Fuzz(func(t *testing.T, t1, t2, t3 string, mask uint8, method, path string) {
		var routes []*route
		var ref []*mux.Route
		for i, tpl := range []string{t1, t2, t3} {
			if config.CheckTemplate(tpl) != nil {
				return
			}
			m := config.Match{Path: tpl}
			prefix := mask&(1<<i) != 0
			if prefix {
				m = config.Match{Prefix: tpl}
			}
			r := mux.NewRouter().NewRoute()
			if prefix {
				r = r.PathPrefix(tpl)
			} else {
				r = r.Path(tpl)
			}
			if mask&(8<<i) != 0 {
				m.Methods = []string{http.MethodGet}
				r = r.Methods(http.MethodGet)
			}
			rm, err := compileMatcher(&m)
			if err != nil {
				t.Fatalf("template %q passed CheckTemplate but does not compile: %v", tpl, err)
			}
			routes = append(routes, &route{idx: i, matcher: rm})
			ref = append(ref, r)
		}
		req := &http.Request{Method: method, URL: &url.URL{Path: path}, Host: "example.com", Header: http.Header{}}
		want := -1
		var wantVars map[string]string
		for i, r := range ref {
			var m mux.RouteMatch
			if r.Match(req, &m) {
				want, wantVars = i, m.Vars
				break
			}
		}
		got := buildIndex(routes).match(req)
		var vars map[string]string
		if got >= 0 {
			vars = routes[got].matcher.vars(req)
		}
		if got != want {
			t.Fatalf("templates %q %q %q (mask %08b), %s %q: index found route %d, mux finds %d", t1, t2, t3, mask, method, path, got, want)
		}
		if len(vars) != len(wantVars) {
			t.Fatalf("vars %v, mux has %v", vars, wantVars)
		}
		for k, v := range wantVars {
			if vars[k] != v {
				t.Fatalf("var %s = %q, mux has %q", k, vars[k], v)
			}
		}
	})
}

// FuzzRewrite checks that any rewrite template either is refused or renders
// a path that starts with '/' and holds every variable's value.
func FuzzRewrite(f *testing.F) {
	f.Add("/orders/{id}", "7", false)
	f.Add("/reports/", "x", true)
	f.Add("/a/{id:[0-9]+}/b/{id}", "12", false)
	f.Add("/{", "1", false)
	f.Fuzz(func(t *testing.T, tpl, val string, prefix bool) {
		rw, err := parseRewrite(tpl, prefix)
		if err != nil {
			return
		}
		out := rw.render("/p/rest", "/p/", map[string]string{"id": val})
		if len(out) == 0 || out[0] != '/' {
			t.Fatalf("rewrite %q rendered %q", tpl, out)
		}
	})
}
