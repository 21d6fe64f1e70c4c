package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/wire"
)

// Shadower receives the copies of compared requests: the shadow engine.
// Shadow must not block: it is called on the request path, after the
// client's answer went out, and owns the copy from then on (it queues it,
// bounded, or drops and counts it). Close stops taking copies, then
// finishes those in flight or counts them dropped when ctx ends first; the
// facade never calls it: whoever made the shadower closes it after the
// facade stopped serving.
type Shadower interface {
	Shadow(c *ShadowCopy)
	Close(ctx context.Context) error
}

// ShadowHeader marks a shadow copy of an unsafe request; the recipe runtime
// honours it by rolling its transaction back. It is the one definition the
// recipe runtime uses too (recipes.HeaderShadow). A client's own
// X-Strangler-* headers never get past the facade's ingress.
const ShadowHeader = wire.Shadow

// Sides of a comparison: the backend that answered the client, and the one
// the copy goes to.
const (
	SideLegacy = "legacy"
	SideNew    = "new"
)

// Reasons a copy is handed over without a request to send (Skip): the
// engine counts it dropped.
const (
	SkipTooLarge   = "too_large"     // a body is larger than the route's shadow.max_body
	SkipUnsafe     = "unsafe_method" // an unsafe method on a route without shadow.writes, or bound for legacy
	SkipStreaming  = "streaming"     // the answer was a stream (upgrade, server-sent events)
	SkipIncomplete = "incomplete"    // the client's answer did not complete
	SkipFallback   = "fallback"      // the target failed and legacy answered
)

// ShadowCopy is one compared request: the request exactly as the side that
// answered the client received it (its URL pointed at the other side), and
// the answer the client got. Send sends it to the other side through the
// facade's transport, with the route's timeout and, towards the target, its
// breaker.
type ShadowCopy struct {
	Route     string    // the route's name
	RequestID string    // X-Request-Id of the original request
	At        time.Time // when the request arrived
	Primary   string    // SideLegacy or SideNew: the side that answered the client
	To        string    // the other side, where the copy goes

	// Skip, when set, is why there is nothing to send (see the Skip*
	// constants): the copy only says that a request was not compared.
	Skip string

	Method string
	URL    *url.URL    // the other side's URL: its base, the path as it expects it, the query
	Header http.Header // the headers the answering side received (end-to-end, X-Forwarded-*,
	// X-Request-Id), minus the route's shadow.drop_headers; for an unsafe method also ShadowHeader: 1
	Body []byte // the whole request body

	Answer ShadowResponse // the answer the client got, from Primary

	Rules *config.RouteShadow // the route's comparison rules

	// TraceParent is the W3C trace context of the facade's span of the
	// request, when the facade traces (WithTracerProvider): the comparison
	// continues that trace. Empty otherwise.
	TraceParent string

	queued int64 // the bytes the copy holds while queued (Size)

	// set by the facade, for Send, Again and Redacted
	f          *Facade
	rt         *route
	primaryURL url.URL           // the URL the answering side received
	path       string            // the path the route matched
	vars       map[string]string // the route template's variables
}

// ShadowResponse is one side's answer.
type ShadowResponse struct {
	Status    int
	Header    http.Header
	Body      []byte // at most the route's shadow.max_body bytes
	Truncated bool   // the body was longer than Body
	Duration  time.Duration
}

// ErrShadowAgain is returned by Again for a copy that may not be sent to
// its answering side a second time: legacy answered an unsafe method, or
// the target answered.
var ErrShadowAgain = errors.New("only a safe request that legacy answered is sent to it again")

// Send sends the copy to the other side (To) and returns its answer, read
// up to the route's shadow.max_body. Towards the target it goes through the
// route's breaker, which counts its outcome; a refusal is an error. It is
// bounded by the route's timeout and by ctx.
func (c *ShadowCopy) Send(ctx context.Context) (ShadowResponse, error) {
	if c.Skip != "" {
		return ShadowResponse{}, fmt.Errorf("shadow copy of route %s was not taken: %s", c.Route, c.Skip)
	}
	return c.send(ctx, c.To, c.URL)
}

// Again sends the request once more to the side that answered the client,
// which must be legacy and the method safe (ErrShadowAgain otherwise): two
// answers of legacy to one request show which fields change by themselves.
func (c *ShadowCopy) Again(ctx context.Context) (ShadowResponse, error) {
	if c.Primary != SideLegacy || !safeMethod(c.Method) || c.Skip != "" {
		return ShadowResponse{}, ErrShadowAgain
	}
	u := c.primaryURL
	return c.send(ctx, SideLegacy, &u)
}

