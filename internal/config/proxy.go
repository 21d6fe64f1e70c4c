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
	if p.ShadowQueue < 0 {
		v.fail("proxy.shadow_queue", "%d is negative", p.ShadowQueue)
	}
	if p.ShadowQueueBytes < 0 {
		v.fail("proxy.shadow_queue_bytes", "%d is negative", p.ShadowQueueBytes)
	}
	for i, s := range p.TrustedProxies {
		if _, err := ParseTrustedProxy(s); err != nil {
			v.fail(fmt.Sprintf("proxy.trusted_proxies[%d]", i), "%v", err)
		}
	}
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
