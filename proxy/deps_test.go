package proxy

import (
	"os/exec"
	"strings"
	"testing"
)

// TestRequestPathLinksNoDatabaseDriver: the facade's request path, and so
// anything that imports it for a shadow copy, links no database driver
// (config's DSN checks live in internal/dbconn for this), nor the shadow
// engine or its differ (shadow imports proxy, never the other way; config
// has the comparison rules checked through config.ShadowRuleChecker).
func TestRequestPathLinksNoDatabaseDriver(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, driver := range []string{"github.com/jackc/", "github.com/go-sql-driver/", "github.com/go-mysql-org/", "github.com/lib/pq",
			"github.com/stranglerfig/strangler/shadow", "github.com/stranglerfig/strangler/sync", "github.com/stranglerfig/strangler/extract"} {
			if strings.HasPrefix(pkg, driver) {
				t.Errorf("proxy links %s", pkg)
			}
		}
	}
}
