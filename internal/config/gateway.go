package config

import (
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stranglerfig/strangler/internal/wire"
)

// The gateway duties of a route: an authentication check and a rate limit,
// both optional. Without them a route's requests pass through untouched, as
// they always did. docs/gateway.md describes every key.

// Defaults of the gateway keys, filled in by gatewayDefaults and nowhere
// else.
const (
	DefaultJWTLeeway      = time.Minute
	DefaultJWKSRefresh    = 10 * time.Minute
	DefaultJWKSRefreshMin = 30 * time.Second
	DefaultJWKSTimeout    = 5 * time.Second
	DefaultJWTCache       = 10000
	DefaultAPIKeyHeader   = "X-Api-Key"
	DefaultForwardTimeout = 2 * time.Second
	DefaultRateLimitKeys  = 10000
	// RateLimitKeyClient, RateLimitKeyHeader and RateLimitKeyClaim are
	// the kinds of rate_limit.key ParseRateLimitKey returns.
	RateLimitKeyClient = "client"
	RateLimitKeyHeader = "header"
	RateLimitKeyClaim  = "claim"
)

// DefaultJWTAlgorithms are the signature algorithms a JWT may use when
// jwt.algorithms is not set: every asymmetric one. Symmetric (HS*) ones are
// never accepted: the keys come from a JWKS, which is public.
var DefaultJWTAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// DefaultForwardSend are the request headers sent to a forward-auth
// service when forward.send is not set.
var DefaultForwardSend = []string{"Authorization", "Cookie"}

// RateLimit is a route's token bucket: RPS tokens a second, at most Burst
// of them at once; a request takes one, or is answered 429. Each facade
// replica enforces it on its own, on the requests it serves: with N
// replicas behind a balancer the route admits up to N times RPS.
type RateLimit struct {
	// RPS is the sustained rate, in requests per second (fractions
	// allowed: 0.5 is one request every two seconds), per replica and per
	// key. Required; must be above zero.
	RPS float64 `yaml:"rps"`
	// Burst is the most requests admitted at once, the size of the
	// bucket, which starts full. Default: RPS rounded up (at least 1);
	// zero means the default.
	Burst int `yaml:"burst"`
	// Key divides the route's traffic into buckets of their own:
	// "header:NAME" (the header's first value), "claim:NAME" (a claim of
	// the verified JWT; needs auth.jwt) or "client" (the client's address,
	// read from X-Forwarded-For only behind proxy.trusted_proxies). Empty:
	// one bucket for the whole route. Requests without the key share one
	// bucket of their own.
	Key string `yaml:"key"`
	// MaxKeys bounds the buckets kept for a keyed limit; the bucket used
	// longest ago is dropped first (its key starts again with a full
	// bucket). Default 10000; zero means the default.
	MaxKeys int `yaml:"max_keys"`
	// Headers adds the RateLimit-Policy and RateLimit fields to admitted
	// answers too. Default false: only 429 answers carry them.
	Headers bool `yaml:"headers"`
}

// Auth is a route's authentication check: exactly one of JWT, APIKeys and
// Forward. A request that fails it is answered 401 or 403 (503 when the
// check itself cannot be made) and goes nowhere.
type Auth struct {
	// JWT verifies a bearer JSON Web Token against a JWKS.
	JWT *JWTAuth `yaml:"jwt"`
	// APIKeys looks an API key up in a file. In the file either a path
	// (api_keys: keys.txt) or a mapping.
	APIKeys *APIKeysAuth `yaml:"api_keys"`
	// Forward asks an existing auth service (the monolith's own session
	// check). In the file either a URL (forward: http://legacy/session) or
	// a mapping.
	Forward *ForwardAuth `yaml:"forward"`
}

