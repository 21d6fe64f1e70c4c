package recipes

import (
	"context"
	"errors"
	"fmt"
	"github.com/stranglerfig/strangler/internal/httpstatus"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/stranglerfig/strangler/internal/wire"
)

// DB is what the runtime needs of a database: a *pgxpool.Pool satisfies it.
// Statements are prepared and cached per connection by pgx (its default
// QueryExecModeCacheStatement), so every request reuses prepared plans.
type DB interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// Headers of the dry-run contract with the facade, defined once for both
// in internal/wire.
const (
	// HeaderShadow marks a request whose writes must leave no trace: the
	// transaction is rolled back and no event is emitted.
	HeaderShadow = wire.Shadow
	// HeaderDryRun is set on the answer to such a request.
	HeaderDryRun = wire.DryRun
)

// Option configures a Service.
type Option func(*Service) error

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option {
	return func(s *Service) error {
		if l == nil {
			return errors.New("nil logger")
		}
		s.log = l
		return nil
	}
}

// WithClock sets the clock used for defaults of `now`; the default is
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Service) error {
		if now == nil {
			return errors.New("nil clock")
		}
		s.now = now
		return nil
	}
}

// Service serves one recipe over a database. It is an http.Handler; the
// recipe behind it can be swapped with Reload while requests are in flight.
type Service struct {
	db      DB
	log     *slog.Logger
	reg     *prometheus.Registry
	now     func() time.Time
	cur     atomic.Pointer[runtime]
	metrics *metrics
	notify  chan struct{} // wakes the outbox dispatcher after a commit

	dispatcher *Dispatcher  // set by Start when the recipe has events
	subs       *subscribers // set by Start when the recipe has subscriptions
	tracer     trace.Tracer // see WithTracerProvider
	tracing    bool
	described  atomic.Bool // Start described the named queries; reloads do it again
}

// runtime is one compiled recipe: swapped as a whole on reload.
type runtime struct {
	recipe  *Recipe
	tables  map[string]*table
	mux     *http.ServeMux
	openapi []byte
	params  map[string][]colLimit // named queries' parameters by endpoint, in the order of $n
}

// NewService compiles r into a service over db.
func NewService(r *Recipe, db DB, opts ...Option) (*Service, error) {
	if r == nil || db == nil {
		return nil, errors.New("creating a recipe service: nil recipe or database")
	}
	s := &Service{db: db, log: slog.New(slog.DiscardHandler), now: time.Now, notify: make(chan struct{}, 1)}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, fmt.Errorf("creating service %q: %w", r.Service, err)
		}
	}
	s.tracing = s.tracer != nil
	if s.tracer == nil {
		s.tracer = noTracer()
	}
	s.reg = prometheus.NewRegistry()
	m, err := newMetrics(s.reg, r.Service)
	if err != nil {
		return nil, fmt.Errorf("creating service %q: %w", r.Service, err)
	}
	s.metrics = m
	rt, err := s.compile(r, nil)
	if err != nil {
		return nil, err
	}
	s.cur.Store(rt)
	return s, nil
}

// Recipe returns the recipe being served.
func (s *Service) Recipe() *Recipe { return s.cur.Load().recipe }

// Registry returns the registry holding the service's metrics.
func (s *Service) Registry() *prometheus.Registry { return s.reg }

// Reload swaps in a new recipe. Requests already running finish on the old
// one; the next ones see the new one. The service name cannot change.
func (s *Service) Reload(r *Recipe) error {
	old := s.cur.Load().recipe
	if r.Service != old.Service {
		s.metrics.reloads.WithLabelValues("refused").Inc()
		return fmt.Errorf("reloading recipe %s: the service is %q, not %q", r.File, old.Service, r.Service)
	}
	var info *dbInfo
	if s.described.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		if info, err = describeDB(ctx, s.db, r); err != nil {
			s.metrics.reloads.WithLabelValues("refused").Inc()
			return fmt.Errorf("reloading: %w", err)
		}
	}
	rt, err := s.compile(r, info)
	if err != nil {
		s.metrics.reloads.WithLabelValues("refused").Inc()
		return err
	}
	s.cur.Store(rt)
	s.metrics.reloads.WithLabelValues("ok").Inc()
	return nil
}

// describe prepares the named queries against the database, refusing one
// PostgreSQL does not accept, types their rows in the OpenAPI document, and
// reads what the tables' columns and the queries' parameters accept.
func (s *Service) describe(ctx context.Context) error {
	r := s.Recipe()
	info, err := describeDB(ctx, s.db, r)
	if err != nil {
		return fmt.Errorf("starting service %q: %w", r.Service, err)
	}
	rt, err := s.compile(r, info)
	if err != nil {
		return err
	}
	s.cur.Store(rt)
	s.described.Store(true)
	return nil
}

func (s *Service) compile(r *Recipe, info *dbInfo) (rt *runtime, err error) {
	defer func() {
		// ServeMux panics on overlapping patterns; Parse refuses them, but a
		// recipe built by hand may not have been through it.
		if v := recover(); v != nil {
			rt, err = nil, fmt.Errorf("compiling recipe %s: %v", r.File, v)
		}
	}()
	return s.build(r, info)
}

