package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/stranglerfig/strangler/internal/config"
)

// Redacted replaces the value of every redacted header, query parameter,
// form field, JSON field and path variable in captures and in redacted
// shadow copies.
const Redacted = "[REDACTED]"

// alwaysRedactedHeaders are redacted whatever capture.redact says.
var alwaysRedactedHeaders = []string{
	"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie",
	"X-Api-Key", "X-Auth-Token", "X-Access-Token", "X-Csrf-Token", "X-Xsrf-Token",
	"X-Amz-Security-Token",
}

// alwaysRedactedNames are redacted, whatever capture.redact says, as query
// parameters, form fields, JSON fields and path variables.
var alwaysRedactedNames = []string{
	"password", "passwd", "secret", "token", "access_token", "refresh_token", "id_token",
	"api_key", "apikey", "client_secret",
}

// Redactor replaces secrets by Redacted in recorded traffic. A name is
// redacted, without regard to case, wherever it appears: as a header, a
// query parameter, a field of an application/x-www-form-urlencoded or
// multipart/form-data body, a JSON field at any depth, or a path variable.
// Captures and redacted shadow copies (ShadowCopy.Redacted) go through the
// same Redactor. A Redactor is safe for concurrent use.
type Redactor struct {
	names map[string]bool // lower case
}

// NewRedactor returns a Redactor for names and the names always redacted:
// the headers Authorization, Proxy-Authorization, Cookie, Set-Cookie,
// X-Api-Key, X-Auth-Token, X-Access-Token, X-Csrf-Token, X-Xsrf-Token and
// X-Amz-Security-Token, and the fields password, passwd, secret, token,
// access_token, refresh_token, id_token, api_key, apikey and client_secret.
func NewRedactor(names ...string) *Redactor {
	r := &Redactor{names: map[string]bool{}}
	for _, list := range [][]string{alwaysRedactedHeaders, alwaysRedactedNames, names} {
		for _, n := range list {
			r.names[strings.ToLower(n)] = true
		}
	}
	return r
}

// Redacts reports whether name is redacted.
func (r *Redactor) Redacts(name string) bool {
	if r.names[name] {
		return true
	}
	return r.names[strings.ToLower(name)]
}

// Header returns a copy of h with the values of redacted headers replaced.
func (r *Redactor) Header(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	out := h.Clone()
	for name := range out {
		if r.Redacts(name) {
			out[name] = []string{Redacted}
		}
	}
	return out
}

// Query returns a URL query string (or a form body) with the values of
// redacted parameters replaced; everything else stays as written.
func (r *Redactor) Query(raw string) string {
	if raw == "" {
		return raw
	}
	pairs := strings.Split(raw, "&")
	changed := false
	for i, pair := range pairs {
		key, _, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(key)
		if err != nil {
			name = key
		}
		if r.Redacts(name) {
			pairs[i] = key + "=" + url.QueryEscape(Redacted)
			changed = true
		}
	}
	if !changed {
		return raw
	}
	return strings.Join(pairs, "&")
}

// Vars returns a copy of a route's path variables with redacted ones
// replaced.
func (r *Redactor) Vars(vars map[string]string) map[string]string {
	if vars == nil {
		return nil
	}
	out := make(map[string]string, len(vars))
	for k, v := range vars {
		if r.Redacts(k) {
			v = Redacted
		}
		out[k] = v
	}
	return out
}

// Body returns a body, whose headers are h, with the values of redacted
// fields replaced: form bodies by field name, multipart forms by part name,
// and any body that parses as JSON by field name at any depth. A body that
// its Content-Type says is JSON or a multipart form but that does not parse
// (one cut at proxy.max_body_copy, say) is replaced by Redacted as a whole,
// since its secrets cannot be found. Other bodies are returned unchanged.
func (r *Redactor) Body(h http.Header, b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	mt, params, _ := mime.ParseMediaType(h.Get("Content-Type"))
	switch {
	case mt == "application/x-www-form-urlencoded":
		return []byte(r.Query(string(b)))
	case mt == "multipart/form-data":
		out, err := r.multipart(b, params["boundary"])
		if err != nil {
			return []byte(Redacted)
		}
		return out
	}
	out, ok := r.json(b)
	if !ok && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return []byte(Redacted)
	}
	return out
}

// json redacts a JSON body; ok is false when b is not one JSON value.
func (r *Redactor) json(b []byte) (out []byte, ok bool) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return b, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return b, false // more than one value
	}
	if !r.value(v) {
		return b, true
	}
	out, err := json.Marshal(v)
	if err != nil {
		return []byte(Redacted), true
	}
	return out, true
}

