package control

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/stranglerfig/strangler/proxy"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

const (
	aliceToken = "tok-alice-0123456789"
	bobToken   = "tok-bob-0123456789"
)

type adminFixture struct {
	srv   *httptest.Server
	ctl   *Controller
	store *FileStore
	admin *Admin
}

func newAdminFixture(t *testing.T, tokens string) *adminFixture {
	t.Helper()
	store := newFileStore(t)
	ctl, _ := newController(t, store)
	ts, err := ParseTokens(tokens)
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "strangler_route_version", Help: "route state version"},
		func() float64 { return float64(ctl.State().Version) })
	reg.MustRegister(g)
	a, err := NewAdmin(ctl, ts, WithAdminLogger(testLogger(t)), WithGatherer(reg))
	require.NoError(t, err)
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return &adminFixture{srv: srv, ctl: ctl, store: store, admin: a}
}

func (f *adminFixture) do(t *testing.T, method, path, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, f.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func TestAdminAuth(t *testing.T) {
	f := newAdminFixture(t, "alice:"+aliceToken+",bob:"+bobToken)
	for _, tc := range []struct {
		name, method, path, token, body string
		want                            int
	}{
		{"list without token", "GET", "/routes", "", "", 401},
		{"list wrong token", "GET", "/routes", "nope", "", 401},
		{"list alice", "GET", "/routes", aliceToken, "", 200},
		{"change without token", "POST", "/routes/reports", "", `{"mode":"new"}`, 401},
		{"change wrong token", "POST", "/routes/reports", bobToken + "x", `{"mode":"new"}`, 401},
		{"rollback without token", "POST", "/rollback", "", `{"all":true}`, 401},
		{"history without token", "GET", "/history", "", "", 401},
		{"metrics without token", "GET", "/metrics", "", "", 401},
		{"healthz open", "GET", "/healthz", "", "", 200},
		{"readyz open, not ready", "GET", "/readyz", "", "", 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.do(t, tc.method, tc.path, tc.token, tc.body)
			require.Equal(t, tc.want, code, string(body))
			if code == 401 {
				p := decodeProblem(t, body)
				require.Equal(t, 401, p.Status)
				require.NotEmpty(t, p.Detail)
			}
		})
	}
	st, err := f.store.Load(context.Background())
	require.NoError(t, err)
	require.Zero(t, st.Version, "refused requests changed the state")
	f.admin.SetReady(true)
	code, _ := f.do(t, "GET", "/readyz", "", "")
	require.Equal(t, 200, code)
}

func TestAdminChangeErrors(t *testing.T) {
	f := newAdminFixture(t, aliceToken)
	for _, tc := range []struct {
		name, path, body string
		want             int
		field            string
	}{
		{"malformed JSON", "/routes/reports", `{"mode":`, 400, ""},
		{"mode missing", "/routes/reports", `{}`, 400, "mode"},
		{"mode wrong type", "/routes/reports", `{"mode": 3}`, 400, "mode"},
		{"bad mode", "/routes/reports", `{"mode": "sideways"}`, 400, "mode"},
		{"percent string", "/routes/reports", `{"mode": "canary", "percent": "10"}`, 400, "percent"},
		{"percent range", "/routes/reports", `{"mode": "canary", "percent": 100.5}`, 400, "percent"},
		{"percent not canary", "/routes/reports", `{"mode": "new", "percent": 5}`, 400, "percent"},
		{"unknown field", "/routes/reports", `{"mode": "new", "persent": 5}`, 400, "persent"},
		{"expect zero", "/routes/reports", `{"mode": "new", "expect_version": 0}`, 400, "expect_version"},
		{"expect negative", "/routes/reports", `{"mode": "new", "expect_version": -1}`, 400, "expect_version"},
		{"trailing data", "/routes/reports", `{"mode": "new"} {}`, 400, ""},
		{"unknown route", "/routes/nope", `{"mode": "new"}`, 404, "name"},
		{"stale version", "/routes/reports", `{"mode": "new", "expect_version": 5}`, 409, "expect_version"},
		{"rollback nothing", "/rollback", `{}`, 400, "routes"},
		{"rollback both", "/rollback", `{"all": true, "routes": ["reports"]}`, 400, "routes"},
		{"rollback unknown", "/rollback", `{"routes": ["reports", "nope"]}`, 404, "name"},
		{"rollback routes not array", "/rollback", `{"routes": "reports"}`, 400, "routes"},
		{"rollback stale", "/rollback", `{"all": true, "expect_version": 3}`, 409, "expect_version"},
		{"too large", "/routes/reports", `{"mode": "new", "reason": "` + strings.Repeat("x", MaxAdminBody) + `"}`, 413, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.do(t, "POST", tc.path, aliceToken, tc.body)
			require.Equal(t, tc.want, code, string(body))
			p := decodeProblem(t, body)
			require.Equal(t, tc.want, p.Status)
			require.NotEmpty(t, p.Detail)
			field := ""
			if len(p.Errors) > 0 {
				field = p.Errors[0].Field
			}
			require.Equal(t, tc.field, field, p.Detail)
		})
	}
	st, err := f.store.Load(context.Background())
	require.NoError(t, err)
	require.Zero(t, st.Version, "refused changes changed the state")
}

