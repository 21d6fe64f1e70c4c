package proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/stranglerfig/strangler/internal/config"
)

// JWT checks: "Authorization: Bearer TOKEN", a JWS in compact form signed
// with one of jwt.algorithms by a key of the JWKS (go-jose does the
// cryptography), then "iss", "aud", "exp" (required), "nbf" and "iat" with
// jwt.leeway of clock skew. A verified token is remembered (jwt.cache), so
// that a client sending the same token again costs a map lookup and the
// time checks, not a signature verification; the cache is keyed by the
// whole token and forgets every token when the keys change.
//
// The keys are fetched when first needed, and again: in the background
// once they are older than jwt.refresh, and at once (the request waits)
// when a token names a "kid" they lack, a rotation. Fetches are at least
// jwt.refresh_min apart, so that tokens with made-up key ids cannot hammer
// the JWKS server; a failed fetch keeps the keys there were.

// maxTokenBytes bounds the token read (16 KiB): a longer one is refused
// unparsed.
const maxTokenBytes = 16 << 10

// maxJWKSBytes bounds a JWKS document (1 MiB).
const maxJWKSBytes = 1 << 20

// jwtAuth is one route's JWT check.
type jwtAuth struct {
	keys     *jwksSource
	algs     []jose.SignatureAlgorithm
	issuer   string
	audience string
	leeway   time.Duration
	claims   []claimHeader
	limit    string      // the claim the rate limit is keyed by, or ""
	cache    *tokenCache // nil: off
	realm    string      // WWW-Authenticate's realm: the route
}

type claimHeader struct {
	claim, header string // header canonical
}

func newJWTAuth(route string, c *config.JWTAuth, jwks, limitClaim string, client *http.Client, log *slog.Logger) (*jwtAuth, error) {
	a := &jwtAuth{issuer: c.Issuer, audience: c.Audience, limit: limitClaim, realm: route}
	if c.Leeway != nil {
		a.leeway = c.Leeway.D()
	} else {
		a.leeway = config.DefaultJWTLeeway
	}
	algs := c.Algorithms
	if len(algs) == 0 {
		algs = config.DefaultJWTAlgorithms
	}
	for _, alg := range algs {
		if !isAsymmetric(alg) {
			return nil, fmt.Errorf("auth.jwt.algorithms: %q is not an asymmetric signature algorithm", alg)
		}
		a.algs = append(a.algs, jose.SignatureAlgorithm(alg))
	}
	for claim, h := range c.ClaimsToHeaders {
		a.claims = append(a.claims, claimHeader{claim: claim, header: http.CanonicalHeaderKey(h)})
	}
	switch {
	case c.Cache > 0:
		a.cache = newTokenCache(c.Cache)
	case c.Cache == 0:
		a.cache = newTokenCache(config.DefaultJWTCache)
	}
	var err error
	if a.keys, err = newJWKSSource(route, c, jwks, client, log); err != nil {
		return nil, err
	}
	return a, nil
}

func isAsymmetric(alg string) bool {
	for _, a := range config.DefaultJWTAlgorithms {
		if a == alg {
			return true
		}
	}
	return false
}

func (a *jwtAuth) fail(reason, detail string) *authFailure {
	challenge := `Bearer realm="` + a.realm + `", error="invalid_token"`
	status := http.StatusUnauthorized
	switch reason {
	case authMissing:
		challenge = `Bearer realm="` + a.realm + `"`
	case authJWKSUnavailable:
		status, challenge = http.StatusServiceUnavailable, ""
	}
	return &authFailure{status: status, reason: reason, detail: detail, challenge: challenge}
}

func (a *jwtAuth) authenticate(ctx context.Context, r *http.Request, now time.Time) (*principal, *authFailure) {
	raw := bearerToken(r.Header)
	if raw == "" {
		return nil, a.fail(authMissing, "a bearer token is required (Authorization: Bearer TOKEN)")
	}
	if len(raw) > maxTokenBytes {
		return nil, a.fail(authMalformed, fmt.Sprintf("the token is longer than %d bytes", maxTokenBytes))
	}
	if a.cache != nil {
		if e := a.cache.get(raw); e != nil && e.gen == a.keys.generation() {
			if f := a.checkTimes(&e.claims, now); f != nil {
				return nil, f
			}
			return e.p, nil
		}
	}
	return a.verify(ctx, raw, now)
}

