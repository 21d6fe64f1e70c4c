package recipes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"
)

// Sink receives domain events. Deliver returns nil once the event is
// safely received; it may be called again with the same event.
type Sink interface {
	Name() string
	Deliver(ctx context.Context, ev *Event, raw []byte) error
}

// Webhook POSTs each event as JSON to a URL; a 2xx answer is a delivery.
type Webhook struct {
	URL    string       // where events are POSTed
	Client *http.Client // its Timeout bounds one attempt
}

var _ Sink = (*Webhook)(nil)

// Name names the sink in metrics.
func (w *Webhook) Name() string { return "webhook" }

// Deliver posts the event with Idempotency-Key set to its id.
func (w *Webhook) Deliver(ctx context.Context, ev *Event, raw []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("posting event %s: %w", ev.ID, err)
	}
	req.Header.Set("Content-Type", "application/json")
	propagator.Inject(ctx, propagation.HeaderCarrier(req.Header))
	req.Header.Set("Idempotency-Key", ev.ID)
	req.Header.Set("X-Event-Id", ev.ID)
	req.Header.Set("X-Event-Type", ev.Type)
	resp, err := w.Client.Do(req)
	if err != nil {
		return fmt.Errorf("posting event %s: %w", ev.ID, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("posting event %s: webhook answered %s", ev.ID, resp.Status)
	}
	return nil
}

// JetStream publishes each event to a NATS JetStream subject, with
// Nats-Msg-Id set to the event id so that the stream drops duplicates.
type JetStream struct {
	Subject string // {type} is replaced by the event type
	js      jetstream.JetStream
	nc      *nats.Conn
}

var _ Sink = (*JetStream)(nil)

// DialJetStream connects to the NATS server at url.
func DialJetStream(url, subject string, timeout time.Duration) (*JetStream, error) {
	nc, err := nats.Connect(url, nats.Timeout(timeout), nats.MaxReconnects(-1), nats.Name("strangler-recipes"))
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("opening JetStream at %s: %w", url, err)
	}
	return &JetStream{Subject: subject, js: js, nc: nc}, nil
}

// Name names the sink in metrics.
func (j *JetStream) Name() string { return "nats" }

// Deliver publishes the event and waits for the stream's acknowledgement.
func (j *JetStream) Deliver(ctx context.Context, ev *Event, raw []byte) error {
	subject := strings.ReplaceAll(j.Subject, "{type}", ev.Type)
	msg := nats.NewMsg(subject)
	msg.Data = raw
	msg.Header.Set("Event-Type", ev.Type)
	msg.Header.Set("Event-Key", ev.Key)
	propagator.Inject(ctx, natsCarrier(msg.Header))
	if _, err := j.js.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.ID)); err != nil {
		return fmt.Errorf("publishing event %s to %s: %w", ev.ID, subject, err)
	}
	return nil
}

// Close closes the NATS connection.
func (j *JetStream) Close() { j.nc.Close() }

// Dispatcher delivers the outbox of one service: events in id order per
// key, each to every sink, at least once. An event that fails is retried
// with exponential backoff, and the later events of its key wait for it.
// Several dispatchers may run against one database: rows are claimed with
// FOR UPDATE SKIP LOCKED.
type Dispatcher struct {
	db         DB
	service    string
	sinks      []Sink
	backoff    time.Duration
	maxBackoff time.Duration
	timeout    time.Duration
	poll       time.Duration
	notify     <-chan struct{}
	log        *slog.Logger
	m          *metrics
	retention  time.Duration // delivered events older than this are deleted; 0 keeps them
	tracer     trace.Tracer  // the service's: a delivery continues the trace of the request that wrote the event
	purgedAt   time.Time     // the last purge (run's goroutine only)
	cancel     context.CancelFunc
	g          *errgroup.Group
}

