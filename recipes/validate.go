package recipes

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stranglerfig/strangler/internal/pgident"
)

// maxBits is the widest bit(n) PostgreSQL creates.
const maxBits = 83886080

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
var serviceRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// checker collects positioned errors while the recipe is validated.
type checker struct {
	r    *Recipe
	errs Errors
}

func (c *checker) fail(path, format string, args ...any) {
	c.errs = append(c.errs, &FieldError{File: c.r.File, Line: lineOf(c.r.pos, path), Field: path, Msg: fmt.Sprintf(format, args...)})
}

// validate fills the derived defaults and checks the rules that the Spec
// tables describe in words, compiling patterns and expression rules.
func (r *Recipe) validate() error {
	c := &checker{r: r}
	if !serviceRe.MatchString(r.Service) {
		c.fail("service", "%q is not a service name (letters, digits, '-' and '_', starting with a letter)", r.Service)
	}
	if r.BasePath != "" && (!strings.HasPrefix(r.BasePath, "/") || strings.HasSuffix(r.BasePath, "/")) {
		c.fail("base_path", "%q must start with '/' and not end with '/'", r.BasePath)
	}
	if r.MaxBody < 1 {
		c.fail("max_body", "%d must be at least 1", r.MaxBody)
	}
	r.checkShape(c)
	r.checkEvents(c)
	r.checkSubscriptions(c)
	if len(r.Resources) == 0 {
		c.fail("resources", "at least one resource is needed")
	}
	if len(r.Endpoints) == 0 {
		c.fail("endpoints", "at least one endpoint is needed")
	}
	names := map[string]int{}
	for i := range r.Resources {
		res := &r.Resources[i]
		p := fmt.Sprintf("resources[%d]", i)
		if j, dup := names[res.Name]; dup {
			c.fail(p+".name", "resource %q is also declared at resources[%d]", res.Name, j)
		}
		names[res.Name] = i
		r.checkResource(c, res, p)
	}
	for i := range r.Resources {
		r.checkRelations(c, &r.Resources[i], fmt.Sprintf("resources[%d]", i))
	}
	for i := range r.Resources {
		r.checkRules(c, &r.Resources[i], fmt.Sprintf("resources[%d]", i))
	}
	r.checkExamples(c)
	r.checkEndpoints(c)
	if len(c.errs) == 0 {
		r.checkRoutes(c)
	}
	if len(c.errs) > 0 {
		slices.SortStableFunc(c.errs, func(a, b *FieldError) int { return a.Line - b.Line })
		return &c.errs
	}
	return nil
}

func (r *Recipe) checkShape(c *checker) {
	s := &r.Shape
	if s.MaxLimit < 1 {
		c.fail("shape.max_limit", "%d must be at least 1", s.MaxLimit)
	}
	if s.DefaultLimit < 1 || s.DefaultLimit > s.MaxLimit {
		c.fail("shape.default_limit", "%d must be between 1 and max_limit (%d)", s.DefaultLimit, s.MaxLimit)
	}
	if !r.pos.Has("shape.meta") && s.Pagination == "cursor" {
		s.Meta = []string{"next_cursor", "limit"}
	}
	for _, m := range s.Meta {
		switch {
		case m == "limit":
		case (m == "total" || m == "offset") && s.Pagination == "offset":
		case m == "next_cursor" && s.Pagination == "cursor":
		default:
			c.fail("shape.meta", "%q is not a meta member of %s pagination (total, limit, offset for offset; next_cursor, limit for cursor)", m, s.Pagination)
		}
	}
	for _, k := range []struct{ path, layout string }{{"shape.timestamp_format", s.TimestampFormat}, {"shape.date_format", s.DateFormat}} {
		if err := checkLayout(k.layout); err != nil {
			c.fail(k.path, "%v", err)
		}
	}
	if s.DataKey == "" || s.MetaKey == "" || s.DataKey == s.MetaKey {
		c.fail("shape.data_key", "data_key and meta_key must be set and differ")
	}
}

