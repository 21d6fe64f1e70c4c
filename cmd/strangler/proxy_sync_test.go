package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
	ssync "github.com/stranglerfig/strangler/sync"
)

// TestSyncWatchLag: the rollout's sync_lag gate reads the largest lag of
// the pipelines a route depends on; a status that stopped being written
// counts its age as lag; a paused pipeline, one still in its snapshot or
// one whose status cannot be read cannot be judged.
func TestSyncWatchLag(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	statuses := map[string]ssync.Status{}
	var readErr error
	reads := 0
	w := &syncWatch{
		pipes: []config.Pipeline{{Name: "shop"}, {Name: "stock"}},
		pipelinesOf: func(route string) []string {
			return map[string][]string{"orders": {"shop"}, "both": {"shop", "stock"}}[route]
		},
		read: func(_ context.Context, p config.Pipeline) (ssync.Status, error) {
			reads++
			return statuses[p.Name], readErr
		},
		now: func() time.Time { return now },
	}
	ctx := context.Background()
	set := func(name, phase string, lag float64, age time.Duration) {
		statuses[name] = ssync.Status{Pipeline: name, Phase: phase, LagSeconds: lag, UpdatedAt: now.Add(-age)}
		w.last = nil // read again
	}

	_, known, err := w.SyncLag(ctx, "reports")
	require.NoError(t, err)
	assert.False(t, known, "a route that depends on no pipeline has no sync gate")

	set("shop", ssync.PhaseStreaming, 1.5, time.Second)
	set("stock", ssync.PhaseStreaming, 4, time.Second)
	lag, known, err := w.SyncLag(ctx, "both")
	require.NoError(t, err)
	assert.True(t, known)
	assert.Equal(t, 4*time.Second, lag, "the largest of its pipelines")

	set("shop", ssync.PhaseStreaming, 1.5, time.Minute)
	lag, _, err = w.SyncLag(ctx, "orders")
	require.NoError(t, err)
	assert.Equal(t, time.Minute+1500*time.Millisecond, lag, "a status not written for a minute: its process is gone")

	for _, tc := range []struct{ phase, want string }{
		{ssync.PhasePaused, "sync pipeline shop is paused"},
		{ssync.PhaseSnapshot, "still taking its snapshot"},
	} {
		set("shop", tc.phase, 0, 0)
		_, _, err = w.SyncLag(ctx, "orders")
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
	statuses = map[string]ssync.Status{}
	w.last = nil
	_, _, err = w.SyncLag(ctx, "orders")
	assert.ErrorContains(t, err, "has not reported a status yet")

	readErr = errors.New("connection refused")
	w.last = nil
	_, _, err = w.SyncLag(ctx, "orders")
	assert.ErrorContains(t, err, "connection refused")

	before := reads
	w.SyncLag(ctx, "orders")
	w.SyncLag(ctx, "orders")
	assert.Equal(t, before, reads, "statuses are read at most once per syncStatusTTL")
}

// TestSyncWatchBothWays: a both-ways pipeline's gate is the larger lag of
// its two directions, and a paused new-to-legacy half is named as such.
func TestSyncWatchBothWays(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	statuses := map[string]ssync.Status{
		config.DirectionLegacyToNew: {Pipeline: "orders", Phase: ssync.PhaseStreaming, LagSeconds: 0.5, UpdatedAt: now},
		config.DirectionNewToLegacy: {Pipeline: "orders", Phase: ssync.PhaseStreaming, LagSeconds: 3, UpdatedAt: now},
	}
	w := &syncWatch{
		pipes:       []config.Pipeline{{Name: "orders", Direction: config.DirectionBoth}},
		pipelinesOf: func(string) []string { return []string{"orders"} },
		read: func(_ context.Context, p config.Pipeline) (ssync.Status, error) {
			return statuses[p.Direction], nil
		},
		now: func() time.Time { return now },
	}
	lag, known, err := w.SyncLag(context.Background(), "orders-write")
	require.NoError(t, err)
	assert.True(t, known)
	assert.Equal(t, 3*time.Second, lag, "the new-to-legacy direction lags more")

	statuses[config.DirectionNewToLegacy] = ssync.Status{Pipeline: "orders", Phase: ssync.PhasePaused, Reason: "a value", UpdatedAt: now}
	w.last = nil
	_, _, err = w.SyncLag(context.Background(), "orders-write")
	assert.ErrorContains(t, err, "sync pipeline orders (new-to-legacy) is paused: a value")
}
