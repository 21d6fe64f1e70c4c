package config

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gatewayFile is a project file with one route whose last lines are extra
// (indented by four spaces under the route).
func gatewayFile(extra string) string {
	return "legacy: http://127.0.0.1:9000\nroutes:\n  - name: orders\n    match: {path: /api/orders/{id}}\n    target: http://127.0.0.1:9100\n" + extra
}

// TestGatewayKeysOfTheDesign: the keys DESIGN.md fixes are accepted as
// written there, with every default filled.
func TestGatewayKeysOfTheDesign(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		check func(t *testing.T, r *Route)
	}{
		{"rate limit with a key", `    rate_limit: {rps: 100, burst: 200, key: "header:X-Api-Key"}
`, func(t *testing.T, r *Route) {
			assert.Equal(t, &RateLimit{RPS: 100, Burst: 200, Key: "header:X-Api-Key", MaxKeys: DefaultRateLimitKeys}, r.RateLimit)
			assert.Nil(t, r.Auth)
		}},
		{"rate limit per route, burst defaulted", "    rate_limit: {rps: 2.5}\n", func(t *testing.T, r *Route) {
			assert.Equal(t, 3, r.RateLimit.Burst, "the rate rounded up")
		}},
		{"jwt", `    auth:
      jwt: {jwks: https://id.example/jwks.json, issuer: https://id.example, audience: shop}
`, func(t *testing.T, r *Route) {
			j := r.Auth.JWT
			require.NotNil(t, j)
			assert.Equal(t, "https://id.example/jwks.json", j.JWKS)
			assert.True(t, j.IsURL())
			assert.Equal(t, DefaultJWTAlgorithms, j.Algorithms)
			assert.Equal(t, time.Minute, j.Leeway.D())
			assert.Equal(t, DefaultJWKSRefresh, j.Refresh.D())
			assert.Equal(t, DefaultJWKSRefreshMin, j.RefreshMin.D())
			assert.Equal(t, DefaultJWKSTimeout, j.Timeout.D())
			assert.Equal(t, DefaultJWTCache, j.Cache)
		}},
		{"jwt with everything set", `    auth:
      jwt:
        jwks: keys/jwks.json
        issuer: https://id.example
        audience: shop
        algorithms: [ES256]
        leeway: 0s
        claims_to_headers: {sub: X-User-Id, tenant: X-Tenant}
        refresh: 1h
        refresh_min: 1m
        cache: -1
    rate_limit: {rps: 10, key: "claim:sub"}
`, func(t *testing.T, r *Route) {
			j := r.Auth.JWT
			assert.False(t, j.IsURL())
			assert.Equal(t, time.Duration(0), j.Leeway.D(), "0s is no leeway, not the default")
			assert.Equal(t, map[string]string{"sub": "X-User-Id", "tenant": "X-Tenant"}, j.ClaimsToHeaders)
			assert.Equal(t, -1, j.Cache)
			assert.Equal(t, []string{"ES256"}, j.Algorithms)
		}},
		{"api keys as a path", "    auth:\n      api_keys: keys.txt\n", func(t *testing.T, r *Route) {
			assert.Equal(t, &APIKeysAuth{File: "keys.txt", Header: DefaultAPIKeyHeader}, r.Auth.APIKeys)
		}},
		{"api keys as a mapping", "    auth:\n      api_keys: {file: keys.txt, header: Authorization, name_header: X-Client}\n", func(t *testing.T, r *Route) {
			assert.Equal(t, &APIKeysAuth{File: "keys.txt", Header: "Authorization", NameHeader: "X-Client"}, r.Auth.APIKeys)
		}},
		{"forward as a URL", "    auth:\n      forward: http://legacy/session-check\n", func(t *testing.T, r *Route) {
			assert.Equal(t, &ForwardAuth{URL: "http://legacy/session-check", Send: DefaultForwardSend,
				Timeout: Duration(DefaultForwardTimeout)}, r.Auth.Forward)
		}},
		{"forward as a mapping", "    auth:\n      forward: {url: http://legacy/session-check, send: [Cookie], headers: [X-User-Id], timeout: 500ms}\n", func(t *testing.T, r *Route) {
			assert.Equal(t, &ForwardAuth{URL: "http://legacy/session-check", Send: []string{"Cookie"}, Headers: []string{"X-User-Id"},
				Timeout: Duration(500 * time.Millisecond)}, r.Auth.Forward)
		}},
		{"client key", "    rate_limit: {rps: 5, burst: 1, key: client, max_keys: 50, headers: true}\n", func(t *testing.T, r *Route) {
			assert.Equal(t, &RateLimit{RPS: 5, Burst: 1, Key: "client", MaxKeys: 50, Headers: true}, r.RateLimit)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("strangler.yaml", []byte(gatewayFile(tt.extra)), nil)
			require.NoError(t, err)
			tt.check(t, &c.Routes[0])
		})
	}
}