// checkLayout refuses a Go time layout that does not round-trip a time.
func checkLayout(layout string) error {
	if layout == "rfc3339" {
		return nil
	}
	ref := time.Date(2009, 11, 10, 23, 4, 5, 0, time.UTC)
	if _, err := time.Parse(layout, ref.Format(layout)); err != nil || !strings.ContainsAny(layout, "0126") {
		return fmt.Errorf("%q is not a Go time layout such as 2006-01-02 15:04:05", layout)
	}
	return nil
}

func (r *Recipe) checkEvents(c *checker) {
	e := &r.Events
	if e.Webhook != "" {
		u, err := url.Parse(e.Webhook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			c.fail("events.webhook", "%q is not an http or https URL", e.Webhook)
		}
	}
	if (e.NATSURL == "") != (e.NATSSubject == "") {
		c.fail("events.nats_subject", "nats_url and nats_subject go together")
	}
	var back, maxBack time.Duration
	for _, d := range []struct {
		path, v string
		out     *time.Duration
	}{{"events.backoff", e.Backoff, &back}, {"events.max_backoff", e.MaxBackoff, &maxBack}, {"events.timeout", e.Timeout, new(time.Duration)}} {
		v, err := time.ParseDuration(d.v)
		if err != nil || v <= 0 {
			c.fail(d.path, "%q is not a positive duration such as 500ms or 30s", d.v)
		}
		*d.out = v
	}
	if maxBack < back {
		c.fail("events.max_backoff", "%s is shorter than backoff %s", e.MaxBackoff, e.Backoff)
	}
	if v, err := time.ParseDuration(e.Retention); err != nil || v < 0 {
		c.fail("events.retention", "%q is not a duration such as 168h (0s keeps delivered events)", e.Retention)
	}
}

var durableRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (r *Recipe) checkSubscriptions(c *checker) {
	names := map[string]int{}
	for i := range r.Subscriptions {
		sb := &r.Subscriptions[i]
		p := fmt.Sprintf("subscriptions[%d]", i)
		if !identRe.MatchString(sb.Name) {
			c.fail(p+".name", "%q is not an identifier", sb.Name)
		} else if j, dup := names[sb.Name]; dup {
			c.fail(p+".name", "subscription %q is also declared at subscriptions[%d]", sb.Name, j)
		}
		names[sb.Name] = i
		if sb.Durable == "" {
			sb.Durable = "strangler-" + r.Service + "-" + sb.Name
		}
		if !durableRe.MatchString(sb.Durable) {
			c.fail(p+".durable", "%q may hold only letters, digits, '-' and '_'", sb.Durable)
		}
		if sb.DeadLetter == "" {
			sb.DeadLetter = "strangler.dead." + r.Service + "." + sb.Name
		}
		if strings.ContainsAny(sb.DeadLetter, "*> \t") {
			c.fail(p+".dead_letter", "%q is not a subject to publish to (no wildcards or spaces)", sb.DeadLetter)
		}
		if strings.ContainsAny(sb.Subject, " \t") {
			c.fail(p+".subject", "%q is not a subject", sb.Subject)
		}
		if sb.MaxDeliver < 1 {
			c.fail(p+".max_deliver", "%d must be at least 1", sb.MaxDeliver)
		}
		if v, err := time.ParseDuration(sb.Backoff); err != nil || v <= 0 {
			c.fail(p+".backoff", "%q is not a positive duration such as 1s", sb.Backoff)
		}
		seen := map[string]bool{}
		for j := range sb.Params {
			prm := &sb.Params[j]
			pp := fmt.Sprintf("%s.params[%d]", p, j)
			if !identRe.MatchString(prm.Name) {
				c.fail(pp+".name", "%q is not an identifier", prm.Name)
			}
			if seen[prm.Name] {
				c.fail(pp+".name", "parameter %q is declared twice", prm.Name)
			}
			seen[prm.Name] = true
			if prm.From == "" {
				prm.From = "data." + prm.Name
			}
			if err := checkEventPath(prm.From); err != nil {
				c.fail(pp+".from", "%v", err)
			}
		}
		sql, order, err := rewriteParams(sb.SQL, seen)
		if err != nil {
			c.fail(p+".sql", "%v", err)
			continue
		}
		sb.sql, sb.order = sql, order
	}
}

