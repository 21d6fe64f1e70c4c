package shadow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/stranglerfig/strangler/internal/wire"
	"github.com/stranglerfig/strangler/proxy"
	"github.com/stranglerfig/strangler/shadow/store"
)

// ReportResponse is the body of GET /shadow/report.
type ReportResponse struct {
	Routes []store.RouteReport `json:"routes"`
}

// NoiseResponse is the body of GET and POST /shadow/noise.
type NoiseResponse struct {
	Noise []store.Noise `json:"noise"`
}

// NoiseChange is the body of POST /shadow/noise.
type NoiseChange struct {
	Route  string `json:"route"`
	Path   string `json:"path,omitempty"` // required to pin; empty clears every learned, unpinned path
	Action string `json:"action"`         // pin | clear
}

// ReplayResponse is the body of POST /shadow/replay/{id}: the stored
// request sent again, compared now.
type ReplayResponse struct {
	Record store.Record `json:"record"`
	// LegacyFrom says where legacy's answer came from: "sent" (asked again)
	// or "stored" (an unsafe request is never sent to legacy again: the
	// stored, redacted answer is compared).
	LegacyFrom string `json:"legacy_from"`
}

// Report returns the store's report of route ("" for every route), with
// each route's learned noise.
func (e *Engine) Report(ctx context.Context, route string, opt store.ReportOptions) ([]store.RouteReport, error) {
	if err := e.store.Flush(ctx); err != nil {
		return nil, err
	}
	return e.store.Report(ctx, route, opt)
}

// Record returns a stored record.
func (e *Engine) Record(ctx context.Context, id string) (*store.Record, error) {
	if err := e.store.Flush(ctx); err != nil {
		return nil, err
	}
	return e.store.Get(ctx, id)
}

// Replay sends a stored request again to both sides and compares their
// answers under the route's current rules and noise; nothing is stored. A
// safe request is sent to legacy and to the target; an unsafe one only to
// the target (with X-Strangler-Shadow: 1), compared with legacy's stored
// answer. Stored requests are redacted: a secret (a token, a cookie) is
// sent as stored, replaced.
func (e *Engine) Replay(ctx context.Context, id string) (*ReplayResponse, error) {
	if e.replayer == nil {
		return nil, errors.New("replay: the engine is not attached to a facade")
	}
	old, err := e.Record(ctx, id)
	if err != nil {
		return nil, err
	}
	rr, ok := e.routes[old.Route]
	if !ok {
		return nil, fmt.Errorf("replay: record %s is of route %q, which the project file no longer has", id, old.Route)
	}
	body, err := bytesOf(old.Request.Body)
	if err != nil {
		return nil, fmt.Errorf("replay: record %s: request body: %w", id, err)
	}
	c, err := e.replayer.ShadowRequest(old.Route, old.Request.Method, old.Request.Path, old.Request.Query, headerOf(old.Request.Header), body)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	out := &ReplayResponse{LegacyFrom: "sent"}
	legacy, err := c.Again(ctx)
	switch {
	case errors.Is(err, proxy.ErrShadowAgain):
		if old.Legacy == nil {
			return nil, fmt.Errorf("replay: record %s holds no answer of legacy to compare with, and an unsafe request is not sent to legacy again", id)
		}
		b, err := bytesOf(old.Legacy.Body)
		if err != nil {
			return nil, fmt.Errorf("replay: record %s: legacy's body: %w", id, err)
		}
		legacy = proxy.ShadowResponse{Status: old.Legacy.Status, Header: headerOf(old.Legacy.Header), Body: b}
		out.LegacyFrom = "stored"
	case err != nil:
		rec := &store.Record{ID: old.ID, Route: old.Route, At: time.Now(), Primary: proxy.SideLegacy,
			Result: store.ResultError, Error: fmt.Sprintf("legacy: %v", err)}
		fill(rec, c, nil)
		rec.Legacy, rec.New = nil, nil
		out.Record = *rec
		return out, nil
	}
	c.Answer = legacy
	other, sendErr := c.Send(ctx)
	rec := e.compare(c, other, sendErr, rr, nil)
	rec.ID, rec.At = old.ID, time.Now()
	if rec.Result == store.ResultMatch {
		fill(rec, c, &other)
	}
	out.Record = *rec
	return out, nil
}

// Noise returns the noise paths of route ("" for every route).
func (e *Engine) Noise(ctx context.Context, route string) ([]store.Noise, error) {
	if err := e.store.Flush(ctx); err != nil {
		return nil, err
	}
	return e.store.Noise(ctx, route)
}

