package proxy

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/stranglerfig/strangler/internal/config"
)

// route is the part of a route that never changes while the facade runs:
// everything the project file says about it, compiled.
type route struct {
	idx      int
	name     string
	cfg      config.Route
	matcher  *routeMatcher
	target   *url.URL
	rewrite  *rewriteTemplate // nil: the path goes unchanged
	timeout  time.Duration
	fallback bool // fallback: legacy
	sticky   stickyKey
	breaker  breaker
	capture  *captureWriter // nil: no capture
	redact   *redaction     // for captures, stored shadow copies and the access log
	shadow   shadowPolicy
	gate     *routeGate // auth and rate_limit; nil: none (see auth.go)
	metrics  *routeMetrics
	windows  *routeWindows // recent traffic, for Facade.Stats
}

func (f *Facade) compileRoute(i int, rc *config.Route) (*route, error) {
	m, err := compileMatcher(&rc.Match)
	if err != nil {
		return nil, err
	}
	target, err := parseUpstream(rc.Target)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	rt := &route{
		idx:      i,
		name:     rc.Name,
		cfg:      *rc,
		matcher:  m,
		target:   target,
		timeout:  rc.Timeout.D(),
		fallback: rc.Fallback == "legacy",
		shadow:   newShadowPolicy(rc),
	}
	if rt.timeout <= 0 {
		rt.timeout = f.timeout
	}
	if rc.Rewrite != "" {
		if rt.rewrite, err = parseRewrite(rc.Rewrite, rc.Match.Prefix != ""); err != nil {
			return nil, err
		}
	}
	if rt.sticky, err = parseSticky(rc.Sticky); err != nil {
		return nil, err
	}
	rt.metrics = f.metrics.forRoute(rc.Name)
	if rt.gate, err = f.compileGate(rc); err != nil {
		return nil, err
	}
	rt.windows = newRouteWindows(f.statsWindow)
	rt.breaker = newBreaker(rc.Name, rc.Breaker, func(s breakerState) {
		rt.metrics.breaker.Set(float64(s))
	})
	var names []string
	if rc.Capture != nil {
		names = rc.Capture.Redact
	}
	tpl := rc.Match.Path
	if tpl == "" {
		tpl = rc.Match.Prefix
	}
	names = append(names[:len(names):len(names)], gateRedacts(rc)...) // the credential header of api_keys
	if rt.redact, err = newRedaction(NewRedactor(names...), m, tpl); err != nil {
		return nil, err
	}
	if rc.Capture != nil {
		path := rc.Capture.File
		if !filepath.IsAbs(path) && f.cfg.File != "" {
			path = filepath.Join(filepath.Dir(f.cfg.File), path)
		}
		if rt.capture, err = openCapture(path, rc.Name, rc.Capture, rt.redact); err != nil {
			return nil, err
		}
	}
	return rt, nil
}

// targetPath returns the path a request with this path and variables
// has at the route's target: the target's base path, then the path or its
// rewrite.
func (rt *route) targetPath(path string, vars map[string]string) string {
	if rw := rt.rewrite; rw != nil {
		path = rw.render(path, rt.matcher.prefix, vars)
	}
	return strings.TrimSuffix(rt.target.Path, "/") + path
}

// methodBits maps the HTTP methods routes may name to bits.
var methodBits = map[string]uint16{
	http.MethodGet: 1 << 0, http.MethodHead: 1 << 1, http.MethodPost: 1 << 2, http.MethodPut: 1 << 3,
	http.MethodPatch: 1 << 4, http.MethodDelete: 1 << 5, http.MethodOptions: 1 << 6,
	http.MethodConnect: 1 << 7, http.MethodTrace: 1 << 8,
}

// methodBit returns the bit of an HTTP method without a map lookup for the
// common ones; an unknown method has no bit.
func methodBit(m string) uint16 {
	switch m {
	case http.MethodGet:
		return 1 << 0
	case http.MethodPost:
		return 1 << 2
	}
	return methodBits[m]
}

// routeMatcher decides whether a request belongs to a route: the methods as
// a bit set, then gorilla/mux for the path (or prefix), host and headers, so
// that templates keep exactly mux's semantics.
type routeMatcher struct {
	methods  uint16     // 0: any method
	literals []string   // leading literal path segments, for the index
	mux      *mux.Route // path/prefix, host and headers; not methods
	// path is mux's own path regexp, used alone when the route has no host
	// or header condition: mux's matcher then is exactly path.MatchString.
	path   *regexp.Regexp
	prefix string // match.prefix, for prefix rewrites
}

// compileMatcher compiles a route's match block.
func compileMatcher(m *config.Match) (rm *routeMatcher, err error) {
	defer func() {
		if p := recover(); p != nil { // mux panics on some templates (capturing groups)
			rm, err = nil, fmt.Errorf("match: %v", p)
		}
	}()
	rm = &routeMatcher{}
	for _, meth := range m.Methods {
		bit, ok := methodBits[strings.ToUpper(meth)]
		if !ok {
			return nil, fmt.Errorf("match.methods: %q is not an HTTP method", meth)
		}
		rm.methods |= bit
	}
	r := mux.NewRouter().NewRoute()
	switch {
	case m.Path != "" && m.Prefix == "":
		if err := config.CheckTemplate(m.Path); err != nil {
			return nil, fmt.Errorf("match.path: %w", err)
		}
		r = r.Path(m.Path)
		rm.literals = literalSegments(m.Path, false)
	case m.Prefix != "" && m.Path == "":
		if err := config.CheckTemplate(m.Prefix); err != nil {
			return nil, fmt.Errorf("match.prefix: %w", err)
		}
		r = r.PathPrefix(m.Prefix)
		rm.literals = literalSegments(m.Prefix, true)
		rm.prefix = m.Prefix
	default:
		return nil, fmt.Errorf("match: give exactly one of path and prefix")
	}
	if m.Host != "" {
		r = r.Host(m.Host)
	}
	if len(m.Headers) > 0 {
		pairs := make([]string, 0, 2*len(m.Headers))
		for k, v := range m.Headers {
			pairs = append(pairs, k, v)
		}
		r = r.Headers(pairs...)
	}
	if err := r.GetError(); err != nil {
		return nil, fmt.Errorf("match: %w", err)
	}
	rm.mux = r
	if m.Host == "" && len(m.Headers) == 0 {
		expr, err := r.GetPathRegexp()
		if err != nil {
			return nil, fmt.Errorf("match: %w", err)
		}
		if rm.path, err = regexp.Compile(expr); err != nil {
			return nil, fmt.Errorf("match: compiling %q: %w", expr, err)
		}
	}
	return rm, nil
}