func (r *Recipe) checkResource(c *checker, res *Resource, p string) {
	if !identRe.MatchString(res.Name) {
		c.fail(p+".name", "%q is not an identifier", res.Name)
	}
	if res.Table == "" {
		res.Table = res.Name
	}
	if res.Schema == "" {
		res.Schema = "public"
	}
	for _, n := range []struct{ key, name string }{{"table", res.Table}, {"schema", res.Schema}} {
		if len(n.name) > pgident.MaxLen {
			c.fail(p+"."+n.key, "%q is %d bytes long; PostgreSQL keeps only %d and would cut it", n.name, len(n.name), pgident.MaxLen)
		}
	}
	if len(res.Fields) == 0 {
		c.fail(p+".fields", "at least one field is needed")
	}
	seen := map[string]int{}
	jsonSeen := map[string]int{}
	for i := range res.Fields {
		f := &res.Fields[i]
		fp := fmt.Sprintf("%s.fields[%d]", p, i)
		if !identRe.MatchString(f.Name) {
			c.fail(fp+".name", "%q is not an identifier", f.Name)
		}
		if j, dup := seen[f.Name]; dup {
			c.fail(fp+".name", "field %q is also declared at fields[%d]", f.Name, j)
		}
		seen[f.Name] = i
		if f.Column == "" {
			f.Column = f.Name
		}
		if len(f.Column) > pgident.MaxLen {
			c.fail(fp+".column", "%q is %d bytes long; PostgreSQL keeps only %d and would cut it", f.Column, len(f.Column), pgident.MaxLen)
		}
		if f.JSON == "" {
			f.JSON = applyCasing(r.Shape.Casing, f.Name)
		}
		if j, dup := jsonSeen[f.JSON]; dup {
			c.fail(fp+".json", "JSON name %q is also used by fields[%d]", f.JSON, j)
		}
		jsonSeen[f.JSON] = i
		r.checkField(c, f, fp)
	}
	res.fillKeys()
	if len(res.Keys) == 0 {
		c.fail(p+".key", "at least one key field is needed")
	}
	keySeen := map[string]bool{}
	for _, name := range res.Keys {
		key := res.field(name)
		switch {
		case keySeen[name]:
			c.fail(p+".key", "the key names %q twice", name)
		case key == nil:
			c.fail(p+".key", "%q is not a field of resource %q", name, res.Name)
		case key.Nullable || key.WriteOnly:
			c.fail(p+".key", "the key %q cannot be nullable or write_only", name)
		case key.Type == TypeJSON || key.Type == TypeNumber || key.Type == TypeSet || key.Type == TypeTime:
			c.fail(p+".key", "the key %q cannot be of type %s", name, key.Type)
		}
		keySeen[name] = true
	}
}

// fillKeys makes Keys and Key agree: Keys when set, else Key alone, and
// Key the first key field.
func (res *Resource) fillKeys() {
	if len(res.Keys) == 0 && res.Key != "" {
		res.Keys = []string{res.Key}
	}
	if len(res.Keys) > 0 {
		res.Key = res.Keys[0]
	}
}

// keyFields are the key fields of the resource as Keys names them: Keys,
// or Key alone in a Resource built in Go that sets only Key.
func (res *Resource) keyFields() []string {
	if len(res.Keys) > 0 {
		return res.Keys
	}
	if res.Key != "" {
		return []string{res.Key}
	}
	return nil
}

// composite says whether the key has more than one field.
func (res *Resource) composite() bool { return len(res.keyFields()) > 1 }

