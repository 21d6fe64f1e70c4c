package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/wire"
	"github.com/stranglerfig/strangler/proxy/control"
	ssync "github.com/stranglerfig/strangler/sync"
)

// syncStatusTTL is how long the facade reuses the sync pipelines' status
// it read from their targets.
const syncStatusTTL = 2 * time.Second

// syncStale is how old a running pipeline's status may be before its age
// counts as lag: a pipeline writes it about once a second.
const syncStale = 5 * time.Second

// syncWatch reads the sync pipelines' status from their targets, where
// `strangler sync run` writes it, for the facade: the rollout controller's
// sync_lag gate and the dashboard's sync page (GET /sync/status).
type syncWatch struct {
	pipes       []config.Pipeline
	pipelinesOf func(route string) []string // the pipelines carrying a route's tables
	read        func(ctx context.Context, p config.Pipeline) (ssync.Status, error)
	now         func() time.Time

	mu   sync.Mutex
	at   time.Time
	last map[string][]statusOrErr // by pipeline: one per direction
}

type statusOrErr struct {
	st  ssync.Status
	err error
}

var _ control.SyncLags = (*syncWatch)(nil)

func newSyncWatch(cfg *config.Config, pipelinesOf func(string) []string) *syncWatch {
	return &syncWatch{pipes: cfg.Sync, pipelinesOf: pipelinesOf, read: readPipelineStatus, now: time.Now}
}

// statuses returns every pipeline's status, read at most once per
// syncStatusTTL.
func (s *syncWatch) statuses(ctx context.Context) map[string][]statusOrErr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last != nil && s.now().Sub(s.at) < syncStatusTTL {
		return s.last
	}
	out := make(map[string][]statusOrErr, len(s.pipes))
	for _, p := range s.pipes {
		for _, h := range pipelineHalves(p) {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			st, err := s.read(rctx, h)
			cancel()
			st.Direction = h.Direction
			out[p.Name] = append(out[p.Name], statusOrErr{st, err})
		}
	}
	s.last, s.at = out, s.now()
	return out
}

// SyncLag is the largest lag of the pipelines carrying the route's tables
// (of both directions of a both-ways one).
// A pipeline whose status has not been written for a while (its process is
// gone) lags by the status's age; one that is not streaming yet, or is
// paused, cannot be judged.
func (s *syncWatch) SyncLag(ctx context.Context, route string) (time.Duration, bool, error) {
	names := s.pipelinesOf(route)
	if len(names) == 0 {
		return 0, false, nil
	}
	all := s.statuses(ctx)
	var worst time.Duration
	for _, n := range names {
		for _, se := range all[n] {
			lag, err := se.lag(n, s.now())
			if err != nil {
				return 0, false, err
			}
			worst = max(worst, lag)
		}
	}
	return worst, true, nil
}

// lag is one direction's lag, or why it cannot be judged.
func (se statusOrErr) lag(n string, now time.Time) (time.Duration, error) {
	if d := se.st.Direction; d != "" && d != config.DirectionLegacyToNew {
		n += " (" + d + ")"
	}
	switch {
	case se.err != nil:
		return 0, fmt.Errorf("sync pipeline %s: %w", n, se.err)
	case se.st.UpdatedAt.IsZero():
		return 0, fmt.Errorf("sync pipeline %s has not reported a status yet", n)
	case se.st.Phase == ssync.PhasePaused:
		return 0, fmt.Errorf("sync pipeline %s is paused: %s", n, se.st.Reason)
	case se.st.Phase == ssync.PhaseSnapshot:
		return 0, fmt.Errorf("sync pipeline %s is still taking its snapshot", n)
	}
	lag := time.Duration(se.st.LagSeconds * float64(time.Second))
	if age := now.Sub(se.st.UpdatedAt); age > syncStale {
		lag += age
	}
	return lag, nil
}

// handler serves GET /sync/status: every pipeline's status, as `strangler
// sync status -o json` prints it; a pipeline whose status cannot be read
// is listed with its phase "unknown" and the reason.
func (s *syncWatch) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sync/status", func(w http.ResponseWriter, r *http.Request) {
		all := s.statuses(r.Context())
		out := make([]ssync.Status, 0, len(s.pipes))
		for _, p := range s.pipes {
			for _, se := range all[p.Name] {
				st := se.st
				if se.err != nil {
					st = ssync.Status{Pipeline: p.Name, Direction: se.st.Direction, Phase: "unknown", Reason: se.err.Error(), Tables: []ssync.TableStatus{}}
				}
				out = append(out, st)
			}
		}
		wire.WriteJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("/sync/", func(w http.ResponseWriter, r *http.Request) {
		wire.WriteProblem(w, r, http.StatusNotFound, "", fmt.Sprintf("the admin API has no %s %s", r.Method, r.URL.Path))
	})
	return mux
}