// Size is what a queue counts for the copy: its request and answer bodies,
// header names and values, and URL.
func (c *ShadowCopy) Size() int64 {
	if c.queued == 0 {
		n := len(c.Body) + len(c.Answer.Body) + headerSize(c.Header) + headerSize(c.Answer.Header) +
			len(c.Method) + len(c.Route) + len(c.RequestID)
		if c.URL != nil {
			n += len(c.URL.Scheme) + len(c.URL.Host) + len(c.URL.Path) + len(c.URL.RawPath) + len(c.URL.RawQuery)
		}
		c.queued = int64(n)
	}
	return c.queued
}

func (c *ShadowCopy) send(ctx context.Context, to string, u *url.URL) (ShadowResponse, error) {
	if c.f == nil || c.rt == nil {
		return ShadowResponse{}, errors.New("shadow copy was not made by a facade")
	}
	start := time.Now()
	ctx, cancel := context.WithTimeoutCause(ctx, c.rt.timeout, fmt.Errorf("%w within %v", ErrUpstreamTimeout, c.rt.timeout))
	defer cancel()
	uu := *u
	req := (&http.Request{
		Method: c.Method, URL: &uu, Host: uu.Host,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: c.Header.Clone(), ContentLength: int64(len(c.Body)),
	}).WithContext(ctx)
	if len(c.Body) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(c.Body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(c.Body)), nil }
	}
	if c.TraceParent != "" {
		injectTrace(ctx, req.Header) // the comparison's span, when the shadower traces it
	}
	name := "legacy"
	var done func(error)
	if to == SideNew {
		name = c.rt.name
		d, err := c.rt.breaker.Allow()
		if err != nil {
			return ShadowResponse{}, fmt.Errorf("%s: %w", name, err)
		}
		done = d
	}
	resp, err := c.f.transport.RoundTrip(req)
	if err != nil {
		err = classify(ctx, name, err)
		if done != nil {
			done(err)
		}
		return ShadowResponse{}, err
	}
	defer resp.Body.Close()
	limit := c.Rules.MaxBody
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		err = classify(ctx, name, fmt.Errorf("reading the answer: %w", err))
		if done != nil {
			done(err)
		}
		return ShadowResponse{}, err
	}
	if done != nil {
		var outcome error
		if resp.StatusCode >= 500 {
			outcome = &UpstreamStatusError{Code: resp.StatusCode}
		}
		done(outcome)
	}
	out := ShadowResponse{Status: resp.StatusCode, Header: resp.Header, Body: body, Duration: time.Since(start)}
	removeHopByHop(out.Header)
	if int64(len(body)) > limit {
		out.Body, out.Truncated = body[:limit], true
	}
	return out, nil
}

// Redacted returns a copy of c with every secret replaced by Redacted, as
// in captures: the headers, query parameters, form and JSON fields and path
// variables that the route's capture.redact names, and those always
// redacted (see NewRedactor). Whatever keeps copies (a diff store, a
// report) keeps the redacted one; c itself stays whole, to be sent.
func (c *ShadowCopy) Redacted() *ShadowCopy {
	rd := c.redaction()
	var query string
	if c.URL != nil {
		query = c.URL.RawQuery
	}
	e := rd.redact(recorded{
		path: c.path, query: query, vars: c.vars,
		reqHeader: c.Header, respHeader: c.Answer.Header,
		reqBody: c.Body, respBody: c.Answer.Body,
	})
	out := *c
	out.Header, out.Body = e.reqHeader, e.reqBody
	out.Answer.Header, out.Answer.Body = e.respHeader, e.respBody
	out.vars, out.path = e.vars, e.path
	if c.URL != nil {
		u := *c.URL
		u.RawQuery = e.query
		if c.rt != nil {
			if c.To == SideNew {
				u.Path, u.RawPath = c.rt.targetPath(e.path, e.vars), ""
			} else {
				u.Path, u.RawPath = e.path, ""
			}
		}
		out.URL = &u
	}
	out.primaryURL.RawQuery = e.query
	if c.rt != nil {
		if c.Primary == SideNew {
			out.primaryURL.Path, out.primaryURL.RawPath = c.rt.targetPath(e.path, e.vars), ""
		} else {
			out.primaryURL.Path, out.primaryURL.RawPath = e.path, ""
		}
	}
	return &out
}