func (r *Recipe) checkField(c *checker, f *Field, fp string) {
	set := func(k string) bool { return r.pos.Has(fp + "." + k) }
	num := f.Type == TypeInteger || f.Type == TypeNumber || f.Type == TypeDecimal
	if f.Generated {
		if f.Type != TypeInteger && f.Type != TypeUUID {
			c.fail(fp+".generated", "only integer and uuid fields can be generated, not %s", f.Type)
		}
		f.ReadOnly = true
	}
	if f.ReadOnly && f.WriteOnly {
		c.fail(fp+".write_only", "a field cannot be both read_only and write_only")
	}
	if len(f.Enum) > 0 && f.Type != TypeString && f.Type != TypeSet {
		c.fail(fp+".enum", "enum applies to string and set fields, not %s", f.Type)
	}
	if f.Type == TypeSet {
		for i, m := range f.Enum {
			switch {
			case strings.Contains(m, ","):
				c.fail(fp+".enum", "member %q holds a comma, which separates the members of a set written as text", m)
			case textProblem(m) != "":
				c.fail(fp+".enum", "member %q %s", m, textProblem(m))
			case slices.Index(f.Enum, m) < i:
				c.fail(fp+".enum", "member %q is listed twice", m)
			}
		}
	}
	switch {
	case f.Type == TypeBits && (f.Length < 1 || f.Length > maxBits):
		if set("length") {
			c.fail(fp+".length", "%d is not between 1 and %d", f.Length, maxBits)
		} else {
			c.fail(fp, "missing field \"length\" (a bits field holds exactly length bits)")
		}
	case f.Type != TypeBits && set("length"):
		c.fail(fp+".length", "length applies to bits fields, not %s", f.Type)
	}
	switch {
	case f.Type == TypeTime && (f.FSP < 0 || f.FSP > maxFSP):
		c.fail(fp+".fsp", "%d is not between 0 and %d", f.FSP, maxFSP)
	case f.Type != TypeTime && set("fsp"):
		c.fail(fp+".fsp", "fsp applies to time fields, not %s", f.Type)
	}
	for _, k := range []string{"min_length", "max_length", "pattern"} {
		if set(k) && f.Type != TypeString {
			c.fail(fp+"."+k, "%s applies to string fields, not %s", k, f.Type)
		}
	}
	for _, k := range []string{"minimum", "maximum"} {
		if set(k) && !num {
			c.fail(fp+"."+k, "%s applies to integer, number and decimal fields, not %s", k, f.Type)
		}
	}
	for _, k := range []string{"scale", "precision"} {
		if set(k) && f.Type != TypeDecimal {
			c.fail(fp+"."+k, "%s applies to decimal fields, not %s", k, f.Type)
		}
	}
	if set("format") && f.Type != TypeTimestamp && f.Type != TypeDate {
		c.fail(fp+".format", "format applies to timestamp and date fields, not %s", f.Type)
	} else if f.Format != "" {
		if err := checkLayout(f.Format); err != nil {
			c.fail(fp+".format", "%v", err)
		}
	}
	if f.MinLength != nil && *f.MinLength < 0 {
		c.fail(fp+".min_length", "%d is negative", *f.MinLength)
	}
	if f.MinLength != nil && f.MaxLength != nil && *f.MaxLength < *f.MinLength {
		c.fail(fp+".max_length", "%d is less than min_length %d", *f.MaxLength, *f.MinLength)
	}
	if f.Minimum != nil && f.Maximum != nil && *f.Maximum < *f.Minimum {
		c.fail(fp+".maximum", "%v is less than minimum %v", *f.Maximum, *f.Minimum)
	}
	if f.Scale < 0 || f.Scale > 12 {
		c.fail(fp+".scale", "%d is not between 0 and 12", f.Scale)
	}
	if f.Precision <= f.Scale || f.Precision > 38 {
		c.fail(fp+".precision", "%d must be more than scale (%d) and at most 38", f.Precision, f.Scale)
	}
	if f.Pattern != "" {
		re, err := regexp.Compile(f.Pattern)
		if err != nil {
			c.fail(fp+".pattern", "does not compile: %v", err)
		}
		f.pattern = re
	}
	if f.Default != "" {
		if f.Generated {
			c.fail(fp+".default", "a generated field has no default")
		} else if f.Default == "now" && (f.Type == TypeTimestamp || f.Type == TypeDate) {
			// the current time, at write time
		} else if v, err := f.parseText(f.Default, &r.Shape); err != nil {
			c.fail(fp+".default", "%v", err)
		} else if msg := f.check(v); msg != "" {
			c.fail(fp+".default", "%q: %s", f.Default, msg)
		}
	}
}

