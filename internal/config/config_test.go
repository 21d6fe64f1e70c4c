package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadDesignExample(t *testing.T) {
	c, err := Load("testdata/strangler.yaml", nil)
	require.NoError(t, err)

	assert.Equal(t, "127.0.0.1:8080", c.Listen)
	assert.Equal(t, "http://127.0.0.1:9000", c.Legacy)
	assert.Equal(t, "STRANGLER_ADMIN_TOKEN", c.Admin.TokenEnv)
	require.Len(t, c.Routes, 1)
	r := c.Routes[0]
	assert.Equal(t, "orders-read", r.Name)
	assert.Equal(t, []string{"GET"}, r.Match.Methods)
	assert.Equal(t, ModeCanary, r.Mode)
	assert.Equal(t, 30.0, r.Percent)
	assert.Equal(t, "header:X-User-Id", r.Sticky)
	assert.Equal(t, []any{"team-orders", "orders", &SLO{Availability: 99.9, P99: Duration(300 * time.Millisecond)}}, []any{r.Owner, r.Service, r.SLO})
	require.Len(t, c.Sync, 1)
	assert.Equal(t, []Table{{Name: "orders", Target: "orders"}, {Name: "customers", Target: "customers"}}, c.Sync[0].Tables)
	assert.Equal(t, "mysql://root@127.0.0.1:3306/shop", c.Sync[0].Source, "pipeline source defaults to databases.legacy")
	assert.Equal(t, filepath.Join("testdata", "recipes/orders.yaml"), c.Resolve(c.Services[0].Recipe))
	assert.Empty(t, c.Warnings)
	ro := r.Rollout
	require.NotNil(t, ro)
	assert.Equal(t, []Stage{{Mode: ModeShadow}, {Mode: ModeCanary, Percent: 5}, {Mode: ModeCanary, Percent: 25},
		{Mode: ModeCanary, Percent: 50}, {Mode: ModeNew}}, ro.Stages)
	assert.Equal(t, time.Minute, ro.Window.D())
	assert.Equal(t, Gates{MatchRate: 99.5, ErrorRate: 1, P99Ratio: 1.3, MinRequests: 200, SyncLag: Duration(30 * time.Second)}, ro.Gates)
	assert.Equal(t, time.Duration(0), ro.Abort.D(), "abort: instant")
	require.NotNil(t, r.RateLimit)
	require.NotNil(t, r.Auth)
	require.NotNil(t, r.Auth.JWT)
	require.NotNil(t, c.Tracing)
	assert.Equal(t, "http://127.0.0.1:4318", c.Tracing.OTLP)
	assert.Equal(t, 0.1, c.Tracing.SampleRatio())
	assert.Equal(t, []string{"10.0.0.0/8"}, c.Proxy.TrustedProxies)
}

func TestDefaultsFilledInOnePlace(t *testing.T) {
	c, err := Parse("strangler.yaml", []byte("legacy: http://legacy:9000\nroutes:\n  - name: a\n    match: {path: /a}\n    target: http://new:1\n"), nil)
	require.NoError(t, err)
	assert.Equal(t, DefaultListen, c.Listen)
	assert.Equal(t, DefaultAdminListen, c.Admin.Listen)
	assert.Equal(t, DefaultState, c.State)
	r := c.Routes[0]
	assert.Equal(t, ModeLegacy, r.Mode)
	assert.Equal(t, "none", r.Fallback)
	assert.Equal(t, DefaultTimeout, r.Timeout.D())
	assert.Equal(t, uint32(5), r.Breaker.ConsecutiveFailures)
	assert.Equal(t, uint32(3), r.Breaker.HalfOpenRequests)
	assert.Equal(t, int64(64<<20), c.Shadow.QueueBytes, "64 MiB")
	assert.Equal(t, 1000, c.Shadow.Queue)
	assert.Equal(t, "shadow", c.Shadow.Store)
	assert.Equal(t, 100000, c.Shadow.Retention.Max)
	assert.Equal(t, 168*time.Hour, c.Shadow.Retention.Age.D())
	require.NotNil(t, r.Shadow, "every route has its shadow settings")
	assert.Nil(t, r.Shadow.Sample, "the sample depends on the mode")
	assert.Equal(t, int64(DefaultMaxBodyCopy), r.Shadow.MaxBody)
	assert.False(t, r.Shadow.Writes)
	assert.Empty(t, c.Proxy.TrustedProxies, "no peer is trusted by default")
}