// JWTAuth verifies the token of "Authorization: Bearer TOKEN".
type JWTAuth struct {
	// JWKS is where the public keys are: an http:// or https:// URL, or a
	// file (relative to the project file). Required.
	JWKS string `yaml:"jwks"`
	// Issuer is the "iss" the token must carry, exactly. Empty: any
	// issuer the keys sign for (warned about at load time).
	Issuer string `yaml:"issuer"`
	// Audience is a value the token's "aud" must hold. Empty: any audience
	// (warned about at load time).
	Audience string `yaml:"audience"`
	// Algorithms are the signature algorithms ("alg") accepted, among
	// RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 and
	// EdDSA. Empty: all of them.
	Algorithms []string `yaml:"algorithms"`
	// Leeway is the clock skew allowed when "exp", "nbf" and "iat" are
	// checked. Nil: 1m; 0s: none.
	Leeway *Duration `yaml:"leeway"`
	// ClaimsToHeaders maps a claim name to a request header that carries
	// its value to the backend (strings as they are, other values as
	// JSON). A client's own header of that name is always removed first.
	// Empty: no header is set.
	ClaimsToHeaders map[string]string `yaml:"claims_to_headers"`
	// Refresh is how old the keys may grow before they are fetched again
	// (in the background; the old keys serve meanwhile). A token whose
	// "kid" is unknown makes a fetch at once, at most one per RefreshMin.
	// Default 10m; zero means the default.
	Refresh Duration `yaml:"refresh"`
	// RefreshMin is the least time between two fetches of the JWKS, so
	// that tokens with made-up key ids cannot hammer its server. Default
	// 30s; zero means the default.
	RefreshMin Duration `yaml:"refresh_min"`
	// Timeout bounds one fetch of a JWKS URL. Default 5s; zero means the
	// default.
	Timeout Duration `yaml:"timeout"`
	// Cache is the number of verified tokens remembered, so that a token
	// seen again is not verified again (its "exp" and "nbf" still are, on
	// every request); a change of the keys empties it. Default 10000;
	// zero means the default; -1 turns the cache off.
	Cache int `yaml:"cache"`
}

// APIKeysAuth accepts requests that carry a key listed in a file.
type APIKeysAuth struct {
	// File lists the keys, one a line: "KEY" or "NAME KEY", where KEY may
	// be written as "sha256:HEX" (the hex SHA-256 of the key) so that the
	// file need not hold the keys themselves; blank lines and lines
	// starting with '#' are skipped. Relative to the project file; read
	// when the facade starts. Required.
	File string `yaml:"file"`
	// Header is the request header holding the key; "Authorization"
	// means "Authorization: Bearer KEY". Default "X-Api-Key".
	Header string `yaml:"header"`
	// NameHeader is a request header that carries the matched key's NAME
	// to the backend (a client's own is always removed). Empty: none.
	NameHeader string `yaml:"name_header"`
}

// ForwardAuth asks an auth service about every request: a GET to URL with
// the request's Send headers and X-Forwarded-Method, -Uri, -Host, -Proto
// and -For. A 2xx answer lets the request through; 401 and 403 are passed
// on as problems, any other answer is a 401, and no answer in time (or a
// 5xx) is a 503: the check fails closed.
type ForwardAuth struct {
	// URL is the auth service's endpoint (http:// or https://). Required.
	URL string `yaml:"url"`
	// Send are the request headers sent to the service. Default
	// [Authorization, Cookie].
	Send []string `yaml:"send"`
	// Headers are headers of the service's 2xx answer set on the request
	// to the backend (X-User-Id); a client's own are always removed first.
	// Empty: none.
	Headers []string `yaml:"headers"`
	// Timeout bounds one check. Default 2s; zero means the default.
	Timeout Duration `yaml:"timeout"`
}

func (a *APIKeysAuth) fromScalar(n *yaml.Node) error {
	a.File = n.Value
	return nil
}

func (a *ForwardAuth) fromScalar(n *yaml.Node) error {
	a.URL = n.Value
	return nil
}

// IsURL reports whether a JWKS location is a URL rather than a file.
func (j *JWTAuth) IsURL() bool {
	return strings.HasPrefix(j.JWKS, "http://") || strings.HasPrefix(j.JWKS, "https://")
}

