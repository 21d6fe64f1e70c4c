package recipes

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// OutboxTable is the table domain events wait in until delivered.
const OutboxTable = "strangler_outbox"

// outboxDDL creates the outbox; it is idempotent.
const outboxDDL = `CREATE TABLE IF NOT EXISTS strangler_outbox (
	id              bigserial PRIMARY KEY,
	event_id        uuid NOT NULL UNIQUE,
	service         text NOT NULL,
	aggregate_key   text NOT NULL,
	event_type      text NOT NULL,
	payload         jsonb NOT NULL,
	created_at      timestamptz NOT NULL DEFAULT now(),
	delivered_at    timestamptz,
	attempts        integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL DEFAULT now(),
	last_error      text,
	traceparent     text
);
ALTER TABLE strangler_outbox ADD COLUMN IF NOT EXISTS traceparent text;
CREATE INDEX IF NOT EXISTS strangler_outbox_pending ON strangler_outbox (service, aggregate_key, id) WHERE delivered_at IS NULL`

// EnsureOutbox creates the outbox table if it does not exist.
func EnsureOutbox(ctx context.Context, db DB) error {
	if _, err := db.Exec(ctx, outboxDDL); err != nil {
		return fmt.Errorf("creating the outbox table: %w", err)
	}
	return nil
}

// Event is one domain event as it is delivered: the JSON body of the
// webhook POST and of the NATS message.
type Event struct {
	ID         string          `json:"id"`          // unique; consumers deduplicate on it
	Type       string          `json:"type"`        // OrderPlaced
	Service    string          `json:"service"`     // the recipe's service
	Key        string          `json:"key"`         // resource:key (key parts joined by "/"); events of one key arrive in order
	OccurredAt time.Time       `json:"occurred_at"` // when the service wrote it (its clock, UTC)
	Data       json.RawMessage `json:"data"`        // the row as the API writes it (after a delete: before it)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// writeEvent inserts the endpoint's event for row r into the outbox, in the
// write's transaction.
func (s *Service) writeEvent(ctx context.Context, tx pgx.Tx, q *request, r row) error {
	w := &writer{shape: q.shape()}
	w.object(q.t, r, nil)
	ev := Event{ID: newUUID(), Type: q.e.Event, Service: q.rt.recipe.Service,
		Key: q.t.res.Name + ":" + keysText(q.t.keyOf(r)), OccurredAt: s.now().UTC(), Data: w.b.Bytes()}
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encoding event %s: %w", ev.Type, err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO strangler_outbox (event_id, service, aggregate_key, event_type, payload, traceparent)
		VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''))`,
		ev.ID, ev.Service, ev.Key, ev.Type, payload, traceparentOf(ctx))
	if err != nil {
		return fmt.Errorf("writing event %s to the outbox: %w", ev.Type, err)
	}
	return nil
}
