package proxy

import (
	"container/list"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/stranglerfig/strangler/internal/config"
)

// Rate limits: a route's token bucket (rate_limit), one for the route or one
// per key, golang.org/x/time/rate underneath. Each replica keeps its own
// buckets: a limit is per replica. A refused request is answered 429 with
// Retry-After and the RateLimit-Policy and RateLimit fields of
// draft-ietf-httpapi-ratelimit-headers-10:
//
//	RateLimit-Policy: "orders-read";q=200;w=2
//	RateLimit: "orders-read";r=0;t=1
//
// The policy's quota q is the burst and its window w the seconds a drained
// bucket takes to fill again (at least 1); r is the whole tokens left and t
// the seconds until the next one. The partition key (pk) is never sent: it
// may be an API key.

// rateLimiter is one route's rate limit. It is safe for concurrent use.
type rateLimiter struct {
	rps     rate.Limit
	burst   int
	kind    string // "", config.RateLimitKeyHeader, config.RateLimitKeyClaim or config.RateLimitKeyClient
	name    string // the header (canonical) or claim of the key
	one     *rate.Limiter
	buckets *bucketSet
	trusted trustedProxies
	headers bool // RateLimit fields on admitted answers too
	item    string
	policy  []string // RateLimit-Policy's value, shared by every answer: never written to
	now     func() time.Time
	limited prometheus.Counter // strangler_rate_limited_total{route}
}

// newRateLimiter compiles a route's rate_limit; limited counts refusals.
func newRateLimiter(route string, rc *config.RateLimit, trusted trustedProxies, limited prometheus.Counter) (*rateLimiter, error) {
	if rc.RPS <= 0 || math.IsNaN(rc.RPS) || math.IsInf(rc.RPS, 0) {
		return nil, fmt.Errorf("rate_limit.rps: %v is not a rate above zero", rc.RPS)
	}
	if rc.Burst < 1 {
		return nil, fmt.Errorf("rate_limit.burst: %d is below 1", rc.Burst)
	}
	kind, name, err := config.ParseRateLimitKey(rc.Key)
	if err != nil {
		return nil, fmt.Errorf("rate_limit.key: %w", err)
	}
	if kind == config.RateLimitKeyHeader {
		name = http.CanonicalHeaderKey(name)
	}
	l := &rateLimiter{
		rps: rate.Limit(rc.RPS), burst: rc.Burst, kind: kind, name: name, trusted: trusted,
		headers: rc.Headers, item: strconv.Quote(route), now: time.Now, limited: limited,
	}
	window := max(1, int64(math.Ceil(float64(rc.Burst)/rc.RPS)))
	l.policy = []string{fmt.Sprintf("%s;q=%d;w=%d", l.item, rc.Burst, window)}
	if kind == "" {
		l.one = rate.NewLimiter(l.rps, l.burst)
	} else {
		maxKeys := rc.MaxKeys
		if maxKeys <= 0 {
			maxKeys = config.DefaultRateLimitKeys
		}
		l.buckets = newBucketSet(maxKeys, l.rps, l.burst)
	}
	return l, nil
}

// byClaim reports whether the limit is keyed by a claim of the verified
// token, and so applies after the authentication check.
func (l *rateLimiter) byClaim() bool { return l.kind == config.RateLimitKeyClaim }

// key returns the bucket key of a request; claims are the verified token's
// (nil without one).
func (l *rateLimiter) key(r *http.Request, p *principal) string {
	switch l.kind {
	case config.RateLimitKeyHeader:
		if v := r.Header[l.name]; len(v) > 0 {
			return v[0]
		}
	case config.RateLimitKeyClaim:
		if p != nil {
			return p.limitKey
		}
	case config.RateLimitKeyClient:
		return clientKey(r, l.trusted)
	}
	return ""
}

// take takes a token for a request. It returns whether the request is
// admitted, and the bucket and time for the answer's fields.
func (l *rateLimiter) take(r *http.Request, p *principal) (bool, *rate.Limiter, time.Time) {
	lim := l.one
	if lim == nil {
		lim = l.buckets.get(l.key(r, p))
	}
	// The time is read right before the bucket is: rate.Limiter counts a
	// time earlier than its last one as no time at all, so a stale time
	// would grant tokens twice.
	now := l.now()
	return lim.AllowN(now, 1), lim, now
}

