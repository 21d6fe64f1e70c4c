package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/stranglerfig/strangler/shadow/compare"
)

func (c *Config) validateProxy(v *validator) {
	p := &c.Proxy
	if p.MaxBodyCopy < 0 {
		v.fail("proxy.max_body_copy", "%d is negative", p.MaxBodyCopy)
	}
	for i, s := range p.TrustedProxies {
		if _, err := ParseTrustedProxy(s); err != nil {
			v.fail(fmt.Sprintf("proxy.trusted_proxies[%d]", i), "%v", err)
		}
	}
}

func (c *Config) validateShadow(v *validator) {
	sh := &c.Shadow
	if sh.Queue < 0 {
		v.fail("shadow.queue", "%d is negative", sh.Queue)
	}
	if sh.QueueBytes < 0 {
		v.fail("shadow.queue_bytes", "%d is negative", sh.QueueBytes)
	}
	if sh.Workers < 0 {
		v.fail("shadow.workers", "%d is negative", sh.Workers)
	}
	if sh.Retention.Max < 0 {
		v.fail("shadow.retention.max", "%d is negative", sh.Retention.Max)
	}
	if sh.Retention.Age < 0 {
		v.fail("shadow.retention.age", "%v is negative", sh.Retention.Age.D())
	}
	if IsPostgresURL(sh.Store) {
		if s, err := ExpandEnv(sh.Store); err != nil {
			v.fail("shadow.store", "%v", err)
		} else if err := v.dsns.CheckPostgres(s); err != nil {
			v.fail("shadow.store", "%v", err)
		}
	}
}

// IsPostgresURL reports whether a store setting (state, shadow.store) names
// a PostgreSQL database rather than a file or directory.
func IsPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

func (v *validator) routeShadow(f string, r *Route) {
	sh := r.Shadow
	if sh == nil {
		return
	}
	f += ".shadow"
	if sh.Sample != nil && (*sh.Sample < 0 || *sh.Sample > 100) {
		v.fail(f+".sample", "%v is not between 0 and 100", *sh.Sample)
	}
	if sh.LearnSample < 0 || sh.LearnSample > 100 {
		v.fail(f+".learn_sample", "%v is not between 0 and 100", sh.LearnSample)
	}
	if sh.MaxBody < 0 {
		v.fail(f+".max_body", "%d is negative", sh.MaxBody)
	} else if sh.MaxBody > v.c.Proxy.MaxBodyCopy {
		v.fail(f+".max_body", "%d is larger than proxy.max_body_copy (%d), the most the facade copies", sh.MaxBody, v.c.Proxy.MaxBodyCopy)
	}
	for i, h := range sh.DropHeaders {
		if !headerName.MatchString(h) {
			v.fail(fmt.Sprintf("%s.drop_headers[%d]", f, i), "%q is not a header name", h)
		}
	}
	// The comparison rules (headers, ignore, sets, tolerance, normalize)
	// are checked by the differ that will apply them.
	if _, err := compare.Compile(sh.CompareRules()); err != nil {
		errs := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		}
		for _, err := range errs {
			var re *compare.RuleError
			if errors.As(err, &re) {
				// "ignore[2] \"$.a[\"": the field, then the value.
				field, value, _ := strings.Cut(re.Rule, " ")
				if value != "" {
					value += ": "
				}
				v.fail(f+"."+field, "%s%v", value, re.Err)
			} else {
				v.fail(f, "%v", err)
			}
		}
	}
}

// CompareRules are the comparison rules of a route's shadow settings.
func (s *RouteShadow) CompareRules() compare.Rules {
	r := compare.Rules{
		Ignore: s.Ignore, Sets: s.Sets, Tolerance: s.Tolerance, Headers: s.Headers,
		NullEqualsMissing: s.NullEqualsMissing,
	}
	for _, n := range s.Normalize {
		r.Normalize = append(r.Normalize, compare.Normalize{Path: n.Path, Pattern: n.Pattern, Replace: n.Replace})
	}
	return r
}

// ParseTrustedProxy reads one entry of proxy.trusted_proxies: a CIDR
// ("10.0.0.0/8", "fd00::/8") or a bare IP address, which stands for itself
// alone. Host bits set in a CIDR are ignored ("10.1.2.3/8" is 10.0.0.0/8);
// IPv4-mapped IPv6 addresses are taken as IPv4.
func ParseTrustedProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or an IP address", s)
		}
		if p.Addr().Is4In6() {
			bits := p.Bits() - 96
			if bits < 0 {
				return netip.Prefix{}, fmt.Errorf("%q: an IPv4-mapped prefix needs at least 96 bits", s)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), bits)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or an IP address", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
