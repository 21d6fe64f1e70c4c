package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stranglerfig/strangler/proxy"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stranglerfig/strangler/internal/buildinfo"
	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/wire"
)

// Controls is what the admin API drives; *Controller implements it.
type Controls interface {
	Change(ctx context.Context, ch Change) (Result, error)
	State() proxy.State
	Routes(ctx context.Context) ([]RouteView, error)
	History(ctx context.Context) ([]HistoryEntry, error)
}

var _ Controls = (*Controller)(nil)

// Admin is the admin API's http.Handler: bearer-token authentication, the
// route endpoints, the audit log, metrics and health.
//
//	GET  /routes            list routes
//	POST /routes/{name}     {"mode", "percent", "reason", "expect_version"}
//	POST /rollback          {"routes": [...] | "all": true, "reason", "expect_version"}
//	POST /reset             {"routes": [...] | "all": true, "reason", "expect_version"}: drop overrides
//	GET  /version           who answers (no token needed)
//	GET  /history           the audit log, oldest first
//	GET  /stats?window=1m   each route's traffic per backend, breaker and comparisons (WithFeed)
//	GET  /rollout           the rollout controller's stages and gates (WithRollout)
//	GET  /catalog           services, owners, routes, tables and SLO standing (WithCatalog)
//	POST /routes/{name}/pause, /resume, /promote   {"reason"}: steer the rollout controller
//	GET  /metrics           Prometheus metrics
//	GET  /healthz, /readyz  liveness and readiness (no token needed)
//	GET  /version           what answers: service, API and build version (no token needed)
//	GET  /events            the dashboard's live snapshots, server-sent events (WithFeed)
//	GET  /, /ui/{file}      the dashboard's page and files (no token needed: they hold no data)
//
// Every request must name the listener in its Host (DNS rebinding), a
// write must come from no other origin (http.CrossOriginProtection) and
// carry application/json. Every refusal is an application/problem+json
// Problem.
type Admin struct {
	ctl     Controls
	tokens  Tokens
	metrics http.Handler
	log     *slog.Logger
	ready   atomic.Bool
	mux     *http.ServeMux
	origins *http.CrossOriginProtection

	mounts  []mount  // see WithMount
	feed    *Feed    // see WithFeed
	rollout *Rollout // see WithRollout

	catalog func() CatalogResponse // see WithCatalog; nil: no GET /catalog

	// listenHost and listenPort are the configured listen address (see
	// WithAdminListen): its host is accepted in Host besides the
	// connection's own address.
	listenHost, listenPort string
}

// AdminOption configures an Admin.
type AdminOption func(*Admin) error

// WithAdminLogger sets the admin API's logger. Default slog.Default().
func WithAdminLogger(l *slog.Logger) AdminOption {
	return func(a *Admin) error {
		if l == nil {
			return errors.New("admin logger: nil")
		}
		a.log = l
		return nil
	}
}

// WithAdminListen names the address the admin API is configured to listen
// on (admin.listen). A host name there ("admin.internal:9901") is accepted
// in the Host header of requests besides the address they arrive on.
// Default: none, only the connection's own address (and on a loopback
// listener localhost and the loopback addresses) with its port.
func WithAdminListen(addr string) AdminOption {
	return func(a *Admin) error {
		h, p, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("admin listen address %q: %w", addr, err)
		}
		a.listenHost, a.listenPort = splitHost(net.JoinHostPort(h, p))
		return nil
	}
}

type mount struct {
	prefix string
	h      http.Handler
}

// WithMount serves h under prefix (a path ending in '/', such as
// "/shadow/") behind the admin API's own checks: the bearer token, the Host
// and origin checks, and application/json for every method but GET and
// HEAD. h answers refusals with wire.WriteProblem.
func WithMount(prefix string, h http.Handler) AdminOption {
	return func(a *Admin) error {
		if h == nil || !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") || prefix == "/" {
			return fmt.Errorf("admin mount %q: want a handler and a path such as /shadow/", prefix)
		}
		a.mounts = append(a.mounts, mount{prefix, h})
		return nil
	}
}

// WithGatherer serves g at /metrics. Default: /metrics answers 404.
func WithGatherer(g prometheus.Gatherer) AdminOption {
	return func(a *Admin) error {
		if g == nil {
			return errors.New("admin metrics gatherer: nil")
		}
		a.metrics = promhttp.HandlerFor(g, promhttp.HandlerOpts{})
		return nil
	}
}

