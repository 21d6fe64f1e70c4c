package control

import (
	"github.com/stranglerfig/strangler/proxy"
	"log/slog"
	"sync"
	"testing"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stretchr/testify/require"
)

// recordingFacade is a test double of the facade's route table for the
// controller's unit tests: it records what was applied.
type recordingFacade struct {
	mu      sync.Mutex
	cfg     *config.Config
	state   proxy.State
	applied int
}

var _ Applier = (*recordingFacade)(nil)

func (f *recordingFacade) Apply(s proxy.State) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state = s.Clone()
	f.applied++
	return nil
}

func (f *recordingFacade) Routes() []proxy.RouteInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]proxy.RouteInfo, 0, len(f.cfg.Routes))
	for _, r := range f.cfg.Routes {
		rs, ok := f.state.Routes[r.Name]
		if !ok {
			rs = proxy.RouteState{Mode: r.Mode, Percent: r.Percent}
		}
		out = append(out, proxy.RouteInfo{Name: r.Name, Mode: rs.Mode, Percent: rs.Percent, Target: r.Target, Breaker: "closed", Version: f.state.Version})
	}
	return out
}

func (f *recordingFacade) mode(name string) proxy.RouteState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state.Routes[name]
}

// testConfigYAML is a project file with three routes.
const testConfigYAML = `
listen: 127.0.0.1:0
legacy: http://127.0.0.1:9
routes:
  - name: orders-read
    match: {path: /api/orders/{id}, methods: [GET]}
    target: http://127.0.0.1:9
    mode: canary
    percent: 30
  - name: customers
    match: {path: /api/customers}
    target: http://127.0.0.1:9
    mode: shadow
  - name: reports
    match: {path: /api/reports}
    target: http://127.0.0.1:9
`

func testConfig(t testing.TB) *config.Config {
	t.Helper()
	cfg, err := config.Parse("strangler.yaml", []byte(testConfigYAML), nil)
	require.NoError(t, err)
	return cfg
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func ptr[T any](v T) *T { return &v }
