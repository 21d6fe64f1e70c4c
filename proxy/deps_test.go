package proxy

import (
	"os/exec"
	"strings"
	"testing"
)

// TestRequestPathLinksNoDatabaseDriver: the facade's request path, and so
// anything that imports it for a shadow copy, links no database driver
// (config's DSN checks live in internal/dbconn for this).
func TestRequestPathLinksNoDatabaseDriver(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, driver := range []string{"github.com/jackc/", "github.com/go-sql-driver/", "github.com/go-mysql-org/", "github.com/lib/pq"} {
			if strings.HasPrefix(pkg, driver) {
				t.Errorf("proxy links %s", pkg)
			}
		}
	}
}