func TestGatewayMistakes(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		want  string // the exact first error
	}{
		{"zero rate", "    rate_limit: {rps: 0}\n",
			`strangler.yaml:6: routes[0].rate_limit.rps: 0 is not a rate above zero (requests per second)`},
		{"negative burst", "    rate_limit: {rps: 1, burst: -1}\n",
			`strangler.yaml:6: routes[0].rate_limit.burst: -1 is below 1`},
		{"bad key", "    rate_limit: {rps: 1, key: ip}\n",
			`strangler.yaml:6: routes[0].rate_limit.key: "ip" is not header:NAME, claim:NAME or client`},
		{"bad key header", "    rate_limit: {rps: 1, key: \"header:a b\"}\n",
			`strangler.yaml:6: routes[0].rate_limit.key: "a b" is not a header name`},
		{"claim key without jwt", "    rate_limit: {rps: 1, key: \"claim:sub\"}\n",
			`strangler.yaml:6: routes[0].rate_limit.key: "claim:sub" needs auth.jwt on the route: the claim is read from the verified token`},
		{"unknown rate limit key", "    rate_limit: {rps: 1, brust: 2}\n",
			`strangler.yaml:6: routes[0].rate_limit.brust: unknown field (did you mean "burst"?)`},
		{"two checks", "    auth:\n      api_keys: keys.txt\n      forward: http://a/b\n",
			`strangler.yaml:7: routes[0].auth: give exactly one of jwt, api_keys and forward (found 2)`},
		{"no check", "    auth: {}\n",
			`strangler.yaml:6: routes[0].auth: give exactly one of jwt, api_keys and forward (found 0)`},
		{"jwt without jwks", "    auth:\n      jwt: {issuer: https://id.example, audience: shop}\n",
			`strangler.yaml:7: routes[0].auth.jwt.jwks: is required: the URL or file of the JSON Web Key Set`},
		{"jwks of another scheme", "    auth:\n      jwt: {jwks: \"ftp://id/jwks\", issuer: i, audience: a}\n",
			`strangler.yaml:7: routes[0].auth.jwt.jwks: "ftp://id/jwks" is neither an http(s) URL nor a file`},
		{"symmetric algorithm", "    auth:\n      jwt: {jwks: j.json, issuer: i, audience: a, algorithms: [HS256]}\n",
			`strangler.yaml:7: routes[0].auth.jwt.algorithms[0]: "HS256" is symmetric: a key from a JWKS is public, so HS* is never accepted`},
		{"unknown algorithm", "    auth:\n      jwt: {jwks: j.json, issuer: i, audience: a, algorithms: [RS257]}\n",
			`strangler.yaml:7: routes[0].auth.jwt.algorithms[0]: "RS257" is not one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA`},
		{"claim to a facade header", "    auth:\n      jwt:\n        jwks: j.json\n        claims_to_headers: {sub: X-Forwarded-For}\n",
			`strangler.yaml:9: routes[0].auth.jwt.claims_to_headers.sub: "X-Forwarded-For" is a header the facade or the client owns; name an identity header such as X-User-Id`},
		{"claim to an internal header", "    auth:\n      jwt:\n        jwks: j.json\n        claims_to_headers: {sub: X-Strangler-User}\n",
			`strangler.yaml:9: routes[0].auth.jwt.claims_to_headers.sub: "X-Strangler-User" is an internal header, stripped from client requests`},
		{"two claims to one header", "    auth:\n      jwt:\n        jwks: j.json\n        claims_to_headers: {a: X-User, b: x_user}\n",
			`strangler.yaml:9: routes[0].auth.jwt.claims_to_headers.b: "x_user" is also set by routes[0].auth.jwt.claims_to_headers.a`},
		{"bad cache", "    auth:\n      jwt: {jwks: j.json, cache: -2}\n",
			`strangler.yaml:7: routes[0].auth.jwt.cache: -2 is below -1 (-1 turns the cache off)`},
		{"refresh_min above refresh", "    auth:\n      jwt: {jwks: j.json, refresh: 1m, refresh_min: 2m}\n",
			`strangler.yaml:7: routes[0].auth.jwt.refresh_min: 2m0s is longer than refresh (1m0s)`},
		{"api keys without a file", "    auth:\n      api_keys: {header: X-Key}\n",
			`strangler.yaml:7: routes[0].auth.api_keys.file: is required: the file listing the keys`},
		{"name header is the key header", "    auth:\n      api_keys: {file: k.txt, header: X-Key, name_header: x-key}\n",
			`strangler.yaml:7: routes[0].auth.api_keys.name_header: "x-key" is the header holding the key`},
		{"forward not a URL", "    auth:\n      forward: legacy/session\n",
			`strangler.yaml:7: routes[0].auth.forward.url: "legacy/session" is not an http:// or https:// URL`},
		{"forward copies Authorization", "    auth:\n      forward: {url: http://a/b, headers: [Authorization]}\n",
			`strangler.yaml:7: routes[0].auth.forward.headers[0]: "Authorization" is a header the facade or the client owns; name an identity header such as X-User-Id`},
		{"leeway negative", "    auth:\n      jwt: {jwks: j.json, leeway: -1s}\n",
			`strangler.yaml:7: routes[0].auth.jwt.leeway: "-1s" is negative`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("strangler.yaml", []byte(gatewayFile(tt.extra)), nil)
			require.Error(t, err)
			var es *Errors
			require.ErrorAs(t, err, &es)
			var got []string
			for _, e := range *es {
				got = append(got, e.Error())
			}
			assert.Contains(t, got, tt.want, strings.Join(got, "\n"))
		})
	}
}

