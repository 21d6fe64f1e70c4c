package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/wire"
)

// problemOf reads a problem answer.
func problemOf(t *testing.T, resp *http.Response) wire.Problem {
	t.Helper()
	require.Equal(t, wire.ProblemContentType, resp.Header.Get("Content-Type"))
	var p wire.Problem
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
	return p
}

func send(t *testing.T, c *http.Client, method, url string, hdr http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestJWTClaimRules: each claim rule admits the token that keeps it and
// refuses, with a 401 problem and the reason counted, the token that
// breaks it; the claims passed on as headers replace whatever the client
// sent under those names.
func TestJWTClaimRules(t *testing.T) {
	key := newRSAKey(t, "k1")
	other := newRSAKey(t, "k1") // the same kid, another key: a forged signature
	ec := newECKey(t, "e1")
	jwks := newJWKSServer(t, key, ec)
	legacy := newUpstream(t, "legacy", nil)
	target := newUpstream(t, "new", nil)
	cfg := projectFile(t, legacy.srv.URL, `
  - name: orders
    match: {path: "/api/orders/{id}"}
    target: `+target.srv.URL+`
    mode: new
    auth:
      jwt:
        jwks: `+jwks.srv.URL+`
        issuer: https://id.example
        audience: shop
        algorithms: [RS256]
        claims_to_headers: {sub: X-User-Id, tenant: X-Tenant, roles: X-Roles}
`)
	f, base := startFacade(t, cfg)
	c := newClient(t)
	now := time.Now()
	with := func(change func(*jwt.Claims)) string {
		cl := claims(now)
		change(&cl)
		return key.sign(t, cl, map[string]any{"tenant": "acme", "roles": []string{"a", "b"}})
	}
	tests := []struct {
		name   string
		auth   string // the Authorization header; "" for none
		status int
		reason string // counted in strangler_auth_failures_total
	}{
		{"valid", "Bearer " + with(func(*jwt.Claims) {}), 200, ""},
		{"scheme in lower case", "bearer " + with(func(*jwt.Claims) {}), 200, ""},
		{"expired within the leeway", "Bearer " + with(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(now.Add(-30 * time.Second)) }), 200, ""},
		{"expired", "Bearer " + with(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(now.Add(-2 * time.Minute)) }), 401, authExpired},
		{"not valid yet", "Bearer " + with(func(c *jwt.Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(5 * time.Minute)) }), 401, authNotYetValid},
		{"nbf within the leeway", "Bearer " + with(func(c *jwt.Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(30 * time.Second)) }), 200, ""},
		{"issued in the future", "Bearer " + with(func(c *jwt.Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(5 * time.Minute)) }), 401, authIssuedInFuture},
		{"another issuer", "Bearer " + with(func(c *jwt.Claims) { c.Issuer = "https://evil.example" }), 401, authIssuer},
		{"another audience", "Bearer " + with(func(c *jwt.Claims) { c.Audience = jwt.Audience{"admin"} }), 401, authAudience},
		{"one of several audiences", "Bearer " + with(func(c *jwt.Claims) { c.Audience = jwt.Audience{"admin", "shop"} }), 200, ""},
		{"no expiry", "Bearer " + with(func(c *jwt.Claims) { c.Expiry = nil }), 401, authNoExpiry},
		{"forged signature", "Bearer " + other.sign(t, claims(now), nil), 401, authSignature},
		{"algorithm not allowed", "Bearer " + ec.sign(t, claims(now), nil), 401, authAlgorithm},
		{"unknown key", "Bearer " + newRSAKey(t, "k9").sign(t, claims(now), nil), 401, authUnknownKey},
		{"no token", "", 401, authMissing},
		{"another scheme", "Basic dXNlcjpwYXNz", 401, authMissing},
		{"not a JWT", "Bearer not.a.jwt", 401, authMalformed},
	}
	want := map[string]float64{}
	refused := 0.0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := http.Header{"X-User-Id": {"admin"}, "X_user_id": {"admin"}, "X-Tenant": {"other"}}
			if tt.auth != "" {
				hdr["Authorization"] = []string{tt.auth}
			}
			before := target.hits.Load()
			resp := send(t, c, "GET", base+"/api/orders/1", hdr)
			require.Equal(t, tt.status, resp.StatusCode)
			if tt.status == 200 {
				last, _ := target.lastRequest()
				assert.Equal(t, []string{"user-1"}, last.Header["X-User-Id"], "the claim, never the client's header")
				assert.Empty(t, last.Header["X_user_id"], "the '_' spelling of an identity header is removed too")
				assert.Equal(t, "acme", last.Header.Get("X-Tenant"))
				assert.Equal(t, `["a","b"]`, last.Header.Get("X-Roles"), "other values as JSON")
				assert.Equal(t, tt.auth, last.Header.Get("Authorization"), "the token goes on untouched")
				return
			}
			want[tt.reason]++
			refused++
			assert.Equal(t, before, target.hits.Load(), "a refused request goes nowhere")
			assert.NotEmpty(t, resp.Header.Get("X-Request-Id"))
			assert.True(t, strings.HasPrefix(resp.Header.Get("Www-Authenticate"), `Bearer realm="orders"`), resp.Header.Get("Www-Authenticate"))
			p := problemOf(t, resp)
			assert.Equal(t, 401, p.Status)
			assert.Equal(t, "/api/orders/1", p.Instance)
			assert.NotEmpty(t, p.Detail)
		})
	}
	assert.Zero(t, legacy.hits.Load())
	for reason, n := range want {
		assert.Equal(t, n, counterValue(t, f, "strangler_auth_failures_total", "orders", reason), reason)
	}
	assert.Equal(t, refused, counterValue(t, f, "strangler_requests_total", "orders", "legacy", "401"),
		"a refused request is counted with its status and route")
	assert.Equal(t, int64(1), jwks.hits.Load(), "one fetch of the keys: a token with an unknown kid may refresh only after refresh_min")
}

