package config

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// catalogBase is a valid file with the catalog keys, which the bad cases
// below break one line at a time.
const catalogBase = `legacy: http://127.0.0.1:9000
routes:
  - name: orders-read
    match: {path: /api/orders/{id}, methods: [GET]}
    target: http://127.0.0.1:9100
    owner: team-orders
    service: orders
    slo: {availability: 99.9, p99: 300ms}
  - name: reports
    match: {prefix: /api/reports/}
    target: http://127.0.0.1:9101
services:
  - recipe: recipes/orders.yaml
    listen: 127.0.0.1:9100
    name: orders
    owner: Team Orders <orders@example.com>
    slo:
      p99: 250ms
  - recipe: recipes/catalog.yaml
    listen: 127.0.0.1:9101
    name: catalog
`

func TestCatalogKeys(t *testing.T) {
	c, err := Parse("strangler.yaml", []byte(catalogBase), nil)
	require.NoError(t, err)
	assert.Empty(t, c.Warnings)
	r := c.Routes[0]
	assert.Equal(t, "team-orders", r.Owner)
	assert.Equal(t, "orders", r.Service)
	assert.Equal(t, &SLO{Availability: 99.9, P99: Duration(300 * time.Millisecond)}, r.SLO)
	assert.Nil(t, c.Routes[1].SLO, "no SLO unless one is written")
	assert.Empty(t, c.Routes[1].Owner)
	assert.Empty(t, c.Routes[1].Service)
	s := c.Services[0]
	assert.Equal(t, "orders", s.Name)
	assert.Equal(t, "Team Orders <orders@example.com>", s.Owner)
	assert.Equal(t, &SLO{P99: Duration(250 * time.Millisecond)}, s.SLO, "a latency objective alone")
	assert.Empty(t, c.Services[1].Owner)
}

func TestCatalogBadKeys(t *testing.T) {
	tests := []struct {
		name     string
		from, to string // a line of catalogBase and its replacement
		want     string // one of the errors, exactly
	}{
		{"availability above 100", "    slo: {availability: 99.9, p99: 300ms}", "    slo: {availability: 100.1, p99: 300ms}",
			`strangler.yaml:8: routes[0].slo.availability: 100.1 is not a percent above 0 and at most 100`},
		{"availability negative", "    slo: {availability: 99.9, p99: 300ms}", "    slo: {availability: -5}",
			`strangler.yaml:8: routes[0].slo.availability: -5 is not a percent above 0 and at most 100`},
		{"availability not a number", "    slo: {availability: 99.9, p99: 300ms}", "    slo: {availability: high}",
			"strangler.yaml:8: routes[0].slo.availability: cannot unmarshal !!str `high` into float64"},
		{"availability as a string with a percent sign", "    slo: {availability: 99.9, p99: 300ms}", "    slo: {availability: 99.9%}",
			"strangler.yaml:8: routes[0].slo.availability: cannot unmarshal !!str `99.9%` into float64"},
		{"p99 without a unit", "    slo: {availability: 99.9, p99: 300ms}", "    slo: {availability: 99.9, p99: 300}",
			`strangler.yaml:8: routes[0].slo.p99: "300" is not a duration such as 30s or 1m`},
		{"p99 negative", "      p99: 250ms", "      p99: -1s",
			`strangler.yaml:18: services[0].slo.p99: "-1s" is negative`},
		{"empty slo", "    slo: {availability: 99.9, p99: 300ms}", "    slo: {}",
			`strangler.yaml:8: routes[0].slo: names no objective: give availability (a percent, 99.9) or p99 (a duration, 300ms), or both`},
		{"slo with zeros", "      p99: 250ms", "      p99: 0s",
			`strangler.yaml:18: services[0].slo: names no objective: give availability (a percent, 99.9) or p99 (a duration, 300ms), or both`},
		{"slo unknown key", "    slo: {availability: 99.9, p99: 300ms}", "    slo: {availabilty: 99.9}",
			`strangler.yaml:8: routes[0].slo.availabilty: unknown field (did you mean "availability"?)`},
		{"slo not a mapping", "    slo: {availability: 99.9, p99: 300ms}", "    slo: 99.9",
			`strangler.yaml:8: routes[0].slo: expected a mapping, found "99.9"`},
		{"route service not a name", "    service: orders", "    service: orders service",
			`strangler.yaml:7: routes[0].service: "orders service" is not a service name (letters, digits, '-' and '_', starting with a letter)`},
		{"service name not a name", "    name: orders", "    name: 9orders",
			`strangler.yaml:15: services[0].name: "9orders" is not a service name (letters, digits, '-' and '_', starting with a letter)`},
		{"two services of one name", "    name: catalog", "    name: orders",
			`strangler.yaml:21: services[1].name: "orders" is also the name of services[0]`},
		{"owner with a control character", "    owner: team-orders", "    owner: \"team\\norders\"",
			`strangler.yaml:6: routes[0].owner: "team\norders" holds a control character`},
		{"owner too long", "    owner: team-orders", "    owner: " + strings.Repeat("x", 201),
			`strangler.yaml:6: routes[0].owner: is 201 bytes long; at most 200`},
		{"owner not a string", "    owner: team-orders", "    owner: [a, b]",
			`strangler.yaml:6: routes[0].owner: expected a single value, found a list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Contains(t, catalogBase, tt.from+"\n")
			src := strings.Replace(catalogBase, tt.from+"\n", tt.to+"\n", 1)
			_, err := Parse("strangler.yaml", []byte(src), nil)
			require.Error(t, err)
			var es *Errors
			require.ErrorAs(t, err, &es)
			var got []string
			for _, e := range *es {
				got = append(got, e.Error())
			}
			assert.Contains(t, got, tt.want)
		})
	}
}

func TestCatalogRouteServiceWarnings(t *testing.T) {
	replace := func(from, to string) func(string) string {
		return func(s string) string { return strings.Replace(s, from+"\n", to, 1) }
	}
	tests := []struct {
		name string
		edit func(string) string
		want []string
	}{
		{"every route's service is served", func(s string) string { return s }, nil},
		{"a service run elsewhere", replace("    service: orders", "    service: billing\n"),
			[]string{`strangler.yaml:7: routes[0].service: "billing" is not the name of any of services[] (orders, catalog): the catalog lists it as a service run elsewhere`}},
		// A service without a name takes its recipe's, which config does
		// not read: whoever reads the recipes checks the routes then.
		{"a service named by its recipe", replace("    name: orders", ""), nil},
		{"no services listed", func(s string) string { return s[:strings.Index(s, "services:")] }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("strangler.yaml", []byte(tt.edit(catalogBase)), nil)
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.Warnings)
		})
	}

	t.Run("with the recipes' names", func(t *testing.T) {
		src := strings.Replace(catalogBase, "    name: orders\n", "", 1)
		c, err := Parse("strangler.yaml", []byte(src), nil)
		require.NoError(t, err)
		assert.Empty(t, c.RouteServiceWarnings([]string{"orders", "catalog"}))
		assert.Equal(t, []string{`strangler.yaml:7: routes[0].service: "orders" is not the name of any of services[] (library, catalog): the catalog lists it as a service run elsewhere`},
			c.RouteServiceWarnings([]string{"library", "catalog"}))
	})
}
