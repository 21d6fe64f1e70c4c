package recipes

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withEvents adds an events section to the orders recipe.
func withEvents(section string) func(string) string {
	return func(s string) string {
		return strings.Replace(s, "base_path: /api\n", "base_path: /api\nevents:\n"+section, 1)
	}
}

// webhookSink is a test webhook that refuses its first fail requests and
// records the events it accepts.
type webhookSink struct {
	mu       sync.Mutex
	fail     int
	accepted []Event
	badKey   []string
}

func (w *webhookSink) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail > 0 {
		w.fail--
		http.Error(rw, "not now", http.StatusServiceUnavailable)
		return
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil || r.Header.Get("Idempotency-Key") != ev.ID {
		w.badKey = append(w.badKey, string(body))
	}
	w.accepted = append(w.accepted, ev)
	rw.WriteHeader(http.StatusNoContent)
}

func (w *webhookSink) events() []Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Event(nil), w.accepted...)
}

// outboxOrder returns the event ids of the outbox in id order, by key.
func (e *env) outboxOrder() (map[string][]string, int) {
	e.t.Helper()
	rows, err := e.pool.Query(testCtx(e.t), "SELECT event_id::text, aggregate_key, delivered_at IS NOT NULL FROM strangler_outbox ORDER BY id")
	require.NoError(e.t, err)
	defer rows.Close()
	out := map[string][]string{}
	delivered := 0
	for rows.Next() {
		var id, key string
		var done bool
		require.NoError(e.t, rows.Scan(&id, &key, &done))
		out[key] = append(out[key], id)
		if done {
			delivered++
		}
	}
	require.NoError(e.t, rows.Err())
	return out, delivered
}

// writeSome does writes that emit events on three keys.
func (e *env) writeSome() {
	e.t.Helper()
	e.must(201, "POST", "/api/customers", map[string]any{"name": "Ada", "email": "ada@example.com"})
	for range 3 {
		e.must(201, "POST", "/api/orders", map[string]any{"customerId": 1, "total": "1"})
	}
	e.must(200, "PATCH", "/api/orders/1", map[string]any{"status": "paid"})
	e.must(200, "PATCH", "/api/orders/1", map[string]any{"note": "wrap it"})
	e.must(204, "DELETE", "/api/orders/2", nil)
}

// requireOrderPerKey checks that got holds every outbox event, each key's
// in outbox order (duplicates of an at-least-once delivery aside).
func requireOrderPerKey(t *testing.T, want map[string][]string, got []Event) {
	t.Helper()
	perKey := map[string][]string{}
	for _, ev := range got {
		ids := perKey[ev.Key]
		if len(ids) > 0 && ids[len(ids)-1] == ev.ID {
			continue // redelivered
		}
		perKey[ev.Key] = append(ids, ev.ID)
	}
	assert.Equal(t, want, perKey)
}

// TestOutboxWebhook: events reach the webhook once it accepts them, in
// order per key, after failed attempts are retried with backoff, and events
// written while the dispatcher is down are delivered after a restart.
func TestOutboxWebhook(t *testing.T) {
	sink := &webhookSink{fail: 3}
	hook := httptest.NewServer(sink)
	t.Cleanup(hook.Close)
	r := loadRecipe(t, withEvents("  webhook: "+hook.URL+"/events\n  backoff: 20ms\n  max_backoff: 100ms\n"))
	e := newEnv(t, r)
	e.writeSome()

	require.Eventually(t, func() bool { _, n := e.outboxOrder(); return n == 6 }, 20*time.Second, 20*time.Millisecond)
	want, _ := e.outboxOrder()
	require.Len(t, want, 3)
	requireOrderPerKey(t, want, sink.events())
	assert.Empty(t, sink.badKey, "every POST carries Idempotency-Key = event id")
	var first Event
	for _, ev := range sink.events() {
		if ev.Key == "order:1" && first.ID == "" {
			first = ev
		}
	}
	assert.Equal(t, "orders", first.Service)
	assert.Equal(t, "OrderPlaced", first.Type)
	assert.JSONEq(t, `{"id":1,"customerId":1,"status":"new","total":"1.00","note":null,"placedAt":"2026-03-04 05:06:07"}`, string(first.Data))
	var attempts int
	require.NoError(t, e.pool.QueryRow(testCtx(t), "SELECT sum(attempts) FROM strangler_outbox").Scan(&attempts))
	assert.Equal(t, 6+3, attempts, "three refused attempts were retried")

	t.Run("survives a restart", func(t *testing.T) {
		require.NoError(t, e.svc.Close(testCtx(t)))
		e.must(201, "POST", "/api/orders", map[string]any{"customerId": 1, "total": "2"})
		e.must(200, "PATCH", "/api/orders/4", map[string]any{"status": "paid"})
		_, delivered := e.outboxOrder()
		assert.Equal(t, 6, delivered, "nothing is delivered while the dispatcher is down")

		restarted, err := NewService(r, e.pool)
		require.NoError(t, err)
		require.NoError(t, restarted.Start(testCtx(t)))
		t.Cleanup(func() { require.NoError(t, restarted.Close(context.Background())) })
		require.Eventually(t, func() bool { _, n := e.outboxOrder(); return n == 8 }, 20*time.Second, 20*time.Millisecond)
		want, _ := e.outboxOrder()
		requireOrderPerKey(t, want, sink.events())
	})
}

