package control

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
)

// BenchmarkRollbackPropagation measures, for each rollback called on one
// replica's admin API, how long until that replica and a second replica
// both serve the rolled-back route from legacy. Two setups run side by
// side, one rollback each per iteration: two replicas sharing PostgreSQL
// state (LISTEN/NOTIFY), and the baseline, two replicas sharing a state
// file polled every DefaultFilePoll (50 ms). It reports medians in ms:
// pg-local-ms (the replica called), pg-remote-ms (the other one, with its
// 90th percentile and maximum), file-remote-ms, and remote-ratio (pg/file).
//
//	go test ./proxy -run '^$' -bench RollbackPropagation -benchtime 50x
func BenchmarkRollbackPropagation(b *testing.B) {
	b.ReportAllocs()
	pg := pgReplicas(b, dbtest.Postgres(b), 2)
	legacy, target := backendPair(b)
	cfg := replicaConfig(b, legacy.URL, target.URL)
	path := b.TempDir() + "/routes.state.json"
	var file []*replica
	for range 2 {
		s, err := NewFileStore(path)
		if err != nil {
			b.Fatal(err)
		}
		file = append(file, newReplica(b, cfg, s))
	}
	var pgLocal, pgRemote, fileRemote []float64
	for b.Loop() {
		l, r := rollbackOnce(b, pg)
		pgLocal, pgRemote = append(pgLocal, l), append(pgRemote, r)
		_, r = rollbackOnce(b, file)
		fileRemote = append(fileRemote, r)
	}
	b.StopTimer()
	b.ReportMetric(median(pgLocal), "pg-local-ms")
	b.ReportMetric(median(pgRemote), "pg-remote-ms")
	b.ReportMetric(quantile(pgRemote, 0.9), "pg-remote-p90-ms")
	b.ReportMetric(slices.Max(pgRemote), "pg-remote-max-ms")
	b.ReportMetric(median(fileRemote), "file-remote-ms")
	b.ReportMetric(median(pgRemote)/median(fileRemote), "remote-ratio")
	b.ReportMetric(0, "ns/op")
}

// rollbackOnce moves the route to new on both replicas (not measured), then
// rolls it back through rs[0]'s admin API and returns the milliseconds from
// the call until rs[0] and rs[1] each serve legacy.
func rollbackOnce(b *testing.B, rs []*replica) (local, remote float64) {
	b.Helper()
	b.StopTimer()
	if code, body := rs[0].post(b, "/routes/orders", `{"mode": "new"}`); code != http.StatusOK {
		b.Fatalf("moving the route to new: %d %s", code, body)
	}
	waitServes(b, rs, "new")
	b.StartTimer()

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	took := make([]float64, len(rs))
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Go(func() {
			tick := time.NewTicker(200 * time.Microsecond)
			defer tick.Stop()
			for r.serves("/api/orders/1") != "legacy" {
				select {
				case <-ctx.Done():
					took[i] = -1
					return
				case <-tick.C:
				}
			}
			took[i] = float64(time.Since(start).Microseconds()) / 1000
		})
	}
	if code, body := rs[0].post(b, "/rollback", `{"routes": ["orders"]}`); code != http.StatusOK {
		b.Fatalf("rolling back: %d %s", code, body)
	}
	wg.Wait()
	if took[0] < 0 || took[1] < 0 {
		b.Fatalf("a replica did not serve legacy within 10s of the rollback")
	}
	return took[0], took[1]
}

func waitServes(b *testing.B, rs []*replica, want string) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(200 * time.Microsecond)
	defer tick.Stop()
	for _, r := range rs {
		for r.serves("/api/orders/1") != want {
			if time.Now().After(deadline) {
				b.Fatalf("replicas do not serve %s after 10s", want)
			}
			<-tick.C
		}
	}
}

// quantile returns the q-quantile of xs (nearest rank).
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(q*float64(len(s)) + 0.5)
	return s[min(max(i-1, 0), len(s)-1)]
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
