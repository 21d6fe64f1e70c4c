package recipes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// InboxTable records the events each subscription applied, in the same
// transaction as its statement: an event delivered again is skipped.
const InboxTable = "strangler_inbox"

const inboxDDL = `CREATE TABLE IF NOT EXISTS strangler_inbox (
	service      text NOT NULL,
	subscription text NOT NULL,
	event_id     text NOT NULL,
	processed_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (service, subscription, event_id)
)`

// Headers of a dead-lettered event, beside the original's.
const (
	HeaderDeadReason       = "Strangler-Dead-Reason"
	HeaderDeadSubject      = "Strangler-Dead-Subject"
	HeaderDeadSubscription = "Strangler-Dead-Subscription"
	HeaderDeadAttempts     = "Strangler-Dead-Attempts"
)

// maxEventBackoff bounds the wait between two attempts of one event.
const maxEventBackoff = time.Minute

// Timings of one event: its handling is bounded by eventTimeout, and the
// server delivers an unacknowledged event again after eventAckWait (an
// event handed to a consumer that stopped comes back then).
const (
	eventTimeout = 8 * time.Second
	eventAckWait = 10 * time.Second
)

// Results of strangler_recipe_events_consumed_total.
const (
	consumedApplied   = "applied"
	consumedDuplicate = "duplicate"
	consumedRetried   = "retried"
	consumedDead      = "dead_lettered"
)

// subscribers run a service's subscriptions.
type subscribers struct {
	conns []*nats.Conn
	ccs   []jetstream.ConsumeContext

	mu      sync.Mutex
	stopped bool           // set by stop: no handler starts from then on
	wg      sync.WaitGroup // handlers in progress
}

// begin registers a handler about to run; false once stop began (the
// event, not acknowledged, is delivered again after the ack wait).
func (subs *subscribers) begin() bool {
	subs.mu.Lock()
	defer subs.mu.Unlock()
	if subs.stopped {
		return false
	}
	subs.wg.Add(1)
	return true
}

