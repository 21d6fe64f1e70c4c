package proxy

import (
	"fmt"
	"net"
	"net/http/httputil"
	"net/netip"

	"github.com/stranglerfig/strangler/internal/config"
)

// trustedProxies are the peers (proxy.trusted_proxies) whose forwarding
// headers the facade keeps. Empty: no peer is trusted.
type trustedProxies []netip.Prefix

func parseTrustedProxies(list []string) (trustedProxies, error) {
	var t trustedProxies
	for i, s := range list {
		p, err := config.ParseTrustedProxy(s)
		if err != nil {
			return nil, fmt.Errorf("proxy.trusted_proxies[%d]: %w", i, err)
		}
		t = append(t, p)
	}
	return t, nil
}

// trusts reports whether the peer at remoteAddr (host:port, as in
// http.Request.RemoteAddr) is a trusted proxy.
func (t trustedProxies) trusts(remoteAddr string) bool {
	if len(t) == 0 {
		return false
	}
	var addr netip.Addr
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		addr = ap.Addr()
	} else {
		host, _, err := net.SplitHostPort(remoteAddr)
		if err != nil {
			return false
		}
		if addr, err = netip.ParseAddr(host); err != nil {
			return false
		}
	}
	addr = addr.Unmap().WithZone("")
	for _, p := range t {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// forwardingHeaders are the headers by which proxies tell what they saw.
var forwardingHeaders = []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "X-Real-Ip"}

// setForwarded sets the forwarding headers of an outbound request (the
// request to a backend, or a shadow copy). From a trusted peer, the peer's
// address is appended to its X-Forwarded-For, and its X-Forwarded-Host,
// X-Forwarded-Proto, Forwarded and X-Real-Ip are kept. From any other peer
// all of them are replaced: X-Forwarded-For is the peer's address,
// X-Forwarded-Host the Host it asked for, X-Forwarded-Proto the scheme it
// used, and Forwarded and X-Real-Ip are dropped.
func (f *Facade) setForwarded(pr *httputil.ProxyRequest) {
	out, in := pr.Out.Header, pr.In.Header
	for _, k := range forwardingHeaders {
		delete(out, k)
	}
	trusted := f.trusted.trusts(pr.In.RemoteAddr)
	if xff := in["X-Forwarded-For"]; trusted && len(xff) > 0 {
		out["X-Forwarded-For"] = xff
	}
	pr.SetXForwarded()
	if !trusted {
		return
	}
	for _, k := range forwardingHeaders[1:] {
		if v := in[k]; len(v) > 0 {
			out[k] = v
		}
	}
}