// ParseRateLimitKey splits a rate_limit.key into its kind ("", "header",
// "claim" or "client") and name.
func ParseRateLimitKey(key string) (kind, name string, err error) {
	if key == "" || key == RateLimitKeyClient {
		return key, "", nil
	}
	kind, name, ok := strings.Cut(key, ":")
	if ok && name != "" && (kind == RateLimitKeyHeader || kind == RateLimitKeyClaim) {
		return kind, name, nil
	}
	return "", "", fmt.Errorf("%q is not header:NAME, claim:NAME or client", key)
}

// DefaultBurst is the burst of a rate limit that sets none: its rate
// rounded up, at least 1.
func DefaultBurst(rps float64) int {
	if math.IsNaN(rps) || rps <= 1 {
		return 1
	}
	if rps >= math.MaxInt32 {
		return math.MaxInt32
	}
	return int(math.Ceil(rps))
}

// gatewayDefaults fills the unset gateway keys of a route.
func (r *Route) gatewayDefaults() {
	if rl := r.RateLimit; rl != nil {
		if rl.Burst == 0 {
			rl.Burst = DefaultBurst(rl.RPS)
		}
		if rl.MaxKeys == 0 {
			rl.MaxKeys = DefaultRateLimitKeys
		}
	}
	if r.Auth == nil {
		return
	}
	if j := r.Auth.JWT; j != nil {
		if len(j.Algorithms) == 0 {
			j.Algorithms = slices.Clone(DefaultJWTAlgorithms)
		}
		if j.Leeway == nil {
			d := Duration(DefaultJWTLeeway)
			j.Leeway = &d
		}
		if j.Refresh == 0 {
			j.Refresh = Duration(DefaultJWKSRefresh)
		}
		if j.RefreshMin == 0 {
			j.RefreshMin = Duration(DefaultJWKSRefreshMin)
		}
		if j.Timeout == 0 {
			j.Timeout = Duration(DefaultJWKSTimeout)
		}
		if j.Cache == 0 {
			j.Cache = DefaultJWTCache
		}
	}
	if k := r.Auth.APIKeys; k != nil && k.Header == "" {
		k.Header = DefaultAPIKeyHeader
	}
	if fw := r.Auth.Forward; fw != nil {
		if fw.Send == nil {
			fw.Send = slices.Clone(DefaultForwardSend)
		}
		if fw.Timeout == 0 {
			fw.Timeout = Duration(DefaultForwardTimeout)
		}
	}
}

// gateway checks a route's rate_limit and auth; f is the route's field
// ("routes[2]").
func (v *validator) gateway(f string, r *Route) {
	if rl := r.RateLimit; rl != nil {
		v.rateLimit(f+".rate_limit", rl, r.Auth)
	}
	if a := r.Auth; a != nil {
		v.auth(f+".auth", a)
	}
}

func (v *validator) rateLimit(f string, rl *RateLimit, a *Auth) {
	if math.IsNaN(rl.RPS) || math.IsInf(rl.RPS, 0) || rl.RPS <= 0 {
		v.fail(f+".rps", "%v is not a rate above zero (requests per second)", rl.RPS)
	}
	if rl.Burst < 1 {
		v.fail(f+".burst", "%d is below 1", rl.Burst)
	}
	if rl.MaxKeys < 1 {
		v.fail(f+".max_keys", "%d is below 1", rl.MaxKeys)
	}
	kind, name, err := ParseRateLimitKey(rl.Key)
	switch {
	case err != nil:
		v.fail(f+".key", "%v", err)
	case kind == RateLimitKeyHeader:
		v.header(f+".key", name)
	case kind == RateLimitKeyClaim && (a == nil || a.JWT == nil):
		v.fail(f+".key", "%q needs auth.jwt on the route: the claim is read from the verified token", rl.Key)
	}
}