// fields sets the RateLimit-Policy and RateLimit fields of an answer, and
// Retry-After when the request was refused.
func (l *rateLimiter) fields(h http.Header, lim *rate.Limiter, now time.Time, refused bool) {
	tokens := max(lim.TokensAt(now), 0)
	whole := math.Floor(tokens)
	b := make([]byte, 0, len(l.item)+32)
	b = append(b, l.item...)
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, int64(whole), 10)
	if tokens < float64(l.burst) {
		next := secondsUntil(whole+1-tokens, float64(l.rps))
		b = append(b, ";t="...)
		b = strconv.AppendInt(b, next, 10)
		if refused {
			h["Retry-After"] = []string{strconv.FormatInt(next, 10)}
		}
	}
	h["Ratelimit-Policy"] = l.policy
	h["Ratelimit"] = []string{string(b)}
}

// secondsUntil is the whole seconds, at least 1, until tokens more arrive at
// rps.
func secondsUntil(tokens, rps float64) int64 {
	s := math.Ceil(tokens / rps)
	switch {
	case math.IsNaN(s) || s < 1:
		return 1
	case s > math.MaxInt32:
		return math.MaxInt32
	}
	return int64(s)
}

// bucketSet holds the buckets of a keyed limit, at most max of them: the
// one used longest ago is dropped for a new key. Keys are held as seeded
// 64-bit hashes, so that memory is bounded whatever their length and no
// API key stays in memory; two keys share a bucket only if their hashes
// collide (about one chance in 2^64 / max).
type bucketSet struct {
	rps   rate.Limit
	burst int
	max   int
	seed  maphash.Seed

	mu  sync.Mutex
	m   map[uint64]*list.Element
	lru list.List // of *bucket, most recently used first
}

type bucket struct {
	key uint64
	lim *rate.Limiter
}

func newBucketSet(maxKeys int, rps rate.Limit, burst int) *bucketSet {
	return &bucketSet{rps: rps, burst: burst, max: maxKeys, seed: maphash.MakeSeed(), m: make(map[uint64]*list.Element)}
}

// get returns the bucket of a key, making it (full) when there is none.
func (s *bucketSet) get(key string) *rate.Limiter {
	h := maphash.String(s.seed, key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[h]; ok {
		s.lru.MoveToFront(e)
		return e.Value.(*bucket).lim
	}
	lim := rate.NewLimiter(s.rps, s.burst)
	if s.lru.Len() >= s.max { // reuse the oldest element
		e := s.lru.Back()
		b := e.Value.(*bucket)
		delete(s.m, b.key)
		b.key, b.lim = h, lim
		s.lru.MoveToFront(e)
		s.m[h] = e
		return lim
	}
	s.m[h] = s.lru.PushFront(&bucket{key: h, lim: lim})
	return lim
}

// len returns the number of buckets held.
func (s *bucketSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len()
}

// clientKey is the bucket key of the client's address (clientAddress): an
// IPv6 address stands for its /64, since one host commonly holds a whole
// /64.
func clientKey(r *http.Request, trusted trustedProxies) string {
	a, raw := clientAddress(r, trusted)
	if raw != "" {
		return raw
	}
	if a.Is6() {
		if p, err := a.WithZone("").Prefix(64); err == nil {
			return p.String()
		}
	}
	return a.String()
}

// clientAddress is the client address of a request, as the facade trusts
// it: the peer's address, or, when the peer is a trusted proxy, the
// rightmost X-Forwarded-For address that is not a trusted proxy itself
// (addresses further left were written by whoever the first untrusted hop
// was, and may be made up). raw is set, and a is not, when that entry is
// not an address.
func clientAddress(r *http.Request, trusted trustedProxies) (a netip.Addr, raw string) {
	peer, ok := parseHostAddr(r.RemoteAddr)
	if !ok {
		return netip.Addr{}, r.RemoteAddr
	}
	if len(trusted) == 0 || !trusted.contains(peer) {
		return peer, ""
	}
	xff := r.Header["X-Forwarded-For"]
	last := peer
	for i := len(xff) - 1; i >= 0; i-- {
		v := xff[i]
		for v != "" {
			part := v
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				part, v = v[j+1:], v[:j]
			} else {
				v = ""
			}
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			a, ok := parseHostAddr(part)
			if !ok {
				return netip.Addr{}, part // not an address a trusted proxy wrote: the untrusted hop's claim
			}
			if !trusted.contains(a) {
				return a, ""
			}
			last = a
		}
	}
	return last, "" // every hop is a trusted proxy: the leftmost stands for the client
}

// contains reports whether an address is a trusted proxy.
func (t trustedProxies) contains(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHostAddr reads an address with or without a port ("10.0.0.1",
// "10.0.0.1:80", "[fd00::1]:80", "fd00::1").
func parseHostAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// errRateLimited is the access log's error of a request refused by its
// route's rate limit.
var errRateLimited = errors.New("rate limited")