// newTestJWT builds a route's JWT check for unit tests: every time is given
// by the test. Unset keys take their defaults, as in the project file.
func newTestJWT(t *testing.T, jwks string, change func(*config.JWTAuth), limitClaim string) *jwtAuth {
	t.Helper()
	c := &config.JWTAuth{JWKS: jwks, Issuer: "https://id.example", Audience: "shop"}
	if change != nil {
		change(c)
	}
	a, err := newJWTAuth("orders", c, jwks, limitClaim, http.DefaultClient, quietLogger(t))
	require.NoError(t, err)
	return a
}

func bearerRequest(tok string) *http.Request {
	r := httptest.NewRequest("GET", "/api/orders/1", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// TestJWTRotatedKey: a token signed with a key the JWKS server has just
// started to serve is accepted once the keys are fetched again on its
// unknown kid; fetches are at least refresh_min apart, so a flood of
// made-up kids does not reach the JWKS server; a key the server stops
// serving stops being accepted, cached tokens included.
func TestJWTRotatedKey(t *testing.T) {
	k1, k2 := newRSAKey(t, "k1"), newECKey(t, "k2")
	jwks := newJWKSServer(t, k1)
	a := newTestJWT(t, jwks.srv.URL, func(c *config.JWTAuth) { c.RefreshMin = config.Duration(30 * time.Second) }, "")
	ctx := context.Background()
	t0 := time.Now()
	old := k1.sign(t, claims(t0), nil)
	rotated := k2.sign(t, claims(t0), nil)

	_, fail := a.authenticate(ctx, bearerRequest(old), t0)
	require.Nil(t, fail)
	require.Equal(t, int64(1), jwks.hits.Load())

	jwks.set(k1, k2) // the server rotates
	_, fail = a.authenticate(ctx, bearerRequest(rotated), t0.Add(time.Second))
	require.NotNil(t, fail, "within refresh_min of the last fetch the keys are not fetched again")
	assert.Equal(t, authUnknownKey, fail.reason)
	assert.Equal(t, int64(1), jwks.hits.Load())

	_, fail = a.authenticate(ctx, bearerRequest(rotated), t0.Add(31*time.Second))
	require.Nil(t, fail, "after refresh_min the unknown kid makes a fetch, and the rotated key verifies")
	assert.Equal(t, int64(2), jwks.hits.Load())

	// A flood of made-up kids, from many clients at once.
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bogus := newFakeKidToken(t, k2, fmt.Sprintf("bogus-%d", i), t0)
			_, fail := a.authenticate(ctx, bearerRequest(bogus), t0.Add(32*time.Second))
			assert.Equal(t, authUnknownKey, fail.reason)
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(2), jwks.hits.Load(), "made-up kids do not reach the JWKS server within refresh_min")

	// The server drops k1: once fetched again, k1's tokens are refused,
	// even the one in the cache.
	jwks.set(k2)
	_, fail = a.authenticate(ctx, bearerRequest(newFakeKidToken(t, k2, "bogus-x", t0)), t0.Add(62*time.Second))
	assert.Equal(t, authUnknownKey, fail.reason)
	assert.Equal(t, int64(3), jwks.hits.Load())
	_, fail = a.authenticate(ctx, bearerRequest(old), t0.Add(63*time.Second))
	require.NotNil(t, fail, "a cached token of a key no longer served is verified again, and refused")
	assert.Equal(t, authUnknownKey, fail.reason)
	_, fail = a.authenticate(ctx, bearerRequest(rotated), t0.Add(63*time.Second))
	assert.Nil(t, fail)
}

// newFakeKidToken signs with k under another key id.
func newFakeKidToken(t *testing.T, k *signingKey, kid string, now time.Time) string {
	fake := *k
	fake.kid = kid
	return fake.sign(t, claims(now), nil)
}

// TestJWKSFetches: the keys are fetched when first needed; an unreachable
// JWKS fails closed with 503 (and is not asked again before refresh_min);
// keys older than refresh are fetched again in the background while the
// old ones serve.
func TestJWKSFetches(t *testing.T) {
	k1 := newRSAKey(t, "k1")
	jwks := newJWKSServer(t, k1)
	jwks.fail.Store(true)
	a := newTestJWT(t, jwks.srv.URL, func(c *config.JWTAuth) {
		c.RefreshMin = config.Duration(10 * time.Second)
		c.Refresh = config.Duration(time.Minute)
	}, "")
	ctx := context.Background()
	t0 := time.Now()
	tok := k1.sign(t, claims(t0), nil)

	_, fail := a.authenticate(ctx, bearerRequest(tok), t0)
	require.NotNil(t, fail)
	assert.Equal(t, http.StatusServiceUnavailable, fail.status)
	assert.Equal(t, authJWKSUnavailable, fail.reason)
	_, fail = a.authenticate(ctx, bearerRequest(tok), t0.Add(time.Second))
	assert.Equal(t, authJWKSUnavailable, fail.reason)
	assert.Equal(t, int64(1), jwks.hits.Load(), "a failed fetch is not repeated before refresh_min")

	jwks.fail.Store(false)
	_, fail = a.authenticate(ctx, bearerRequest(tok), t0.Add(11*time.Second))
	require.Nil(t, fail)
	assert.Equal(t, int64(2), jwks.hits.Load())

	// Older than refresh: admitted at once with the keys there are, and
	// fetched again behind.
	_, fail = a.authenticate(ctx, bearerRequest(k1.sign(t, claims(t0), map[string]any{"n": 1})), t0.Add(2*time.Minute))
	require.Nil(t, fail)
	require.Eventually(t, func() bool { return jwks.hits.Load() == 3 }, 5*time.Second, 5*time.Millisecond)
	// The same keys came back: the cached token stays cached (same
	// generation), and expires on time.
	assert.Equal(t, uint64(1), a.keys.generation())
	_, fail = a.authenticate(ctx, bearerRequest(tok), t0.Add(62*time.Minute))
	require.NotNil(t, fail)
	assert.Equal(t, authExpired, fail.reason, "a cached token's exp is checked on every request")
}

// TestJWKSFile: the keys may come from a file beside the project file,
// read when the facade starts; a bad file stops it from starting.
func TestJWKSFile(t *testing.T) {
	key := newECKey(t, "")
	legacy := newUpstream(t, "legacy", nil)
	cfg := projectFile(t, legacy.srv.URL, `
  - name: orders
    match: {prefix: /api/}
    target: http://127.0.0.1:1
    auth:
      jwt: {jwks: keys/jwks.json, issuer: https://id.example, audience: shop}
`)
	dir := filepath.Dir(cfg.File)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "keys"), 0o755))
	_, err := New(cfg, WithLogger(quietLogger(t)))
	require.ErrorContains(t, err, "routes[0] (orders): auth.jwt.jwks: reading the key set")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "keys", "jwks.json"), []byte(`{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}`), 0o644))
	_, err = New(cfg, WithLogger(quietLogger(t)))
	require.ErrorContains(t, err, "the key set holds no public signature key", "a symmetric key is never taken from a JWKS")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "keys", "jwks.json"), jwksJSON(t, key), 0o644))
	_, base := startFacade(t, cfg)
	c := newClient(t)
	resp := send(t, c, "GET", base+"/api/x", http.Header{"Authorization": {"Bearer " + key.sign(t, claims(time.Now()), nil)}})
	assert.Equal(t, 200, resp.StatusCode, "a token without kid is checked against every key")
	resp = send(t, c, "GET", base+"/api/x", nil)
	assert.Equal(t, 401, resp.StatusCode)
}

