package control_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/proxy"
	"github.com/stranglerfig/strangler/proxy/control"
	"github.com/stranglerfig/strangler/shadow"
	"github.com/stranglerfig/strangler/shadow/store"
)

// screenshot names a file to save a full-page PNG of the routes page to:
//
//	go test ./proxy/control -run TestDashboardBrowser -args -screenshot "$PWD/docs/dashboard.png"
var screenshot = flag.String("screenshot", "", "TestDashboardBrowser: save a PNG of the dashboard's routes page to this file")

const browserToken = "dashboard-test-token-0123456789"

// dashboardProject is the project file of the browser test: one route of
// each mode, one with a rollout plan; legacy and the new service differ
// on orders-read.
const dashboardProject = `
listen: 127.0.0.1:0
legacy: %[1]s
routes:
  - name: orders-read
    match: {path: /api/orders/{id}, methods: [GET]}
    target: %[2]s
    mode: shadow
  - name: customers
    match: {path: /api/customers/{id}, methods: [GET]}
    target: %[2]s
    mode: shadow
    rollout:
      stages: [shadow, 10, 50, new]
      window: 1m
      gates: {match_rate: 99, error_rate: 1, p99_ratio: 1.5, min_requests: 50}
  - name: product-search
    match: {path: /api/products}
    target: %[2]s
    mode: canary
    percent: 25
  - name: invoices
    match: {path: /api/invoices/{id}}
    target: %[2]s
    mode: new
  - name: reports
    match: {path: /api/reports}
    target: %[2]s
`

// dashboardRig is a facade with its shadow engine, route controller,
// rollout controller and feed, and the admin API on a real listener.
type dashboardRig struct {
	admin   string // the admin API's base URL
	target  string
	facade  *httptest.Server
	engine  *shadow.Engine
	mu      sync.Mutex
	reached []string // every request URI the admin API received
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func jsonHandler(body func(r *http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body(r))
	})
}

