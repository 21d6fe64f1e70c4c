package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/stranglerfig/strangler/proxy/capture"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stranglerfig/strangler/internal/httpstatus"
)

// exchange is the state of one client request while the facade serves it.
// The ReverseProxy hooks find it in the request context. It lives exactly as
// long as the request, which is why it may hold the request's context (as
// http.Request does): nothing outlives ServeHTTP.
type exchange struct {
	f       *Facade
	rec     httpstatus.Recorder
	in      *http.Request           // the client request, with the exchange in its context
	client  context.Context         // the client request's own context: done when the client left
	cancel  context.CancelCauseFunc // cancels x.in's context: the first attempt's
	start   time.Time
	reqID   string
	reqIDs  []string // {reqID}, as a header value
	reqID1  [1]string
	rt      *route // nil: unmatched
	mode    routeMode
	vars    map[string]string // the route template's variables, once asked for
	backend backend
	body    *trackedBody // the client body, nil when there is none

	// The target attempt's outcome: what the hooks saw of it, reported to
	// the breaker once, by reportTarget.
	done      func(error) // the breaker's outcome callback; nil without a target attempt
	targetErr error       // the target attempt failed (classified); nil: it succeeded so far
	reported  bool        // the outcome went to the breaker
	retry     bool        // the target failed in a way legacy may answer: forwardTarget falls back

	span     trace.Span  // the server span; nil without tracing
	timer    *time.Timer // the running attempt's timeout
	err      error       // the error the client saw, if any
	fellBack bool
	upgraded bool

	// copies for shadow (either side) and capture (legacy answers only)
	shadow, capture bool
	shadowTo        string        // the side a copy goes to; "" when the request is not compared
	shadowSkip      string        // why a compared request has nothing to send (ShadowCopy.Skip)
	shadowOut       *http.Request // the copy's request: URL and headers
	primaryURL      url.URL       // the URL the answering side received
	reqCopy         []byte
	reqTruncated    bool
	resp            *http.Response // legacy's response (headers only are read)
	respTee         *boundedTee
}

type exchangeKey struct{}

func exchangeOf(r *http.Request) *exchange {
	x, _ := r.Context().Value(exchangeKey{}).(*exchange)
	return x
}

// ServeHTTP serves one client request on the route table in use when it
// arrived.
func (f *Facade) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := ingress(r); err != nil {
		f.refuse(w, r, err)
		return
	}
	x := &exchange{f: f, start: time.Now(), rec: httpstatus.Recorder{ResponseWriter: w}}
	t := f.table.Load()

	if ids := r.Header["X-Request-Id"]; len(ids) > 0 && ids[0] != "" {
		x.reqID, x.reqIDs = ids[0], ids[:1:1]
	} else {
		x.reqID = f.ids.next()
		x.reqID1[0] = x.reqID
		x.reqIDs = x.reqID1[:]
		r.Header["X-Request-Id"] = x.reqIDs
	}

	if f.identity != nil {
		f.identity.strip(r.Header) // no client sets an identity header a check sets, on any path
	}
	var e *routeEntry
	if i := f.index.match(r); i >= 0 {
		e = &t.entries[i]
		x.rt, x.mode = e.route, e.mode
	}
	if f.tracer != nil {
		r = f.startSpan(x, r)
	}
	if x.rt != nil && x.rt.gate != nil && !f.gate(x, r) {
		return // refused by the route's auth check or rate limit, and recorded (auth.go)
	}
	x.backend = x.choose(e, r)
	if r.Body != nil && r.Body != http.NoBody {
		x.body = &trackedBody{rc: r.Body}
		r.Body = x.body
	}
	// One context for the exchange and its first attempt: a second attempt
	// (fallback) gets its own.
	x.client = r.Context()
	ctx, cancel := context.WithCancelCause(x.client)
	x.cancel = cancel
	x.in = r.WithContext(context.WithValue(ctx, exchangeKey{}, x))
	defer x.finish()

	if x.rt != nil {
		x.shadowTo, x.shadowSkip = x.takeShadow()
		x.shadow = x.shadowTo != "" && x.shadowSkip == ""
		x.capture = x.backend == backendLegacy && x.rt.capture != nil && x.rt.capture.take()
		if x.shadow || x.capture {
			x.copyRequestBody()
		}
	}
	if x.backend == backendNew {
		f.forwardTarget(x)
		return
	}
	f.forward(x, backendLegacy)
}