// NewAdmin returns the admin API over ctl. With no tokens every request is
// let through (callers must only do that on a loopback listener; see
// CheckAdminListen).
func NewAdmin(ctl Controls, tokens Tokens, opts ...AdminOption) (*Admin, error) {
	if ctl == nil {
		return nil, errors.New("new admin API: controls are required")
	}
	a := &Admin{ctl: ctl, tokens: tokens, log: slog.Default(), mux: http.NewServeMux(), origins: http.NewCrossOriginProtection()}
	for _, o := range opts {
		if err := o(a); err != nil {
			return nil, fmt.Errorf("new admin API: %w", err)
		}
	}
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	a.mux.HandleFunc("GET /readyz", a.readyz)
	a.mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, VersionResponse{Service: AdminService, API: AdminAPIVersion, Version: buildinfo.Read().String()})
	})
	a.mux.HandleFunc("/", a.notFound)
	a.mux.Handle("GET /routes", a.auth(a.listRoutes))
	a.mux.Handle("POST /routes/{name}", a.auth(jsonBody(a.change(func(r *http.Request, b []byte) (Change, error) {
		return DecodeRouteChange(r.PathValue("name"), b)
	}))))
	a.mux.Handle("POST /rollback", a.auth(jsonBody(a.change(func(_ *http.Request, b []byte) (Change, error) { return DecodeRollback(b) }))))
	a.mux.Handle("POST /reset", a.auth(jsonBody(a.change(func(_ *http.Request, b []byte) (Change, error) { return DecodeReset(b) }))))
	a.mux.Handle("GET /history", a.auth(a.history))
	if a.catalog != nil {
		a.mux.Handle("GET /catalog", a.auth(a.catalogHandler))
	}
	a.routeRollout()
	a.routeEvents()    // GET /events (events.go), with a feed
	a.routeDashboard() // GET / and /ui/{file} (dashboard.go)
	for _, m := range a.mounts {
		h := m.h
		write := jsonBody(func(w http.ResponseWriter, r *http.Request, _ string) { h.ServeHTTP(w, r) })
		a.mux.Handle(m.prefix, a.auth(func(w http.ResponseWriter, r *http.Request, who string) {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				h.ServeHTTP(w, r)
				return
			}
			write(w, r, who)
		}))
	}
	a.mux.Handle("GET /metrics", a.auth(func(w http.ResponseWriter, r *http.Request, _ string) {
		if a.metrics == nil {
			writeProblem(w, r, http.StatusNotFound, &FieldError{Msg: "no metrics registry"})
			return
		}
		a.metrics.ServeHTTP(w, r)
	}))
	return a, nil
}

// CheckAdminListen refuses to serve the admin API on a non-loopback
// address without a token.
func CheckAdminListen(addr string, tokens Tokens) error {
	if tokens.Empty() && !config.IsLoopback(addr) {
		return fmt.Errorf("admin API on %s: a non-loopback listener needs a token (set the admin token variable)", addr)
	}
	return nil
}

// SetReady marks the process ready (state loaded, listeners up) or not.
func (a *Admin) SetReady(ok bool) { a.ready.Store(ok) }

// ServeHTTP serves the admin API.
func (a *Admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !a.guard(w, r) {
		return
	}
	a.mux.ServeHTTP(w, r)
}

func (a *Admin) readyz(w http.ResponseWriter, _ *http.Request) {
	if !a.ready.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "version": fmt.Sprint(a.ctl.State().Version)})
}