func (r *Recipe) checkRelations(c *checker, res *Resource, p string) {
	for i := range res.Relations {
		rel := &res.Relations[i]
		rp := fmt.Sprintf("%s.relations[%d]", p, i)
		if !identRe.MatchString(rel.Name) {
			c.fail(rp+".name", "%q is not an identifier", rel.Name)
		} else if res.field(rel.Name) != nil {
			c.fail(rp+".name", "%q is also a field of %q", rel.Name, res.Name)
		}
		if rel.JSON == "" {
			rel.JSON = applyCasing(r.Shape.Casing, rel.Name)
		}
		target := r.resource(rel.Resource)
		if target == nil {
			c.fail(rp+".resource", "%q is not a resource of this recipe", rel.Resource)
			continue
		}
		holder, keyed := res, target // kind one: our field holds the target's key
		if rel.Kind == "many" {
			holder, keyed = target, res // kind many: the target's field holds our key
		}
		if keyed.composite() {
			c.fail(rp+".resource", "the key of %q has %d fields (%s); a relation of kind %s needs a single-field key there", keyed.Name,
				len(keyed.keyFields()), strings.Join(keyed.keyFields(), ", "), orDefault(rel.Kind, "one"))
			continue
		}
		f := holder.field(rel.Field)
		if f == nil {
			c.fail(rp+".field", "%q is not a field of %q", rel.Field, holder.Name)
			continue
		}
		if k := keyed.field(keyed.Key); k != nil && k.Type != f.Type {
			c.fail(rp+".field", "%q is %s but the key of %q is %s", rel.Field, f.Type, keyed.Name, k.Type)
		}
	}
}

func (r *Recipe) checkRules(c *checker, res *Resource, p string) {
	for i := range res.Rules {
		rule := &res.Rules[i]
		rp := fmt.Sprintf("%s.rules[%d]", p, i)
		if rule.Field != "" && res.field(rule.Field) == nil {
			c.fail(rp+".field", "%q is not a field of %q", rule.Field, res.Name)
		}
		if rule.Message == "" {
			rule.Message = "rule broken: " + rule.Expr
		}
		prog, err := compileRule(res, rule.Expr)
		if err != nil {
			c.fail(rp+".expr", "%v", err)
			continue
		}
		rule.prog = prog
	}
}

func (r *Recipe) checkEndpoints(c *checker) {
	routes := map[string]int{}
	names := map[string]int{}
	for i := range r.Endpoints {
		e := &r.Endpoints[i]
		p := fmt.Sprintf("endpoints[%d]", i)
		params, err := parseTemplate(e.Path)
		if err != nil {
			c.fail(p+".path", "%v", err)
		}
		e.params = params
		route := e.Method + " " + r.BasePath + normalizeTemplate(e.Path)
		if j, dup := routes[route]; dup {
			c.fail(p+".path", "route %s %s is also declared by endpoints[%d]", e.Method, e.Path, j)
		}
		routes[route] = i
		if e.Name == "" {
			e.Name = defaultEndpointName(e, i)
		}
		if j, dup := names[e.Name]; dup {
			c.fail(p+".name", "endpoint name %q is also used by endpoints[%d]", e.Name, j)
		}
		names[e.Name] = i
		if want := methodOf(e.Action); want != e.Method {
			c.fail(p+".method", "action %s is served with %s, not %s", e.Action, want, e.Method)
		}
		if e.Action == ActionQuery {
			r.checkQueryEndpoint(c, e, p)
			continue
		}
		if e.Query != nil {
			c.fail(p+".query", "query is only for action query, not %s", e.Action)
		}
		res := r.resource(e.Resource)
		if res == nil {
			if e.Resource == "" {
				c.fail(p, "missing field \"resource\" (action %s needs a resource)", e.Action)
			} else {
				c.fail(p+".resource", "%q is not a resource of this recipe", e.Resource)
			}
			continue
		}
		r.checkEndpointParams(c, e, res, p)
		list := e.Action == ActionList
		for _, k := range []struct {
			key  string
			vals []string
		}{{"filters", e.Filters}, {"sort", e.Sort}} {
			if len(k.vals) > 0 && !list {
				c.fail(p+"."+k.key, "%s applies to list endpoints, not %s", k.key, e.Action)
			}
			for _, name := range k.vals {
				if f := res.field(name); f == nil || f.WriteOnly {
					c.fail(p+"."+k.key, "%q is not a readable field of %q", name, res.Name)
				} else if f.Type == TypeJSON || f.Type == TypeSet {
					c.fail(p+"."+k.key, "%q is a %s field and cannot be filtered or sorted", name, f.Type)
				}
			}
		}
		if len(e.Sort) > 0 && r.Shape.Pagination == "cursor" {
			c.fail(p+".sort", "cursor pagination walks the key order; sort needs offset pagination")
		}
		for _, name := range e.Embed {
			if e.Action == ActionDelete {
				c.fail(p+".embed", "a delete answers no body to embed into")
			} else if res.relation(name) == nil {
				c.fail(p+".embed", "%q is not a relation of %q", name, res.Name)
			}
		}
		if e.Event != "" {
			if e.Action == ActionList || e.Action == ActionGet {
				c.fail(p+".event", "events are written by create, replace, patch and delete, not %s", e.Action)
			} else if !identRe.MatchString(e.Event) {
				c.fail(p+".event", "%q is not an identifier", e.Event)
			}
		}
	}
}