// refuse answers a request that ingress found unfit with 400, naming what
// was wrong; it goes nowhere.
func (f *Facade) refuse(w http.ResponseWriter, r *http.Request, err error) {
	f.metrics.refused.Inc()
	if f.log.Enabled(r.Context(), slog.LevelInfo) {
		reason := err.Error()
		var pe *pathError
		if errors.As(err, &pe) {
			reason = pe.Reason
		}
		f.log.LogAttrs(r.Context(), slog.LevelInfo, "request refused", slog.String("method", r.Method),
			slog.Int("status", http.StatusBadRequest), slog.String("error", reason))
	}
	http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
}

// routeVars returns the route template's variables of the request.
func (x *exchange) routeVars() map[string]string {
	if x.vars == nil && x.rt != nil {
		x.vars = x.rt.matcher.vars(x.in)
	}
	return x.vars
}

// choose picks the backend for a request on its route entry.
func (x *exchange) choose(e *routeEntry, r *http.Request) backend {
	if e == nil {
		return backendLegacy
	}
	switch e.mode {
	case modeNew:
		return backendNew
	case modeCanary:
		switch {
		case e.percent <= 0:
			return backendLegacy
		case e.percent >= 100:
			return backendNew
		}
		var p float64
		if k := e.route.sticky.key(r); k != "" {
			p = stickyPoint(e.route.name, k)
		} else {
			p = rand.Float64() * 100
		}
		if p < e.percent {
			return backendNew
		}
	}
	return backendLegacy
}

// forwardTarget sends the request to the route's target through its
// breaker. Legacy answers instead, in one place, when the route falls back
// and the breaker refused the attempt or the attempt failed as canFallback
// allows (the hooks then wrote nothing to the client).
func (f *Facade) forwardTarget(x *exchange) {
	done, err := x.rt.breaker.Allow()
	if err != nil {
		err = fmt.Errorf("%s: %w", x.rt.name, err)
		if !x.canFallback(err) {
			x.fail(&x.rec, err)
			return
		}
	} else {
		x.done = done
		f.forward(x, backendNew)
		if !x.retry {
			return
		}
		err = x.targetErr
		x.reportTarget() // before the second attempt, which may take long
		f.log.LogAttrs(x.client, slog.LevelWarn, "target failed, legacy answers",
			slog.String("route", x.rt.name), slog.String("request_id", x.reqID), slog.String("error", err.Error()))
	}
	x.fellBack = true
	x.rt.metrics.fellBack(fallbackReason(err))
	f.forward(x, backendLegacy)
}

// forward makes one attempt on a backend, bounded by the route's timeout.
// For streamed responses (upgrades, server-sent events) the timeout bounds
// the wait for the response headers only.
func (f *Facade) forward(x *exchange, b backend) {
	x.backend = b
	timeout := f.timeout
	if x.rt != nil {
		timeout = x.rt.timeout
	}
	req, cancel := x.in, x.cancel
	if cancel == nil { // a second attempt
		var ctx context.Context
		ctx, cancel = context.WithCancelCause(x.client)
		req = x.in.WithContext(context.WithValue(ctx, exchangeKey{}, x))
	}
	x.cancel = nil
	timer := time.AfterFunc(timeout, func() {
		cancel(fmt.Errorf("%w within %v", ErrUpstreamTimeout, timeout))
	})
	x.timer = timer
	defer func() {
		timer.Stop()
		cancel(nil)
	}()
	if x.span != nil {
		var span trace.Span
		req, span = x.upstreamSpan(req, b)
		defer span.End()
	}
	f.rp.ServeHTTP(&x.rec, req)
}

// reportTarget gives the breaker the target attempt's outcome, once: its
// failure, or success. It runs when the exchange finishes, or earlier where
// the outcome is known and waiting would hold the breaker (a fallback, a
// stream that may last hours).
func (x *exchange) reportTarget() {
	if x.done == nil || x.reported {
		return
	}
	x.reported = true
	x.done(x.targetErr)
}