// RedactAnswer returns an answer of the other side with the secrets of its
// headers and body replaced, as Redacted does for the client's answer.
func (c *ShadowCopy) RedactAnswer(a ShadowResponse) ShadowResponse {
	e := c.redaction().redact(recorded{respHeader: a.Header, respBody: a.Body})
	a.Header, a.Body = e.respHeader, e.respBody
	return a
}

// Redacts reports whether name (a header, a query parameter, a form or
// JSON field) is redacted in what is recorded of this copy's route.
func (c *ShadowCopy) Redacts(name string) bool { return c.redaction().Redacts(name) }

// Path returns the path the route matched (redacted in a Redacted copy).
func (c *ShadowCopy) Path() string { return c.path }

// PrimaryURL returns the URL the answering side received.
func (c *ShadowCopy) PrimaryURL() url.URL { return c.primaryURL }

func (c *ShadowCopy) redaction() *redaction {
	if c.rt != nil {
		return c.rt.redact
	}
	return &redaction{Redactor: NewRedactor()}
}

// NopShadower is the Shadower used until a shadow engine is given: it
// counts the copies it receives and drops them.
type NopShadower struct {
	copies  atomic.Uint64
	mu      sync.Mutex
	byRoute map[string]uint64
}

var _ Shadower = (*NopShadower)(nil)

// Shadow counts c.
func (n *NopShadower) Shadow(c *ShadowCopy) {
	n.copies.Add(1)
	n.mu.Lock()
	if n.byRoute == nil {
		n.byRoute = map[string]uint64{}
	}
	n.byRoute[c.Route]++
	n.mu.Unlock()
}

// Close does nothing: nothing is in flight.
func (n *NopShadower) Close(context.Context) error { return nil }

// Copies returns the number of copies received.
func (n *NopShadower) Copies() uint64 { return n.copies.Load() }

// CopiesOf returns the number of copies received for one route.
func (n *NopShadower) CopiesOf(route string) uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.byRoute[route]
}

func headerSize(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v)
		}
	}
	return n
}

// shadowPolicy is a route's choice of the requests it compares, compiled
// from its shadow settings.
type shadowPolicy struct {
	rules        *config.RouteShadow
	shadowSample float64 // percent compared in mode shadow
	canarySample float64 // percent compared in mode canary
	drop         []string
}

func newShadowPolicy(rc *config.Route) shadowPolicy {
	rules := &config.RouteShadow{}
	if rc.Shadow != nil {
		r := *rc.Shadow
		rules = &r
	}
	if rules.MaxBody <= 0 {
		rules.MaxBody = config.DefaultMaxBodyCopy
	}
	p := shadowPolicy{rules: rules, shadowSample: config.DefaultShadowSample, canarySample: config.DefaultCanaryShadowSample}
	if rules.Sample != nil {
		p.shadowSample, p.canarySample = *rules.Sample, *rules.Sample
	}
	for _, h := range rules.DropHeaders {
		p.drop = append(p.drop, http.CanonicalHeaderKey(h))
	}
	return p
}

// take decides whether a request is compared, and which way: "" when it is
// not; otherwise the side the copy goes to. skip is set when the request is
// counted as not compared (an unsafe method).
func (x *exchange) takeShadow() (to, skip string) {
	p := &x.rt.shadow
	var sample float64
	switch {
	case x.mode == modeShadow && x.backend == backendLegacy:
		to, sample = SideNew, p.shadowSample
	case x.mode == modeCanary && x.backend == backendLegacy:
		to, sample = SideNew, p.canarySample
	case x.mode == modeCanary && x.backend == backendNew:
		to, sample = SideLegacy, p.canarySample
	default:
		return "", ""
	}
	if sample <= 0 || (sample < 100 && rand.Float64()*100 >= sample) {
		return "", ""
	}
	if !safeMethod(x.in.Method) && (to == SideLegacy || !p.rules.Writes) {
		return to, SkipUnsafe
	}
	return to, ""
}