// build compiles r; info is what the database says of its tables and
// queries, nil before Start.
func (s *Service) build(r *Recipe, info *dbInfo) (*runtime, error) {
	if info == nil {
		info = &dbInfo{}
	}
	rt := &runtime{recipe: r, tables: map[string]*table{}, mux: http.NewServeMux(), params: info.params}
	for i := range r.Resources {
		t := newTable(&r.Resources[i])
		t.limits = info.columns[t.res.Name]
		rt.tables[t.res.Name] = t
	}
	doc, err := openAPI(r, info.cols)
	if err != nil {
		return nil, fmt.Errorf("compiling recipe %s: %w", r.File, err)
	}
	rt.openapi = doc
	allowed := map[string][]string{} // path template -> methods served
	var paths []string
	for i := range r.Endpoints {
		e := &r.Endpoints[i]
		h := s.endpointHandler(rt, e)
		p := r.BasePath + e.Path
		rt.mux.Handle(e.Method+" "+p, s.instrument(e.Name, h))
		if _, ok := allowed[p]; !ok {
			paths = append(paths, p)
		}
		allowed[p] = append(allowed[p], e.Method)
	}
	for _, p := range paths {
		// Another method on a served path: 405 as a problem, with Allow.
		allow := strings.Join(allowed[p], ", ")
		rt.mux.Handle(p, s.instrument("none", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Allow", allow)
			writeProblem(w, req, problem(http.StatusMethodNotAllowed, req.Method+" is not served here; allowed: "+allow))
		})))
	}
	rt.mux.Handle("GET /openapi.json", s.instrument("openapi", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(rt.openapi)
	})))
	rt.mux.Handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
		defer cancel()
		if _, err := s.db.Exec(ctx, "SELECT 1"); err != nil {
			writeProblem(w, req, problem(http.StatusServiceUnavailable, "database unreachable"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok","service":` + strconv.Quote(r.Service) + `}`))
	}))
	rt.mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	rt.mux.Handle("/", s.instrument("none", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeProblem(w, req, problem(http.StatusNotFound, "no endpoint serves "+req.Method+" "+req.URL.Path))
	})))
	return rt, nil
}

// ServeHTTP serves a request with the current recipe.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mux := s.cur.Load().mux
	if s.tracing {
		s.traced(w, r, mux)
		return
	}
	mux.ServeHTTP(w, r)
}

func (s *Service) endpointHandler(rt *runtime, e *Endpoint) http.Handler {
	var h func(*request) *Problem
	switch e.Action {
	case ActionList:
		h = s.list
	case ActionGet:
		h = s.get
	case ActionCreate:
		h = s.create
	case ActionReplace:
		h = s.replace
	case ActionPatch:
		h = s.patch
	case ActionDelete:
		h = s.remove
	case ActionQuery:
		h = s.query
	}
	var t *table
	if e.Resource != "" {
		t = rt.tables[e.Resource]
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := &request{svc: s, w: w, r: r, rt: rt, e: e, t: t, shadow: r.Header.Get(HeaderShadow) == "1"}
		if p := h(req); p != nil {
			writeProblem(w, r, p)
		}
	})
}

// request is one request on its way through an endpoint.
type request struct {
	svc    *Service
	w      http.ResponseWriter
	r      *http.Request
	rt     *runtime
	e      *Endpoint
	t      *table
	shadow bool
	// unchanged: the write named no field, so it wrote nothing and emits
	// no event.
	unchanged bool
}

func (q *request) shape() *Shape { return &q.rt.recipe.Shape }

// reply writes a JSON answer.
func (q *request) reply(status int, body []byte) {
	h := q.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if q.shadow {
		h.Set(HeaderDryRun, "1")
	}
	q.w.WriteHeader(status)
	if q.r.Method != http.MethodHead {
		_, _ = q.w.Write(body)
	}
}

// internal logs an unexpected error and answers 500 without its text.
func (q *request) internal(what string, err error) *Problem {
	if errors.Is(err, context.Canceled) {
		return problem(statusClientClosed, "the client went away")
	}
	q.svc.log.Error("recipe request failed", "service", q.rt.recipe.Service, "endpoint", q.e.Name, "error", err)
	return problem(http.StatusInternalServerError, what+" failed")
}

func (s *Service) instrument(name string, h http.Handler) http.Handler {
	dur := s.metrics.duration.WithLabelValues(name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &httpstatus.Recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.Status == 0 {
			rec.Status = http.StatusOK
		}
		dur.Observe(time.Since(start).Seconds())
		s.metrics.requests.WithLabelValues(name, strconv.Itoa(rec.Status)).Inc()
	})
}

// pathFor builds the URL of the get endpoint of t's row with key, or "".
func (rt *runtime) pathFor(t *table, key []any) string {
	for _, e := range rt.recipe.Endpoints {
		if e.Action == ActionGet && e.Resource == t.res.Name {
			path := e.Path
			for i, name := range e.keyParams {
				path = strings.Replace(path, "{"+name+"}", url.PathEscape(keyText(key[i])), 1)
			}
			return rt.recipe.BasePath + path
		}
	}
	return ""
}