// TestOutboxHoldsAKeyBehindAFailingEvent: while a key's event keeps
// failing, its later events wait and other keys' events go through.
func TestOutboxHoldsAKeyBehindAFailingEvent(t *testing.T) {
	var mu sync.Mutex
	var got []Event
	blocked := "order:1"
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev Event
		_ = json.NewDecoder(r.Body).Decode(&ev)
		mu.Lock()
		defer mu.Unlock()
		if ev.Key == blocked {
			http.Error(w, "poison", http.StatusInternalServerError)
			return
		}
		got = append(got, ev)
	}))
	t.Cleanup(hook.Close)
	e := newEnv(t, loadRecipe(t, withEvents("  webhook: "+hook.URL+"\n  backoff: 10ms\n  max_backoff: 50ms\n")))
	e.writeSome()
	snapshot := func() []Event { mu.Lock(); defer mu.Unlock(); return append([]Event(nil), got...) }
	require.Eventually(t, func() bool { return len(snapshot()) == 3 }, 20*time.Second, 20*time.Millisecond, "order:2 (two events) and order:3 go through")
	for _, ev := range snapshot() {
		assert.NotEqual(t, blocked, ev.Key)
	}
	var pending, tried int
	require.NoError(t, e.pool.QueryRow(testCtx(t), `SELECT count(*), max(attempts) FROM strangler_outbox WHERE aggregate_key = 'order:1' AND delivered_at IS NULL`).Scan(&pending, &tried))
	assert.Equal(t, 3, pending, "order:1's three events wait")
	require.Eventually(t, func() bool {
		var n int
		_ = e.pool.QueryRow(testCtx(t), `SELECT attempts FROM strangler_outbox WHERE aggregate_key = 'order:1' ORDER BY id LIMIT 1`).Scan(&n)
		return n >= 2
	}, 20*time.Second, 20*time.Millisecond, "the head event is retried")
	var laterAttempts int
	require.NoError(t, e.pool.QueryRow(testCtx(t), `SELECT coalesce(sum(attempts), 0) FROM (SELECT attempts FROM strangler_outbox WHERE aggregate_key = 'order:1' ORDER BY id OFFSET 1) x`).Scan(&laterAttempts))
	assert.Zero(t, laterAttempts, "later events of the key are not attempted while the first fails")
	mu.Lock()
	blocked = ""
	mu.Unlock()
	require.Eventually(t, func() bool { _, n := e.outboxOrder(); return n == 6 }, 20*time.Second, 20*time.Millisecond)
	want, _ := e.outboxOrder()
	requireOrderPerKey(t, want, snapshot())
}