// TestJWTClaimKeyedLimit: a limit keyed by a claim gives each subject its
// own bucket.
func TestJWTClaimKeyedLimit(t *testing.T) {
	key := newRSAKey(t, "k1")
	jwks := newJWKSServer(t, key)
	legacy := newUpstream(t, "legacy", nil)
	cfg := projectFile(t, legacy.srv.URL, `
  - name: orders
    match: {prefix: /api/}
    target: http://127.0.0.1:1
    rate_limit: {rps: 0.01, burst: 2, key: "claim:sub"}
    auth:
      jwt: {jwks: `+jwks.srv.URL+`, issuer: https://id.example, audience: shop}
`)
	f, base := startFacade(t, cfg)
	c := newClient(t)
	now := time.Now()
	token := func(sub string) http.Header {
		cl := claims(now)
		cl.Subject = sub
		return http.Header{"Authorization": {"Bearer " + key.sign(t, cl, nil)}}
	}
	alice, bob := token("alice"), token("bob")
	for i, want := range []int{200, 200, 429} {
		assert.Equal(t, want, send(t, c, "GET", base+"/api/x", alice).StatusCode, "alice %d", i)
	}
	assert.Equal(t, 200, send(t, c, "GET", base+"/api/x", bob).StatusCode, "bob has a bucket of his own")
	assert.Equal(t, 401, send(t, c, "GET", base+"/api/x", nil).StatusCode, "without a token, the check refuses first")
	assert.Equal(t, 1.0, counterValue(t, f, "strangler_rate_limited_total", "orders"))
}

