package proxy

import (
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stranglerfig/strangler/internal/wire"
)

// Shadower receives copies of requests answered by legacy for routes in
// shadow mode, with legacy's answer, to send them to the route's target and
// compare. Shadow must not block: it is called from one dispatching
// goroutine fed by a queue bounded by count (proxy.shadow_queue) and by
// bytes (proxy.shadow_queue_bytes), and copies that find the queue full are
// dropped and counted (strangler_shadow_comparisons_total{result="dropped"}).
type Shadower interface {
	Shadow(c *ShadowCopy)
}

// ShadowHeader marks a shadow copy of an unsafe request; the recipe runtime
// honours it by rolling its transaction back. It is the one definition the
// recipe runtime uses too (recipes.HeaderShadow). A client's own
// X-Strangler-* headers never get past the facade's ingress.
const ShadowHeader = wire.Shadow

// ShadowCopy is one request as the target would have received it, with the
// answer legacy gave. The Shadower owns it once handed over.
type ShadowCopy struct {
	Route     string    // the route's name
	RequestID string    // X-Request-Id of the original request
	At        time.Time // when the request arrived

	Method string
	URL    *url.URL    // the target URL: the target's base, the rewritten path, the query
	Header http.Header // the request's end-to-end headers, X-Forwarded-* and X-Request-Id;
	// for an unsafe method also ShadowHeader: 1
	Body []byte // the whole request body (bodies larger than proxy.max_body_copy are not shadowed)

	Legacy ShadowResponse // legacy's answer to the client

	queued int64 // the bytes the copy holds in the queue (size)

	// set by the facade, for Redacted
	rt   *route
	path string            // the path the route matched
	vars map[string]string // the route template's variables
}

// Redacted returns a copy of c with every secret replaced by Redacted, as
// in captures: the headers, query parameters, form and JSON fields and path
// variables that the route's capture.redact names, and those always
// redacted (see NewRedactor). Whatever keeps copies (a diff store, a
// report) keeps the redacted one; c itself stays whole, to be sent.
func (c *ShadowCopy) Redacted() *ShadowCopy {
	rd := &redaction{Redactor: NewRedactor()}
	if c.rt != nil {
		rd = c.rt.redact
	}
	var query string
	if c.URL != nil {
		query = c.URL.RawQuery
	}
	e := rd.redact(recorded{
		path: c.path, query: query, vars: c.vars,
		reqHeader: c.Header, respHeader: c.Legacy.Header,
		reqBody: c.Body, respBody: c.Legacy.Body,
	})
	out := *c
	out.Header, out.Body = e.reqHeader, e.reqBody
	out.Legacy.Header, out.Legacy.Body = e.respHeader, e.respBody
	out.vars, out.path = e.vars, e.path
	if c.URL != nil {
		u := *c.URL
		u.RawQuery = e.query
		if c.rt != nil {
			u.Path, u.RawPath = c.rt.targetPath(e.path, e.vars), ""
		}
		out.URL = &u
	}
	return &out
}

// ShadowResponse is legacy's answer.
type ShadowResponse struct {
	Status    int
	Header    http.Header
	Body      []byte // at most proxy.max_body_copy bytes
	Truncated bool   // the body was longer than Body
	Duration  time.Duration
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

// Copies returns the number of copies received.
func (n *NopShadower) Copies() uint64 { return n.copies.Load() }

// CopiesOf returns the number of copies received for one route.
func (n *NopShadower) CopiesOf(route string) uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.byRoute[route]
}

// size is what the queue counts for a copy: its request and response
// bodies, header names and values, and URL.
func (c *ShadowCopy) size() int64 {
	n := len(c.Body) + len(c.Legacy.Body) + headerSize(c.Header) + headerSize(c.Legacy.Header) +
		len(c.Method) + len(c.Route) + len(c.RequestID)
	if c.URL != nil {
		n += len(c.URL.Scheme) + len(c.URL.Host) + len(c.URL.Path) + len(c.URL.RawPath) + len(c.URL.RawQuery)
	}
	return int64(n)
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

// enqueueShadow hands c to the dispatcher, or drops and counts it when the
// queue holds proxy.shadow_queue copies already, or when c would take the
// bytes the waiting copies hold over proxy.shadow_queue_bytes. It never
// blocks.
func (f *Facade) enqueueShadow(rt *route, c *ShadowCopy) {
	c.queued = c.size()
	if f.shadowBytes.Add(c.queued) > f.shadowMaxBytes {
		f.shadowBytes.Add(-c.queued)
		rt.metrics.dropped.Inc()
		return
	}
	defer func() {
		// The queue is closed only by Close, after serving stopped; a
		// request still running then loses its copy, counted.
		if recover() != nil {
			f.shadowBytes.Add(-c.queued)
			rt.metrics.dropped.Inc()
		}
	}()
	select {
	case f.shadowQ <- c:
	default:
		f.shadowBytes.Add(-c.queued)
		rt.metrics.dropped.Inc()
	}
}

// dispatchShadows hands queued copies to the shadower, one at a time; a
// copy's bytes leave the queue's count when the shadower takes it.
func (f *Facade) dispatchShadows() {
	defer close(f.shadowDone)
	for c := range f.shadowQ {
		f.shadowBytes.Add(-c.queued)
		f.shadower.Shadow(c)
	}
}