// TestOutboxNATS: events are published to the local NATS JetStream with
// Nats-Msg-Id = event id (the stream drops duplicates), and a consumer
// that acks receives each key's events in order.
func TestOutboxNATS(t *testing.T) {
	ctx := testCtx(t)
	nc, err := nats.Connect("nats://127.0.0.1:4222", nats.Timeout(5*time.Second))
	require.NoError(t, err, "nats-server with JetStream must run on 127.0.0.1:4222")
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	suffix := hex.EncodeToString(rnd[:])
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RECIPES_" + suffix, Subjects: []string{"recipes_" + suffix + ".>"},
		Duplicates: time.Minute, Storage: jetstream.MemoryStorage})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, js.DeleteStream(context.Background(), "RECIPES_"+suffix)) })

	e := newEnv(t, loadRecipe(t, withEvents("  nats_url: nats://127.0.0.1:4222\n  nats_subject: recipes_"+suffix+".{type}\n  backoff: 20ms\n")))
	e.writeSome()
	require.Eventually(t, func() bool { _, n := e.outboxOrder(); return n == 6 }, 20*time.Second, 20*time.Millisecond)

	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "test", AckPolicy: jetstream.AckExplicitPolicy})
	require.NoError(t, err)
	var got []Event
	for len(got) < 6 {
		batch, err := cons.Fetch(6-len(got), jetstream.FetchMaxWait(5*time.Second))
		require.NoError(t, err)
		n := 0
		for msg := range batch.Messages() {
			n++
			var ev Event
			require.NoError(t, json.Unmarshal(msg.Data(), &ev))
			assert.Equal(t, ev.ID, msg.Headers().Get("Nats-Msg-Id"))
			assert.Equal(t, "recipes_"+suffix+"."+ev.Type, msg.Subject())
			require.NoError(t, msg.Ack())
			got = append(got, ev)
		}
		require.NoError(t, batch.Error())
		require.Positive(t, n, "messages arrive")
	}
	want, _ := e.outboxOrder()
	requireOrderPerKey(t, want, got)

	t.Run("survives a restart of the service", func(t *testing.T) {
		require.NoError(t, e.svc.Close(ctx))
		e.must(200, "PATCH", "/api/orders/3", map[string]any{"status": "paid"})
		e.must(201, "POST", "/api/orders", map[string]any{"customerId": 1, "total": "4"})
		restarted, err := NewService(e.svc.Recipe(), e.pool)
		require.NoError(t, err)
		require.NoError(t, restarted.Start(ctx))
		t.Cleanup(func() { require.NoError(t, restarted.Close(context.Background())) })
		for len(got) < 8 {
			batch, err := cons.Fetch(8-len(got), jetstream.FetchMaxWait(5*time.Second))
			require.NoError(t, err)
			n := 0
			for msg := range batch.Messages() {
				n++
				var ev Event
				require.NoError(t, json.Unmarshal(msg.Data(), &ev))
				require.NoError(t, msg.Ack())
				got = append(got, ev)
			}
			require.NoError(t, batch.Error())
			require.Positive(t, n, "messages arrive after the restart")
		}
		want, _ := e.outboxOrder()
		requireOrderPerKey(t, want, got)
	})

	t.Run("a redelivered event is dropped by the stream", func(t *testing.T) {
		raw, err := json.Marshal(got[0])
		require.NoError(t, err)
		msg := nats.NewMsg("recipes_" + suffix + "." + got[0].Type)
		msg.Data = raw
		ack, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(got[0].ID))
		require.NoError(t, err)
		assert.True(t, ack.Duplicate)
		info, err := stream.Info(ctx)
		require.NoError(t, err)
		assert.Equal(t, uint64(8), info.State.Msgs)
	})
}

// TestOutboxRetention: delivered events older than events.retention are
// deleted; newer ones and undelivered ones stay.
func TestOutboxRetention(t *testing.T) {
	hook := httptest.NewServer(&webhookSink{})
	t.Cleanup(hook.Close)
	e := newEnv(t, loadRecipe(t, withEvents("  webhook: "+hook.URL+"/events\n  backoff: 20ms\n  max_backoff: 100ms\n  retention: 24h\n")))
	e.writeSome()
	require.Eventually(t, func() bool {
		var pending int
		require.NoError(t, e.pool.QueryRow(testCtx(t), "SELECT count(*) FROM strangler_outbox WHERE delivered_at IS NULL").Scan(&pending))
		return pending == 0
	}, 20*time.Second, 20*time.Millisecond)
	ctx := testCtx(t)
	_, err := e.pool.Exec(ctx, `UPDATE strangler_outbox SET delivered_at = now() - interval '25 hours' WHERE id IN (SELECT id FROM strangler_outbox ORDER BY id LIMIT 2)`)
	require.NoError(t, err)
	_, err = e.pool.Exec(ctx, `INSERT INTO strangler_outbox (service, event_id, event_type, aggregate_key, payload)
		SELECT service, gen_random_uuid(), event_type, aggregate_key, payload FROM strangler_outbox ORDER BY id LIMIT 1`)
	require.NoError(t, err)
	_, err = e.pool.Exec(ctx, `UPDATE strangler_outbox SET next_attempt_at = now() + interval '1 hour', delivered_at = NULL WHERE id = (SELECT max(id) FROM strangler_outbox)`)
	require.NoError(t, err)
	before := e.count("strangler_outbox")

	require.NoError(t, e.svc.dispatcher.deleteExpired(ctx))
	assert.Equal(t, before-2, e.count("strangler_outbox"), "the two delivered events past the retention are deleted")
	var pending int
	require.NoError(t, e.pool.QueryRow(ctx, "SELECT count(*) FROM strangler_outbox WHERE delivered_at IS NULL").Scan(&pending))
	assert.Equal(t, 1, pending, "an undelivered event is never deleted")
}