func (r *Recipe) checkEndpointParams(c *checker, e *Endpoint, res *Resource, p string) {
	switch e.Action {
	case ActionGet, ActionReplace, ActionPatch, ActionDelete:
		keys := res.keyFields()
		if len(e.params) != len(keys) {
			c.fail(p+".path", "%s needs one path parameter per key field (%s); found %d", e.Action, strings.Join(keys, ", "), len(e.params))
			return
		}
		e.keyParams = make([]string, len(keys))
		for _, name := range e.params {
			i := slices.IndexFunc(keys, func(k string) bool {
				f := res.field(k)
				return name == k || (f != nil && name == f.JSON)
			})
			if i < 0 {
				if len(keys) == 1 {
					c.fail(p+".path", "path parameter {%s} is not the key %q of %q", name, keys[0], res.Name)
				} else {
					c.fail(p+".path", "path parameter {%s} is not one of the key fields (%s) of %q", name, strings.Join(keys, ", "), res.Name)
				}
				continue
			}
			if e.keyParams[i] != "" {
				c.fail(p+".path", "path parameters {%s} and {%s} both name the key field %q", e.keyParams[i], name, keys[i])
				continue
			}
			e.keyParams[i] = name
		}
	default:
		for _, name := range e.params {
			if res.fieldByParam(name) == nil {
				c.fail(p+".path", "path parameter {%s} is not a field of %q", name, res.Name)
			}
		}
	}
}

func (r *Recipe) checkQueryEndpoint(c *checker, e *Endpoint, p string) {
	if e.Query == nil {
		c.fail(p, "missing field \"query\" (action query needs one)")
		return
	}
	for _, k := range []struct {
		key string
		n   int
	}{{"filters", len(e.Filters)}, {"sort", len(e.Sort)}, {"embed", len(e.Embed)}} {
		if k.n > 0 {
			c.fail(p+"."+k.key, "%s does not apply to query endpoints", k.key)
		}
	}
	if e.Event != "" {
		c.fail(p+".event", "query endpoints are read-only and write no events")
	}
	q := e.Query
	seen := map[string]bool{}
	for i, prm := range q.Params {
		pp := fmt.Sprintf("%s.query.params[%d]", p, i)
		if !identRe.MatchString(prm.Name) {
			c.fail(pp+".name", "%q is not an identifier", prm.Name)
		}
		if seen[prm.Name] {
			c.fail(pp+".name", "parameter %q is declared twice", prm.Name)
		}
		seen[prm.Name] = true
		if prm.Default != "" {
			f := prm.field()
			if _, err := f.parseText(prm.Default, &r.Shape); err != nil {
				c.fail(pp+".default", "%v", err)
			}
		}
	}
	for _, name := range e.params {
		if !seen[name] {
			c.fail(p+".path", "path parameter {%s} is not a parameter of the query", name)
		}
	}
	sql, order, err := rewriteParams(q.SQL, seen)
	if err != nil {
		c.fail(p+".query.sql", "%v", err)
		return
	}
	q.sql, q.order = sql, order
}

func methodOf(action string) string {
	switch action {
	case ActionCreate:
		return "POST"
	case ActionReplace:
		return "PUT"
	case ActionPatch:
		return "PATCH"
	case ActionDelete:
		return "DELETE"
	default:
		return "GET"
	}
}

