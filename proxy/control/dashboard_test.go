package control

import (
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDashboardFiles(t *testing.T) {
	f := newAdminFixture(t, "alice:"+aliceToken)
	for _, tc := range []struct {
		name, path, contentType, contains string
	}{
		{"the page", "/", "text/html; charset=utf-8", `<script type="module" src="/ui/app.js"></script>`},
		{"the entry script", "/ui/app.js", "text/javascript; charset=utf-8", "import "},
		{"a module", "/ui/diff.js", "text/javascript; charset=utf-8", "export "},
		{"the style sheet", "/ui/app.css", "text/css; charset=utf-8", "prefers-color-scheme"},
		{"the icon", "/ui/icon.svg", "image/svg+xml", "<svg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// No token: the files hold no data.
			resp, err := http.Get(f.srv.URL + tc.path)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, tc.contentType, resp.Header.Get("Content-Type"))
			require.Contains(t, string(body), tc.contains)
			csp := resp.Header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'self'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'",
				"form-action 'none'", "require-trusted-types-for 'script'"} {
				require.Contains(t, csp, want)
			}
			require.NotContains(t, csp, "unsafe")
			require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
			require.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))
			require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
		})
	}

	for _, tc := range []struct {
		name, method, path string
		want               int
	}{
		{"unknown asset", "GET", "/ui/nope.js", 404},
		{"the page by another name", "GET", "/ui/index.html", 404},
		{"a dot file", "GET", "/ui/.hidden", 404},
		{"a nested path", "GET", "/ui/a/b.js", 404},
		{"an unknown path still a problem", "GET", "/nope", 404},
		{"a write to the page", "POST", "/", 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.do(t, tc.method, tc.path, "", "{}")
			require.Equal(t, tc.want, code, string(body))
			require.Contains(t, string(body), `"status":`)
		})
	}

	// The guard still stands in front of the page: another Host is refused.
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+"/", nil)
	require.NoError(t, err)
	req.Host = "evil.example:80"
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMisdirectedRequest, resp.StatusCode)
}

// The dashboard's files load nothing from elsewhere and never write
// markup from strings.
func TestDashboardFilesSelfContained(t *testing.T) {
	external := regexp.MustCompile(`(?i)https?://|url\(\s*['"]?//|(src|href)\s*=\s*['"]?//|@import`)
	markup := regexp.MustCompile(`\.(inner|outer)HTML\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setTimeout\(\s*['"]`)
	n := 0
	err := fs.WalkDir(dashboardFiles, "dashboard", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".svg") {
			return err
		}
		n++
		b, err := dashboardFiles.ReadFile(path)
		require.NoError(t, err)
		require.Nil(t, external.Find(b), "%s refers to another origin: %s", path, external.Find(b))
		if strings.HasSuffix(path, ".js") {
			require.Nil(t, markup.Find(b), "%s writes markup from a string: %s", path, markup.Find(b))
			require.NotContains(t, string(b), "localStorage", "%s: the token is kept in sessionStorage only", path)
			require.NotContains(t, string(b), "document.cookie", "%s: the token is kept in sessionStorage only", path)
		}
		return nil
	})
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 7)
}