// auth checks the bearer token and passes who (the token's name) on.
func (a *Admin) auth(h func(http.ResponseWriter, *http.Request, string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.tokens.Empty() {
			h(w, r, "anonymous")
			return
		}
		tok, err := bearer(r)
		who, ok := "", false
		if err == nil {
			who, ok = a.tokens.Match(tok)
		}
		if !ok {
			a.log.Warn("admin API request refused: bad or missing token", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="strangler"`)
			writeProblem(w, r, http.StatusUnauthorized, &FieldError{Msg: "missing or wrong bearer token"})
			return
		}
		h(w, r, who)
	})
}

func (a *Admin) routesResponse(ctx context.Context, version uint64) (RoutesResponse, error) {
	routes, err := a.ctl.Routes(ctx)
	return RoutesResponse{Version: version, Routes: routes}, err
}

func (a *Admin) listRoutes(w http.ResponseWriter, r *http.Request, _ string) {
	resp, err := a.routesResponse(r.Context(), a.ctl.State().Version)
	if err != nil {
		a.log.Error("admin API: listing routes", "err", err)
		writeProblem(w, r, http.StatusInternalServerError, &FieldError{Msg: "reading the route history failed"})
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (a *Admin) history(w http.ResponseWriter, r *http.Request, _ string) {
	h, err := a.ctl.History(r.Context())
	if err != nil {
		a.log.Error("admin API: reading history", "err", err)
		writeProblem(w, r, http.StatusInternalServerError, &FieldError{Msg: "reading the route history failed"})
		return
	}
	if h == nil {
		h = []HistoryEntry{}
	}
	writeJSON(w, http.StatusOK, HistoryResponse{History: h})
}

// change is the handler of a write endpoint: its body decoded into a
// Change by decode, then applied.
func (a *Admin) change(decode func(r *http.Request, body []byte) (Change, error)) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, who string) {
		body, ok := a.readBody(w, r)
		if !ok {
			return
		}
		ch, err := decode(r, body)
		a.apply(w, r, ch, who, err)
	}
}

// readBody reads at most MaxAdminBody bytes of a JSON body.
func (a *Admin) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxAdminBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeProblem(w, r, http.StatusRequestEntityTooLarge, &FieldError{Msg: fmt.Sprintf("body is larger than %d bytes", MaxAdminBody)})
		return nil, false
	case err != nil:
		writeProblem(w, r, http.StatusBadRequest, &FieldError{Msg: "reading the body failed"})
		return nil, false
	}
	return body, true
}

// apply runs a decoded change and answers with its outcome.
func (a *Admin) apply(w http.ResponseWriter, r *http.Request, ch Change, who string, decodeErr error) {
	if decodeErr != nil {
		a.refuse(w, r, decodeErr)
		return
	}
	ch.Who = who
	// A client that hangs up does not abort a change halfway through.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	defer cancel()
	res, err := a.ctl.Change(ctx, ch)
	a.answerChange(w, r, ctx, res, err)
}

// answerChange answers a change with the routes after it, or its refusal.
func (a *Admin) answerChange(w http.ResponseWriter, r *http.Request, ctx context.Context, res Result, err error) {
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	resp, err := a.routesResponse(ctx, res.Version)
	if err != nil {
		a.log.Error("admin API: listing routes after a change", "version", res.Version, "err", err)
		writeProblem(w, r, http.StatusInternalServerError, &FieldError{Msg: fmt.Sprintf("the change was stored (version %d), but reading the route history failed", res.Version)})
		return
	}
	n := len(res.Changed)
	resp.Changed = &n
	writeJSON(w, http.StatusOK, resp)
}

// refuse maps a change error to its status: 400 bad input or a route
// without a rollout plan, 404 unknown route, 409 stale version or a
// promotion past the last stage, else 500 (logged, not echoed).
func (a *Admin) refuse(w http.ResponseWriter, r *http.Request, err error) {
	var (
		fe *FieldError
		ue *UnknownRouteError
	)
	switch {
	case errors.As(err, &fe):
		writeProblem(w, r, http.StatusBadRequest, fe)
	case errors.As(err, &ue):
		writeProblem(w, r, http.StatusNotFound, &FieldError{Field: "name", Msg: ue.Error()})
	case errors.Is(err, ErrVersionMismatch):
		writeProblem(w, r, http.StatusConflict, &FieldError{Field: "expect_version", Msg: err.Error()})
	case errors.Is(err, ErrNoRollout):
		writeProblem(w, r, http.StatusBadRequest, &FieldError{Field: "name", Msg: err.Error()})
	case errors.Is(err, ErrLastStage):
		writeProblem(w, r, http.StatusConflict, &FieldError{Field: "name", Msg: err.Error()})
	default:
		a.log.Error("admin API: route change failed", "err", err)
		writeProblem(w, r, http.StatusInternalServerError, &FieldError{Msg: "the route change failed; nothing was applied (see the facade's log)"})
	}
}

// writeProblem answers a refusal: status code, the problem of fe as
// application/problem+json.
func writeProblem(w http.ResponseWriter, r *http.Request, code int, fe *FieldError) {
	wire.WriteProblem(w, r, code, fe.Field, fe.Msg)
}

func writeJSON(w http.ResponseWriter, code int, v any) { wire.WriteJSON(w, code, v) }
