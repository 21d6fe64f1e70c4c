package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/wire"
)

// The gate: a route's gateway duties, run once the route is matched and
// before its backend is chosen (so that identity headers set here can steer
// a sticky canary). In order:
//
//  1. identity headers (the ones the route's check sets: claims_to_headers,
//     api_keys.name_header, forward.headers) are removed from the client's
//     request, in any case and with '_' for '-', so that no client can
//     claim an identity;
//  2. the rate limit, unless it is keyed by a claim (a refused request
//     costs a token too, so floods of bad credentials are limited and a
//     forward-auth service is shielded from them);
//  3. the authentication check, which sets the identity headers;
//  4. a rate limit keyed by a claim of the verified token, or by an
//     identity header the check set.
//
// A refused request is answered with a problem (application/problem+json):
// 401 or 403 for a failed check, 503 when the check could not be made (no
// JWKS, the forward-auth service down: it fails closed), 429 from the rate
// limit. It is counted in strangler_requests_total (backend "legacy",
// which it never reached), in strangler_auth_failures_total{route,reason}
// or strangler_rate_limited_total{route}, and logged without its
// credential.

// routeGate is the compiled gateway duties of one route.
type routeGate struct {
	auth     authenticator // nil: no check
	limit    *rateLimiter  // nil: no limit
	after    bool          // the limit is keyed by what the check sets: it applies after it
	identity []string      // identity headers, lower case, '-' for '_'
	failures *prometheus.CounterVec
}

// authenticator is one kind of authentication check.
type authenticator interface {
	// authenticate checks a request's credential at now. It returns what
	// the check learnt, or why it failed.
	authenticate(ctx context.Context, r *http.Request, now time.Time) (*principal, *authFailure)
}

var (
	_ authenticator = (*jwtAuth)(nil)
	_ authenticator = (*apiKeyAuth)(nil)
	_ authenticator = (*forwardAuth)(nil)
)

// principal is what a successful check learnt about the client.
type principal struct {
	headers  []identityHeader // set on the request to the backend
	limitKey string           // the value of the rate limit's claim
}

// identityHeader is one header a check sets; value is shared by every
// request that carries it and never written to.
type identityHeader struct {
	name  string // canonical
	value []string
}

// authFailure is why a check refused a request.
type authFailure struct {
	status    int    // 401, 403 or 503; StatusClientClosedRequest when the client left during the check
	reason    string // the label of strangler_auth_failures_total
	detail    string // for the client: never the credential
	challenge string // WWW-Authenticate, if any
}

func (a *authFailure) Error() string { return "auth: " + a.reason }

// Reasons of strangler_auth_failures_total.
const (
	authMissing            = "missing"             // no credential
	authMalformed          = "malformed"           // not a JWT in compact form, or a bad claim
	authAlgorithm          = "algorithm"           // an "alg" jwt.algorithms does not allow
	authUnknownKey         = "unknown_key"         // no key of the JWKS has the token's "kid", even after a refresh
	authSignature          = "signature"           // the signature does not verify
	authIssuer             = "issuer"              // "iss" is not jwt.issuer
	authAudience           = "audience"            // "aud" does not hold jwt.audience
	authExpired            = "expired"             // past "exp" (plus leeway)
	authNotYetValid        = "not_yet_valid"       // before "nbf" (minus leeway)
	authIssuedInFuture     = "issued_in_future"    // "iat" later than now (plus leeway)
	authNoExpiry           = "no_expiry"           // no "exp": a token that never expires is refused
	authJWKSUnavailable    = "jwks_unavailable"    // no key set could be fetched (503)
	authInvalidKey         = "invalid_key"         // an API key the file does not list
	authForwardDenied      = "forward_denied"      // the forward-auth service said no
	authForwardUnavailable = "forward_unavailable" // the forward-auth service did not answer, or answered 5xx (503)
)

// compileGate builds a route's gateway duties; nil when it has none.
func (f *Facade) compileGate(rc *config.Route) (*routeGate, error) {
	if rc.Auth == nil && rc.RateLimit == nil {
		return nil, nil
	}
	g := &routeGate{failures: f.metrics.authFailures.MustCurryWith(prometheus.Labels{"route": rc.Name})}
	if rl := rc.RateLimit; rl != nil {
		var err error
		if g.limit, err = newRateLimiter(rc.Name, rl, f.trusted, f.metrics.rateLimited.WithLabelValues(rc.Name)); err != nil {
			return nil, err
		}
	}
	if a := rc.Auth; a != nil {
		var err error
		switch {
		case a.JWT != nil && a.APIKeys == nil && a.Forward == nil:
			g.auth, err = newJWTAuth(rc.Name, a.JWT, f.resolve(a.JWT.JWKS), jwtClaimOf(rc.RateLimit),
				&http.Client{Transport: f.transport}, f.log)
		case a.APIKeys != nil && a.JWT == nil && a.Forward == nil:
			g.auth, err = newAPIKeyAuth(a.APIKeys, f.resolve(a.APIKeys.File))
		case a.Forward != nil && a.JWT == nil && a.APIKeys == nil:
			g.auth, err = newForwardAuth(a.Forward, f.transport, f.trusted, f.log, rc.Name)
		default:
			err = errors.New("auth: give exactly one of jwt, api_keys and forward")
		}
		if err != nil {
			return nil, err
		}
		g.identity = identityHeaders(a)
	}
	if g.limit != nil && g.limit.byClaim() {
		if rc.Auth == nil || rc.Auth.JWT == nil {
			return nil, fmt.Errorf("rate_limit.key %q: needs auth.jwt on the route", rc.RateLimit.Key)
		}
	}
	if l := g.limit; l != nil {
		// A limit keyed by a claim, or by a header the check sets (the
		// client's own is removed), can only apply once the check is made.
		g.after = l.byClaim() || (l.kind == config.RateLimitKeyHeader && slices.Contains(g.identity, wire.FoldHeader(l.name)))
	}
	return g, nil
}

