package localdb_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/stranglerfig/strangler/internal/localdb"
)

// starters start one server of each kind, for tests and benchmarks that
// treat them alike.
var starters = []struct {
	kind  string // the template directory prefix
	start func(ctx context.Context, t testing.TB) (io.Closer, error)
}{
	{"mariadb", func(ctx context.Context, t testing.TB) (io.Closer, error) {
		opts := localdb.DefaultMySQLOptions()
		opts.Logger = testLogger(t)
		return localdb.StartMySQL(ctx, opts)
	}},
	{"postgres", func(ctx context.Context, t testing.TB) (io.Closer, error) {
		opts := localdb.DefaultPostgresOptions()
		opts.Logger = testLogger(t)
		return localdb.StartPostgres(ctx, opts)
	}},
}

// TestColdCacheBuildsTemplateOnce starts two servers at once on an empty
// template cache: both must come up, from one template built once.
func TestColdCacheBuildsTemplateOnce(t *testing.T) {
	skipShort(t)
	for _, st := range starters {
		t.Run(st.kind, func(t *testing.T) {
			cache := t.TempDir()
			t.Setenv(localdb.CacheEnv, cache)
			ctx := testContext(t)
			servers := make([]io.Closer, 2)
			var g errgroup.Group
			for i := range servers {
				g.Go(func() error {
					s, err := st.start(ctx, t)
					if err == nil {
						servers[i] = s
					}
					return err
				})
			}
			err := g.Wait()
			for _, s := range servers {
				if s != nil {
					require.NoError(t, s.Close())
				}
			}
			require.NoError(t, err)
			templates, _ := filepath.Glob(filepath.Join(cache, st.kind+"-*", "template"))
			require.Len(t, templates, 1)
			leftovers, _ := filepath.Glob(filepath.Join(cache, "*", "build-*"))
			require.Empty(t, leftovers)
		})
	}
}

// TestWithoutCache starts servers with the template cache turned off.
func TestWithoutCache(t *testing.T) {
	skipShort(t)
	t.Setenv(localdb.CacheEnv, "off")
	for _, st := range starters {
		t.Run(st.kind, func(t *testing.T) {
			s, err := st.start(testContext(t), t)
			require.NoError(t, err)
			require.NoError(t, s.Close())
		})
	}
}

// BenchmarkStart measures how long a server takes to accept logins: with a
// warm template cache, with a cold one (an empty cache every time: the
// template is built, then copied) and with the cache off (the data directory
// is initialised in place). Closing is not counted.
func BenchmarkStart(b *testing.B) {
	skipShort(b)
	for _, cache := range []string{"warm", "cold", "off"} {
		for _, st := range starters {
			b.Run(st.kind+"/"+cache, func(b *testing.B) {
				switch cache {
				case "off":
					b.Setenv(localdb.CacheEnv, "off")
				case "warm":
					b.Setenv(localdb.CacheEnv, os.Getenv(localdb.CacheEnv))
					s, err := st.start(context.Background(), b) // builds the template if needed
					require.NoError(b, err)
					require.NoError(b, s.Close())
				}
				for b.Loop() {
					if cache == "cold" {
						b.StopTimer()
						dir, err := os.MkdirTemp("", "coldcache")
						require.NoError(b, err)
						b.Setenv(localdb.CacheEnv, dir)
						defer os.RemoveAll(dir)
						b.StartTimer()
					}
					s, err := st.start(context.Background(), b)
					require.NoError(b, err)
					b.StopTimer()
					require.NoError(b, s.Close())
					b.StartTimer()
				}
			})
		}
	}
}
