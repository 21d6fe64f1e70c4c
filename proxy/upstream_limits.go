package proxy

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
)

// Bounds on what an upstream may send before its answer's body. Beyond
// them the exchange fails, its connection is closed, and the client gets
// 502 Bad Gateway.
const (
	// maxResponseHeadBytes bounds one response head: the status line and
	// the headers, in bytes read from the connection. net/http's transport
	// would allow 10 MB; no sane upstream comes near 1 MiB. An
	// informational answer (1xx) the facade passes on to the client has a
	// bound of its own; the heads of any it does not pass on share the
	// bound with the final head.
	maxResponseHeadBytes = 1 << 20

	// maxInformational bounds the informational answers (1xx but 101)
	// of one request: 100 Continue, 102 Processing, 103 Early Hints. A
	// real upstream sends one or two.
	maxInformational = 16
)

var (
	errResponseHeadTooLarge = fmt.Errorf("upstream response head larger than %d bytes", maxResponseHeadBytes)
	errTooManyInformational = fmt.Errorf("upstream sent more than %d informational (1xx) answers", maxInformational)
)

// boundInformational wraps the facade's transport, whichever it is, so
// that an upstream's informational answers are counted and the request
// fails beyond maxInformational. Transports hand each 1xx answer to the
// request's httptrace.ClientTrace; the ReverseProxy's hook passes it on
// to the client, and net/http's transport then gives the next head a
// fresh size bound, so that an endless run of 1xx answers would otherwise
// hold the request and the client until the route's timeout.
func boundInformational(rt http.RoundTripper) http.RoundTripper {
	return &informationalBound{rt: rt}
}

type informationalBound struct{ rt http.RoundTripper }

func (b *informationalBound) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	trace := httptrace.ContextClientTrace(ctx)
	if trace == nil || trace.Got1xxResponse == nil {
		// Nobody passes 1xx answers on: transports skip them, their
		// heads counted in the final head's bound.
		return b.rt.RoundTrip(req)
	}
	g := &informationalGuard{Context: ctx, from: trace, trace: *trace, next: trace.Got1xxResponse}
	g.trace.Got1xxResponse = g.got1xx
	return b.rt.RoundTrip(req.WithContext(g))
}

// CloseIdleConnections passes on to the wrapped transport.
func (b *informationalBound) CloseIdleConnections() {
	if ci, ok := b.rt.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// informationalGuard is the request's context with its client trace
// replaced by one whose Got1xxResponse counts before it passes the answer
// on. httptrace.WithClientTrace would compose a new trace with the old
// one, calling the ReverseProxy's hook (which writes the answer to the
// client) before the counter and taking the hook's result, not the
// counter's; so the trace is replaced where the transport looks it up.
// Everything else, cancellation and cause included, is the request's
// context.
type informationalGuard struct {
	context.Context
	from  *httptrace.ClientTrace // the request's trace
	trace httptrace.ClientTrace  // its copy with the counting hook
	next  func(int, textproto.MIMEHeader) error
	n     int // informational answers seen; transports call hooks on one goroutine per request
}

func (g *informationalGuard) Value(key any) any {
	v := g.Context.Value(key)
	if t, ok := v.(*httptrace.ClientTrace); ok && t == g.from {
		return &g.trace
	}
	return v
}

func (g *informationalGuard) got1xx(code int, h textproto.MIMEHeader) error {
	g.n++
	if g.n > maxInformational {
		return errTooManyInformational
	}
	return g.next(code, h)
}