// keepShadowRequest remembers, on the first attempt, the outgoing request
// as the answering side receives it, and points a copy of it at the other
// side: the same headers (X-Forwarded-* included), the path that side
// expects.
func (f *Facade) keepShadowRequest(x *exchange, pr *httputil.ProxyRequest) {
	h := pr.Out.Header.Clone()
	u := *pr.Out.URL
	other := &httputil.ProxyRequest{In: pr.In, Out: &http.Request{URL: &u, Header: h}}
	if x.shadowTo == SideNew {
		if rw := x.rt.rewrite; rw != nil {
			u.Path = rw.render(pr.In.URL.Path, x.rt.matcher.prefix, x.routeVars())
			u.RawPath = ""
		}
		other.SetURL(x.rt.target)
	} else {
		other.SetURL(f.legacy)
	}
	for _, k := range x.rt.shadow.drop {
		delete(h, k)
	}
	if !safeMethod(x.in.Method) {
		h.Set(ShadowHeader, "1")
	}
	x.shadowOut = other.Out
}

// shadowCopy builds the copy of a finished exchange, or a copy that only
// says why the request was not compared.
func (x *exchange) shadowCopy() *ShadowCopy {
	c := &ShadowCopy{
		Route: x.rt.name, RequestID: x.reqID, At: x.start,
		Primary: x.backend.String(), To: x.shadowTo, Method: x.in.Method,
		Rules: x.rt.shadow.rules, Skip: x.shadowSkip,
		f: x.f, rt: x.rt, path: x.in.URL.Path,
	}
	if x.span != nil {
		c.TraceParent = traceParent(x.client)
	}
	switch {
	case c.Skip != "":
	case x.fellBack:
		c.Skip = SkipFallback
	case x.upgraded || x.shadowOut == nil:
		c.Skip = SkipStreaming
	case x.resp == nil || !x.respTee.eof:
		c.Skip = SkipIncomplete
	case x.respTee.truncated || int64(len(x.respTee.buf)) > c.Rules.MaxBody:
		c.Skip = SkipTooLarge
	}
	if c.Skip != "" {
		return c
	}
	c.URL, c.Header, c.Body = x.shadowOut.URL, x.shadowOut.Header, x.reqCopy
	c.primaryURL = x.primaryURL
	c.vars = x.routeVars()
	c.Answer = ShadowResponse{
		Status: x.resp.StatusCode, Header: x.resp.Header.Clone(),
		Body: x.respTee.buf, Duration: time.Since(x.start),
	}
	return c
}

// ShadowRequest builds the copy of a request to the route named, as if
// legacy had answered it: Send asks the target, Again asks legacy; Answer
// is empty. It replays a stored request: path is the path legacy received
// (and the route matched), rawQuery its query, h and body what was sent.
func (f *Facade) ShadowRequest(name, method, path, rawQuery string, h http.Header, body []byte) (*ShadowCopy, error) {
	var rt *route
	for _, r := range f.routes {
		if r.name == name {
			rt = r
		}
	}
	if rt == nil {
		return nil, fmt.Errorf("no route %q in the project file", name)
	}
	in := &http.Request{Method: method, URL: &url.URL{Path: path, RawQuery: rawQuery}, Header: h, Host: f.legacy.Host}
	vars := rt.matcher.vars(in)
	if vars == nil && rt.matcher.prefix == "" && rt.cfg.Match.Path != "" {
		return nil, fmt.Errorf("route %s does not match %s %s", name, method, path)
	}
	if h == nil {
		h = http.Header{}
	}
	h = h.Clone()
	for _, k := range rt.shadow.drop {
		delete(h, k)
	}
	if !safeMethod(method) {
		h.Set(ShadowHeader, "1")
	}
	legacy := &httputil.ProxyRequest{In: in, Out: &http.Request{URL: &url.URL{Path: path, RawQuery: rawQuery}, Header: h}}
	legacy.SetURL(f.legacy)
	target := &url.URL{Path: path, RawQuery: rawQuery}
	if rw := rt.rewrite; rw != nil {
		target.Path = rw.render(path, rt.matcher.prefix, vars)
	}
	tr := &httputil.ProxyRequest{In: in, Out: &http.Request{URL: target, Header: http.Header{}}}
	tr.SetURL(rt.target)
	return &ShadowCopy{
		Route: name, At: time.Now(), Primary: SideLegacy, To: SideNew,
		Method: method, URL: tr.Out.URL, Header: h, Body: body, Rules: rt.shadow.rules,
		f: f, rt: rt, primaryURL: *legacy.Out.URL, path: path, vars: vars,
	}, nil
}