func TestTrustedProxies(t *testing.T) {
	c, err := Parse("strangler.yaml", []byte("proxy:\n  trusted_proxies: [10.0.0.0/8, 192.168.1.7, '::1', 'fd00::/8', 10.1.2.3/16]\n"), nil)
	require.NoError(t, err)
	var got []string
	for _, s := range c.Proxy.TrustedProxies {
		p, err := ParseTrustedProxy(s)
		require.NoError(t, err)
		got = append(got, p.String())
	}
	assert.Equal(t, []string{"10.0.0.0/8", "192.168.1.7/32", "::1/128", "fd00::/8", "10.1.0.0/16"}, got)
}

func TestEmptyFileIsValid(t *testing.T) {
	c, err := Parse("strangler.yaml", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, DefaultListen, c.Listen)
}

// base is a valid file that the bad cases below break one field at a time.
const base = `listen: 127.0.0.1:8080
legacy: http://127.0.0.1:9000
databases:
  legacy: mysql://root@127.0.0.1:3306/shop
  new: postgres://postgres@127.0.0.1:5432/shop
routes:
  - name: orders-read
    match: {path: /api/orders/{id}, methods: [GET]}
    target: http://127.0.0.1:9100
    mode: shadow
  - name: customers
    match:
      prefix: /api/customers/
    target: http://127.0.0.1:9101
    mode: canary
    percent: 30
sync:
  - name: shop
    tables: [orders, customers]
services:
  - recipe: recipes/orders.yaml
    listen: 127.0.0.1:9100
`

func TestBaseIsValid(t *testing.T) {
	_, err := Parse("strangler.yaml", []byte(base), nil)
	require.NoError(t, err)
}

