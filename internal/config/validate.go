package config

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/stranglerfig/strangler/internal/wire"
)

// Default values, filled in by setDefaults and nowhere else.
const (
	DefaultListen             = "127.0.0.1:8080"
	DefaultAdminListen        = "127.0.0.1:9901"
	DefaultTokenEnv           = "STRANGLER_ADMIN_TOKEN"
	DefaultState              = "routes.state.json"
	DefaultMaxBodyCopy        = 1 << 20
	DefaultTimeout            = 30 * time.Second
	DefaultShutdownTimeout    = 15 * time.Second
	DefaultShadowQueue        = 1000
	DefaultShadowQueueBytes   = 64 << 20
	DefaultShadowWorkers      = 4
	DefaultShadowStore        = "shadow"
	DefaultShadowRetentionMax = 100000
	DefaultShadowRetentionAge = 168 * time.Hour
	// DefaultShadowSample and DefaultCanaryShadowSample are the percents
	// of a route's requests compared in modes shadow and canary.
	DefaultShadowSample       = 100
	DefaultCanaryShadowSample = 10
	DefaultLearnSample        = 10
	DefaultBatchSize          = 1000
	DefaultChunkSize          = 10000
)

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// setDefaults fills every unset field with its default. It is the one place
// defaults live.
func (c *Config) setDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Listen, DefaultListen)
	def(&c.Admin.Listen, DefaultAdminListen)
	def(&c.Admin.TokenEnv, DefaultTokenEnv)
	def(&c.State, DefaultState)
	if c.Proxy.MaxBodyCopy == 0 {
		c.Proxy.MaxBodyCopy = DefaultMaxBodyCopy
	}
	if c.Proxy.Timeout == 0 {
		c.Proxy.Timeout = Duration(DefaultTimeout)
	}
	if c.Proxy.ShutdownTimeout == 0 {
		c.Proxy.ShutdownTimeout = Duration(DefaultShutdownTimeout)
	}
	sh := &c.Shadow
	def(&sh.Store, DefaultShadowStore)
	if sh.Queue == 0 {
		sh.Queue = DefaultShadowQueue
	}
	if sh.QueueBytes == 0 {
		sh.QueueBytes = DefaultShadowQueueBytes
	}
	if sh.Workers == 0 {
		sh.Workers = DefaultShadowWorkers
	}
	if sh.Retention.Max == 0 {
		sh.Retention.Max = DefaultShadowRetentionMax
	}
	if sh.Retention.Age == 0 {
		sh.Retention.Age = Duration(DefaultShadowRetentionAge)
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		def(&r.Mode, ModeLegacy)
		def(&r.Fallback, "none")
		r.gatewayDefaults()
		if r.Timeout == 0 {
			r.Timeout = c.Proxy.Timeout
		}
		b := &r.Breaker
		if b.ConsecutiveFailures == 0 {
			b.ConsecutiveFailures = 5
		}
		if b.FailureRatio == 0 {
			b.FailureRatio = 0.5
		}
		if b.MinRequests == 0 {
			b.MinRequests = 20
		}
		if b.HalfOpenRequests == 0 {
			b.HalfOpenRequests = 3
		}
		if b.OpenTimeout == 0 {
			b.OpenTimeout = Duration(10 * time.Second)
		}
		if b.Interval == 0 {
			b.Interval = Duration(60 * time.Second)
		}
		for j := range r.Match.Methods {
			r.Match.Methods[j] = strings.ToUpper(r.Match.Methods[j])
		}
		if r.Shadow == nil {
			r.Shadow = &RouteShadow{}
		}
		if r.Shadow.MaxBody == 0 {
			r.Shadow.MaxBody = c.Proxy.MaxBodyCopy
		}
		if r.Shadow.LearnSample == 0 {
			r.Shadow.LearnSample = DefaultLearnSample
		}
		if cp := r.Capture; cp != nil {
			if cp.Sample == 0 {
				cp.Sample = 0.01
			}
			if cp.Max == 0 {
				cp.Max = 1000
			}
			def(&cp.File, "captures/"+r.Name+".jsonl")
		}
		if ro := r.Rollout; ro != nil {
			if ro.Window == 0 {
				ro.Window = Duration(time.Minute)
			}
			g := &ro.Gates
			if g.MatchRate == 0 {
				g.MatchRate = 99.5
			}
			if g.ErrorRate == 0 {
				g.ErrorRate = 1
			}
			if g.P99Ratio == 0 {
				g.P99Ratio = 1.3
			}
			if g.MinRequests == 0 {
				g.MinRequests = 200
			}
			if g.SyncLag == 0 {
				g.SyncLag = Duration(30 * time.Second)
			}
		}
	}
	for i := range c.Services {
		def(&c.Services[i].Database, c.Databases.New)
	}
	for i := range c.Sync {
		p := &c.Sync[i]
		def(&p.Direction, DirectionLegacyToNew)
		def(&p.Source, c.Databases.Legacy)
		def(&p.Target, c.Databases.New)
		def(&p.ZeroDates, "null")
		def(&p.NulBytes, "error")
		if p.BatchSize == 0 {
			p.BatchSize = DefaultBatchSize
		}
		if p.ChunkSize == 0 {
			p.ChunkSize = DefaultChunkSize
		}
		for j := range p.Tables {
			def(&p.Tables[j].Target, p.Tables[j].Name)
		}
		if p.Direction == DirectionBoth {
			def(&p.Record, RecordLegacy)
			def(&p.IDs, IDsInterleave)
			for j := range p.Tables {
				if c := p.Tables[j].Conflict; c != nil {
					def(&c.Wins, WinsRecord)
				}
			}
		}
	}
}