func defaultEndpointName(e *Endpoint, i int) string {
	if e.Action == ActionQuery {
		return "query" + strconv.Itoa(i)
	}
	return e.Action + applyCasing("pascal", e.Resource)
}

var paramRe = regexp.MustCompile(`\{([^{}]*)\}`)

// parseTemplate returns the parameters of a path template.
func parseTemplate(path string) ([]string, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("%q must start with '/'", path)
	}
	var out []string
	for _, seg := range strings.Split(path[1:], "/") {
		if !strings.ContainsAny(seg, "{}") {
			continue
		}
		m := paramRe.FindStringSubmatch(seg)
		if m == nil || m[0] != seg {
			return nil, fmt.Errorf("segment %q: a parameter takes a whole segment, as /orders/{id}", seg)
		}
		if !identRe.MatchString(m[1]) {
			return nil, fmt.Errorf("parameter {%s} is not an identifier", m[1])
		}
		if slices.Contains(out, m[1]) {
			return nil, fmt.Errorf("parameter {%s} appears twice", m[1])
		}
		out = append(out, m[1])
	}
	return out, nil
}

// normalizeTemplate replaces parameter names so that /a/{id} and /a/{key}
// are recognised as the same route.
func normalizeTemplate(path string) string { return paramRe.ReplaceAllString(path, "{}") }

func (res *Resource) field(name string) *Field {
	for i := range res.Fields {
		if res.Fields[i].Name == name {
			return &res.Fields[i]
		}
	}
	return nil
}

// fieldByParam finds a field by its name or its JSON name.
func (res *Resource) fieldByParam(name string) *Field {
	if f := res.field(name); f != nil {
		return f
	}
	for i := range res.Fields {
		if res.Fields[i].JSON == name {
			return &res.Fields[i]
		}
	}
	return nil
}

func (res *Resource) relation(name string) *Relation {
	for i := range res.Relations {
		if res.Relations[i].Name == name {
			return &res.Relations[i]
		}
	}
	return nil
}

func (r *Recipe) resource(name string) *Resource {
	for i := range r.Resources {
		if r.Resources[i].Name == name {
			return &r.Resources[i]
		}
	}
	return nil
}

// applyCasing writes a snake_case name in the given casing.
func applyCasing(casing, name string) string { return ApplyCasing(casing, name) }

// ApplyCasing writes a snake_case name in a shape's casing (camel, pascal,
// kebab, snake; any other value leaves it as it is), as the runtime names
// fields, relations and query parameters.
func ApplyCasing(casing, name string) string {
	parts := strings.FieldsFunc(name, func(r rune) bool { return r == '_' || r == '-' })
	switch casing {
	case "camel", "pascal":
		var b strings.Builder
		for i, p := range parts {
			if i == 0 && casing == "camel" {
				b.WriteString(strings.ToLower(p[:1]) + p[1:])
				continue
			}
			b.WriteString(strings.ToUpper(p[:1]) + p[1:])
		}
		return b.String()
	case "kebab":
		return strings.Join(parts, "-")
	case "snake":
		return strings.Join(parts, "_")
	default:
		return name
	}
}

// checkRoutes registers the routes the runtime will serve on a scratch
// ServeMux, which refuses (by panicking) patterns that overlap with neither
// more specific than the other, such as /a/{x}/c and /a/b/{y}.
func (r *Recipe) checkRoutes(c *checker) {
	mux := http.NewServeMux()
	register := func(pattern, path string) {
		defer func() {
			if v := recover(); v != nil {
				c.fail(path, "route %s cannot be served: %v", pattern, v)
			}
		}()
		mux.Handle(pattern, http.NotFoundHandler())
	}
	for _, p := range []string{"GET /openapi.json", "GET /healthz", "GET /metrics", "/"} {
		register(p, "")
	}
	seen := map[string]bool{}
	for i, e := range r.Endpoints {
		p := r.BasePath + e.Path
		register(e.Method+" "+p, fmt.Sprintf("endpoints[%d].path", i))
		if !seen[p] {
			seen[p] = true
			register(p, fmt.Sprintf("endpoints[%d].path", i))
		}
	}
}