// permanentError marks an event that no retry can apply: it goes to the
// dead-letter subject at once.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// startSubscriptions creates each subscription's durable consumer and
// starts consuming.
func (s *Service) startSubscriptions(ctx context.Context) error {
	r := s.Recipe()
	if len(r.Subscriptions) == 0 {
		return nil
	}
	if _, err := s.db.Exec(ctx, inboxDDL); err != nil {
		return fmt.Errorf("creating the processed-events table: %w", err)
	}
	subs := &subscribers{}
	byURL := map[string]jetstream.JetStream{}
	for i := range r.Subscriptions {
		sb := &r.Subscriptions[i]
		js, ok := byURL[sb.NATSURL]
		if !ok {
			nc, err := nats.Connect(sb.NATSURL, nats.Timeout(5*time.Second), nats.MaxReconnects(-1), nats.Name("strangler-recipes-"+r.Service))
			if err != nil {
				subs.stop()
				return fmt.Errorf("subscription %s: connecting to NATS at %s: %w", sb.Name, sb.NATSURL, err)
			}
			subs.conns = append(subs.conns, nc)
			if js, err = jetstream.New(nc); err != nil {
				subs.stop()
				return fmt.Errorf("subscription %s: opening JetStream: %w", sb.Name, err)
			}
			byURL[sb.NATSURL] = js
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cons, err := js.CreateOrUpdateConsumer(cctx, sb.Stream, jetstream.ConsumerConfig{
			Durable: sb.Durable, FilterSubject: sb.Subject, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: eventAckWait, MaxDeliver: -1, DeliverPolicy: jetstream.DeliverAllPolicy,
			Description: "strangler recipe " + r.Service + ", subscription " + sb.Name,
		})
		cancel()
		if err != nil {
			subs.stop()
			return fmt.Errorf("subscription %s: consumer %s on stream %s: %w", sb.Name, sb.Durable, sb.Stream, err)
		}
		h := &eventHandler{s: s, sb: sb, js: js, service: r.Service}
		h.backoff, _ = time.ParseDuration(sb.Backoff)
		cc, err := cons.Consume(func(m jetstream.Msg) {
			if !subs.begin() {
				return
			}
			defer subs.wg.Done()
			h.handle(m)
		})
		if err != nil {
			subs.stop()
			return fmt.Errorf("subscription %s: consuming %s: %w", sb.Name, sb.Subject, err)
		}
		subs.ccs = append(subs.ccs, cc)
		s.log.Info("subscribed", "service", r.Service, "subscription", sb.Name, "stream", sb.Stream, "subject", sb.Subject, "durable", sb.Durable)
	}
	s.subs = subs
	return nil
}

// stop stops consuming, waits for the handlers in progress and closes
// the connections.
func (subs *subscribers) stop() {
	subs.mu.Lock()
	subs.stopped = true
	subs.mu.Unlock()
	for _, cc := range subs.ccs {
		cc.Stop()
	}
	subs.wg.Wait()
	for _, nc := range subs.conns {
		nc.Close()
	}
}

// eventHandler applies one subscription's events.
type eventHandler struct {
	s       *Service
	sb      *Subscription
	js      jetstream.JetStream
	service string
	backoff time.Duration
}

// handle applies one event: acknowledged once applied (or found applied
// before), retried with backoff when it fails, dead-lettered after
// max_deliver attempts or when it cannot be applied at all.
func (h *eventHandler) handle(m jetstream.Msg) {
	attempt := uint64(1)
	if md, err := m.Metadata(); err == nil {
		attempt = md.NumDelivered
	}
	ctx := context.Background()
	if hdr := m.Headers(); hdr != nil {
		ctx = propagator.Extract(ctx, natsCarrier(hdr))
	}
	ctx, span := h.s.tracer.Start(ctx, "consume "+m.Subject(), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("strangler.subscription", h.sb.Name), attribute.Int64("strangler.event.attempt", int64(attempt))))
	defer span.End()
	ctx, cancel := context.WithTimeout(ctx, eventTimeout)
	defer cancel()

	id, dup, err := h.apply(ctx, m)
	span.SetAttributes(attribute.String("strangler.event.id", id))
	var perm *permanentError
	switch {
	case err == nil:
		result := consumedApplied
		if dup {
			result = consumedDuplicate
		}
		if aerr := m.Ack(); aerr != nil {
			h.s.log.Warn("acknowledging an applied event; it will be delivered again and skipped", "subscription", h.sb.Name, "event", id, "error", aerr)
		}
		h.count(result)
	case errors.As(err, &perm) || attempt >= uint64(h.sb.MaxDeliver):
		span.SetStatus(codes.Error, err.Error())
		h.deadLetter(ctx, m, id, attempt, err)
	default:
		span.SetStatus(codes.Error, err.Error())
		wait := h.backoff
		for range min(attempt-1, 20) {
			wait *= 2
		}
		wait = min(wait, maxEventBackoff)
		h.s.log.Warn("event failed; retrying", "subscription", h.sb.Name, "event", id, "attempt", attempt, "retry_in", wait, "error", err)
		if nerr := m.NakWithDelay(wait); nerr != nil {
			h.s.log.Warn("refusing a failed event; it comes back after the ack wait", "subscription", h.sb.Name, "event", id, "error", nerr)
		}
		h.count(consumedRetried)
	}
}

func (h *eventHandler) count(result string) {
	h.s.metrics.consumed.WithLabelValues(h.sb.Name, result).Inc()
}