// canFallback reports whether a failed target attempt may be answered by
// legacy: the route falls back, the client is still there, and either the
// request provably never reached the target, or it is safe to send again;
// in both cases its body must still be whole.
func (x *exchange) canFallback(err error) bool {
	if x.rt == nil || !x.rt.fallback || x.client.Err() != nil {
		return false
	}
	if x.body != nil && x.body.n.Load() > 0 {
		return false // part of the body is gone: it cannot be sent again
	}
	return neverReached(err) || safeMethod(x.in.Method)
}

// fail answers the client with the status for err.
func (x *exchange) fail(w http.ResponseWriter, err error) {
	x.err = err
	w.Header().Set("X-Request-Id", x.reqID)
	code := statusFor(err)
	if code == StatusClientClosedRequest {
		w.WriteHeader(code)
		return
	}
	http.Error(w, http.StatusText(code), code)
}

// newReverseProxy builds the one ReverseProxy every backend goes through.
// Its transport counts informational answers (boundInformational); the
// answer's bytes go on to the client as the upstream writes them
// (flushResponse, or as WithFlushInterval says).
func (f *Facade) newReverseProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:        f.rewrite,
		Transport:      boundInformational(f.transport),
		FlushInterval:  max(f.flushInterval, 0), // negative: flushResponse flushes
		BufferPool:     newBufferPool(),
		ModifyResponse: f.flushResponse,
		ErrorHandler:   f.handleError,
		ErrorLog:       slog.NewLogLogger(f.log.Handler(), slog.LevelWarn),
	}
}

// rewrite points the outbound request at its backend: X-Forwarded-* set
// (see setForwarded: appended to only from trusted proxies), the target's
// path rewritten when the route says so.
func (f *Facade) rewrite(pr *httputil.ProxyRequest) {
	x := exchangeOf(pr.In)
	f.setForwarded(pr)
	keep := x.shadow && x.shadowOut == nil // the first attempt only
	if keep {
		f.keepShadowRequest(x, pr)
	}
	if x.backend != backendNew {
		pr.SetURL(f.legacy)
	} else {
		if rw := x.rt.rewrite; rw != nil {
			pr.Out.URL.Path = rw.render(pr.In.URL.Path, x.rt.matcher.prefix, x.routeVars())
			pr.Out.URL.RawPath = ""
		}
		pr.SetURL(x.rt.target)
	}
	if keep {
		x.primaryURL = *pr.Out.URL
	}
	if x.span != nil {
		injectTrace(pr.Out.Context(), pr.Out.Header) // the attempt's span, after the shadow copy kept the client's headers
	}
}

// modifyResponse sees the response headers of every attempt.
func (f *Facade) modifyResponse(resp *http.Response) error {
	x := exchangeOf(resp.Request)
	if x.span != nil {
		trace.SpanFromContext(resp.Request.Context()).SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	}
	if _, ok := resp.Header["X-Request-Id"]; !ok { // the client learns the id; an upstream's own wins
		resp.Header["X-Request-Id"] = x.reqIDs // shared, never written to
	}
	streaming := resp.StatusCode == http.StatusSwitchingProtocols || isEventStream(resp.Header)
	if streaming {
		x.timer.Stop()
		x.upgraded = resp.StatusCode == http.StatusSwitchingProtocols
	}
	if x.backend == backendLegacy {
		if (x.shadow || x.capture) && !streaming {
			x.teeAnswer(resp)
		}
		return nil
	}
	if resp.StatusCode >= 500 {
		err := &UpstreamStatusError{Code: resp.StatusCode}
		if x.canFallback(err) {
			return err // handleError records it; forwardTarget falls back
		}
		x.targetErr = fmt.Errorf("%s: %w", x.rt.name, err)
		if x.shadow {
			x.teeAnswer(resp)
		}
		return nil
	}
	if streaming {
		x.reportTarget() // established: a success, whatever the stream's length
		return nil
	}
	if x.rt.fallback && safeMethod(x.in.Method) && resp.Body != nil && resp.Body != http.NoBody {
		// Read the answer before sending any of it, so that a target that
		// fails mid-body can still be replaced by legacy.
		buf, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBodyCopy+1))
		if err != nil {
			return fmt.Errorf("reading the answer: %w", err)
		}
		if int64(len(buf)) <= f.maxBodyCopy {
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(buf))
		} else {
			resp.Body = &prefixedBody{Reader: io.MultiReader(bytes.NewReader(buf), resp.Body), c: resp.Body}
		}
	}
	if x.shadow {
		x.teeAnswer(resp)
	}
	return nil // success is reported once the body went through (finish)
}