func TestBadFiles(t *testing.T) {
	tests := []struct {
		name string
		from string // a line of base
		to   string // its replacement
		want string // the exact first error
	}{
		{"bad mode", "    mode: shadow", "    mode: canery",
			`strangler.yaml:10: routes[0].mode: "canery" is not one of legacy, shadow, canary, new`},
		{"unknown top-level key", "listen: 127.0.0.1:8080", "lisen: 127.0.0.1:8080",
			`strangler.yaml:1: lisen: unknown field (did you mean "listen"?)`},
		{"unknown nested key", "      prefix: /api/customers/", "      prefx: /api/customers/",
			`strangler.yaml:13: routes[1].match.prefx: unknown field (did you mean "prefix"?)`},
		{"percent out of range", "    percent: 30", "    percent: 130",
			`strangler.yaml:16: routes[1].percent: 130 is not between 0 and 100`},
		{"percent not a number", "    percent: 30", "    percent: thirty",
			"strangler.yaml:16: routes[1].percent: cannot unmarshal !!str `thirty` into float64"},
		{"bad template", "      prefix: /api/customers/", "      prefix: /api/customers/{id",
			`strangler.yaml:13: routes[1].match.prefix: "/api/customers/{id" is not a valid path template: mux: unbalanced braces in "/api/customers/{id"`},
		{"capturing group in template", "      prefix: /api/customers/", "      prefix: /api/{sort:(asc|desc)}",
			`strangler.yaml:13: routes[1].match.prefix: "/api/{sort:(asc|desc)}" is not a valid path template: route /api/{sort:(asc|desc)} contains capture groups in its regexp. Only non-capturing groups are accepted: e.g. (?:pattern) instead of (pattern)`},
		{"unbalanced template in flow mapping", "    match: {path: /api/orders/{id}, methods: [GET]}", "    match: {path: /api/orders/{id, methods: [GET]}",
			`strangler.yaml:8: invalid YAML: did not find expected ',' or '}'`},
		{"bad method", "    match: {path: /api/orders/{id}, methods: [GET]}", "    match: {path: /api/orders/{id}, methods: [GIT]}",
			`strangler.yaml:8: routes[0].match.methods[0]: "GIT" is not an HTTP method`},
		{"missing target", "    target: http://127.0.0.1:9100", "",
			`strangler.yaml:7: routes[0].target: is required: the base URL of the new service`},
		{"duplicate route", "  - name: customers", "  - name: orders-read",
			`strangler.yaml:11: routes[1].name: "orders-read" is already the name of routes[0]`},
		{"bad listen", "listen: 127.0.0.1:8080", "listen: 8080",
			`strangler.yaml:1: listen: "8080" is not host:port`},
		{"legacy not a URL", "legacy: http://127.0.0.1:9000", "legacy: 127.0.0.1:9000",
			`strangler.yaml:2: legacy: "127.0.0.1:9000" is not an http:// or https:// URL`},
		{"bad direction", "  - name: shop", "  - name: shop\n    direction: sideways",
			`strangler.yaml:19: sync[0].direction: "sideways" is not one of legacy-to-new, new-to-legacy, both`},
		{"routes not a list", "routes:", "routes: all\nx:",
			`strangler.yaml:6: routes: expected a list, found "all"`},
		{"sticky malformed", "    percent: 30", "    percent: 30\n    sticky: ip",
			`strangler.yaml:17: routes[1].sticky: "ip" is not header:NAME or cookie:NAME`},
		{"duration malformed", "    mode: shadow", "    mode: shadow\n    timeout: 5",
			`strangler.yaml:11: routes[0].timeout: "5" is not a duration such as 30s or 1m`},
		{"duplicate key", "    mode: shadow", "    mode: shadow\n    mode: new",
			`strangler.yaml:11: routes[0].mode: appears twice`},
		{"bad table name", "    tables: [orders, customers]", "    tables: [orders, \"cust omers\"]",
			`strangler.yaml:19: sync[0].tables[1].name: "cust omers" is not a table name`},
		{"yaml syntax", "    mode: shadow", "    mode: [shadow",
			`strangler.yaml:10: invalid YAML: did not find expected ',' or ']'`},
		{"rewrite unknown var", "    mode: shadow", "    mode: shadow\n    rewrite: /orders/{key}",
			`strangler.yaml:11: routes[0].rewrite: "/orders/{key}" uses {key}, which match.path does not define`},
		{"service without listen", "    listen: 127.0.0.1:9100", "",
			`strangler.yaml:21: services[0].listen: is required: host:port`},
		{"rollout abort", "    mode: shadow", "    mode: shadow\n    rollout: {stages: [shadow, 50, new], abort: soon}",
			`strangler.yaml:11: routes[0].rollout.abort: expected instant or a ramp's length such as 2m: "soon" is not a duration such as 30s or 1m`},
		{"rollout window", "    mode: shadow", "    mode: shadow\n    rollout: {stages: [shadow, 50, new], window: 10ms}",
			`strangler.yaml:11: routes[0].rollout.window: 10ms is shorter than 1s`},
		{"record on one direction", "  - name: shop", "  - name: shop\n    record: new",
			`strangler.yaml:19: sync[0].record: applies to direction both only; this pipeline is legacy-to-new`},
		{"bad record", "  - name: shop", "  - name: shop\n    direction: both\n    record: mine",
			`strangler.yaml:20: sync[0].record: "mine" is not one of legacy, new`},
		{"bad ids", "  - name: shop", "  - name: shop\n    direction: both\n    ids: ranges",
			`strangler.yaml:20: sync[0].ids: "ranges" is not one of interleave, none`},
		{"record route unknown", "  - name: shop", "  - name: shop\n    direction: both\n    route: basket",
			`strangler.yaml:20: sync[0].route: "basket" names no route of this file`},
		{"newest without column", "    tables: [orders, customers]", "    direction: both\n    tables: [{name: orders, conflict: {wins: newest}}]",
			`strangler.yaml:20: sync[0].tables[0].conflict.column: is required with wins: newest: name the timestamp column to compare`},
		{"add not a column", "    tables: [orders, customers]", "    direction: both\n    tables: [{name: orders, conflict: {add: [\"stock level\"]}}]",
			`strangler.yaml:20: sync[0].tables[0].conflict.add[0]: "stock level" is not a column name`},
		{"conflict on one direction", "    tables: [orders, customers]", "    tables: [{name: orders, conflict: {wins: record}}]",
			`strangler.yaml:19: sync[0].tables[0].conflict: applies to direction both only; this pipeline is legacy-to-new`},
		{"bad trusted proxy", "legacy: http://127.0.0.1:9000", "legacy: http://127.0.0.1:9000\nproxy:\n  trusted_proxies: [10.0.0.0/8, 10.0.0.0/40]",
			`strangler.yaml:4: proxy.trusted_proxies[1]: "10.0.0.0/40" is not a CIDR such as 10.0.0.0/8 or an IP address`},
		{"trusted proxy host name", "legacy: http://127.0.0.1:9000", "legacy: http://127.0.0.1:9000\nproxy:\n  trusted_proxies:\n    - ::1\n    - lb.internal",
			`strangler.yaml:6: proxy.trusted_proxies[1]: "lb.internal" is not a CIDR such as 10.0.0.0/8 or an IP address`},
		{"negative shadow queue bytes", "legacy: http://127.0.0.1:9000", "legacy: http://127.0.0.1:9000\nshadow: {queue_bytes: -1}",
			`strangler.yaml:3: shadow.queue_bytes: -1 is negative`},
		{"shadow queue moved", "legacy: http://127.0.0.1:9000", "legacy: http://127.0.0.1:9000\nproxy: {shadow_queue: 10}",
			`strangler.yaml:3: proxy.shadow_queue: has moved: write the top-level shadow.queue`},
		{"shadow_writes moved", "    mode: shadow", "    mode: shadow\n    shadow_writes: true",
			`strangler.yaml:11: routes[0].shadow_writes: has moved: write shadow: {writes: true} on the route`},
		{"shadow sample out of range", "    mode: shadow", "    mode: shadow\n    shadow: {sample: 120}",
			`strangler.yaml:11: routes[0].shadow.sample: 120 is not between 0 and 100`},
		{"shadow max body above the copy limit", "    mode: shadow", "    mode: shadow\n    shadow: {max_body: 2000000}",
			`strangler.yaml:11: routes[0].shadow.max_body: 2000000 is larger than proxy.max_body_copy (1048576), the most the facade copies`},
		{"shadow drop header malformed", "    mode: shadow", "    mode: shadow\n    shadow:\n      drop_headers: [\"a b\"]",
			`strangler.yaml:12: routes[0].shadow.drop_headers[0]: "a b" is not a header name`},
		{"match on an internal header", "      prefix: /api/customers/", "      prefix: /api/customers/\n      headers: {x-strangler-shadow: '1'}",
			`strangler.yaml:14: routes[1].match.headers.x-strangler-shadow: "x-strangler-shadow" is an internal header, stripped from client requests before matching`},
		{"target name PostgreSQL would cut", "    tables: [orders, customers]", "    tables: [orders, " + strings.Repeat("t", 64) + "]",
			`strangler.yaml:19: sync[0].tables[1].target: "` + strings.Repeat("t", 64) + `" is 64 bytes long; PostgreSQL cuts names at 63: give the table a shorter target`},
		{"bad rollout stage", "    mode: shadow", "    mode: shadow\n    rollout: {stages: [shadow, 50, 25, neww]}",
			`strangler.yaml:11: routes[0].rollout.stages[2]: 25 does not raise the previous stage's percent 50`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Contains(t, base, tt.from+"\n")
			src := strings.Replace(base, tt.from+"\n", tt.to+"\n", 1)
			if tt.to == "" {
				src = strings.Replace(base, tt.from+"\n", "", 1)
			}
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

func TestAllErrorsReportedAtOnce(t *testing.T) {
	src := strings.Replace(base, "    mode: shadow", "    mode: canery", 1)
	src = strings.Replace(src, "    percent: 30", "    percent: -1", 1)
	_, err := Parse("strangler.yaml", []byte(src), nil)
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, 2)
	assert.True(t, strings.HasPrefix(lines[0], "strangler.yaml:10: routes[0].mode"), lines[0])
	assert.True(t, strings.HasPrefix(lines[1], "strangler.yaml:16: routes[1].percent"), lines[1])
}

// TestDecodeAndValidationErrorsInOnePass: unknown keys and values of the
// wrong type are reported with the invalid values found in the rest of the
// file, in file order, and a field that did not decode is not reported a
// second time as missing.
func TestDecodeAndValidationErrorsInOnePass(t *testing.T) {
	src := strings.Replace(base, "    mode: shadow", "    mode: canery\n    fallbak: legacy", 1)
	src = strings.Replace(src, "    percent: 30", "    percent: thirty", 1)
	src = strings.Replace(src, "listen: 127.0.0.1:8080", "listen: 8080", 1)
	src = strings.Replace(src, "    target: http://127.0.0.1:9101", "    target: [http://127.0.0.1:9101]", 1)
	_, err := Parse("strangler.yaml", []byte(src), nil)
	require.Error(t, err)
	assert.Equal(t, strings.Join([]string{
		`strangler.yaml:1: listen: "8080" is not host:port`,
		`strangler.yaml:10: routes[0].mode: "canery" is not one of legacy, shadow, canary, new`,
		`strangler.yaml:11: routes[0].fallbak: unknown field (did you mean "fallback"?)`,
		"strangler.yaml:15: routes[1].target: expected a single value, found a list",
		"strangler.yaml:17: routes[1].percent: cannot unmarshal !!str `thirty` into float64",
	}, "\n"), err.Error())
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	require.Error(t, err)
	assert.True(t, errors.Is(err, os.ErrNotExist))
}

func TestTemplatesInFlowMappings(t *testing.T) {
	tests := map[string]string{
		"match: {path: /api/orders/{id}, methods: [GET]}":    "/api/orders/{id}",
		"match: {path: /api/orders/{id:[0-9]{3}}/lines/{n}}": "/api/orders/{id:[0-9]{3}}/lines/{n}",
		`match: {path: /api/orders/{id:\d+}}`:                `/api/orders/{id:\d+}`,
		"match:\n      path: /api/orders/{id}  # block form": "/api/orders/{id}",
		"match: {path: '/api/orders/{id}'}":                  "/api/orders/{id}",
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			src := "legacy: http://l:1\nroutes:\n  - name: r\n    target: http://n:1\n    " + in + "\n"
			c, err := Parse("strangler.yaml", []byte(src), nil)
			require.NoError(t, err)
			assert.Equal(t, want, c.Routes[0].Match.Path)
		})
	}
}