// validator collects field errors with their lines.
type validator struct {
	c    *Config
	dsns DSNParser
	errs Errors
}

func (v *validator) fail(field, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{File: v.c.File, Line: v.c.pos.Line(field), Field: field, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks every field and returns all mistakes at once, each naming
// its file, line, field and value. DSN passwords never appear in them.
func (c *Config) Validate(dsns DSNParser) error {
	if dsns == nil {
		dsns = unchecked{}
	}
	v := &validator{c: c, dsns: dsns}
	v.hostPort("listen", c.Listen)
	if c.Legacy != "" {
		v.httpURL("legacy", c.Legacy)
	} else if len(c.Routes) > 0 {
		v.fail("legacy", "is required when routes are defined: every unmatched request goes there")
	}
	v.hostPort("admin.listen", c.Admin.Listen)
	if !envName.MatchString(c.Admin.TokenEnv) {
		v.fail("admin.token_env", "%q is not an environment variable name", c.Admin.TokenEnv)
	}
	if IsPostgresURL(c.State) {
		if err := v.dsns.CheckPostgres(c.State); err != nil {
			v.fail("state", "%v", err)
		}
	}
	c.validateDatabases(v)
	c.validateProxy(v)
	c.validateShadow(v)
	c.validateRoutes(v)
	c.validateSync(v)
	c.validateServices(v)
	c.validateCatalog(v) // catalog.go: owner, service, slo
	c.validateTracing(v) // tracing.go
	c.warn(dsns)
	if len(v.errs) > 0 {
		slices.SortStableFunc(v.errs, func(a, b *FieldError) int { return a.Line - b.Line })
		return &v.errs
	}
	return nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (c *Config) validateDatabases(v *validator) {
	for _, db := range []struct {
		field string
		dsn   *string
		parse func(string) error
	}{
		{"databases.legacy", &c.Databases.Legacy, v.dsns.CheckMySQL},
		{"databases.new", &c.Databases.New, v.dsns.CheckPostgres},
	} {
		if *db.dsn == "" {
			continue
		}
		expanded, err := ExpandEnv(*db.dsn)
		if err != nil {
			v.fail(db.field, "%v", err)
			continue
		}
		if err := db.parse(expanded); err != nil {
			v.fail(db.field, "%v", err)
		}
	}
}

// ExpandEnv replaces ${VAR} references; a missing variable is an error.
func ExpandEnv(s string) (string, error) {
	var missing []string
	out := envRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := envRef.FindStringSubmatch(ref)[1]
		val, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return val
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("environment variable %s is not set", strings.Join(missing, ", "))
	}
	return out, nil
}

var routeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (c *Config) validateRoutes(v *validator) {
	names := map[string]int{}
	for i := range c.Routes {
		r := &c.Routes[i]
		f := fmt.Sprintf("routes[%d]", i)
		switch {
		case r.Name == "":
			v.fail(f+".name", "is required")
		case !routeName.MatchString(r.Name):
			v.fail(f+".name", "%q may hold only letters, digits, '.', '_' and '-'", r.Name)
		default:
			if j, dup := names[r.Name]; dup {
				v.fail(f+".name", "%q is already the name of routes[%d]", r.Name, j)
			}
			names[r.Name] = i
		}
		c.validateMatch(v, f+".match", &r.Match)
		if r.Target == "" {
			v.fail(f+".target", "is required: the base URL of the new service")
		} else {
			v.httpURL(f+".target", r.Target)
		}
		if r.Rewrite != "" {
			v.rewrite(f+".rewrite", r.Rewrite, r.Match.Path)
		}
		if err := CheckMode(r.Mode); err != nil {
			v.fail(f+".mode", "%v", err)
		}
		if err := CheckPercent(r.Percent); err != nil {
			v.fail(f+".percent", "%v", err)
		}
		if r.Sticky != "" {
			kind, name, ok := strings.Cut(r.Sticky, ":")
			if !ok || (kind != "header" && kind != "cookie") || name == "" {
				v.fail(f+".sticky", "%q is not header:NAME or cookie:NAME", r.Sticky)
			}
		}
		v.oneOf(f+".fallback", r.Fallback, []string{"legacy", "none"})
		v.routeShadow(f, r)
		v.gateway(f, r)
		b := r.Breaker
		if b.FailureRatio <= 0 || b.FailureRatio > 1 {
			v.fail(f+".breaker.failure_ratio", "%v is not between 0 and 1", b.FailureRatio)
		}
		if r.Shadow == nil {
			r.Shadow = &RouteShadow{}
		}
		if r.Shadow.MaxBody == 0 {
			r.Shadow.MaxBody = c.Proxy.MaxBodyCopy
		}
		if r.Shadow.LearnSample == 0 {
			r.Shadow.LearnSample = DefaultLearnSample
		}
		if cp := r.Capture; cp != nil {
			if cp.Sample <= 0 || cp.Sample > 1 {
				v.fail(f+".capture.sample", "%v is not between 0 (exclusive) and 1", cp.Sample)
			}
			if cp.Max < 0 {
				v.fail(f+".capture.max", "%d is negative", cp.Max)
			}
		}
		if ro := r.Rollout; ro != nil {
			c.validateRollout(v, f+".rollout", ro)
		}
	}
}

func (c *Config) validateMatch(v *validator, f string, m *Match) {
	switch {
	case m.Path == "" && m.Prefix == "":
		v.fail(f+".path", "is required (or match.prefix)")
	case m.Path != "" && m.Prefix != "":
		v.fail(f+".prefix", "cannot be combined with match.path; give one of them")
	case m.Path != "":
		if err := CheckTemplate(m.Path); err != nil {
			v.fail(f+".path", "%v", err)
		}
	default:
		if err := CheckTemplate(m.Prefix); err != nil {
			v.fail(f+".prefix", "%v", err)
		}
	}
	for j, meth := range m.Methods {
		if !slices.Contains(knownMethods, meth) {
			v.fail(fmt.Sprintf("%s.methods[%d]", f, j), "%q is not an HTTP method", meth)
		}
	}
	if m.Host != "" {
		if err := mux.NewRouter().Host(m.Host).GetError(); err != nil {
			v.fail(f+".host", "%q: %v", m.Host, err)
		}
	}
	for name := range m.Headers {
		switch {
		case !headerName.MatchString(name):
			v.fail(f+".headers."+name, "%q is not a header name", name)
		case wire.IsInternal(name):
			v.fail(f+".headers."+name, "%q is an internal header, stripped from client requests before matching", name)
		}
	}
}

var (
	knownMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace}
	headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// CheckTemplate reports whether a path template is one gorilla/mux accepts
// and starts with '/'.
func CheckTemplate(tpl string) (err error) {
	if !strings.HasPrefix(tpl, "/") {
		return fmt.Errorf("%q must start with '/'", tpl)
	}
	defer func() {
		// mux panics, rather than failing, on a capturing group in a
		// variable's pattern ("{sort:(asc|desc)}").
		if p := recover(); p != nil {
			err = fmt.Errorf("%q is not a valid path template: %v", tpl, p)
		}
	}()
	if err := mux.NewRouter().Path(tpl).GetError(); err != nil {
		return fmt.Errorf("%q is not a valid path template: %w", tpl, err)
	}
	return nil
}

// TemplateVar matches one {name} or {name:pattern} variable of a path or
// rewrite template; its first group is the name. The facade's rewrite
// templates are parsed with it too.
var TemplateVar = regexp.MustCompile(`\{([^{}:]+)(?::[^{}]*)?\}`)

// TemplateVars lists the variable names of a path template.
func TemplateVars(tpl string) []string {
	var out []string
	for _, m := range TemplateVar.FindAllStringSubmatch(tpl, -1) {
		out = append(out, m[1])
	}
	return out
}

func (v *validator) rewrite(f, rewrite, path string) {
	if !strings.HasPrefix(rewrite, "/") {
		v.fail(f, "%q must start with '/'", rewrite)
		return
	}
	have := TemplateVars(path)
	for _, name := range TemplateVars(rewrite) {
		if !slices.Contains(have, name) {
			v.fail(f, "%q uses {%s}, which match.path does not define", rewrite, name)
		}
	}
}

func (c *Config) validateRollout(v *validator, f string, ro *Rollout) {
	if len(ro.Stages) == 0 {
		v.fail(f+".stages", "is required: for example [shadow, 5, 25, 50, new]")
	}
	last := -1.0
	for j, s := range ro.Stages {
		sf := fmt.Sprintf("%s.stages[%d]", f, j)
		switch s.Mode {
		case ModeCanary:
			if s.Percent <= 0 || s.Percent >= 100 {
				v.fail(sf, "%v is not a canary percent between 0 and 100 (exclusive)", s.Percent)
			} else if s.Percent <= last {
				v.fail(sf, "%v does not raise the previous stage's percent %v", s.Percent, last)
			}
			last = s.Percent
		case ModeShadow, ModeNew:
		default:
			v.fail(sf, "%q is not shadow, new or a canary percent", s.Mode)
		}
	}
	g := ro.Gates
	if g.MatchRate < 0 || g.MatchRate > 100 {
		v.fail(f+".gates.match_rate", "%v is not a percent", g.MatchRate)
	}
	if g.ErrorRate < 0 || g.ErrorRate > 100 {
		v.fail(f+".gates.error_rate", "%v is not a percent", g.ErrorRate)
	}
	if g.P99Ratio < 1 {
		v.fail(f+".gates.p99_ratio", "%v is below 1", g.P99Ratio)
	}
	if g.MinRequests < 0 {
		v.fail(f+".gates.min_requests", "%d is negative", g.MinRequests)
	}
	if ro.Window.D() < time.Second {
		v.fail(f+".window", "%v is shorter than 1s", ro.Window)
	}
}

// MaxPostgresName is PostgreSQL's limit on a name, in bytes; a longer one
// is cut there without an error.
const MaxPostgresName = 63

var sqlName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$`)

func (c *Config) validateSync(v *validator) {
	names := map[string]bool{}
	for i := range c.Sync {
		p := &c.Sync[i]
		f := fmt.Sprintf("sync[%d]", i)
		if p.Name == "" {
			v.fail(f+".name", "is required")
		} else if names[p.Name] {
			v.fail(f+".name", "%q names two pipelines", p.Name)
		}
		names[p.Name] = true
		v.oneOf(f+".direction", p.Direction, Directions)
		c.validateBothWays(v, f, p)
		v.oneOf(f+".zero_dates", p.ZeroDates, []string{"null", "error"})
		v.oneOf(f+".nul_bytes", p.NulBytes, []string{"strip", "error"})
		if p.Source == "" {
			v.fail(f+".source", "no source database: set databases.legacy or sync[%d].source", i)
		} else if s, err := ExpandEnv(p.Source); err != nil {
			v.fail(f+".source", "%v", err)
		} else if err := v.dsns.CheckMySQL(s); err != nil {
			v.fail(f+".source", "%v", err)
		}
		if p.Target == "" {
			v.fail(f+".target", "no target database: set databases.new or sync[%d].target", i)
		} else if s, err := ExpandEnv(p.Target); err != nil {
			v.fail(f+".target", "%v", err)
		} else if err := v.dsns.CheckPostgres(s); err != nil {
			v.fail(f+".target", "%v", err)
		}
		if len(p.Tables) == 0 {
			v.fail(f+".tables", "lists no table")
		}
		if p.BatchSize < 0 {
			v.fail(f+".batch_size", "%d is negative", p.BatchSize)
		}
		if p.ChunkSize < 0 {
			v.fail(f+".chunk_size", "%d is negative", p.ChunkSize)
		}
		tables := map[string]bool{}
		for j, t := range p.Tables {
			tf := fmt.Sprintf("%s.tables[%d]", f, j)
			switch {
			case t.Name == "":
				v.fail(tf+".name", "is required")
			case !sqlName.MatchString(t.Name):
				v.fail(tf+".name", "%q is not a table name", t.Name)
			case tables[t.Name]:
				v.fail(tf+".name", "%q is listed twice", t.Name)
			}
			tables[t.Name] = true
			if !sqlName.MatchString(t.Target) {
				v.fail(tf+".target", "%q is not a table name", t.Target)
			} else {
				for _, part := range strings.Split(t.Target, ".") {
					if len(part) > MaxPostgresName {
						v.fail(tf+".target", "%q is %d bytes long; PostgreSQL cuts names at %d: give the table a shorter target", part, len(part), MaxPostgresName)
					}
				}
			}
			for col, to := range t.Rename {
				if !sqlName.MatchString(to) {
					v.fail(tf+".rename."+col, "%q is not a column name", to)
				} else if len(to) > MaxPostgresName {
					v.fail(tf+".rename."+col, "%q is %d bytes long; PostgreSQL cuts names at %d", to, len(to), MaxPostgresName)
				}
			}
		}
	}
}

// validateBothWays checks the keys of a both-ways pipeline, and refuses
// them on a pipeline of one direction, where nothing would read them.
func (c *Config) validateBothWays(v *validator, f string, p *Pipeline) {
	if p.Direction != DirectionBoth {
		for _, k := range []struct{ key, val string }{{"record", p.Record}, {"route", p.Route}, {"ids", p.IDs}} {
			if k.val != "" {
				v.fail(f+"."+k.key, "applies to direction both only; this pipeline is %s", p.Direction)
			}
		}
		for j, t := range p.Tables {
			if t.Conflict != nil {
				v.fail(fmt.Sprintf("%s.tables[%d].conflict", f, j), "applies to direction both only; this pipeline is %s", p.Direction)
			}
		}
		return
	}
	v.oneOf(f+".record", p.Record, []string{RecordLegacy, RecordNew})
	v.oneOf(f+".ids", p.IDs, []string{IDsInterleave, IDsNone})
	if p.Route != "" {
		found := false
		for _, r := range c.Routes {
			found = found || r.Name == p.Route
		}
		if !found {
			v.fail(f+".route", "%q names no route of this file", p.Route)
		}
	}
	for j, t := range p.Tables {
		if t.Conflict == nil {
			continue
		}
		tf := fmt.Sprintf("%s.tables[%d].conflict", f, j)
		v.oneOf(tf+".wins", t.Conflict.Wins, []string{WinsRecord, WinsNewest})
		switch {
		case t.Conflict.Wins == WinsNewest && t.Conflict.Column == "":
			v.fail(tf+".column", "is required with wins: newest: name the timestamp column to compare")
		case t.Conflict.Wins == WinsNewest && !sqlName.MatchString(t.Conflict.Column):
			v.fail(tf+".column", "%q is not a column name", t.Conflict.Column)
		case t.Conflict.Wins != WinsNewest && t.Conflict.Column != "":
			v.fail(tf+".column", "applies to wins: newest only")
		}
		for k, c := range t.Conflict.Add {
			if !sqlName.MatchString(c) {
				v.fail(fmt.Sprintf("%s.add[%d]", tf, k), "%q is not a column name", c)
			}
		}
	}
}

func (c *Config) validateServices(v *validator) {
	listens := map[string]int{}
	for i, s := range c.Services {
		f := fmt.Sprintf("services[%d]", i)
		if s.Recipe == "" {
			v.fail(f+".recipe", "is required: the path of a recipe file")
		}
		if s.Listen == "" {
			v.fail(f+".listen", "is required: host:port")
			continue
		}
		v.hostPort(f+".listen", s.Listen)
		if s.Database != "" {
			if err := v.dsns.CheckPostgres(s.Database); err != nil {
				v.fail(f+".database", "%v", err)
			}
		}
		if j, dup := listens[s.Listen]; dup {
			v.fail(f+".listen", "%q is also the address of services[%d]", s.Listen, j)
		}
		listens[s.Listen] = i
	}
}

func (v *validator) oneOf(field, val string, allowed []string) {
	if !slices.Contains(allowed, val) {
		v.fail(field, "%q is not one of %s", val, strings.Join(allowed, ", "))
	}
}

func (v *validator) hostPort(field, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.fail(field, "%q is not host:port", addr)
		return
	}
	if port == "" || strings.Trim(port, "0123456789") != "" {
		v.fail(field, "%q has no numeric port", addr)
	}
	_ = host
}

func (v *validator) httpURL(field, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.fail(field, "%q is not an http:// or https:// URL", redactURL(raw))
	}
}

// IsLoopback reports whether a host:port listens only on the loopback
// interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// warn records dangerous settings that are still legal.
func (c *Config) warn(dsns DSNParser) {
	add := func(field, format string, args ...any) {
		line := c.pos.Line(field)
		prefix := c.File
		if line > 0 {
			prefix = fmt.Sprintf("%s:%d", c.File, line)
		}
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s: %s: %s", prefix, field, fmt.Sprintf(format, args...)))
	}
	if !IsLoopback(c.Admin.Listen) && os.Getenv(c.Admin.TokenEnv) == "" {
		add("admin.listen", "%q is not a loopback address and %s is empty: the facade will refuse to start", c.Admin.Listen, c.Admin.TokenEnv)
	}
	for i, r := range c.Routes {
		f := fmt.Sprintf("routes[%d]", i)
		if r.Percent != 0 && r.Mode != ModeCanary {
			add(f+".percent", "%v is ignored in mode %s", r.Percent, r.Mode)
		}
		if r.Mode == ModeCanary && r.Sticky == "" {
			add(f+".sticky", "canary route without sticky: a client may see both services from one request to the next")
		}
		if r.Shadow != nil && r.Shadow.Writes && r.Mode != ModeLegacy {
			add(f+".shadow.writes", "unsafe requests are copied to %s: its service must honour X-Strangler-Shadow", redactURL(r.Target))
		}
	}
	c.warnGateway(add)
	for i, d := range []string{c.Databases.Legacy, c.Databases.New} {
		if hasInlinePassword(dsns, d) {
			add([]string{"databases.legacy", "databases.new"}[i], "holds a password in the file; prefer ${ENV_VAR}")
		}
	}
}
