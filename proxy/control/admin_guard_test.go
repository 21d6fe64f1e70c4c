package control

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stranglerfig/strangler/internal/buildinfo"
	"github.com/stretchr/testify/require"
)

// guardRequest is one request to the admin API with the headers a browser
// or an attacker would set.
type guardRequest struct {
	method, path, body string
	host               string // Host header; "" keeps the listener's address
	headers            map[string]string
}

func (f *adminFixture) send(t *testing.T, g guardRequest) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), g.method, f.srv.URL+g.path, strings.NewReader(g.body))
	require.NoError(t, err)
	if g.host != "" {
		req.Host = g.host
	}
	for k, v := range g.headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

// TestAdminRefusesBrowserAttacks runs the admin API without a token (as on
// a loopback listener by default) and sends it what a web page opened in
// the operator's browser can send: every one is refused with a problem,
// and the route state does not move.
func TestAdminRefusesBrowserAttacks(t *testing.T) {
	f := newAdminFixture(t, "")
	_, port, err := net.SplitHostPort(strings.TrimPrefix(f.srv.URL, "http://"))
	require.NoError(t, err)
	jsonCT := map[string]string{"Content-Type": "application/json"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name  string
		req   guardRequest
		want  int
		field string
	}{
		{"form post as text/plain from another origin", guardRequest{method: "POST", path: "/rollback", body: `{"all":true}`,
			headers: with("Content-Type", "text/plain", "Origin", "http://evil.example")}, 403, "Origin"},
		{"json from another origin", guardRequest{method: "POST", path: "/rollback", body: `{"all":true}`,
			headers: with("Content-Type", "application/json", "Origin", "http://evil.example")}, 403, "Origin"},
		{"cross-site fetch", guardRequest{method: "POST", path: "/routes/reports", body: `{"mode":"new"}`,
			headers: with("Content-Type", "application/json", "Sec-Fetch-Site", "cross-site")}, 403, "Origin"},
		{"same-site fetch", guardRequest{method: "POST", path: "/routes/reports", body: `{"mode":"new"}`,
			headers: with("Content-Type", "application/json", "Sec-Fetch-Site", "same-site")}, 403, "Origin"},
		{"text/plain without origin", guardRequest{method: "POST", path: "/rollback", body: `{"all":true}`,
			headers: with("Content-Type", "text/plain")}, 415, "Content-Type"},
		{"form encoded", guardRequest{method: "POST", path: "/rollback", body: `all=true`,
			headers: with("Content-Type", "application/x-www-form-urlencoded")}, 415, "Content-Type"},
		{"no content type", guardRequest{method: "POST", path: "/routes/reports", body: `{"mode":"new"}`}, 415, "Content-Type"},
		{"rebound name posts", guardRequest{method: "POST", path: "/rollback", body: `{"all":true}`,
			host: "evil.example:" + port, headers: jsonCT}, 421, "Host"},
		{"rebound name reads routes", guardRequest{method: "GET", path: "/routes", host: "evil.example:" + port}, 421, "Host"},
		{"rebound name reads version", guardRequest{method: "GET", path: "/version", host: "evil.example:" + port}, 421, "Host"},
		{"rebound name without port", guardRequest{method: "GET", path: "/routes", host: "evil.example"}, 421, "Host"},
		{"loopback name, other port", guardRequest{method: "GET", path: "/routes", host: "localhost:1"}, 421, "Host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.send(t, tc.req)
			require.Equal(t, tc.want, resp.StatusCode, string(body))
			require.Equal(t, ProblemContentType, resp.Header.Get("Content-Type"))
			p := decodeProblem(t, body)
			require.Equal(t, tc.want, p.Status)
			require.Len(t, p.Errors, 1, p.Detail)
			require.Equal(t, tc.field, p.Errors[0].Field, p.Detail)
		})
	}
	st, err := f.store.Load(context.Background())
	require.NoError(t, err)
	require.Zero(t, st.Version, "a refused request changed the route state")

	for _, tc := range []struct {
		name string
		req  guardRequest
	}{
		{"the CLI's own request", guardRequest{method: "POST", path: "/routes/reports", body: `{"mode":"new"}`, headers: jsonCT}},
		{"json with charset", guardRequest{method: "POST", path: "/routes/reports", body: `{"mode":"legacy"}`,
			headers: with("Content-Type", "application/json; charset=utf-8")}},
		{"same-origin page", guardRequest{method: "POST", path: "/routes/reports", body: `{"mode":"new"}`,
			headers: with("Content-Type", "application/json", "Origin", f.srv.URL, "Sec-Fetch-Site", "same-origin")}},
		{"localhost name", guardRequest{method: "POST", path: "/routes/reports", body: `{"mode":"legacy"}`,
			host: "localhost:" + port, headers: jsonCT}},
		{"loopback IPv6 literal", guardRequest{method: "GET", path: "/routes", host: "[::1]:" + port}},
		{"upper case, final dot", guardRequest{method: "GET", path: "/routes", host: "LOCALHOST.:" + port}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.send(t, tc.req)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		})
	}
	require.Equal(t, uint64(4), f.ctl.State().Version, "each accepted write moved the route")
}