// verify checks a token not in the cache, and caches it when it is good.
func (a *jwtAuth) verify(ctx context.Context, raw string, now time.Time) (*principal, *authFailure) {
	sig, err := jose.ParseSignedCompact(raw, a.algs)
	if err != nil {
		var alg *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &alg) {
			return nil, a.fail(authAlgorithm, fmt.Sprintf("the token's algorithm %q is not accepted", alg.Got))
		}
		return nil, a.fail(authMalformed, "the token is not a signed JWT in compact form")
	}
	if len(sig.Signatures) != 1 {
		return nil, a.fail(authMalformed, "the token has more than one signature")
	}
	hdr := sig.Signatures[0].Header
	keys, gen, f := a.keys.lookup(ctx, hdr.KeyID, now)
	if f != "" {
		switch f {
		case authJWKSUnavailable:
			return nil, a.fail(f, "the keys to check the token could not be fetched: try again later")
		default:
			return nil, a.fail(f, "no key of the JWKS has the token's key id")
		}
	}
	var payload []byte
	for i := range keys {
		k := &keys[i]
		if k.Algorithm != "" && k.Algorithm != hdr.Algorithm {
			continue
		}
		if p, err := sig.Verify(k.Key); err == nil {
			payload = p
			break
		}
	}
	if payload == nil {
		return nil, a.fail(authSignature, "the token's signature does not verify")
	}
	var c jwt.Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, a.fail(authMalformed, "the token's claims are not a JSON object of the registered claim types")
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: a.issuer, AnyAudience: audience(a.audience), Time: now}, a.leeway); err != nil {
		return nil, a.timeFailure(err)
	}
	if c.Expiry == nil {
		return nil, a.fail(authNoExpiry, `the token has no "exp": a token that never expires is not accepted`)
	}
	p, err := a.principalOf(payload)
	if err != nil {
		return nil, a.fail(authMalformed, err.Error())
	}
	if a.cache != nil {
		a.cache.put(raw, &tokenEntry{claims: c, p: p, gen: gen})
	}
	return p, nil
}

func audience(aud string) jwt.Audience {
	if aud == "" {
		return nil
	}
	return jwt.Audience{aud}
}

// checkTimes checks a cached token's time claims at now.
func (a *jwtAuth) checkTimes(c *jwt.Claims, now time.Time) *authFailure {
	if err := c.ValidateWithLeeway(jwt.Expected{Time: now}, a.leeway); err != nil {
		return a.timeFailure(err)
	}
	return nil
}

func (a *jwtAuth) timeFailure(err error) *authFailure {
	switch {
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return a.fail(authIssuer, `the token's "iss" is not the issuer expected`)
	case errors.Is(err, jwt.ErrInvalidAudience):
		return a.fail(authAudience, `the token's "aud" does not name this audience`)
	case errors.Is(err, jwt.ErrExpired):
		return a.fail(authExpired, "the token has expired")
	case errors.Is(err, jwt.ErrNotValidYet):
		return a.fail(authNotYetValid, `the token is not valid yet ("nbf")`)
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return a.fail(authIssuedInFuture, `the token is issued in the future ("iat")`)
	}
	return a.fail(authMalformed, "the token's claims are not valid")
}

// principalOf reads the claims passed on as headers and the rate limit's
// claim.
func (a *jwtAuth) principalOf(payload []byte) (*principal, error) {
	p := &principal{}
	if len(a.claims) == 0 && a.limit == "" {
		return p, nil
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(payload, &all); err != nil {
		return nil, errors.New("the token's claims are not a JSON object")
	}
	for _, ch := range a.claims {
		if v, ok := claimString(all[ch.claim]); ok {
			p.headers = append(p.headers, identityHeader{name: ch.header, value: []string{v}})
		}
	}
	if a.limit != "" {
		p.limitKey, _ = claimString(all[a.limit])
	}
	return p, nil
}

// claimString is a claim's value as a header carries it: a string as it
// is, anything else as compact JSON; false when the claim is absent, null
// or holds control characters.
func claimString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var s string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false
		}
	} else {
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return "", false
		}
		s = b.String()
	}
	if !validHeaderValue(s) {
		return "", false
	}
	return s, true
}