func TestAdminChangeListHistoryMetrics(t *testing.T) {
	f := newAdminFixture(t, "alice:"+aliceToken+",bob:"+bobToken)
	code, body := f.do(t, "POST", "/routes/orders-read", aliceToken, `{"mode": "canary", "percent": 55, "reason": "step up", "expect_version": 0}`)
	require.Equal(t, 400, code, "expect_version 0 is refused: %s", body)

	code, body = f.do(t, "POST", "/routes/orders-read", aliceToken, `{"mode": "canary", "percent": 55, "reason": "step up"}`)
	require.Equal(t, 200, code, string(body))
	var rr RoutesResponse
	require.NoError(t, json.Unmarshal(body, &rr))
	require.Equal(t, uint64(1), rr.Version)
	require.Equal(t, 1, *rr.Changed)
	got := rr.Routes[0]
	require.Equal(t, proxy.RouteInfo{Name: "orders-read", Mode: "canary", Percent: 55, Target: "http://127.0.0.1:9", Breaker: "closed", Version: 1, Fallback: got.Fallback}, got.RouteInfo)
	require.Equal(t, SourceOverride, got.Source)
	require.NotNil(t, got.Override)
	require.Equal(t, "alice", got.Override.Who)
	require.Equal(t, "step up", got.Override.Reason)
	require.Equal(t, uint64(1), got.Override.Version)
	for _, r := range rr.Routes[1:] {
		require.Equal(t, SourceFile, r.Source, r.Name)
		require.Nil(t, r.Override, r.Name)
	}

	code, body = f.do(t, "POST", "/rollback", bobToken, `{"all": true, "reason": "incident", "expect_version": 1}`)
	require.Equal(t, 200, code, string(body))
	require.NoError(t, json.Unmarshal(body, &rr))
	require.Equal(t, uint64(2), rr.Version)
	require.Equal(t, 2, *rr.Changed, "orders-read and customers move; reports already legacy")

	code, body = f.do(t, "GET", "/routes", aliceToken, "")
	require.Equal(t, 200, code)
	rr = RoutesResponse{}
	require.NoError(t, json.Unmarshal(body, &rr))
	require.Nil(t, rr.Changed)
	for _, r := range rr.Routes {
		require.Equal(t, "legacy", r.Mode, r.Name)
	}

	code, body = f.do(t, "GET", "/history", aliceToken, "")
	require.Equal(t, 200, code)
	var hr HistoryResponse
	require.NoError(t, json.Unmarshal(body, &hr))
	require.Len(t, hr.History, 3)
	require.Equal(t, "alice", hr.History[0].Who)
	require.Equal(t, "step up", hr.History[0].Reason)
	require.Equal(t, proxy.RouteState{Mode: "canary", Percent: 30}, hr.History[0].From)
	require.Equal(t, "bob", hr.History[1].Who)
	require.Equal(t, "incident", hr.History[2].Reason)

	code, body = f.do(t, "GET", "/metrics", aliceToken, "")
	require.Equal(t, 200, code)
	require.Contains(t, string(body), "strangler_route_version 2")
	require.False(t, bytes.Contains(body, []byte(aliceToken)))
}

func TestAdminWithoutTokens(t *testing.T) {
	f := newAdminFixture(t, "")
	code, body := f.do(t, "POST", "/routes/reports", "", `{"mode": "new"}`)
	require.Equal(t, 200, code, string(body))
	h, err := f.ctl.History(context.Background())
	require.NoError(t, err)
	require.Equal(t, "anonymous", h[0].Who)
}

func TestAdminWrongMethod(t *testing.T) {
	f := newAdminFixture(t, aliceToken)
	code, body := f.do(t, "DELETE", "/routes/reports", aliceToken, "")
	require.Equal(t, http.StatusMethodNotAllowed, code)
	require.Equal(t, http.StatusMethodNotAllowed, decodeProblem(t, body).Status)
	code, body = f.do(t, "GET", "/nothing-here", aliceToken, "")
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, decodeProblem(t, body).Detail, "/nothing-here")
}

// decodeProblem decodes a problem body, strictly.
func decodeProblem(t *testing.T, body []byte) Problem {
	t.Helper()
	var p Problem
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&p), string(body))
	require.Equal(t, "about:blank", p.Type)
	require.NotEmpty(t, p.Title)
	return p
}