// teeAnswer keeps a copy of the answer's body, up to proxy.max_body_copy,
// as it goes to the client: for the shadow copy and the capture.
func (x *exchange) teeAnswer(resp *http.Response) {
	x.resp = resp
	x.respTee = &boundedTee{rc: resp.Body, limit: x.f.maxBodyCopy}
	resp.Body = x.respTee
}

// handleError sees every failed attempt before any of its answer was sent.
// A target failure that legacy may answer is only recorded: forwardTarget
// makes the second attempt, outside the ReverseProxy.
func (f *Facade) handleError(w http.ResponseWriter, out *http.Request, err error) {
	x := exchangeOf(out)
	if x.backend != backendNew {
		x.fail(w, classify(out.Context(), "legacy", err))
		return
	}
	err = classify(out.Context(), x.rt.name, err)
	x.targetErr = err
	if x.canFallback(err) {
		x.retry = true
		return
	}
	x.fail(w, err)
}

func isEventStream(h http.Header) bool {
	ct := h.Get("Content-Type")
	return strings.HasPrefix(ct, "text/event-stream")
}

// finish records the exchange: the breaker's outcome, metrics, the access
// log, and the shadow copy and capture record. It runs deferred, also when
// the response was aborted (http.ErrAbortHandler), which it passes on.
func (x *exchange) finish() {
	p := recover()
	if x.cancel != nil { // no attempt was made
		x.cancel(nil)
	}
	if p != nil {
		err := errAborted
		if x.client.Err() != nil {
			err = context.Canceled
		}
		if x.backend == backendNew && x.targetErr == nil {
			x.targetErr = err // the answer broke off mid-body
		}
		if x.err == nil {
			x.err = err
		}
	}
	x.reportTarget()
	status := x.rec.Status
	switch {
	case x.upgraded:
		status = http.StatusSwitchingProtocols
	case status == 0 && x.client.Err() != nil:
		status = StatusClientClosedRequest
	case status == 0:
		status = http.StatusOK
	}
	elapsed := time.Since(x.start)
	if x.span != nil {
		x.endSpan(status)
	}
	rm := x.f.metrics.unmatched
	if x.rt != nil {
		rm = x.rt.metrics
	}
	bm := rm.backend(x.backend)
	bm.counter(status).Inc()
	bm.observe(elapsed.Seconds())
	d := elapsed
	if x.upgraded {
		d = -1 // a stream's length says nothing of the backend's speed
	}
	if x.rt != nil {
		x.rt.windows.record(x.start.Add(elapsed), x.backend, status, d, x.fellBack && x.done != nil)
	} else {
		x.f.unmatched.record(x.start.Add(elapsed), backendLegacy, status, d, false)
	}
	x.f.accessLog(x, status, elapsed)
	if p != nil {
		panic(p)
	}
	if x.capture && x.resp != nil && x.respTee.eof && x.backend == backendLegacy {
		x.writeCapture(elapsed)
	}
	if x.shadowTo != "" {
		x.f.shadower.Shadow(x.shadowCopy())
	}
}

func (f *Facade) accessLog(x *exchange, status int, elapsed time.Duration) {
	if !f.log.Enabled(x.client, slog.LevelInfo) {
		return
	}
	route := ""
	if x.rt != nil {
		route = x.rt.name
	}
	attrs := []slog.Attr{
		slog.String("route", route),
		slog.String("backend", x.backend.String()),
		slog.Int("status", status),
		slog.Duration("duration", elapsed),
		slog.String("request_id", x.reqID),
		slog.String("method", x.in.Method),
		slog.String("path", x.logPath()),
	}
	if x.fellBack {
		attrs = append(attrs, slog.Bool("fallback", true))
	}
	if x.err != nil {
		attrs = append(attrs, slog.String("error", x.err.Error()))
	}
	f.log.LogAttrs(x.client, slog.LevelInfo, "request", attrs...)
}

