package control

import (
	"context"
	"errors"
	"time"
)

// DefaultFeedWindow is the span of the traffic figures the dashboard's
// feed and GET /stats show when no window is asked for.
const DefaultFeedWindow = time.Minute

// Feed assembles the dashboard's live snapshots.
type Feed struct {
	ctl     Controls
	signals Signals
	rollout *Rollout // nil: no route has a plan, or no controller
	span    time.Duration
}

// NewFeed returns the feed of ctl's routes, the signals' figures over span
// (DefaultFeedWindow when 0) and, when not nil, the rollout controller's
// view.
func NewFeed(ctl Controls, signals Signals, rollout *Rollout, span time.Duration) (*Feed, error) {
	if ctl == nil || signals.Traffic == nil {
		return nil, errors.New("new dashboard feed: route controls and traffic are required")
	}
	if span <= 0 {
		span = DefaultFeedWindow
	}
	return &Feed{ctl: ctl, signals: signals, rollout: rollout, span: span}, nil
}

// Snapshot returns what the dashboard shows now.
func (f *Feed) Snapshot(ctx context.Context) (Snapshot, error) {
	routes, err := f.ctl.Routes(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	s := Snapshot{At: time.Now().UTC(), Version: f.ctl.State().Version, Routes: routes,
		Stats: f.signals.Stats(f.span), Window: f.span.String()}
	if f.rollout != nil {
		v := f.rollout.View()
		s.Rollout = &v
	}
	return s, nil
}

// Version is the route state version, which the feed watches to send a
// snapshot at once after a change.
func (f *Feed) Version() uint64 { return f.ctl.State().Version }

// Stats returns every route's figures over span, as GET /stats answers.
func (f *Feed) Stats(span time.Duration) StatsResponse {
	return StatsResponse{At: time.Now().UTC(), Window: span.String(), Routes: f.signals.Stats(span)}
}
