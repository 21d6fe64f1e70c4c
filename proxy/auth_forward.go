package proxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/stranglerfig/strangler/internal/config"
)

// forwardAuth asks an auth service about every request (forward-auth, as
// Traefik and nginx's auth_request do): a GET to its URL carrying the
// request's chosen headers and where it was going. A 2xx answer admits the
// request, and the answer's chosen headers are set on it; 401 and 403 are
// passed on as problems (with the service's WWW-Authenticate), any other
// answer (a redirect to a login page, another 4xx) is a 401; a 5xx, no
// answer in time or no connection is a 503: the check fails closed.
type forwardAuth struct {
	url     string
	send    []string // canonical request headers sent to the service
	copy    []string // canonical answer headers set on the request
	timeout time.Duration
	client  *http.Client
	trusted trustedProxies
	log     *slog.Logger
	route   string
}

// maxForwardAnswer bounds the part of the service's answer body read (to
// let its connection be reused); the rest is not read.
const maxForwardAnswer = 64 << 10

func newForwardAuth(c *config.ForwardAuth, transport http.RoundTripper, trusted trustedProxies, log *slog.Logger, route string) (*forwardAuth, error) {
	u, err := parseUpstream(c.URL)
	if err != nil {
		return nil, fmt.Errorf("auth.forward.url: %w", err)
	}
	a := &forwardAuth{
		url:     u.String(),
		timeout: c.Timeout.D(),
		trusted: trusted,
		log:     log,
		route:   route,
		client: &http.Client{Transport: transport, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect (to a login page) is an answer: no
		}},
	}
	if a.timeout <= 0 {
		a.timeout = config.DefaultForwardTimeout
	}
	for _, h := range c.Send {
		a.send = append(a.send, http.CanonicalHeaderKey(h))
	}
	for _, h := range c.Headers {
		a.copy = append(a.copy, http.CanonicalHeaderKey(h))
	}
	return a, nil
}

func (a *forwardAuth) authenticate(ctx context.Context, r *http.Request, _ time.Time) (*principal, *authFailure) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url, nil)
	if err != nil {
		return nil, a.unavailable(r, err)
	}
	for _, h := range a.send {
		if v := r.Header[h]; len(v) > 0 {
			req.Header[h] = v
		}
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	req.Header["X-Forwarded-Method"] = []string{r.Method}
	req.Header["X-Forwarded-Uri"] = []string{r.URL.RequestURI()}
	req.Header["X-Forwarded-Host"] = []string{r.Host}
	req.Header["X-Forwarded-Proto"] = []string{proto}
	req.Header["X-Forwarded-For"] = []string{clientAddr(r, a.trusted)}
	if id := r.Header["X-Request-Id"]; len(id) > 0 {
		req.Header["X-Request-Id"] = id
	}
	resp, err := a.client.Do(req)
	if err != nil {
		if r.Context().Err() != nil {
			return nil, &authFailure{status: StatusClientClosedRequest, reason: "client_gone"}
		}
		return nil, a.unavailable(r, err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxForwardAnswer))
		resp.Body.Close()
	}()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		p := &principal{}
		for _, h := range a.copy {
			if v := resp.Header[h]; len(v) > 0 && validHeaderValue(v[0]) {
				p.headers = append(p.headers, identityHeader{name: h, value: []string{v[0]}})
			}
		}
		return p, nil
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return nil, &authFailure{status: code, reason: authForwardDenied, detail: "the auth service refused the request",
			challenge: resp.Header.Get("Www-Authenticate")}
	case code >= 500:
		return nil, a.unavailable(r, fmt.Errorf("the auth service answered %d", code))
	default:
		return nil, &authFailure{status: http.StatusUnauthorized, reason: authForwardDenied,
			detail: fmt.Sprintf("the auth service did not admit the request (it answered %d)", code)}
	}
}

func (a *forwardAuth) unavailable(r *http.Request, err error) *authFailure {
	a.log.LogAttrs(r.Context(), slog.LevelWarn, "forward auth failed", slog.String("route", a.route),
		slog.String("error", err.Error()))
	return &authFailure{status: http.StatusServiceUnavailable, reason: authForwardUnavailable,
		detail: "the auth service could not be asked: try again later"}
}

// clientAddr is the client's address as the facade trusts it (see
// clientAddress).
func clientAddr(r *http.Request, trusted trustedProxies) string {
	a, raw := clientAddress(r, trusted)
	if raw != "" {
		return raw
	}
	return a.String()
}
