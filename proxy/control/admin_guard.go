package control

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"strings"
)

// The admin API's guards against browsers: a page the operator's browser
// opens may send requests to the admin listener (a form or fetch posting
// to 127.0.0.1:9901), or reach it through a name of its own that it
// resolves to the listener's address (DNS rebinding). With no token, which
// a loopback listener allows, the API would obey both. So every request
// must name the listener in its Host, no write may come from another
// origin, and every write must be application/json, which a page cannot
// send to another origin without the CORS preflight the API never grants.

// guard runs the checks every request passes before routing: the Host,
// then the origin of writes.
func (a *Admin) guard(w http.ResponseWriter, r *http.Request) bool {
	if err := a.checkHost(r); err != nil {
		a.log.Warn("admin API request refused: Host is not this listener", "method", r.Method, "path", r.URL.Path,
			"host", r.Host, "remote", r.RemoteAddr)
		writeProblem(w, r, http.StatusMisdirectedRequest, &FieldError{Field: "Host", Msg: err.Error()})
		return false
	}
	if err := a.origins.Check(r); err != nil {
		a.log.Warn("admin API request refused: cross-origin write", "method", r.Method, "path", r.URL.Path,
			"origin", r.Header.Get("Origin"), "remote", r.RemoteAddr)
		writeProblem(w, r, http.StatusForbidden, &FieldError{Field: "Origin",
			Msg: "cross-origin writes are refused: the admin API only takes changes from the CLI and same-origin clients"})
		return false
	}
	return true
}

// checkHost accepts a Host that names the listener the request came in on:
// its IP address and port, the host of the configured listen address (see
// WithAdminListen) with that port, and on a loopback listener localhost or
// a loopback address with that port. Without a port, the scheme's default
// port is assumed.
func (a *Admin) checkHost(r *http.Request) error {
	host, port := splitHost(r.Host)
	if port == "" {
		port = "80"
		if r.TLS != nil {
			port = "443"
		}
	}
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	lhost, lport := a.listenHost, a.listenPort
	if local != nil {
		lhost, lport = splitHost(local.String())
	}
	switch {
	case r.Host == "":
		return fmt.Errorf("the request has no Host header; name this listener (%s)", net.JoinHostPort(lhost, lport))
	case lport == "":
		return fmt.Errorf("the Host header %q cannot be checked: the listener's address is unknown", r.Host)
	case port != lport:
		return fmt.Errorf("the Host header %q does not name this listener (port %s)", r.Host, lport)
	}
	hostIP, localIP := net.ParseIP(host), net.ParseIP(lhost)
	switch {
	case hostIP != nil && localIP != nil && hostIP.Equal(localIP):
		return nil
	case a.listenHost != "" && host == a.listenHost:
		return nil
	case localIP != nil && localIP.IsLoopback() && (host == "localhost" || (hostIP != nil && hostIP.IsLoopback())):
		return nil
	}
	return fmt.Errorf("the Host header %q does not name this listener (%s); a browser page may be reaching the admin API through a name of its own",
		r.Host, net.JoinHostPort(lhost, lport))
}

// splitHost returns the lower-cased host, without brackets or a final dot,
// and the port of host[:port].
func splitHost(hostport string) (host, port string) {
	h, p, err := net.SplitHostPort(hostport)
	if err != nil {
		h, p = hostport, ""
	}
	h = strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
	if i := strings.IndexByte(h, '%'); i >= 0 && net.ParseIP(h[:i]) != nil {
		h = h[:i] // an IPv6 zone is not part of the address compared
	}
	return h, p
}

// jsonBody wraps a write: its body must be application/json (415
// otherwise), so that no HTML form or "simple" cross-origin request can
// make it.
func jsonBody(h func(http.ResponseWriter, *http.Request, string)) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, who string) {
		ct := r.Header.Get("Content-Type")
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			if ct == "" {
				ct = "none"
			}
			writeProblem(w, r, http.StatusUnsupportedMediaType, &FieldError{Field: "Content-Type",
				Msg: fmt.Sprintf("a write must be application/json, not %s", ct)})
			return
		}
		h(w, r, who)
	}
}

// notFound answers a path the API does not serve, or a method a path does
// not take, with a problem (http.ServeMux would answer in plain text).
func (a *Admin) notFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := a.mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		writeProblem(w, r, http.StatusNotFound, &FieldError{Msg: fmt.Sprintf("the admin API has no %s", r.URL.Path)})
		return
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeProblem(w, r, http.StatusMethodNotAllowed, &FieldError{Msg: fmt.Sprintf("%s takes %s, not %s", r.URL.Path, strings.Join(allow, " or "), r.Method)})
}