// TestCredentialNeverLogged: neither a bearer token nor an API key reaches
// the access log or a capture file, whether the check admitted or refused
// the request.
func TestCredentialNeverLogged(t *testing.T) {
	key := newRSAKey(t, "k1")
	jwks := newJWKSServer(t, key)
	legacy := newUpstream(t, "legacy", nil)
	const apiKey, badKey = "s3cr3t-api-key-0123456789", "wrong-api-key-0123456789"
	cfg := projectFile(t, legacy.srv.URL, `
  - name: orders
    match: {prefix: /api/orders/}
    target: http://127.0.0.1:1
    capture: {sample: 1, file: orders.jsonl}
    auth:
      jwt: {jwks: `+jwks.srv.URL+`, issuer: https://id.example, audience: shop}
  - name: carts
    match: {prefix: /api/carts/}
    target: http://127.0.0.1:1
    capture: {sample: 1, file: carts.jsonl}
    auth:
      api_keys: {file: keys.txt, header: X-Shop-Key}
`)
	dir := filepath.Dir(cfg.File)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keys.txt"), []byte("shop "+apiKey+"\n"), 0o600))
	var logs syncBuffer
	f, err := New(cfg, WithLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	require.NoError(t, err)
	srv := httptest.NewServer(f)
	c := newClient(t)
	token := key.sign(t, claims(time.Now()), nil)
	expired := claims(time.Now())
	expired.Expiry = jwt.NewNumericDate(time.Now().Add(-time.Hour))
	expiredToken := key.sign(t, expired, nil)
	for _, h := range []http.Header{
		{"Authorization": {"Bearer " + token}},
		{"Authorization": {"Bearer " + expiredToken}},
		{"Authorization": {"Bearer " + token[:len(token)-4]}},
	} {
		resp := send(t, c, "GET", srv.URL+"/api/orders/1?x=1", h)
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	for _, k := range []string{apiKey, badKey} {
		resp := send(t, c, "GET", srv.URL+"/api/carts/1", http.Header{"X-Shop-Key": {k}})
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	c.CloseIdleConnections()
	srv.Close()
	require.NoError(t, f.Close())

	captured := ""
	for _, name := range []string{"orders.jsonl", "carts.jsonl"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		captured += string(b)
	}
	require.Contains(t, captured, `"X-Shop-Key":["[REDACTED]"]`, "the key header of api_keys is redacted in captures")
	require.Contains(t, logs.String(), `"status":401`)
	for _, secret := range []string{token, expiredToken, token[:len(token)-4], apiKey, badKey, strings.Split(token, ".")[2]} {
		assert.NotContains(t, logs.String(), secret, "access log")
		assert.NotContains(t, captured, secret, "captures")
	}
}

// syncBuffer is a bytes.Buffer safe for the facade's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
