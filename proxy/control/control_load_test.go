package control

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stretchr/testify/require"
)

// sample is one request of the load generator: the facade's route table
// version just before it was sent and just after its answer, and who
// answered.
type sample struct {
	replica    int
	path       string
	before     uint64
	after      uint64
	backend    string
	failed     bool
	failureMsg string
}

// TestRouteChangesUnderLoad: while a load generator sends requests
// continuously to two replicas sharing PostgreSQL state, 100 route changes
// and rollbacks go through one replica's admin API. No request may fail,
// and none may be misrouted: a request that ran under one table version
// throughout (the version was the same before and after it) must be
// answered by the backend that version's mode sends it to; unmatched
// requests always go to legacy.
func TestRouteChangesUnderLoad(t *testing.T) {
	rs := pgReplicas(t, dbtest.Postgres(t), 2)
	// The cycle of changes: every mode, rollbacks through /rollback.
	type step struct {
		path, body, mode string
		percent          float64
	}
	cycle := []step{
		{"/routes/orders", `{"mode": "new"}`, "new", 0},
		{"/rollback", `{"routes": ["orders"], "reason": "load test"}`, "legacy", 0},
		{"/routes/orders", `{"mode": "canary", "percent": 100}`, "canary", 100},
		{"/routes/orders", `{"mode": "shadow"}`, "shadow", 0},
		{"/routes/orders", `{"mode": "canary", "percent": 0}`, "canary", 0},
		{"/routes/orders", `{"mode": "new"}`, "new", 0},
		{"/rollback", `{"all": true}`, "legacy", 0},
	}
	expect := func(mode string, percent float64) string {
		if mode == "new" || (mode == "canary" && percent >= 100) {
			return "new"
		}
		return "legacy"
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var (
		mu      sync.Mutex
		samples []sample
		wg      sync.WaitGroup
	)
	for w := range 4 {
		wg.Go(func() {
			r := rs[w%2]
			paths := []string{"/api/orders/7", "/api/orders/8", "/unmatched"}
			for i := 0; ctx.Err() == nil && i < 200000; i++ {
				s := sample{replica: w % 2, path: paths[i%len(paths)], before: r.facade.Version()}
				resp, err := client.Get(r.client.URL + s.path)
				if err != nil {
					s.failed, s.failureMsg = true, err.Error()
				} else {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					s.backend = resp.Header.Get("X-Backend")
					if resp.StatusCode != http.StatusOK {
						s.failed, s.failureMsg = true, resp.Status
					}
				}
				s.after = r.facade.Version()
				mu.Lock()
				samples = append(samples, s)
				mu.Unlock()
			}
		})
	}

	modeOf := map[uint64]string{0: "legacy"}
	changes := 0
	for changes < 100 {
		st := cycle[changes%len(cycle)]
		code, body := rs[0].post(t, st.path, st.body)
		require.Equal(t, http.StatusOK, code, body)
		var rr RoutesResponse
		require.NoError(t, json.Unmarshal([]byte(body), &rr))
		modeOf[rr.Version] = expect(st.mode, st.percent)
		changes++
		// Let some load run under each version before the next change.
		before := len(samplesOf(&mu, &samples))
		require.Eventually(t, func() bool { return len(samplesOf(&mu, &samples)) >= before+20 }, 10*time.Second, time.Millisecond)
	}
	cancel()
	wg.Wait()

	var failed, misrouted, checked int
	for _, s := range samples {
		switch {
		case s.failed:
			failed++
			t.Errorf("replica %d %s failed: %s", s.replica, s.path, s.failureMsg)
		case s.path == "/unmatched":
			checked++
			if s.backend != "legacy" {
				misrouted++
				t.Errorf("replica %d: unmatched request answered by %q", s.replica, s.backend)
			}
		case s.before == s.after:
			checked++
			want, ok := modeOf[s.before]
			require.True(t, ok, "version %d was never produced by a change", s.before)
			if s.backend != want {
				misrouted++
				t.Errorf("replica %d %s at version %d: answered by %q, want %q", s.replica, s.path, s.before, s.backend, want)
			}
		}
	}
	t.Logf("%d requests, %d checked against a single version, %d changes, %d failed, %d misrouted", len(samples), checked, changes, failed, misrouted)
	require.Zero(t, failed)
	require.Zero(t, misrouted)
	require.Greater(t, checked, 1000, "too few requests ran under a single version to prove anything")
	require.Eventually(t, func() bool { return rs[1].facade.Version() == 100 }, 10*time.Second, time.Millisecond,
		"the second replica reaches the last version")
}

func samplesOf(mu *sync.Mutex, s *[]sample) []sample {
	mu.Lock()
	defer mu.Unlock()
	return *s
}