// tokenCache remembers verified tokens: at most max, an arbitrary
// sixteenth of them forgotten when it is full.
type tokenCache struct {
	max int
	mu  sync.RWMutex
	m   map[string]*tokenEntry
}

type tokenEntry struct {
	claims jwt.Claims
	p      *principal
	gen    uint64 // the key set's generation it was verified with
}

func newTokenCache(n int) *tokenCache {
	return &tokenCache{max: n, m: make(map[string]*tokenEntry)}
}

func (c *tokenCache) get(raw string) *tokenEntry {
	c.mu.RLock()
	e := c.m[raw]
	c.mu.RUnlock()
	return e
}

func (c *tokenCache) put(raw string, e *tokenEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		drop := max(1, c.max/16)
		for k := range c.m {
			delete(c.m, k)
			if drop--; drop == 0 {
				break
			}
		}
	}
	c.m[raw] = e
}

// jwksSource holds a route's JSON Web Key Set and fetches it (a URL, or
// reads a file) as the package comment says. It is safe for concurrent
// use.
type jwksSource struct {
	route, url, file string
	client           *http.Client
	timeout          time.Duration
	refresh          time.Duration
	refreshMin       time.Duration
	log              *slog.Logger

	set     atomic.Pointer[keySet]
	fetches atomic.Int64 // fetches started, for tests

	mu       sync.Mutex
	last     time.Time     // when the last fetch started
	inflight chan struct{} // closed when the running fetch ends; nil when none runs
}

// keySet is one fetched JWKS.
type keySet struct {
	byKid   map[string][]jose.JSONWebKey
	all     []jose.JSONWebKey
	fetched time.Time
	gen     uint64
	digest  [sha256.Size]byte
}

func newJWKSSource(route string, c *config.JWTAuth, where string, client *http.Client, log *slog.Logger) (*jwksSource, error) {
	s := &jwksSource{route: route, client: client, log: log,
		timeout: c.Timeout.D(), refresh: c.Refresh.D(), refreshMin: c.RefreshMin.D()}
	if s.timeout <= 0 {
		s.timeout = config.DefaultJWKSTimeout
	}
	if s.refresh <= 0 {
		s.refresh = config.DefaultJWKSRefresh
	}
	if s.refreshMin <= 0 {
		s.refreshMin = config.DefaultJWKSRefreshMin
	}
	if c.IsURL() {
		s.url = where
		return s, nil
	}
	// A file is read now, so that a bad one stops the facade from starting.
	s.file = where
	s.last = time.Now()
	ks, err := s.load(context.Background())
	if err != nil {
		return nil, fmt.Errorf("auth.jwt.jwks: %w", err)
	}
	ks.fetched, ks.gen = s.last, 1
	s.set.Store(ks)
	return s, nil
}

// generation identifies the key set in use; it changes when the keys do.
func (s *jwksSource) generation() uint64 {
	if ks := s.set.Load(); ks != nil {
		return ks.gen
	}
	return 0
}

// lookup returns the keys a token with kid may be signed with (every key
// when kid is empty), the key set's generation, or why there are none.
func (s *jwksSource) lookup(ctx context.Context, kid string, now time.Time) ([]jose.JSONWebKey, uint64, string) {
	ks := s.set.Load()
	if ks != nil {
		if keys := ks.find(kid); len(keys) > 0 {
			if now.Sub(ks.fetched) >= s.refresh {
				s.fetch(ctx, now, false)
			}
			return keys, ks.gen, ""
		}
	}
	s.fetch(ctx, now, true) // a rotated key, or none yet
	if ks = s.set.Load(); ks == nil {
		return nil, 0, authJWKSUnavailable
	}
	if keys := ks.find(kid); len(keys) > 0 {
		return keys, ks.gen, ""
	}
	return nil, 0, authUnknownKey
}