// value redacts a decoded JSON value in place and reports whether anything
// changed.
func (r *Redactor) value(v any) bool {
	changed := false
	switch t := v.(type) {
	case map[string]any:
		for k, sub := range t {
			if r.Redacts(k) {
				t[k] = Redacted
				changed = true
				continue
			}
			changed = r.value(sub) || changed
		}
	case []any:
		for _, sub := range t {
			changed = r.value(sub) || changed
		}
	}
	return changed
}

// multipart rewrites a multipart form with the content of redacted parts
// replaced, keeping the boundary and every part's headers.
func (r *Redactor) multipart(b []byte, boundary string) ([]byte, error) {
	if boundary == "" {
		return nil, errors.New("multipart body without a boundary")
	}
	rd := multipart.NewReader(bytes.NewReader(b), boundary)
	var out bytes.Buffer
	w := multipart.NewWriter(&out)
	if err := w.SetBoundary(boundary); err != nil {
		return nil, err
	}
	for {
		p, err := rd.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		pw, err := w.CreatePart(p.Header)
		if err != nil {
			return nil, err
		}
		if r.Redacts(p.FormName()) {
			_, err = io.WriteString(pw, Redacted)
		} else {
			_, err = io.Copy(pw, p)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// pathRedactor replaces the redacted variables of one route's template in
// the paths it matched.
type pathRedactor struct {
	re     *regexp.Regexp // the template's path regexp, as gorilla/mux builds it
	groups []int          // submatch indexes of the redacted variables
}

// newPathRedactor returns nil when the template has no redacted variable.
// pathRegexp is the template's regexp from mux (GetPathRegexp), in which
// the nth variable is the group named "v<n>".
func newPathRedactor(r *Redactor, pathRegexp string, vars []string) (*pathRedactor, error) {
	var redacted []string
	for i, name := range vars {
		if r.Redacts(name) {
			redacted = append(redacted, "v"+strconv.Itoa(i))
		}
	}
	if len(redacted) == 0 {
		return nil, nil
	}
	re, err := regexp.Compile(pathRegexp)
	if err != nil {
		return nil, err
	}
	pr := &pathRedactor{re: re}
	for _, g := range redacted {
		if i := re.SubexpIndex(g); i > 0 {
			pr.groups = append(pr.groups, i)
		}
	}
	return pr, nil
}

// redact returns path with the values of redacted variables replaced. A
// path the template does not match is returned unchanged.
func (p *pathRedactor) redact(path string) string {
	if p == nil {
		return path
	}
	loc := p.re.FindStringSubmatchIndex(path)
	if loc == nil {
		return path
	}
	var b strings.Builder
	last := 0
	for _, g := range p.groups {
		start, end := loc[2*g], loc[2*g+1]
		if start < last || start < 0 {
			continue
		}
		b.WriteString(path[last:start])
		b.WriteString(Redacted)
		last = end
	}
	b.WriteString(path[last:])
	return b.String()
}

// redaction is one route's: its Redactor and its template's redacted path
// variables.
type redaction struct {
	*Redactor
	path *pathRedactor // nil: no redacted path variable
}

func newRedaction(r *Redactor, m *routeMatcher, template string) (*redaction, error) {
	rd := &redaction{Redactor: r}
	expr, err := m.mux.GetPathRegexp()
	if err != nil {
		return nil, fmt.Errorf("redaction: %w", err)
	}
	if rd.path, err = newPathRedactor(r, expr, config.TemplateVars(template)); err != nil {
		return nil, fmt.Errorf("redaction: %w", err)
	}
	return rd, nil
}

// recorded is what a capture or a stored shadow copy keeps of one exchange.
type recorded struct {
	path, query           string // the path the route matched, the raw query
	vars                  map[string]string
	reqHeader, respHeader http.Header
	reqBody, respBody     []byte
}

// redact returns e with every secret replaced: the one redaction captures
// and shadow copies share.
func (rd *redaction) redact(e recorded) recorded {
	return recorded{
		path:       rd.path.redact(e.path),
		query:      rd.Query(e.query),
		vars:       rd.Vars(e.vars),
		reqHeader:  rd.Header(e.reqHeader),
		respHeader: rd.Header(e.respHeader),
		reqBody:    rd.Body(e.reqHeader, e.reqBody),
		respBody:   rd.Body(e.respHeader, e.respBody),
	}
}