// Start prepares the named queries against the database (a query it
// refuses stops the start) and starts the service's background work: its
// subscriptions' consumers, and the outbox dispatcher when the recipe
// names events and a sink. The outbox and processed-events tables are
// created if missing.
func (s *Service) Start(ctx context.Context) error {
	if err := s.describe(ctx); err != nil {
		return err
	}
	if err := s.startSubscriptions(ctx); err != nil {
		return fmt.Errorf("starting service %q: %w", s.Recipe().Service, err)
	}
	r := s.Recipe()
	if !hasEvents(r) {
		return nil
	}
	if err := EnsureOutbox(ctx, s.db); err != nil {
		return err
	}
	var sinks []Sink
	timeout, _ := time.ParseDuration(r.Events.Timeout)
	if r.Events.Webhook != "" {
		sinks = append(sinks, &Webhook{URL: r.Events.Webhook, Client: &http.Client{Timeout: timeout}})
	}
	if r.Events.NATSURL != "" {
		js, err := DialJetStream(r.Events.NATSURL, r.Events.NATSSubject, timeout)
		if err != nil {
			return fmt.Errorf("starting service %q: %w", r.Service, err)
		}
		sinks = append(sinks, js)
	}
	if len(sinks) == 0 {
		s.log.Warn("the recipe writes events but names no sink: they stay in the outbox", "service", r.Service)
		return nil
	}
	back, _ := time.ParseDuration(r.Events.Backoff)
	maxBack, _ := time.ParseDuration(r.Events.MaxBackoff)
	retention, _ := time.ParseDuration(r.Events.Retention)
	d := &Dispatcher{db: s.db, service: r.Service, sinks: sinks, backoff: back, maxBackoff: maxBack, timeout: timeout,
		poll: min(time.Second, back), notify: s.notify, log: s.log, m: s.metrics, retention: retention, tracer: s.tracer}
	d.start(ctx)
	s.dispatcher = d
	return nil
}

// Close stops the background work, waiting for a delivery in progress
// until ctx is done.
func (s *Service) Close(ctx context.Context) error {
	if s.subs != nil {
		s.subs.stop()
		s.subs = nil
	}
	if s.dispatcher == nil {
		return nil
	}
	return s.dispatcher.close(ctx)
}

func hasEvents(r *Recipe) bool {
	for _, e := range r.Endpoints {
		if e.Event != "" {
			return true
		}
	}
	return false
}

func (d *Dispatcher) start(ctx context.Context) {
	ctx, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	d.g, ctx = errgroup.WithContext(ctx)
	d.g.Go(func() error { return d.run(ctx) })
}

func (d *Dispatcher) close(ctx context.Context) error {
	d.cancel()
	done := make(chan error, 1)
	go func() { done <- d.g.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = fmt.Errorf("stopping the outbox dispatcher: %w", ctx.Err())
	}
	for _, s := range d.sinks {
		if c, ok := s.(interface{ Close() }); ok {
			c.Close()
		}
	}
	return err
}

func (d *Dispatcher) run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.notify:
		case <-timer.C:
		}
		for {
			n, err := d.round(ctx)
			if err != nil && ctx.Err() == nil {
				d.log.Error("delivering events", "service", d.service, "error", err)
			}
			if n == 0 || err != nil || ctx.Err() != nil {
				break
			}
		}
		if err := d.purge(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("deleting delivered events past their retention", "service", d.service, "error", err)
		}
		timer.Reset(d.poll)
	}
}

// purge deletes the service's delivered events older than the retention,
// by the database's clock (which stamped delivered_at), at most once a
// minute.
func (d *Dispatcher) purge(ctx context.Context) error {
	if d.retention <= 0 || time.Since(d.purgedAt) < purgeEvery {
		return nil
	}
	d.purgedAt = time.Now()
	return d.deleteExpired(ctx)
}

// deleteExpired deletes the service's delivered events past the retention.
func (d *Dispatcher) deleteExpired(ctx context.Context) error {
	_, err := d.db.Exec(ctx, `DELETE FROM strangler_outbox WHERE service = $1 AND delivered_at < now() - make_interval(secs => $2)`,
		d.service, d.retention.Seconds())
	return err
}