func (ks *keySet) find(kid string) []jose.JSONWebKey {
	if kid == "" {
		return ks.all
	}
	return ks.byKid[kid]
}

// fetch starts a fetch unless one runs or the last one started less than
// refresh_min before now; with wait, it waits for the running fetch (or
// ctx).
func (s *jwksSource) fetch(ctx context.Context, now time.Time, wait bool) {
	s.mu.Lock()
	ch := s.inflight
	if ch == nil {
		if !s.last.IsZero() && now.Sub(s.last) < s.refreshMin {
			s.mu.Unlock()
			return
		}
		s.last = now
		ch = make(chan struct{})
		s.inflight = ch
		s.fetches.Add(1)
		// The fetch has its own context: a client that leaves must not
		// cancel the fetch other requests wait for.
		go s.run(ch, now)
	}
	s.mu.Unlock()
	if wait {
		select {
		case <-ch:
		case <-ctx.Done():
		}
	}
}

// run makes one fetch, bounded by the timeout, and installs what it got.
func (s *jwksSource) run(done chan struct{}, now time.Time) {
	defer func() {
		s.mu.Lock()
		s.inflight = nil
		s.mu.Unlock()
		close(done)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	ks, err := s.load(ctx)
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "jwks fetch failed: the keys there were stay in use", slog.String("route", s.route),
			slog.String("error", err.Error()))
		return
	}
	ks.fetched = now
	old := s.set.Load()
	switch {
	case old == nil:
		ks.gen = 1
	case old.digest == ks.digest:
		ks.gen = old.gen // the same keys: cached tokens stay good
	default:
		ks.gen = old.gen + 1
	}
	s.set.Store(ks)
}

// load reads the JWKS and parses it.
func (s *jwksSource) load(ctx context.Context) (*keySet, error) {
	var data []byte
	if s.file != "" {
		f, err := os.Open(s.file)
		if err != nil {
			return nil, fmt.Errorf("reading the key set: %w", err)
		}
		defer f.Close()
		if data, err = io.ReadAll(io.LimitReader(f, maxJWKSBytes+1)); err != nil {
			return nil, fmt.Errorf("reading the key set %s: %w", s.file, err)
		}
	} else {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
		if err != nil {
			return nil, fmt.Errorf("fetching the key set: %w", err)
		}
		req.Header.Set("Accept", "application/jwk-set+json, application/json")
		resp, err := s.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("fetching the key set: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			return nil, fmt.Errorf("fetching the key set: %s answered %d", s.url, resp.StatusCode)
		}
		if data, err = io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1)); err != nil {
			return nil, fmt.Errorf("fetching the key set: reading the answer: %w", err)
		}
	}
	if len(data) > maxJWKSBytes {
		return nil, fmt.Errorf("the key set is larger than %d bytes", maxJWKSBytes)
	}
	return parseJWKS(data)
}

// parseJWKS reads a JWK Set (RFC 7517 5). Keys that are not public
// signature keys (symmetric keys, "use": "enc", kinds go-jose does not
// know) are left out; a private key stands for its public part.
func parseJWKS(data []byte) (*keySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parsing the key set: %w", err)
	}
	ks := &keySet{byKid: map[string][]jose.JSONWebKey{}, digest: sha256.Sum256(data)}
	for _, raw := range doc.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if !k.IsPublic() {
			if pub := k.Public(); pub.Valid() && pub.IsPublic() {
				k = pub
			} else {
				continue // a symmetric key: never for a public JWKS
			}
		}
		if !k.Valid() {
			continue
		}
		ks.all = append(ks.all, k)
		if k.KeyID != "" {
			ks.byKid[k.KeyID] = append(ks.byKid[k.KeyID], k)
		}
	}
	if len(ks.all) == 0 {
		return nil, errors.New("the key set holds no public signature key")
	}
	return ks, nil
}