func (v *validator) auth(f string, a *Auth) {
	n := 0
	for _, set := range []bool{a.JWT != nil, a.APIKeys != nil, a.Forward != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		v.fail(f, "give exactly one of jwt, api_keys and forward (found %d)", n)
	}
	identity := map[string]string{} // canonical header -> field
	claimHeader := func(field, h string) {
		if !v.header(field, h) {
			return
		}
		c := http.CanonicalHeaderKey(strings.ReplaceAll(h, "_", "-"))
		if prev, dup := identity[c]; dup {
			v.fail(field, "%q is also set by %s", h, prev)
		}
		identity[c] = field
		if c == "Authorization" || c == "Cookie" || c == "Host" || isHopByHop(c) || strings.HasPrefix(c, "X-Forwarded-") ||
			c == "Forwarded" || c == "X-Request-Id" {
			v.fail(field, "%q is a header the facade or the client owns; name an identity header such as X-User-Id", h)
		}
	}
	if j := a.JWT; j != nil {
		jf := f + ".jwt"
		switch {
		case j.JWKS == "":
			v.fail(jf+".jwks", "is required: the URL or file of the JSON Web Key Set")
		case strings.Contains(j.JWKS, "://") && !j.IsURL():
			v.fail(jf+".jwks", "%q is neither an http(s) URL nor a file", redactURL(j.JWKS))
		case j.IsURL():
			v.httpURL(jf+".jwks", j.JWKS)
		}
		for i, alg := range j.Algorithms {
			switch {
			case strings.HasPrefix(strings.ToUpper(alg), "HS"):
				v.fail(fmt.Sprintf("%s.algorithms[%d]", jf, i), "%q is symmetric: a key from a JWKS is public, so HS* is never accepted", alg)
			case !slices.Contains(DefaultJWTAlgorithms, alg):
				v.fail(fmt.Sprintf("%s.algorithms[%d]", jf, i), "%q is not one of %s", alg, strings.Join(DefaultJWTAlgorithms, ", "))
			}
		}
		for _, claim := range slices.Sorted(maps.Keys(j.ClaimsToHeaders)) {
			if claim == "" {
				v.fail(jf+".claims_to_headers", "a claim name is empty")
				continue
			}
			claimHeader(jf+".claims_to_headers."+claim, j.ClaimsToHeaders[claim])
		}
		if j.Cache < -1 {
			v.fail(jf+".cache", "%d is below -1 (-1 turns the cache off)", j.Cache)
		}
		if j.RefreshMin > j.Refresh {
			v.fail(jf+".refresh_min", "%v is longer than refresh (%v)", j.RefreshMin, j.Refresh)
		}
	}
	if k := a.APIKeys; k != nil {
		kf := f + ".api_keys"
		if k.File == "" {
			v.fail(kf+".file", "is required: the file listing the keys")
		}
		v.header(kf+".header", k.Header)
		if k.NameHeader != "" {
			claimHeader(kf+".name_header", k.NameHeader)
			if strings.EqualFold(k.NameHeader, k.Header) {
				v.fail(kf+".name_header", "%q is the header holding the key", k.NameHeader)
			}
		}
	}
	if fw := a.Forward; fw != nil {
		ff := f + ".forward"
		if fw.URL == "" {
			v.fail(ff+".url", "is required: the auth service's URL")
		} else {
			v.httpURL(ff+".url", fw.URL)
		}
		for i, h := range fw.Send {
			v.header(fmt.Sprintf("%s.send[%d]", ff, i), h)
		}
		for i, h := range fw.Headers {
			claimHeader(fmt.Sprintf("%s.headers[%d]", ff, i), h)
		}
	}
}

// header checks a header name; it reports whether the name is usable.
func (v *validator) header(field, name string) bool {
	switch {
	case !headerName.MatchString(name):
		v.fail(field, "%q is not a header name", name)
	case wire.IsInternal(name):
		v.fail(field, "%q is an internal header, stripped from client requests", name)
	default:
		return true
	}
	return false
}

func isHopByHop(canonical string) bool {
	switch canonical {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer",
		"Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// warnGateway records gateway settings that are legal but loose.
func (c *Config) warnGateway(add func(field, format string, args ...any)) {
	for i, r := range c.Routes {
		if r.Auth == nil || r.Auth.JWT == nil {
			continue
		}
		f := fmt.Sprintf("routes[%d].auth.jwt", i)
		if r.Auth.JWT.Issuer == "" {
			add(f+".issuer", "is not set: tokens of any issuer the keys sign are accepted")
		}
		if r.Auth.JWT.Audience == "" {
			add(f+".audience", "is not set: tokens meant for any audience are accepted")
		}
	}
}
