package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// GET /events is the dashboard's live feed: server-sent events, behind the
// token like every other endpoint (so a browser reads it with fetch, not
// EventSource, which cannot send a header). It sends
//
//	event: snapshot
//	data: <Snapshot as JSON, on one line>
//
// at once, then every second, and within a tenth of a second of each route
// change; a comment line (": keepalive") every 15 seconds. The stream
// lasts until the client goes away or the server shuts down.

// Timings of GET /events.
const (
	eventInterval    = time.Second            // a snapshot this often
	eventVersionPoll = 100 * time.Millisecond // how often the route state version is looked at
	eventKeepalive   = 15 * time.Second       // a comment line this often
	// eventWriteWait bounds the write of one event: the stream's write
	// deadline is moved past each event it sends, so that the admin
	// server's WriteTimeout does not cut a stream that lasts longer.
	eventWriteWait = 10 * time.Second
)

// MaxEventStreams bounds the GET /events streams served at once; one more
// is answered 503.
const MaxEventStreams = 32

// eventStreams serves GET /events.
type eventStreams struct {
	feed  *Feed
	log   *slog.Logger
	slots chan struct{} // one per open stream

	mu       sync.Mutex
	shutdown map[*http.Server]chan struct{} // closed when that server shuts down
}

// routeEvents serves GET /events when the admin API has a feed.
func (a *Admin) routeEvents() {
	if a.feed == nil {
		return
	}
	s := &eventStreams{feed: a.feed, log: a.log, slots: make(chan struct{}, MaxEventStreams),
		shutdown: map[*http.Server]chan struct{}{}}
	a.mux.Handle("GET /events", a.auth(s.serve))
}

// closing returns a channel closed when the server that serves r shuts
// down (http.Server.Shutdown waits for active connections, and a stream
// never goes idle by itself), or nil when r names no server.
func (s *eventStreams) closing(r *http.Request) <-chan struct{} {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.shutdown[srv]
	if !ok {
		ch = make(chan struct{})
		s.shutdown[srv] = ch
		srv.RegisterOnShutdown(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			close(ch)
			delete(s.shutdown, srv)
		})
	}
	return ch
}

func (s *eventStreams) serve(w http.ResponseWriter, r *http.Request, who string) {
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		w.Header().Set("Retry-After", "5")
		writeProblem(w, r, http.StatusServiceUnavailable, &FieldError{
			Msg: fmt.Sprintf("%d dashboard streams are open already, the most this admin API serves; close one or retry later", MaxEventStreams)})
		return
	}
	// The server's ReadTimeout does not end the stream: net/http clears the
	// read deadline of a request without a body before it calls the
	// handler. Its WriteTimeout would: see write.
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	ctx := r.Context()
	closing := s.closing(r)
	version := s.feed.Version()
	if err := s.snapshot(ctx, w, rc); err != nil {
		return
	}
	poll := time.NewTicker(eventVersionPoll)
	defer poll.Stop()
	every := time.NewTicker(eventInterval)
	defer every.Stop()
	keep := time.NewTicker(eventKeepalive)
	defer keep.Stop()
	s.log.Debug("admin API events: stream opened", "who", who, "remote", r.RemoteAddr)
	defer s.log.Debug("admin API events: stream closed", "who", who, "remote", r.RemoteAddr)
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case <-closing:
			return
		case <-poll.C:
			if v := s.feed.Version(); v != version {
				version = v
				err = s.snapshot(ctx, w, rc)
				every.Reset(eventInterval)
			}
		case <-every.C:
			version = s.feed.Version()
			err = s.snapshot(ctx, w, rc)
		case <-keep.C:
			err = s.write(w, rc, []byte(": keepalive\n\n"))
		}
		if err != nil {
			return
		}
	}
}

// snapshot sends one snapshot event. A snapshot that cannot be had is
// logged and sent as a comment: the stream goes on.
func (s *eventStreams) snapshot(ctx context.Context, w http.ResponseWriter, rc *http.ResponseController) error {
	snap, err := s.feed.Snapshot(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.log.Warn("admin API events: reading the routes for a snapshot", "err", err)
		return s.write(w, rc, []byte(": the routes could not be read; see the facade's log\n\n"))
	}
	b, err := json.Marshal(snap)
	if err != nil {
		return fmt.Errorf("encoding a dashboard snapshot: %w", err)
	}
	frame := make([]byte, 0, len(b)+32)
	frame = append(frame, "event: snapshot\ndata: "...)
	frame = append(frame, b...) // json.Marshal writes no newline
	frame = append(frame, "\n\n"...)
	return s.write(w, rc, frame)
}

// write sends one frame and flushes it, under its own write deadline.
func (s *eventStreams) write(w http.ResponseWriter, rc *http.ResponseController, frame []byte) error {
	if err := rc.SetWriteDeadline(time.Now().Add(eventWriteWait)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := w.Write(frame); err != nil {
		return err
	}
	return rc.Flush()
}
