package proxy

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
)

// TestForwardedHeaders sends the same request, carrying forwarding headers
// of its own, from 127.0.0.1 to facades with trusted lists that do or do
// not hold that address.
func TestForwardedHeaders(t *testing.T) {
	legacy := newUpstream(t, "legacy", nil)
	target := newUpstream(t, "new", nil)
	client := http.Header{
		"X-Forwarded-For":   {"203.0.113.9, 10.1.1.1"},
		"X-Forwarded-Host":  {"orig.example"},
		"X-Forwarded-Proto": {"https"},
		"Forwarded":         {"for=203.0.113.9;proto=https"},
		"X-Real-Ip":         {"203.0.113.9"},
	}
	trustedWant := http.Header{
		"X-Forwarded-For":   {"203.0.113.9, 10.1.1.1, 127.0.0.1"},
		"X-Forwarded-Host":  {"orig.example"},
		"X-Forwarded-Proto": {"https"},
		"Forwarded":         {"for=203.0.113.9;proto=https"},
		"X-Real-Ip":         {"203.0.113.9"},
	}
	untrustedWant := http.Header{
		"X-Forwarded-For":   {"127.0.0.1"},
		"X-Forwarded-Host":  {"shop.example"},
		"X-Forwarded-Proto": {"http"},
	}
	tests := []struct {
		name    string
		trusted string // proxy.trusted_proxies, as YAML
		want    http.Header
	}{
		{"no list", "", untrustedWant},
		{"empty list", "[]", untrustedWant},
		{"other networks", "[10.0.0.0/8, 192.168.0.1, '::1']", untrustedWant},
		{"bare address", "[127.0.0.1]", trustedWant},
		{"CIDR", "[10.0.0.0/8, 127.0.0.0/8]", trustedWant},
		{"IPv4-mapped CIDR", "['::ffff:127.0.0.0/104']", trustedWant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordingShadower{}
			routes := `
  - name: carts
    match: {path: "/api/carts"}
    target: ` + target.srv.URL + `
    mode: shadow
  - name: orders
    match: {path: "/api/orders"}
    target: ` + target.srv.URL + `
    mode: new
`
			cfg := projectFile(t, legacy.srv.URL, routes)
			if tt.trusted != "" {
				var err error
				cfg, err = parseWith(t, legacy.srv.URL, routes, "proxy:\n  trusted_proxies: "+tt.trusted+"\n")
				require.NoError(t, err)
			}
			_, base := startFacade(t, cfg, WithShadower(rec))
			c := newClient(t)
			for i, path := range []string{"/api/carts", "/api/orders", "/elsewhere"} {
				req, err := http.NewRequest("GET", base+path, nil)
				require.NoError(t, err)
				for k, v := range client {
					req.Header[k] = v
				}
				req.Host = "shop.example"
				resp, err := c.Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				up := legacy
				if path == "/api/orders" {
					up = target
				}
				got, _ := up.lastRequest()
				assert.Equal(t, tt.want, forwarding(got.Header), "%s: what %s got", path, up.name)
				if i == 0 {
					cp := rec.waitFor(t, 1)
					assert.Equal(t, tt.want, forwarding(cp.Header), "the shadow copy")
				}
			}
		})
	}
}

// forwarding returns the forwarding headers of h.
func forwarding(h http.Header) http.Header {
	out := http.Header{}
	for _, k := range forwardingHeaders {
		if v, ok := h[k]; ok {
			out[k] = v
		}
	}
	return out
}

func TestTrustedProxiesRefused(t *testing.T) {
	_, err := parseWith(t, "http://127.0.0.1:1", "  []\n",
		"proxy:\n  trusted_proxies:\n    - 10.0.0.0/8\n    - 10.0.0.0/33\n    - localhost\n    - fe80::1%eth0\n")
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		`:7: proxy.trusted_proxies[1]: "10.0.0.0/33" is not a CIDR`,
		`:8: proxy.trusted_proxies[2]: "localhost" is not a CIDR`,
		`:9: proxy.trusted_proxies[3]: "fe80::1%eth0" is not a CIDR`,
	} {
		assert.Contains(t, msg, want)
	}
	assert.NotContains(t, msg, "trusted_proxies[0]")
}

func TestTrusts(t *testing.T) {
	tp, err := parseTrustedProxies([]string{"10.0.0.0/8", "2001:db8::/32", "192.168.1.7"})
	require.NoError(t, err)
	for addr, want := range map[string]bool{
		"10.2.3.4:5000":          true,
		"[::ffff:10.2.3.4]:5000": true,
		"[2001:db8::1]:80":       true,
		"[2001:db9::1]:80":       false,
		"192.168.1.7:1":          true,
		"192.168.1.8:1":          false,
		"11.0.0.1:1":             false,
		"garbage":                false,
		"":                       false,
	} {
		assert.Equal(t, want, tp.trusts(addr), addr)
	}
	assert.False(t, trustedProxies(nil).trusts("10.2.3.4:1"))
}

// parseWith parses a project file with legacy, the routes block and more
// top-level YAML after it.
func parseWith(t *testing.T, legacy, routes, more string) (*config.Config, error) {
	t.Helper()
	data := "legacy: " + legacy + "\nroutes:\n" + strings.TrimPrefix(routes, "\n") + more
	cfg, err := config.Parse(t.Name()+".yaml", []byte(data), nil)
	if err != nil {
		return nil, err
	}
	cfg.File = t.TempDir() + "/strangler.yaml"
	return cfg, nil
}