// TestAdminRefusesNoHost sends an HTTP/1.0 request without a Host header
// over a raw connection.
func TestAdminRefusesNoHost(t *testing.T) {
	f := newAdminFixture(t, "")
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	body := `{"all":true}`
	_, err = io.WriteString(conn, "POST /rollback HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n"+body)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusMisdirectedRequest, resp.StatusCode, string(b))
	require.Contains(t, decodeProblem(t, b).Detail, "no Host header")
	require.Zero(t, f.ctl.State().Version)
}

// TestAdminHostOfListener checks the Host rule against listeners the test
// cannot open: a non-loopback address, and a configured host name.
func TestAdminHostOfListener(t *testing.T) {
	ctl, _ := newController(t, newFileStore(t))
	plain, err := NewAdmin(ctl, Tokens{})
	require.NoError(t, err)
	named, err := NewAdmin(ctl, Tokens{}, WithAdminListen("Admin.Internal:9901"))
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		admin *Admin
		local string // the connection's local address; "" for none
		host  string
		ok    bool
	}{
		{"own address", plain, "10.0.0.5:9901", "10.0.0.5:9901", true},
		{"own address, other port", plain, "10.0.0.5:9901", "10.0.0.5:9902", false},
		{"localhost on a non-loopback listener", plain, "10.0.0.5:9901", "localhost:9901", false},
		{"loopback on a non-loopback listener", plain, "10.0.0.5:9901", "127.0.0.1:9901", false},
		{"another name", plain, "10.0.0.5:9901", "admin.internal:9901", false},
		{"configured name", named, "10.0.0.5:9901", "admin.internal:9901", true},
		{"configured name, any case", named, "10.0.0.5:9901", "ADMIN.internal.:9901", true},
		{"configured name, other port", named, "10.0.0.5:9901", "admin.internal:80", false},
		{"default port", plain, "10.0.0.5:80", "10.0.0.5", true},
		{"IPv6 listener", plain, "[fd00::5]:9901", "[FD00::5]:9901", true},
		{"IPv4-mapped", plain, "[::ffff:10.0.0.5]:9901", "10.0.0.5:9901", true},
		{"no local address, configured name", named, "", "admin.internal:9901", true},
		{"no local address, nothing configured", plain, "", "127.0.0.1:9901", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/routes", nil)
			r.Host = tc.host
			if tc.local != "" {
				addr, err := net.ResolveTCPAddr("tcp", tc.local)
				require.NoError(t, err)
				r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, net.Addr(addr)))
			}
			err := tc.admin.checkHost(r)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
	_, err = NewAdmin(ctl, Tokens{}, WithAdminListen("no-port"))
	require.ErrorContains(t, err, "admin listen address")
}

// TestAdminVersion answers what the API is, without a token.
func TestAdminVersion(t *testing.T) {
	f := newAdminFixture(t, aliceToken)
	resp, body := f.send(t, guardRequest{method: "GET", path: "/version"})
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var v VersionResponse
	require.NoError(t, json.Unmarshal(body, &v))
	require.NoError(t, v.CheckIdentity())
	require.Equal(t, VersionResponse{Service: "strangler-admin", API: 1, Version: buildinfo.Read().String()}, v)
	require.NotEmpty(t, v.Version)

	require.ErrorContains(t, VersionResponse{Service: "legacy"}.CheckIdentity(), `"legacy"`)
	require.ErrorContains(t, VersionResponse{Service: AdminService, API: 2}.CheckIdentity(), "version 2")
}
