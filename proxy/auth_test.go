package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/wire"
)

// TestAPIKeys: a key listed in the file is admitted and its name passed on;
// a key held as its SHA-256 digest too; any other key, or none, is refused
// with a 401 problem and counted.
func TestAPIKeys(t *testing.T) {
	const alice, bob = "alice-key-0123456789abcdef", "bob-key-0123456789abcdef"
	bobDigest := sha256.Sum256([]byte(bob))
	legacy := newUpstream(t, "legacy", nil)
	cfg := projectFile(t, legacy.srv.URL, `
  - name: carts
    match: {prefix: /api/carts/}
    target: http://127.0.0.1:1
    auth:
      api_keys: {file: keys.txt, name_header: X-Client}
  - name: admin
    match: {prefix: /api/admin/}
    target: http://127.0.0.1:1
    auth:
      api_keys: {file: keys.txt, header: Authorization}
`)
	keys := "# clients\n\nalice " + alice + "\nbob sha256:" + hex.EncodeToString(bobDigest[:]) + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(cfg.File), "keys.txt"), []byte(keys), 0o600))
	f, base := startFacade(t, cfg)
	c := newClient(t)
	tests := []struct {
		name   string
		path   string
		hdr    http.Header
		status int
		client string // X-Client seen by legacy
		reason string
	}{
		{"listed key", "/api/carts/1", http.Header{"X-Api-Key": {alice}, "X-Client": {"root"}}, 200, "alice", ""},
		{"key listed by its digest", "/api/carts/1", http.Header{"X-Api-Key": {bob}}, 200, "bob", ""},
		{"unlisted key", "/api/carts/1", http.Header{"X-Api-Key": {alice + "x"}, "X-Client": {"alice"}}, 401, "", authInvalidKey},
		{"no key", "/api/carts/1", http.Header{"X-Client": {"alice"}}, 401, "", authMissing},
		{"a digest is not a key", "/api/carts/1", http.Header{"X-Api-Key": {"sha256:" + hex.EncodeToString(bobDigest[:])}}, 401, "", authInvalidKey},
		{"bearer form", "/api/admin/1", http.Header{"Authorization": {"Bearer " + alice}}, 200, "", ""},
		{"bearer form, key header ignored", "/api/admin/1", http.Header{"X-Api-Key": {alice}}, 401, "", authMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := legacy.hits.Load()
			resp := send(t, c, "GET", base+tt.path, tt.hdr)
			require.Equal(t, tt.status, resp.StatusCode)
			if tt.status != 200 {
				assert.Equal(t, before, legacy.hits.Load())
				assert.Equal(t, 401, problemOf(t, resp).Status)
				return
			}
			last, _ := legacy.lastRequest()
			assert.Equal(t, tt.client, last.Header.Get("X-Client"), "the key's name, never the client's header")
		})
	}
	assert.Equal(t, 2.0, counterValue(t, f, "strangler_auth_failures_total", "carts", authInvalidKey))
	assert.Equal(t, 1.0, counterValue(t, f, "strangler_auth_failures_total", "carts", authMissing))
	assert.Equal(t, 1.0, counterValue(t, f, "strangler_auth_failures_total", "admin", authMissing))
	assert.Equal(t, 3.0, counterValue(t, f, "strangler_requests_total", "carts", "legacy", "401"))

	t.Run("identity headers are stripped on every path", func(t *testing.T) {
		for _, path := range []string{"/elsewhere", "/api/admin/1"} {
			hdr := http.Header{"X-Client": {"alice"}, "X_client": {"alice"}, "Authorization": {"Bearer " + alice}}
			resp := send(t, c, "GET", base+path, hdr)
			require.Equal(t, 200, resp.StatusCode, path)
			last, _ := legacy.lastRequest()
			assert.Empty(t, last.Header.Values("X-Client"), "%s: a header the carts route's check sets never comes from a client", path)
			assert.Empty(t, last.Header.Values("X_client"), path)
		}
	})
}

func TestAPIKeyFileMistakes(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"short key", "a short\n", "line 1: the key is 5 characters long; at least 16 are needed (or give it as sha256:HEX)"},
		{"three words", "# c\na b c\n", "line 2: want KEY or NAME KEY, found 3 words"},
		{"bad digest", "a sha256:abcd\n", "line 1: sha256: wants the 64 hex digits of a SHA-256 digest"},
		{"key twice", "a 0123456789abcdef\nb 0123456789abcdef\n", "line 2: the key of line 1 again"},
		{"no key", "# nothing\n\n", "lists no key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := (&apiKeyAuth{index: map[uint64][]apiKey{}}).parse([]byte(tt.file))
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
			assert.NotContains(t, err.Error(), "0123456789abcdef", "an error never holds a key")
		})
	}
}