// logPath is the request's path for the access log, with the route's
// redacted path variables replaced.
func (x *exchange) logPath() string {
	if x.rt != nil && x.rt.redact.path != nil {
		return x.rt.redact.path.redact(x.in.URL.Path)
	}
	return x.in.URL.Path
}

// copyRequestBody reads up to proxy.max_body_copy bytes of the request body
// for the shadow copy and the capture, and puts them back in front of the
// rest of the body.
func (x *exchange) copyRequestBody() {
	if x.body == nil {
		return
	}
	limit := x.f.maxBodyCopy
	buf, err := io.ReadAll(io.LimitReader(x.body.rc, limit+1))
	if err != nil {
		// The client's body failed: the backend will see the same failure.
		x.shadow, x.capture, x.shadowTo = false, false, ""
		x.in.Body = &prefixedBody{Reader: io.MultiReader(bytes.NewReader(buf), errReader{err}), c: x.body.rc}
		return
	}
	if x.shadow && int64(len(buf)) > x.rt.shadow.rules.MaxBody {
		x.shadow, x.shadowSkip = false, SkipTooLarge // a shadow copy needs the whole body
	}
	if int64(len(buf)) > limit {
		x.reqTruncated = true
		x.reqCopy = buf[:limit]
		x.in.Body = &prefixedBody{Reader: io.MultiReader(bytes.NewReader(buf), x.body.rc), c: x.body.rc}
		return
	}
	x.reqCopy = buf
	x.in.Body = io.NopCloser(bytes.NewReader(buf))
}

func (x *exchange) writeCapture(elapsed time.Duration) {
	rec := &capture.Record{
		Route: x.rt.name, At: x.start, RequestID: x.reqID,
		Request: capture.Request{Method: x.in.Method, Path: x.in.URL.Path, Query: x.in.URL.RawQuery,
			Vars: x.routeVars(), Header: x.in.Header, Truncated: x.reqTruncated},
		Response: capture.Response{Status: x.resp.StatusCode, Header: x.resp.Header,
			Truncated: x.respTee.truncated, DurationMS: float64(elapsed.Microseconds()) / 1000},
	}
	if err := x.rt.capture.write(rec, x.reqCopy, x.respTee.buf); err != nil {
		x.f.log.LogAttrs(x.client, slog.LevelWarn, "capture failed", slog.String("route", x.rt.name),
			slog.String("error", err.Error()))
	}
}

// hopByHop are the headers that concern one connection only (RFC 9110 7.6.1).
var hopByHop = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func removeHopByHop(h http.Header) {
	for _, f := range h.Values("Connection") {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopByHop {
		h.Del(name)
	}
}

// trackedBody counts the bytes read from the client's body, so that the
// facade knows whether any of it went to the target. Close is the server's
// business, not the transport's.
type trackedBody struct {
	rc io.ReadCloser
	n  atomic.Int64 // read by the transport's writer, checked by the handler
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (b *trackedBody) Close() error { return nil }

// boundedTee passes a body through and keeps a copy of its first limit
// bytes.
type boundedTee struct {
	rc        io.ReadCloser
	limit     int64
	buf       []byte
	truncated bool
	eof       bool
}

func (t *boundedTee) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	if n > 0 {
		room := t.limit - int64(len(t.buf))
		switch {
		case room >= int64(n):
			t.buf = append(t.buf, p[:n]...)
		case room > 0:
			t.buf = append(t.buf, p[:room]...)
			t.truncated = true
		default:
			t.truncated = true
		}
	}
	if errors.Is(err, io.EOF) {
		t.eof = true
	}
	return n, err
}

func (t *boundedTee) Close() error { return t.rc.Close() }

// prefixedBody is a body made of bytes already read and the rest.
type prefixedBody struct {
	io.Reader
	c io.Closer
}

func (b *prefixedBody) Close() error { return b.c.Close() }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