// literalSegments returns the path segments of a template that precede its
// first variable. For a prefix, a last segment not closed by '/' is left
// out, since the prefix matches it as a string prefix only.
func literalSegments(tpl string, prefix bool) []string {
	segs := strings.Split(strings.TrimPrefix(tpl, "/"), "/")
	var out []string
	for i, s := range segs {
		if strings.ContainsAny(s, "{}") {
			break
		}
		if prefix && i == len(segs)-1 {
			break // "/api/rep" matches "/api/report"; "/api/" leaves "" here
		}
		out = append(out, s)
	}
	return out
}

// match reports whether req belongs to the route.
func (m *routeMatcher) match(req *http.Request) bool {
	if m.methods != 0 && m.methods&methodBit(req.Method) == 0 {
		return false
	}
	if m.path != nil {
		return m.path.MatchString(req.URL.Path)
	}
	var rm mux.RouteMatch
	return m.mux.Match(req, &rm)
}

// vars returns the template's variables for a request the route matched;
// mux extracts them, so they are exactly mux's.
func (m *routeMatcher) vars(req *http.Request) map[string]string {
	var rm mux.RouteMatch
	if !m.mux.Match(req, &rm) {
		return nil
	}
	return rm.Vars
}

// rewriteTemplate renders the path sent to the target.
type rewriteTemplate struct {
	parts  []rewritePart
	prefix bool // the route matches a prefix: the rewrite replaces it
}

type rewritePart struct {
	literal string
	varName string // non-empty: a variable
}

// parseRewrite parses a rewrite template ("/orders/{id}").
func parseRewrite(s string, prefix bool) (*rewriteTemplate, error) {
	if !strings.HasPrefix(s, "/") {
		return nil, fmt.Errorf("rewrite %q must start with '/'", s)
	}
	t := &rewriteTemplate{prefix: prefix}
	last := 0
	for _, loc := range config.TemplateVar.FindAllStringSubmatchIndex(s, -1) {
		if loc[0] > last {
			t.parts = append(t.parts, rewritePart{literal: s[last:loc[0]]})
		}
		t.parts = append(t.parts, rewritePart{varName: s[loc[2]:loc[3]]})
		last = loc[1]
	}
	if last < len(s) {
		t.parts = append(t.parts, rewritePart{literal: s[last:]})
	}
	for _, p := range t.parts {
		if strings.ContainsAny(p.literal, "{}") {
			return nil, fmt.Errorf("rewrite %q: unbalanced braces", s)
		}
	}
	return t, nil
}

// render returns the target path for a request path and its variables.
// For a prefix route, the matched prefix is replaced by the rendered
// template and the rest of the path is kept.
func (t *rewriteTemplate) render(path, prefix string, vars map[string]string) string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.varName != "" {
			b.WriteString(vars[p.varName])
		} else {
			b.WriteString(p.literal)
		}
	}
	if t.prefix {
		b.WriteString(strings.TrimPrefix(path, prefix))
	}
	return b.String()
}

// stickyKey says where a canary's stickiness key is read from.
type stickyKey struct {
	header string // canonical header name, or ""
	cookie string // cookie name, or ""
}

func parseSticky(s string) (stickyKey, error) {
	if s == "" {
		return stickyKey{}, nil
	}
	kind, name, ok := strings.Cut(s, ":")
	switch {
	case !ok || name == "":
	case kind == "header":
		return stickyKey{header: http.CanonicalHeaderKey(name)}, nil
	case kind == "cookie":
		return stickyKey{cookie: name}, nil
	}
	return stickyKey{}, fmt.Errorf("sticky %q is not header:NAME or cookie:NAME", s)
}

// key returns the request's stickiness key, or "" when it has none.
func (k stickyKey) key(r *http.Request) string {
	switch {
	case k.header != "":
		if v := r.Header[k.header]; len(v) > 0 {
			return v[0]
		}
	case k.cookie != "":
		if c, err := r.Cookie(k.cookie); err == nil {
			return c.Value
		}
	}
	return ""
}

// stickyPoint maps a route and a key to a point in [0, 100): the key goes to
// the target iff its point is below the canary percent, so that raising the
// percent only ever moves keys from legacy to the target.
func stickyPoint(route, key string) float64 {
	const offset, prime = 14695981039346656037, 1099511628211 // FNV-1a 64
	x := uint64(offset)
	for i := 0; i < len(route); i++ {
		x = (x ^ uint64(route[i])) * prime
	}
	x *= prime // the separating NUL byte
	for i := 0; i < len(key); i++ {
		x = (x ^ uint64(key[i])) * prime
	}
	// Finalise (splitmix64) so that keys differing in their last bytes
	// spread over the whole range, then keep 53 bits for the float.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53) * 100
}
