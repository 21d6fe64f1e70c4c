package main

import (
	"context"
	"fmt"
	gosync "sync"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/proxy"
)

// routeRecords follows the modes of the routes that both-ways pipelines
// name with `route:`: the system of record of such a pipeline is legacy
// until its route's mode is new (a run-time change in the route state
// store, or the project file's mode), then new. It returns, per pipeline
// name, the function the pipeline asks; none when no pipeline names a
// route. The store is watched until ctx ends.
func (a *app) routeRecords(ctx context.Context, cfg *config.Config, pipes []config.Pipeline) (map[string]func() string, error) {
	out := map[string]func() string{}
	fileMode := map[string]string{}
	for _, r := range cfg.Routes {
		fileMode[r.Name] = r.Mode
	}
	var follow []config.Pipeline
	for _, p := range pipes {
		if p.Direction == config.DirectionBoth && p.Route != "" {
			follow = append(follow, p)
		}
	}
	if len(follow) == 0 {
		return out, nil
	}
	store, err := a.openStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("sync: pipeline %q follows route %q: %w", follow[0].Name, follow[0].Route, err)
	}
	var mu gosync.Mutex
	st, err := store.Load(ctx)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("sync: reading the route state for pipeline %q: %w", follow[0].Name, err)
	}
	go func() {
		defer store.Close()
		_ = store.Watch(ctx, func(s proxy.State) {
			mu.Lock()
			st = s
			mu.Unlock()
		})
	}()
	for _, p := range follow {
		route := p.Route
		out[p.Name] = func() string {
			mu.Lock()
			defer mu.Unlock()
			mode := fileMode[route]
			if rs, ok := st.Routes[route]; ok && rs.Mode != "" {
				mode = rs.Mode
			}
			if mode == config.ModeNew {
				return config.RecordNew
			}
			return config.RecordLegacy
		}
	}
	return out, nil
}
