package control

import (
	"embed"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// The dashboard: a page of plain HTML, CSS and JavaScript, checked in
// under dashboard/ and embedded in the binary, served on the admin
// listener. Its files hold no data, so they are served without the token;
// the page asks for the token in a login form, keeps it in the tab's
// sessionStorage and sends it as a bearer token on every call of the admin
// API it makes (docs/dashboard.md).
//
//	GET /           the page (dashboard/index.html)
//	GET /ui/{file}  its script, style sheet and icon

//go:embed dashboard
var dashboardFiles embed.FS

// dashboardCSP is the Content-Security-Policy of the dashboard's files:
// nothing but its own files, no inline script or style, no eval, its
// fetches to this listener only, no form that navigates (the token field
// never reaches a URL, even with the script broken), no framing, and
// Trusted Types with no policy, so that no string can be written into an
// HTML sink such as innerHTML.
const dashboardCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; " +
	"frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'"

// routeDashboard serves the dashboard's files.
func (a *Admin) routeDashboard() {
	a.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		serveDashboardFile(w, r, "index.html")
	})
	a.mux.HandleFunc("GET /ui/{file}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		if name == "index.html" || !fs.ValidPath(name) || strings.HasPrefix(name, ".") {
			writeProblem(w, r, http.StatusNotFound, &FieldError{Msg: fmt.Sprintf("the dashboard has no file %q", name)})
			return
		}
		serveDashboardFile(w, r, name)
	})
}

// serveDashboardFile answers one embedded file with the dashboard's
// security headers, or 404.
func serveDashboardFile(w http.ResponseWriter, r *http.Request, name string) {
	b, err := dashboardFiles.ReadFile(path.Join("dashboard", name))
	if err != nil {
		writeProblem(w, r, http.StatusNotFound, &FieldError{Msg: fmt.Sprintf("the dashboard has no file %q", name)})
		return
	}
	h := w.Header()
	ct := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".html":
		ct = "text/html; charset=utf-8"
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".svg":
		ct = "image/svg+xml"
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Security-Policy", dashboardCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	// The files change only with the binary; no-cache (revalidate) would
	// need an ETag, and they are small: the admin API's no-store stays.
	if r.Method == http.MethodHead {
		return
	}
	w.Write(b)
}