func startDashboardRig(t *testing.T) *dashboardRig {
	t.Helper()
	legacy := httptest.NewServer(jsonHandler(func(r *http.Request) string {
		if strings.HasPrefix(r.URL.Path, "/api/orders/") {
			return `{"id": 1, "status": "paid", "total": 10.5, "currency": "EUR", "note": "<img src=x onerror=\"window.pwned=1\">", "items": [{"sku": "A-1", "qty": 2, "price": "5.25"}]}`
		}
		return `{"id": 7, "name": "Ada", "ok": true}`
	}))
	t.Cleanup(legacy.Close)
	target := httptest.NewServer(jsonHandler(func(r *http.Request) string {
		if strings.HasPrefix(r.URL.Path, "/api/orders/") {
			return `{"id": 1, "status": "paid", "total": 10.75, "currency": "EUR", "note": "<img src=x onerror=\"window.pwned=1\">", "items": [{"sku": "A-1", "qty": 2, "price": "5.25"}]}`
		}
		return `{"id": 7, "name": "Ada", "ok": true}`
	}))
	t.Cleanup(target.Close)

	cfg, err := config.Parse("strangler.yaml", fmt.Appendf(nil, dashboardProject, legacy.URL, target.URL), nil)
	require.NoError(t, err)
	st, err := store.OpenFile(t.TempDir(), store.Retention{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	engine, err := shadow.New(cfg, st, shadow.WithLogger(quietLogger()))
	require.NoError(t, err)
	facade, err := proxy.New(cfg, proxy.WithLogger(quietLogger()), proxy.WithShadower(engine))
	require.NoError(t, err)
	engine.SetReplayer(facade)
	front := httptest.NewServer(facade)
	t.Cleanup(func() {
		front.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, engine.Close(ctx))
		require.NoError(t, facade.Close())
	})

	routes, err := control.NewFileStore(t.TempDir()+"/routes.state.json", control.WithFileLogger(quietLogger()))
	require.NoError(t, err)
	t.Cleanup(func() { routes.Close() })
	ctl, err := control.NewController(cfg, routes, facade, control.WithControllerLogger(quietLogger()))
	require.NoError(t, err)
	require.NoError(t, ctl.Load(context.Background()))
	signals := control.Signals{Traffic: facade, Shadow: shadowWindows{engine}}
	ro, err := control.NewRollout(cfg, ctl, signals, control.WithRolloutLogger(quietLogger()), control.WithRolloutTick(100*time.Millisecond))
	require.NoError(t, err)
	feed, err := control.NewFeed(ctl, signals, ro, 30*time.Second)
	require.NoError(t, err)
	tokens, err := control.ParseTokens("ops:" + browserToken)
	require.NoError(t, err)
	catalog, err := control.NewCatalog(
		[]control.CatalogService{{Name: "orders", Owner: "team-orders", Tables: []string{"orders", "order_items"}}},
		[]control.CatalogRouteSpec{{Name: "orders-read", Service: "orders", Path: "/api/orders/{id}", Methods: []string{"GET"}}})
	require.NoError(t, err)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	admin, err := control.NewAdmin(ctl, tokens, control.WithAdminLogger(quietLogger()),
		control.WithAdminListen(ln.Addr().String()), control.WithFeed(feed), control.WithRollout(ro),
		control.WithMount("/shadow/", engine.Handler()), control.WithCatalog(catalog, facade))
	require.NoError(t, err)
	admin.SetReady(true)
	rig := &dashboardRig{target: target.URL, facade: front, engine: engine}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rig.mu.Lock()
		rig.reached = append(rig.reached, r.RequestURI)
		rig.mu.Unlock()
		admin.ServeHTTP(w, r)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	rig.admin = srv.URL

	// Traffic through the facade, so that the figures and the shadow
	// records exist, then one judgement of the rollout gates.
	for i := range 60 {
		for _, p := range []string{"/api/orders/1", "/api/customers/7", "/api/products?q=tea", "/api/invoices/3", "/api/reports"} {
			if p == "/api/reports" && i%3 != 0 {
				continue
			}
			resp, err := http.Get(front.URL + p)
			require.NoError(t, err)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	require.Eventually(t, func() bool {
		reps, err := engine.Report(context.Background(), "orders-read", store.ReportOptions{})
		return err == nil && len(reps) == 1 && reps[0].Differed > 0 && len(reps[0].Paths) > 0 && len(reps[0].Paths[0].Examples) > 0
	}, 10*time.Second, 20*time.Millisecond, "the shadow engine stored no differing record of orders-read")
	// The rollout controller judges its gates as it runs; customers' stage
	// lasts a minute, longer than the test.
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ro.Run(rctx) }()
	t.Cleanup(func() { stop(); require.ErrorIs(t, <-done, context.Canceled) })
	require.NoError(t, ro.Step(context.Background()))
	return rig
}

// shadowWindows gives the rollout controller and the feed the engine's
// comparisons, as `strangler proxy` does.
type shadowWindows struct{ e *shadow.Engine }

func (s shadowWindows) Comparisons(route string, span time.Duration) control.ShadowCounts {
	c := s.e.Window(route, span)
	return control.ShadowCounts{Compared: c.Compared, Matched: c.Matched, Diffs: c.Diffs, Errors: c.Errors, Dropped: c.Dropped}
}

// call asks the admin API as the CLI would, with the token.
func (r *dashboardRig) call(t *testing.T, path string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.admin+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+browserToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, path)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
}

// chromium finds Debian's chromium. A missing browser fails the test:
// install it with `apt-get install chromium`.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("the dashboard's browser test needs Debian's chromium: apt-get install chromium")
	return ""
}

// page is a headless chromium's tab, with what it requested and what went
// wrong in it.
type page struct {
	ctx      context.Context
	mu       sync.Mutex
	urls     []string // every URL the page requested
	problems []string // uncaught exceptions, and console errors other than failed requests
}

func (p *page) requested() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.urls...)
}

func (p *page) errors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.problems...)
}

