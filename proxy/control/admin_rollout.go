package control

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// WithFeed serves the feed's figures: GET /stats and, for the dashboard,
// GET /events. Default: both answer 404.
func WithFeed(f *Feed) AdminOption {
	return func(a *Admin) error {
		if f == nil {
			return errors.New("admin feed: nil")
		}
		a.feed = f
		return nil
	}
}

// WithRollout serves the rollout controller: GET /rollout and POST
// /routes/{name}/pause, /resume and /promote. Default: they answer 404.
func WithRollout(r *Rollout) AdminOption {
	return func(a *Admin) error {
		if r == nil {
			return errors.New("admin rollout controller: nil")
		}
		a.rollout = r
		return nil
	}
}

// MaxStatsWindow bounds the window GET /stats may ask for.
const MaxStatsWindow = 24 * time.Hour

func (a *Admin) routeRollout() {
	if a.feed != nil {
		a.mux.Handle("GET /stats", a.auth(a.stats))
	}
	if a.rollout == nil {
		return
	}
	a.mux.Handle("GET /rollout", a.auth(func(w http.ResponseWriter, _ *http.Request, _ string) {
		writeJSON(w, http.StatusOK, a.rollout.View())
	}))
	for verb, do := range map[string]func(context.Context, string, string, string) (Result, error){
		"pause": a.rollout.Pause, "resume": a.rollout.Resume, "promote": a.rollout.Promote,
	} {
		a.mux.Handle("POST /routes/{name}/"+verb, a.auth(jsonBody(func(w http.ResponseWriter, r *http.Request, who string) {
			body, ok := a.readBody(w, r)
			if !ok {
				return
			}
			req, err := DecodeRolloutRequest(body)
			if err != nil {
				a.refuse(w, r, err)
				return
			}
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
			defer cancel()
			res, err := do(ctx, r.PathValue("name"), who, req.Reason)
			a.answerChange(w, r, ctx, res, err)
		})))
	}
}

func (a *Admin) stats(w http.ResponseWriter, r *http.Request, _ string) {
	span := DefaultFeedWindow
	if q := r.URL.Query().Get("window"); q != "" {
		d, err := time.ParseDuration(q)
		if err != nil || d <= 0 || d > MaxStatsWindow {
			writeProblem(w, r, http.StatusBadRequest, &FieldError{Field: "window", Msg: fmt.Sprintf("%q is not a duration from 1s to %v, such as 1m", q, MaxStatsWindow)})
			return
		}
		span = d
	}
	writeJSON(w, http.StatusOK, a.feed.Stats(span))
}