// TestGatewayWarnings: a JWT check that accepts any issuer or audience is
// legal, and warned about.
func TestGatewayWarnings(t *testing.T) {
	c, err := Parse("strangler.yaml", []byte(gatewayFile("    auth:\n      jwt: {jwks: j.json}\n")), nil)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"strangler.yaml:7: routes[0].auth.jwt.issuer: is not set: tokens of any issuer the keys sign are accepted",
		"strangler.yaml:7: routes[0].auth.jwt.audience: is not set: tokens meant for any audience are accepted",
	}, c.Warnings)
	c, err = Parse("strangler.yaml", []byte(gatewayFile("    auth:\n      jwt: {jwks: j.json, issuer: i, audience: a}\n")), nil)
	require.NoError(t, err)
	assert.Empty(t, c.Warnings)
}

func TestParseRateLimitKey(t *testing.T) {
	tests := []struct {
		key, kind, name string
		ok              bool
	}{
		{"", "", "", true},
		{"client", "client", "", true},
		{"header:X-Api-Key", "header", "X-Api-Key", true},
		{"claim:sub", "claim", "sub", true},
		{"header:", "", "", false},
		{"cookie:session", "", "", false},
		{"ip", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			kind, name, err := ParseRateLimitKey(tt.key)
			assert.Equal(t, tt.ok, err == nil, "%v", err)
			assert.Equal(t, tt.kind, kind)
			assert.Equal(t, tt.name, name)
		})
	}
}
