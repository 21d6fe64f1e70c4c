package recipes

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHotReload: a changed recipe is swapped in while requests run, none
// of which fails; a bad recipe is refused and the running one kept.
func TestHotReload(t *testing.T) {
	src, err := os.ReadFile(ordersRecipe)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "orders.yaml")
	require.NoError(t, os.WriteFile(path, src, 0o644))
	r, err := Load(path)
	require.NoError(t, err)
	e := newEnv(t, r)
	e.seed()

	ctx, cancel := context.WithCancel(context.Background())
	watchDone := make(chan error, 1)
	go func() { watchDone <- e.svc.Watch(ctx, path, 10*time.Millisecond) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-watchDone) })

	// Load: clients read all through the reloads; every answer must be a 200.
	var failures, served atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := e.srv.Client().Get(e.srv.URL + "/api/orders/1")
				if err != nil || resp.StatusCode != http.StatusOK {
					failures.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
				served.Add(1)
			}
		}()
	}
	get := func() string { _, body := e.must(200, "GET", "/api/orders/1", nil); return body }
	assert.Contains(t, get(), `"total":"10.00"`)

	t.Run("a good change is swapped in", func(t *testing.T) {
		changed := strings.Replace(string(src), "decimals: string", "decimals: number", 1)
		require.NoError(t, os.WriteFile(path, []byte(changed), 0o644))
		require.Eventually(t, func() bool { return strings.Contains(get(), `"total":10.00`) }, 10*time.Second, 10*time.Millisecond)
		assert.Equal(t, 1.0, counterValue(t, e.svc.metrics.reloads.WithLabelValues("ok")))
	})
	t.Run("a bad change is refused and the running recipe kept", func(t *testing.T) {
		bad := strings.Replace(string(src), "decimals: string", "decimals: roman", 1)
		require.NoError(t, os.WriteFile(path, []byte(bad), 0o644))
		require.Eventually(t, func() bool { return counterValue(t, e.svc.metrics.reloads.WithLabelValues("refused")) == 1 },
			10*time.Second, 10*time.Millisecond)
		assert.Contains(t, get(), `"total":10.00`, "still the last good recipe")
		err := e.svc.ReloadFile(path)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `orders.yaml:12: shape.decimals: "roman" is not one of number, string`)
	})
	t.Run("a new endpoint appears", func(t *testing.T) {
		added := string(src) + "  - {name: deleteCustomer, method: DELETE, path: \"/customers/{id}\", resource: customer, action: delete}\n"
		require.NoError(t, os.WriteFile(path, []byte(added), 0o644))
		require.Eventually(t, func() bool {
			_, body := e.must(200, "GET", "/openapi.json", nil)
			return strings.Contains(body, `"deleteCustomer"`)
		}, 10*time.Second, 10*time.Millisecond)
		_, body := e.must(404, "DELETE", "/api/customers/99", nil)
		assert.Contains(t, body, "no customer 99", "the new endpoint answers, not the catch-all")
	})
	close(stop)
	wg.Wait()
	assert.Zero(t, failures.Load(), "no request failed during %d served across reloads", served.Load())
	assert.Positive(t, served.Load())
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}
