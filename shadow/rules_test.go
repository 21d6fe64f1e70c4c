package shadow

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/dbconn"
)

// TestRuleCheckerNamesEachBadRule: a project file loaded with the
// RuleChecker has each bad comparison rule refused at its line, under the
// route's shadow field.
func TestRuleCheckerNamesEachBadRule(t *testing.T) {
	checks := struct {
		dbconn.Parser
		RuleChecker
	}{}
	for _, tt := range []struct{ name, rules, want string }{
		{"ignore pattern malformed", `ignore: [$.meta, "$.items["]`, `strangler.yaml:8: routes[0].shadow.ignore[1]: "$.items[": unclosed bracket`},
		{"compared header malformed", `headers: ["a b"]`, `strangler.yaml:8: routes[0].shadow.headers[0]: "a b": not a header name`},
		{"normalize regexp malformed", `normalize: [{pattern: "("}]`, "strangler.yaml:8: routes[0].shadow.normalize[0].pattern: error parsing regexp: missing closing ): `(`"},
		{"tolerance negative", `tolerance: {$.data.total: -1}`, `strangler.yaml:8: routes[0].shadow.tolerance: "$.data.total": must be >= 0`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := "legacy: http://127.0.0.1:9000\nroutes:\n  - name: a\n    match: {path: /a}\n    target: http://127.0.0.1:9100\n    mode: shadow\n    shadow:\n      " + tt.rules + "\n"
			_, err := config.Parse("strangler.yaml", []byte(src), checks)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	good := "legacy: http://127.0.0.1:9000\nroutes:\n  - name: a\n    match: {path: /a}\n    target: http://127.0.0.1:9100\n    mode: shadow\n    shadow:\n      ignore: [$.meta, \"$..etag\"]\n"
	_, err := config.Parse("strangler.yaml", []byte(good), checks)
	require.NoError(t, err)
}