// browser starts a headless chromium of 1366x768 and records every URL it
// requests, every exception and every console error of its page (a
// Content-Security-Policy violation among them).
func browser(t *testing.T) *page {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)), chromedp.NoSandbox, chromedp.Flag("headless", true),
		chromedp.DisableGPU, chromedp.WindowSize(1366, 768))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	require.NoError(t, chromedp.Do(ctx), "starting chromium")
	p := &page{ctx: ctx}
	reqs := chromedp.Events(ctx, network.RequestWillBeSent)
	go func() {
		for ev, err := range reqs {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.urls = append(p.urls, ev.Request.URL+ev.Request.URLFragment)
			p.mu.Unlock()
		}
	}()
	thrown := chromedp.Events(ctx, cdpruntime.ExceptionThrown)
	go func() {
		for ev, err := range thrown {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil {
				text += " " + d.Exception.Description
			}
			p.mu.Lock()
			p.problems = append(p.problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
			p.mu.Unlock()
		}
	}()
	logged := chromedp.Events(ctx, cdplog.EntryAdded)
	go func() {
		for ev, err := range logged {
			if err != nil {
				return
			}
			e := ev.Entry
			// A refused request (the wrong token's 401, GET /sync/status's
			// 404) is logged by the browser: expected.
			if e.Level == cdplog.EntryLevelError && e.Source != cdplog.EntrySourceNetwork {
				p.mu.Lock()
				p.problems = append(p.problems, fmt.Sprintf("console %s: %s", e.Source, e.Text))
				p.mu.Unlock()
			}
		}
	}()
	_, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{})
	require.NoError(t, err)
	return p
}

// do runs browser steps under a deadline, naming the step that failed.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(sctx, steps...), what)
}

func eval[T any](t *testing.T, ctx context.Context, what, js string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](js))
	require.NoError(t, err, what)
	return v
}

// waitJS polls a JavaScript predicate until it is true.
func waitJS(t *testing.T, ctx context.Context, what, js string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := chromedp.Run(sctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(25*time.Millisecond)))
	require.NoError(t, err, "waiting until %s", what)
}