// ruleChecks is a DSN parser that also checks comparison rules: it refuses
// every ignore path that is not "$.ok".
type ruleChecks struct{ unchecked }

func (ruleChecks) CheckShadowRules(rs *RouteShadow) []RuleProblem {
	var out []RuleProblem
	for i, p := range rs.Ignore {
		if p != "$.ok" {
			out = append(out, RuleProblem{Field: fmt.Sprintf("ignore[%d]", i), Message: fmt.Sprintf("%q: refused", p)})
		}
	}
	return out
}

// TestShadowRulesCheckedByTheGivenChecker: a DSN parser that is also a
// ShadowRuleChecker has every route's comparison rules checked, each
// problem named by file, line and field; without one they are not checked
// here (the shadow engine compiles them when the facade starts).
func TestShadowRulesCheckedByTheGivenChecker(t *testing.T) {
	src := "legacy: http://127.0.0.1:9000\nroutes:\n  - name: a\n    match: {path: /a}\n    target: http://127.0.0.1:9100\n    mode: shadow\n    shadow:\n      ignore: [$.ok, $.bad]\n"
	_, err := Parse("strangler.yaml", []byte(src), ruleChecks{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `strangler.yaml:8: routes[0].shadow.ignore[1]: "$.bad": refused`)
	_, err = Parse("strangler.yaml", []byte(src), nil)
	require.NoError(t, err)
}