// resolve makes a path of the project file relative to its directory.
func (f *Facade) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || strings.Contains(p, "://") || f.cfg.File == "" {
		return p
	}
	return filepath.Join(filepath.Dir(f.cfg.File), p)
}

// gateRedacts lists the request headers a route's check reads credentials
// from, beside those always redacted: captures and stored shadow copies
// redact them too.
func gateRedacts(rc *config.Route) []string {
	if rc.Auth != nil && rc.Auth.APIKeys != nil {
		return []string{rc.Auth.APIKeys.Header}
	}
	return nil
}

// jwtClaimOf returns the claim a rate limit is keyed by, or "".
func jwtClaimOf(rl *config.RateLimit) string {
	if rl == nil {
		return ""
	}
	if kind, name, err := config.ParseRateLimitKey(rl.Key); err == nil && kind == config.RateLimitKeyClaim {
		return name
	}
	return ""
}

// identityHeaders lists the headers a check sets, in their folded form.
func identityHeaders(a *config.Auth) []string {
	var names []string
	switch {
	case a.JWT != nil:
		for _, h := range a.JWT.ClaimsToHeaders {
			names = append(names, h)
		}
	case a.APIKeys != nil:
		if a.APIKeys.NameHeader != "" {
			names = append(names, a.APIKeys.NameHeader)
		}
	case a.Forward != nil:
		names = append(names, a.Forward.Headers...)
	}
	for i, n := range names {
		names[i] = wire.FoldHeader(n)
	}
	return names
}

// identityOfAll is a gate holding the identity headers of every route's
// check, or nil when no route sets any: the facade strips them from every
// client request, matched or not, so that a header one route's check sets
// (X-User-Id from a token) cannot be claimed by a client on another route
// or on legacy's unmatched paths.
func identityOfAll(routes []*route) *routeGate {
	var names []string
	for _, rt := range routes {
		if rt.gate == nil {
			continue
		}
		for _, n := range rt.gate.identity {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	return &routeGate{identity: names}
}

// strip removes every client header that reads as an identity header.
func (g *routeGate) strip(h http.Header) {
	for name := range h {
		for _, id := range g.identity {
			if wire.FoldedEqual(name, id) {
				delete(h, name)
				break
			}
		}
	}
}

// gate runs the route's gateway duties on a request. It returns false when
// it answered the request itself, which then goes no further.
func (f *Facade) gate(x *exchange, r *http.Request) bool {
	g := x.rt.gate
	if g == nil {
		return true
	}
	if len(g.identity) > 0 {
		g.strip(r.Header)
	}
	if g.limit != nil && !g.after && !f.admit(x, r, g.limit, nil) {
		return false
	}
	var p *principal
	if g.auth != nil {
		var fail *authFailure
		if p, fail = g.auth.authenticate(r.Context(), r, x.start); fail != nil {
			if fail.status != StatusClientClosedRequest {
				g.failures.WithLabelValues(fail.reason).Inc()
			}
			h := x.rec.Header()
			if fail.challenge != "" {
				h["Www-Authenticate"] = []string{fail.challenge}
			}
			f.refuseGate(x, r, fail.status, fail.detail, fail)
			return false
		}
		for _, ih := range p.headers {
			r.Header[ih.name] = ih.value
		}
	}
	if g.limit != nil && g.after && !f.admit(x, r, g.limit, p) {
		return false
	}
	return true
}

// admit takes a token of the route's rate limit; false: it answered 429.
func (f *Facade) admit(x *exchange, r *http.Request, l *rateLimiter, p *principal) bool {
	ok, lim, now := l.take(r, p)
	if ok {
		if l.headers {
			l.fields(x.rec.Header(), lim, now, false)
		}
		return true
	}
	l.limited.Inc()
	l.fields(x.rec.Header(), lim, now, true)
	f.refuseGate(x, r, http.StatusTooManyRequests, "the route's rate limit is exhausted: retry after the seconds Retry-After says", errRateLimited)
	return false
}

// refuseGate answers a request the gate refused with a problem, and
// records it as every exchange is recorded (metrics, windows, access log).
func (f *Facade) refuseGate(x *exchange, r *http.Request, code int, detail string, err error) {
	x.client, x.in, x.err = r.Context(), r, err
	x.rec.Header()["X-Request-Id"] = x.reqIDs
	if code == StatusClientClosedRequest {
		x.rec.WriteHeader(code)
	} else {
		wire.WriteProblem(&x.rec, r, code, "", detail)
	}
	x.finish()
}

// bearerToken returns the token of "Authorization: Bearer TOKEN" (the
// scheme in any case), or "".
func bearerToken(h http.Header) string {
	v := h["Authorization"]
	if len(v) == 0 {
		return ""
	}
	const scheme = "bearer "
	s := v[0]
	if len(s) <= len(scheme) || !strings.EqualFold(s[:len(scheme)], scheme) {
		return ""
	}
	return strings.TrimSpace(s[len(scheme):])
}

// validHeaderValue reports whether s may be sent as a header value: no
// control characters but tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