// purgeEvery is how often the dispatcher looks for delivered events past
// their retention.
const purgeEvery = time.Minute

type claimed struct {
	id       int64
	attempts int
	raw      []byte
	ev       Event
	// traceparent is the trace context of the request that wrote the
	// event; its delivery continues that trace.
	traceparent string
}

// round claims the first undelivered event of each key that is due,
// delivers them and records the outcome; it returns how many it delivered.
func (d *Dispatcher) round(ctx context.Context) (int, error) {
	tx, err := d.db.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return 0, fmt.Errorf("starting the outbox transaction: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	rows, err := tx.Query(ctx, `SELECT id, attempts, payload::text, coalesce(traceparent, '') FROM strangler_outbox o
		WHERE service = $1 AND delivered_at IS NULL AND next_attempt_at <= now()
		  AND NOT EXISTS (SELECT 1 FROM strangler_outbox p WHERE p.service = o.service
		      AND p.aggregate_key = o.aggregate_key AND p.delivered_at IS NULL AND p.id < o.id)
		ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED`, d.service)
	if err != nil {
		return 0, fmt.Errorf("claiming events: %w", err)
	}
	var batch []claimed
	for rows.Next() {
		var c claimed
		var payload string
		if err := rows.Scan(&c.id, &c.attempts, &payload, &c.traceparent); err != nil {
			rows.Close()
			return 0, fmt.Errorf("claiming events: %w", err)
		}
		c.raw = []byte(payload)
		if err := json.Unmarshal(c.raw, &c.ev); err != nil {
			rows.Close()
			return 0, fmt.Errorf("decoding event %d: %w", c.id, err)
		}
		batch = append(batch, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("claiming events: %w", err)
	}
	delivered := 0
	for _, c := range batch {
		err := d.deliver(ctx, &c)
		if err == nil {
			delivered++
			_, err = tx.Exec(ctx, `UPDATE strangler_outbox SET delivered_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1`, c.id)
		} else {
			if ctx.Err() != nil {
				return delivered, nil // shutting down: the rollback leaves the event due
			}
			wait := d.backoffFor(c.attempts)
			d.log.Warn("event delivery failed; retrying", "service", d.service, "event", c.ev.ID, "type", c.ev.Type,
				"attempt", c.attempts+1, "retry_in", wait, "error", err)
			_, err = tx.Exec(ctx, `UPDATE strangler_outbox SET attempts = attempts + 1, last_error = $2,
				next_attempt_at = now() + $3 * interval '1 microsecond' WHERE id = $1`, c.id, err.Error(), wait.Microseconds())
		}
		if err != nil {
			return 0, fmt.Errorf("recording delivery of event %d: %w", c.id, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("committing deliveries: %w", err)
	}
	return delivered, nil
}

func (d *Dispatcher) deliver(ctx context.Context, c *claimed) error {
	if c.traceparent != "" {
		var span trace.Span
		ctx, span = d.tracer.Start(contextOf(ctx, c.traceparent), "publish "+c.ev.Type, trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(attribute.String("strangler.event.id", c.ev.ID), attribute.String("strangler.event.key", c.ev.Key),
				attribute.Int("strangler.event.attempt", c.attempts+1)))
		defer span.End()
	}
	var errs []error
	for _, s := range d.sinks {
		sctx, cancel := context.WithTimeout(ctx, d.timeout)
		err := s.Deliver(sctx, &c.ev, c.raw)
		cancel()
		if err != nil {
			d.m.attempts.WithLabelValues(s.Name()).Inc()
			errs = append(errs, err)
			continue
		}
		d.m.events.WithLabelValues(s.Name()).Inc()
	}
	return errors.Join(errs...)
}

// backoffFor is the wait after the given number of earlier attempts.
func (d *Dispatcher) backoffFor(attempts int) time.Duration {
	wait := d.backoff
	for range min(attempts, 30) {
		wait *= 2
		if wait >= d.maxBackoff {
			return d.maxBackoff
		}
	}
	return wait
}