// TestDashboardBrowser drives the dashboard in headless chromium: a wrong
// token is refused, the right one shows the routes, a route page shows a
// stored diff, and a rollback through the dialog reaches the table and
// the admin API. The token never appears in a URL. It takes a few seconds,
// so -short runs it too: a missing chromium fails it.
func TestDashboardBrowser(t *testing.T) {
	start := time.Now()
	rig := startDashboardRig(t)
	pg := browser(t)
	ctx := pg.ctx

	do(t, ctx, "opening the dashboard", chromedp.Navigate(rig.admin+"/"), chromedp.WaitVisible(chromedp.ID("login-token")))

	// A wrong token is refused and nothing is stored.
	do(t, ctx, "logging in with a wrong token",
		chromedp.SendKeys(chromedp.ID("login-token"), "not-the-token-0123456789"),
		chromedp.Click(chromedp.ID("login-submit")))
	waitJS(t, ctx, "the login form says the token is wrong", `document.getElementById('login-error').textContent.includes('wrong token')`)
	require.Equal(t, 0, eval[int](t, ctx, "sessionStorage", `sessionStorage.length`), "a refused token is not stored")
	require.True(t, eval[bool](t, ctx, "the login form", `!document.getElementById('login').hidden && document.getElementById('nav').hidden`))

	// The right token: the routes table lists every route with its mode.
	do(t, ctx, "logging in",
		chromedp.Clear(chromedp.ID("login-token")),
		chromedp.SendKeys(chromedp.ID("login-token"), browserToken),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#routes-table tr[data-route="orders-read"]`)))
	waitJS(t, ctx, "the live feed shows orders-read's traffic and the rollout",
		`document.getElementById('conn-state').textContent === 'live' &&
		 document.querySelector('#routes-table tr[data-route="orders-read"] td:nth-child(3)').textContent !== '—no requests' &&
		 document.querySelector('#routes-table tr[data-route="customers"] ul.gates') !== null`)
	modes := eval[map[string]string](t, ctx, "the modes of the routes table", `Object.fromEntries([...document.querySelectorAll('#routes-table tbody tr')].map(
		(tr) => [tr.dataset.route, tr.querySelector('[data-mode]').textContent]))`)
	require.Equal(t, map[string]string{"orders-read": "shadow", "customers": "shadow", "product-search": "canary", "invoices": "new", "reports": "legacy"}, modes)
	require.Equal(t, browserToken, eval[string](t, ctx, "sessionStorage", `sessionStorage.getItem('strangler.admin.token')`))
	require.Equal(t, 0, eval[int](t, ctx, "localStorage", `localStorage.length`), "the token is never kept in localStorage")
	require.Equal(t, "", eval[string](t, ctx, "cookies", `document.cookie`), "the token is never kept in a cookie")
	require.True(t, eval[bool](t, ctx, "the rollout buttons", `!document.querySelector('button[data-action="pause"][data-route="customers"]').hidden &&
		document.querySelector('button[data-action="pause"][data-route="orders-read"]').hidden`), "pause is offered for the route with a rollout only")

	if *screenshot != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(*screenshot, png, 0o644))
		t.Logf("saved the routes page to %s", *screenshot)
	}

	// The route page: its shadow report, then a stored record in the diff
	// viewer, its differing values highlighted on both sides.
	do(t, ctx, "opening the route page",
		chromedp.Click(chromedp.CSS(`#routes-table a[href="#/route/orders-read"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#top-paths a[data-record]`)))
	require.Contains(t, eval[string](t, ctx, "the top differing paths", `document.getElementById('top-paths').textContent`), "$.total")
	do(t, ctx, "opening a stored record",
		chromedp.Click(chromedp.CSS(`#top-paths a[data-record]`)),
		chromedp.WaitVisible(chromedp.CSS(`#diff-new pre.body mark`)))
	marked := eval[map[string][]string](t, ctx, "the highlighted lines", `Object.fromEntries(['legacy', 'new'].map((s) =>
		[s, [...document.querySelectorAll('#diff-' + s + ' pre.body mark')].map((m) => m.textContent)]))`)
	require.Equal(t, []string{`differs:   "total": 10.5,`}, marked["legacy"])
	require.Equal(t, []string{`differs:   "total": 10.75,`}, marked["new"])
	require.True(t, eval[bool](t, ctx, "the monolith's markup", `document.querySelector('#view img') === null && window.pwned === undefined &&
		document.querySelector('#diff-legacy pre.body').textContent.includes('<img src=x onerror=')`), "a body is shown as text, never as markup")
	require.Contains(t, eval[string](t, ctx, "the list of differences", `document.getElementById('diff-list').textContent`), "$.total")
	do(t, ctx, "copying the request as curl", chromedp.Click(chromedp.ID("copy-curl")))
	curl := eval[string](t, ctx, "the curl commands", `document.getElementById('curl-text').textContent`)
	require.Contains(t, curl, `curl -sS -i -X 'GET' `)
	require.Contains(t, curl, `"${LEGACY:?set LEGACY to the legacy URL}"'/api/orders/1'`)
	require.Contains(t, curl, "'"+rig.target+"/api/orders/1'")

	// The keyboard: Enter on "Roll back all" opens the dialog on the reason
	// field; Escape closes it, changes nothing and gives the focus back.
	do(t, ctx, "back to the routes", chromedp.Click(chromedp.CSS(`#nav a[data-page="routes"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-action="rollback"][data-route="orders-read"]`)),
		chromedp.Focus(chromedp.ID("rollback-all")), chromedp.KeyEvent("\r"))
	waitJS(t, ctx, "the dialog is open on the reason", `document.getElementById('confirm').open && document.activeElement.id === 'confirm-reason'`)
	do(t, ctx, "Escape", chromedp.KeyEvent(kb.Escape))
	waitJS(t, ctx, "the dialog is closed, the focus back", `!document.getElementById('confirm').open && document.activeElement.id === 'rollback-all'`)

	// Roll orders-read back with its button: a reason, a confirmation.
	const reason = "browser test: totals differ"
	do(t, ctx, "rolling orders-read back",
		chromedp.Click(chromedp.CSS(`button[data-action="rollback"][data-route="orders-read"]`)),
		chromedp.WaitVisible(chromedp.ID("confirm-reason")),
		chromedp.Click(chromedp.ID("confirm-ok")))
	waitJS(t, ctx, "an empty reason is refused", `document.getElementById('confirm-error').textContent.includes('reason')`)
	do(t, ctx, "giving a reason", chromedp.SendKeys(chromedp.ID("confirm-reason"), reason), chromedp.Click(chromedp.ID("confirm-ok")))
	waitJS(t, ctx, "the table shows orders-read on legacy",
		`document.querySelector('#routes-table tr[data-route="orders-read"] [data-mode]').textContent === 'legacy' && !document.getElementById('confirm').open`)
	require.Contains(t, eval[string](t, ctx, "the notice", `document.getElementById('notice').textContent`), "Rolled back orders-read to legacy")

	var routes control.RoutesResponse
	rig.call(t, "/routes", &routes)
	for _, r := range routes.Routes {
		if r.Name == "orders-read" {
			require.Equal(t, "legacy", r.Mode)
			require.Equal(t, control.SourceOverride, r.Source)
		}
	}
	var hist control.HistoryResponse
	rig.call(t, "/history", &hist)
	require.NotEmpty(t, hist.History)
	last := hist.History[len(hist.History)-1]
	require.Equal(t, "orders-read", last.Route)
	require.Equal(t, "legacy", last.To.Mode)
	require.Equal(t, reason, last.Reason)
	require.Equal(t, "ops", last.Who)

	// Pause the rollout of customers (a reason is optional): Resume takes
	// the place of Pause.
	do(t, ctx, "pausing customers' rollout",
		chromedp.Click(chromedp.CSS(`button[data-action="pause"][data-route="customers"]`)),
		chromedp.WaitVisible(chromedp.ID("confirm-reason")),
		chromedp.Click(chromedp.ID("confirm-ok")),
		chromedp.WaitVisible(chromedp.CSS(`button[data-action="resume"][data-route="customers"]`)))
	require.Contains(t, eval[string](t, ctx, "the notice", `document.getElementById('notice').textContent`), "Paused the rollout of customers")
	require.Contains(t, eval[string](t, ctx, "customers' rollout", `document.querySelector('#routes-table tr[data-route="customers"]').textContent`), "paused")

	// The route page's history shows the rollback, newest first.
	do(t, ctx, "the route page's history", chromedp.Click(chromedp.CSS(`#routes-table a[href="#/route/orders-read"]`)))
	waitJS(t, ctx, "the history lists the rollback", `(document.getElementById('history-h')?.nextElementSibling?.textContent || '').includes('browser test: totals differ')`)

	// The sync and catalog pages.
	do(t, ctx, "the sync page", chromedp.Click(chromedp.CSS(`#nav a[data-page="sync"]`)))
	waitJS(t, ctx, "the sync page says no pipeline is reported", `document.getElementById('view').textContent.includes('No sync pipelines are reported by this facade')`)
	do(t, ctx, "the catalog page", chromedp.Click(chromedp.CSS(`#nav a[data-page="catalog"]`)))
	waitJS(t, ctx, "the catalog lists the orders service", `document.getElementById('view').textContent.includes('Service orders') &&
		document.getElementById('view').textContent.includes('team-orders')`)

	// Log out: the token is gone from the tab.
	do(t, ctx, "logging out", chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("login-token")))
	require.Equal(t, 0, eval[int](t, ctx, "sessionStorage after logout", `sessionStorage.length`))

	// The token was never part of a URL, in the browser or at the server.
	require.Empty(t, pg.errors(), "the page had errors")
	urls := pg.requested()
	require.NotEmpty(t, urls)
	for _, u := range append(urls, eval[string](t, ctx, "location", `location.href`)) {
		require.NotContains(t, u, browserToken, "the token appeared in a URL")
	}
	rig.mu.Lock()
	reached := append([]string(nil), rig.reached...)
	rig.mu.Unlock()
	require.Contains(t, reached, "/events")
	for _, u := range reached {
		require.NotContains(t, u, browserToken, "the token appeared in a URL")
	}
	t.Logf("browser test took %v", time.Since(start).Round(time.Millisecond))
}