// ChangeNoise pins or clears noise paths, and reads the noise back at once.
func (e *Engine) ChangeNoise(ctx context.Context, ch NoiseChange) ([]store.Noise, error) {
	if _, ok := e.routes[ch.Route]; !ok {
		return nil, &fieldError{"route", fmt.Sprintf("%q is not a route of the project file", ch.Route)}
	}
	var err error
	switch ch.Action {
	case "pin":
		if ch.Path == "" {
			return nil, &fieldError{"path", "is required to pin"}
		}
		if _, perr := compilePath(ch.Path); perr != nil {
			return nil, &fieldError{"path", perr.Error()}
		}
		err = e.store.PinNoise(ctx, ch.Route, ch.Path)
	case "clear":
		err = e.store.ClearNoise(ctx, ch.Route, ch.Path)
	default:
		return nil, &fieldError{"action", fmt.Sprintf("%q is not pin or clear", ch.Action)}
	}
	if err == nil {
		err = e.store.Flush(ctx)
	}
	if err == nil {
		err = e.noise.refresh(ctx)
	}
	if err != nil {
		return nil, err
	}
	return e.store.Noise(ctx, ch.Route)
}

// fieldError is a refusal of a request field: 400 naming the field.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

// Handler serves the engine's reports for the admin API, which mounts it
// at /shadow/ behind its token:
//
//	GET  /shadow/report[?route=R&top=N&examples=N]  ReportResponse
//	GET  /shadow/records/{id}                       store.Record
//	POST /shadow/replay/{id}                        ReplayResponse
//	GET  /shadow/noise[?route=R]                    NoiseResponse
//	POST /shadow/noise                              NoiseChange -> NoiseResponse
func (e *Engine) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /shadow/report", func(w http.ResponseWriter, r *http.Request) {
		opt := store.ReportOptions{}
		for _, q := range []struct {
			name string
			dst  *int
		}{{"top", &opt.TopPaths}, {"examples", &opt.Examples}} {
			if v := r.URL.Query().Get(q.name); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 || n > 1000 {
					wire.WriteProblem(w, r, http.StatusBadRequest, q.name, fmt.Sprintf("%q is not a number from 0 to 1000", v))
					return
				}
				*q.dst = n
			}
		}
		route := r.URL.Query().Get("route")
		if route != "" {
			if _, ok := e.routes[route]; !ok {
				wire.WriteProblem(w, r, http.StatusNotFound, "route", fmt.Sprintf("%q is not a route of the project file", route))
				return
			}
		}
		reps, err := e.Report(r.Context(), route, opt)
		if err != nil {
			e.fail(w, r, err)
			return
		}
		if reps == nil {
			reps = []store.RouteReport{}
		}
		wire.WriteJSON(w, http.StatusOK, ReportResponse{Routes: reps})
	})
	mux.HandleFunc("GET /shadow/records/{id}", func(w http.ResponseWriter, r *http.Request) {
		rec, err := e.Record(r.Context(), r.PathValue("id"))
		if err != nil {
			e.fail(w, r, err)
			return
		}
		wire.WriteJSON(w, http.StatusOK, rec)
	})
	mux.HandleFunc("POST /shadow/replay/{id}", func(w http.ResponseWriter, r *http.Request) {
		out, err := e.Replay(r.Context(), r.PathValue("id"))
		if err != nil {
			e.fail(w, r, err)
			return
		}
		wire.WriteJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /shadow/noise", func(w http.ResponseWriter, r *http.Request) {
		n, err := e.Noise(r.Context(), r.URL.Query().Get("route"))
		if err != nil {
			e.fail(w, r, err)
			return
		}
		if n == nil {
			n = []store.Noise{}
		}
		wire.WriteJSON(w, http.StatusOK, NoiseResponse{Noise: n})
	})
	mux.HandleFunc("POST /shadow/noise", func(w http.ResponseWriter, r *http.Request) {
		var ch NoiseChange
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ch); err != nil {
			wire.WriteProblem(w, r, http.StatusBadRequest, "", "the body is not a noise change: "+err.Error())
			return
		}
		n, err := e.ChangeNoise(r.Context(), ch)
		if err != nil {
			e.fail(w, r, err)
			return
		}
		if n == nil {
			n = []store.Noise{}
		}
		wire.WriteJSON(w, http.StatusOK, NoiseResponse{Noise: n})
	})
	mux.HandleFunc("/shadow/", func(w http.ResponseWriter, r *http.Request) {
		wire.WriteProblem(w, r, http.StatusNotFound, "", fmt.Sprintf("the admin API has no %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// fail answers an error of the engine: 404 for a record that is not kept,
// 400 for a bad field, 503 when the store cannot answer.
func (e *Engine) fail(w http.ResponseWriter, r *http.Request, err error) {
	var fe *fieldError
	switch {
	case errors.Is(err, store.ErrNotFound):
		wire.WriteProblem(w, r, http.StatusNotFound, "", err.Error())
	case errors.As(err, &fe):
		wire.WriteProblem(w, r, http.StatusBadRequest, fe.field, fe.msg)
	default:
		e.log.Warn("shadow API", "path", r.URL.Path, "error", err.Error())
		wire.WriteProblem(w, r, http.StatusServiceUnavailable, "", err.Error())
	}
}

// ShadowHeader is the header that marks a copy of an unsafe request.
const ShadowHeader = proxy.ShadowHeader
