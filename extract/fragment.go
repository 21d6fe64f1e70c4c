package extract

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// fragment is the project-file fragment: the sync pipeline of each group's
// tables, the services serving the recipes, and one route per endpoint in
// mode legacy (nothing moves until a route is set to shadow), with the
// noise the samples showed as the route's shadow.ignore.
func fragment(gs []*Group, o Options) []byte {
	host, port := "127.0.0.1", 9100
	if o.Listen != "" {
		if h, p, err := net.SplitHostPort(o.Listen); err == nil {
			if n, err := strconv.Atoi(p); err == nil {
				host, port = h, n
			}
		}
	}
	var b strings.Builder
	b.WriteString("# Written by strangler extract: merge into strangler.yaml.\n")
	b.WriteString("sync:\n")
	for _, g := range gs {
		fmt.Fprintf(&b, "  - name: %s\n    tables: [%s]\n", g.Service, strings.Join(g.Tables, ", "))
	}
	b.WriteString("services:\n")
	for i, g := range gs {
		fmt.Fprintf(&b, "  - recipe: %s.yaml\n    listen: %s\n", g.Service, net.JoinHostPort(host, strconv.Itoa(port+i)))
	}
	b.WriteString("routes:\n")
	for i, g := range gs {
		target := "http://" + net.JoinHostPort(host, strconv.Itoa(port+i))
		for _, e := range g.Recipe.Endpoints {
			fmt.Fprintf(&b, "  - name: %s\n    match: {path: %s, methods: [%s]}\n    target: %s\n    mode: legacy\n",
				routeName(g.Service, e.Name), o.RoutePrefix+e.Path, e.Method, target)
			if noise := g.Noise[e.Name]; len(noise) > 0 {
				quoted := make([]string, len(noise))
				for i, p := range noise {
					quoted[i] = strconv.Quote(p)
				}
				fmt.Fprintf(&b, "    # legacy wrote these differently in two answers to one request\n    shadow: {ignore: [%s]}\n", strings.Join(quoted, ", "))
			}
		}
	}
	return []byte(b.String())
}

// routeName is a route's name: the service, then the endpoint's name in
// kebab case (orders-get-order).
func routeName(service, endpoint string) string {
	var b strings.Builder
	b.WriteString(service)
	b.WriteByte('-')
	for i, r := range endpoint {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