// TestForwardAuth: the auth service decides. 2xx admits the request with
// the service's identity headers; 401 and 403 pass on as problems; a
// redirect to a login page is a 401; a 5xx, a timeout or a service that is
// down fails closed with 503. Every refusal is counted.
func TestForwardAuth(t *testing.T) {
	var seen atomic.Pointer[http.Request]
	auth := newUpstream(t, "auth", func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Clone(r.Context()))
		switch c, _ := r.Cookie("session"); {
		case c == nil:
			http.Redirect(w, r, "/login", http.StatusFound)
		case c.Value == "good":
			w.Header().Set("X-User-Id", "u-42")
			w.Header().Set("X-Secret", "not copied")
			w.WriteHeader(http.StatusNoContent)
		case c.Value == "forbidden":
			http.Error(w, "no", http.StatusForbidden)
		case c.Value == "expired":
			w.Header().Set("Www-Authenticate", `Session realm="shop"`)
			http.Error(w, "no", http.StatusUnauthorized)
		case c.Value == "slow":
			time.Sleep(300 * time.Millisecond)
		default:
			http.Error(w, "boom", http.StatusInternalServerError)
		}
	})
	legacy := newUpstream(t, "legacy", nil)
	cfg := projectFile(t, legacy.srv.URL, `
  - name: account
    match: {prefix: /account/}
    target: http://127.0.0.1:1
    auth:
      forward: {url: `+auth.srv.URL+`/session-check, headers: [X-User-Id], timeout: 100ms}
  - name: gone
    match: {prefix: /gone/}
    target: http://127.0.0.1:1
    auth:
      forward: http://`+closedAddr(t)+`/session-check
`)
	f, base := startFacade(t, cfg)
	c := newClient(t)
	tests := []struct {
		name      string
		path      string
		cookie    string
		status    int
		reason    string
		challenge string
	}{
		{"allowed", "/account/orders?page=2", "good", 200, "", ""},
		{"forbidden", "/account/orders", "forbidden", 403, authForwardDenied, ""},
		{"unauthorized", "/account/orders", "expired", 401, authForwardDenied, `Session realm="shop"`},
		{"redirect to login", "/account/orders", "", 401, authForwardDenied, ""},
		{"service fails", "/account/orders", "boom", 503, authForwardUnavailable, ""},
		{"service too slow", "/account/orders", "slow", 503, authForwardUnavailable, ""},
		{"service down", "/gone/x", "good", 503, authForwardUnavailable, ""},
	}
	want := map[string]float64{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := http.Header{"X-User-Id": {"admin"}, "Authorization": {"Bearer abc"}}
			if tt.cookie != "" {
				hdr["Cookie"] = []string{"session=" + tt.cookie}
			}
			before := legacy.hits.Load()
			resp := send(t, c, "GET", base+tt.path, hdr)
			require.Equal(t, tt.status, resp.StatusCode)
			if tt.status == 200 {
				last, _ := legacy.lastRequest()
				assert.Equal(t, []string{"u-42"}, last.Header["X-User-Id"], "the service's identity, never the client's")
				assert.Empty(t, last.Header.Get("X-Secret"), "only forward.headers are copied")
				r := seen.Load()
				assert.Equal(t, "/session-check", r.URL.Path)
				assert.Equal(t, "GET", r.Header.Get("X-Forwarded-Method"))
				assert.Equal(t, "/account/orders?page=2", r.Header.Get("X-Forwarded-Uri"))
				assert.Equal(t, "127.0.0.1", r.Header.Get("X-Forwarded-For"))
				assert.Equal(t, "Bearer abc", r.Header.Get("Authorization"), "forward.send defaults to Authorization and Cookie")
				assert.Empty(t, r.Header.Get("X-User-Id"), "a client's identity header never reaches the service either")
				return
			}
			want[tt.reason]++
			assert.Equal(t, before, legacy.hits.Load())
			assert.Equal(t, tt.status, problemOf(t, resp).Status)
			assert.Equal(t, tt.challenge, resp.Header.Get("Www-Authenticate"))
		})
	}
	for reason, n := range want {
		route := "account"
		if reason == authForwardUnavailable {
			n--
			assert.Equal(t, 1.0, counterValue(t, f, "strangler_auth_failures_total", "gone", reason))
		}
		assert.Equal(t, n, counterValue(t, f, "strangler_auth_failures_total", route, reason), reason)
	}
	assert.Equal(t, 2.0, counterValue(t, f, "strangler_requests_total", "account", "legacy", "503"))
}

// TestIdentityHeadersStripped: every spelling of an identity header a
// client may send is removed before the check sets it.
func TestIdentityHeadersStripped(t *testing.T) {
	g := &routeGate{identity: []string{wire.FoldHeader("X-User-Id")}}
	h := http.Header{"X-User-Id": {"a"}, "X_user_id": {"b"}, "x-user-id": {"c"}, "X-User-Idx": {"d"}, "Accept": {"e"}}
	g.strip(h)
	var left []string
	for k := range h {
		left = append(left, k)
	}
	assert.ElementsMatch(t, []string{"X-User-Idx", "Accept"}, left)
	assert.Equal(t, "x-user-id", wire.FoldHeader("X_User_Id"))
	assert.False(t, strings.Contains(wire.FoldHeader("A_B"), "_"))
}

// TestLimitKeyedByIdentityHeader: a limit keyed by a header the check sets
// applies after the check, on the identity it set, whatever the client
// sent under that name.
func TestLimitKeyedByIdentityHeader(t *testing.T) {
	auth := newUpstream(t, "auth", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("session")
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-User-Id", c.Value)
	})
	legacy := newUpstream(t, "legacy", nil)
	cfg := projectFile(t, legacy.srv.URL, `
  - name: account
    match: {prefix: /account/}
    target: http://127.0.0.1:1
    rate_limit: {rps: 0.01, burst: 1, key: "header:X-User-Id"}
    auth:
      forward: {url: `+auth.srv.URL+`, headers: [X-User-Id]}
`)
	f, base := startFacade(t, cfg)
	c := newClient(t)
	as := func(user, claimed string) int {
		return send(t, c, "GET", base+"/account/x", http.Header{"Cookie": {"session=" + user}, "X-User-Id": {claimed}}).StatusCode
	}
	assert.Equal(t, 200, as("u1", "a"))
	assert.Equal(t, 429, as("u1", "b"), "a made-up X-User-Id does not buy a new bucket")
	assert.Equal(t, 200, as("u2", "a"), "another identity, another bucket")
	assert.Equal(t, 1.0, counterValue(t, f, "strangler_rate_limited_total", "account"))
}
