package config

import (
	"fmt"
	"net/netip"
	"strings"
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
	// are checked by the differ that will apply them, when the caller
	// passed one in.
	if rc, ok := v.dsns.(ShadowRuleChecker); ok {
		for _, p := range rc.CheckShadowRules(sh) {
			field := f
			if p.Field != "" {
				field += "." + p.Field
			}
			v.fail(field, "%s", p.Message)
		}
	}
}

// ShadowRuleChecker checks a route's comparison rules (shadow.ignore, sets,
// tolerance, normalize, headers). The shadow engine's differ is the one
// implementation; a DSNParser passed to Load, Parse or Validate that also
// implements it has the rules checked too. It is passed in rather than
// imported so that the facade's request path, which reads the
// configuration, does not link the differ.
type ShadowRuleChecker interface {
	CheckShadowRules(rs *RouteShadow) []RuleProblem
}

// RuleProblem is one bad comparison rule: the field under the route's
// shadow settings ("ignore[1]") and what is wrong.
type RuleProblem struct {
	Field, Message string
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