// apply runs the statement for the event and records its id, in one
// transaction; dup reports an event applied before (nothing is run).
func (h *eventHandler) apply(ctx context.Context, m jetstream.Msg) (id string, dup bool, err error) {
	ev, id, err := decodeEvent(m)
	if err != nil {
		return id, false, &permanentError{err}
	}
	args := make([]any, len(h.sb.order))
	vals := map[string]any{}
	for _, prm := range h.sb.Params {
		v, err := eventParam(ev, &prm, &h.s.Recipe().Shape)
		if err != nil {
			return id, false, &permanentError{fmt.Errorf("event %s: parameter %s: %w", id, prm.Name, err)}
		}
		vals[prm.Name] = v
	}
	for i, name := range h.sb.order {
		args[i] = bindValue(vals[name])
	}
	tx, err := h.s.db.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return id, false, fmt.Errorf("starting the transaction: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	tag, err := tx.Exec(ctx, `INSERT INTO strangler_inbox (service, subscription, event_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		h.service, h.sb.Name, id)
	if err != nil {
		return id, false, fmt.Errorf("recording event %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return id, true, nil
	}
	if _, err := tx.Exec(ctx, h.sb.sql, args...); err != nil {
		if permanentSQL(err) {
			return id, false, &permanentError{fmt.Errorf("event %s: the statement failed: %w", id, err)}
		}
		return id, false, fmt.Errorf("event %s: the statement failed: %w", id, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return id, false, fmt.Errorf("event %s: committing: %w", id, err)
	}
	return id, false, nil
}

// permanentSQL reports a statement error that the same event will meet
// again on every attempt: a value the statement cannot take (SQLSTATE
// class 22, data exception). Others (a constraint another event may lift,
// a lock, a server away) are retried.
func permanentSQL(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && strings.HasPrefix(pe.Code, "22")
}

// decodeEvent reads an event written by a recipe's outbox (or anything of
// its shape): a JSON object with an id. Its id is the JSON's, else the
// message's Nats-Msg-Id.
func decodeEvent(m jetstream.Msg) (map[string]any, string, error) {
	id := ""
	if hdr := m.Headers(); hdr != nil {
		id = hdr.Get(jetstream.MsgIDHeader)
	}
	dec := json.NewDecoder(bytes.NewReader(m.Data()))
	dec.UseNumber()
	var ev map[string]any
	if err := dec.Decode(&ev); err != nil {
		return nil, id, fmt.Errorf("the event is not a JSON object: %w", err)
	}
	if s, ok := ev["id"].(string); ok && s != "" {
		id = s
	}
	if id == "" {
		return nil, "", errors.New("the event has no id (neither an \"id\" member nor a Nats-Msg-Id header)")
	}
	return ev, id, nil
}

// checkEventPath checks an event_param's from.
func checkEventPath(p string) error {
	head, rest, _ := strings.Cut(p, ".")
	switch head {
	case "id", "type", "key", "service", "occurred_at":
		if rest == "" {
			return nil
		}
	case "data":
		if rest == "" || !strings.Contains(p, "..") && !strings.HasSuffix(p, ".") {
			return nil
		}
	}
	return fmt.Errorf("%q is not id, type, key, service, occurred_at, data or data.FIELD", p)
}

// eventParam reads a parameter's value from the event: nil when absent
// (an error when required), parsed as the parameter's type.
func eventParam(ev map[string]any, prm *EventParam, shape *Shape) (any, error) {
	var v any = ev
	for _, step := range strings.Split(prm.From, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			v = nil
			break
		}
		v = obj[step]
	}
	var text string
	switch x := v.(type) {
	case nil:
		if prm.Required {
			return nil, fmt.Errorf("%s is missing from the event", prm.From)
		}
		return nil, nil
	case string:
		text = x
	case json.Number:
		text = x.String()
	case bool:
		text = fmt.Sprint(x)
		if shape.Booleans == "int" {
			text = map[bool]string{true: "1", false: "0"}[x]
		}
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		text = string(b)
	}
	f := Field{Name: prm.Name, Type: prm.Type, Scale: 12, Precision: 38, FSP: maxFSP}
	return f.parseText(text, shape)
}

// deadLetter publishes the event to the subscription's dead-letter subject
// with why, and ends its delivery; if that publish fails the event is kept
// (refused, to come back).
func (h *eventHandler) deadLetter(ctx context.Context, m jetstream.Msg, id string, attempt uint64, why error) {
	dl := nats.NewMsg(h.sb.DeadLetter)
	dl.Data = m.Data()
	if hdr := m.Headers(); hdr != nil {
		for k, vs := range hdr {
			if k != jetstream.MsgIDHeader {
				dl.Header[k] = vs
			}
		}
	}
	dl.Header.Set(HeaderDeadReason, why.Error())
	dl.Header.Set(HeaderDeadSubject, m.Subject())
	dl.Header.Set(HeaderDeadSubscription, h.sb.Name)
	dl.Header.Set(HeaderDeadAttempts, fmt.Sprint(attempt))
	opts := []jetstream.PublishOpt{}
	if id != "" {
		opts = append(opts, jetstream.WithMsgID(h.sb.Name+":"+id))
	}
	if _, err := h.js.PublishMsg(ctx, dl, opts...); err != nil {
		h.s.log.Error("an event that cannot be applied could not be dead-lettered either; it is kept", "subscription", h.sb.Name,
			"event", id, "dead_letter", h.sb.DeadLetter, "reason", why.Error(), "error", err)
		_ = m.NakWithDelay(maxEventBackoff)
		return
	}
	h.s.log.Warn("event dead-lettered", "subscription", h.sb.Name, "event", id, "attempts", attempt, "dead_letter", h.sb.DeadLetter, "reason", why.Error())
	if err := m.Term(); err != nil {
		h.s.log.Warn("ending a dead-lettered event's delivery", "subscription", h.sb.Name, "event", id, "error", err)
	}
	h.count(consumedDead)
}
