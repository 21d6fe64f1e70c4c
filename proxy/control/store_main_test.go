package control

import (
	"testing"

	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
)

// TestMain shares one throwaway PostgreSQL server among the package's tests
// that need one (the route state store, replicas sharing state).
func TestMain(m *testing.M) { dbtest.Main(m) }
