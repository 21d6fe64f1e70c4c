package recipes

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
)

// subscriptionRig is a JetStream stream of its own on the local server
// (events and dead letters) and the orders recipe with a subscription that
// decrements a stock table per OrderPlaced event.
type subscriptionRig struct {
	t      *testing.T
	js     jetstream.JetStream
	prefix string
	e      *env
}

func newSubscriptionRig(t *testing.T, maxDeliver int, opts ...Option) *subscriptionRig {
	ctx := testCtx(t)
	nc, err := nats.Connect("nats://127.0.0.1:4222", nats.Timeout(5*time.Second))
	require.NoError(t, err, "nats-server with JetStream must run on 127.0.0.1:4222")
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	suffix := hex.EncodeToString(rnd[:])
	prefix := "subs_" + suffix
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "SUBS_" + suffix, Subjects: []string{prefix + ".>"},
		Duplicates: time.Minute, Storage: jetstream.MemoryStorage})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, js.DeleteStream(context.Background(), "SUBS_"+suffix)) })

	section := fmt.Sprintf(`subscriptions:
  - name: decrementStock
    nats_url: nats://127.0.0.1:4222
    stream: SUBS_%s
    subject: %s.orders.OrderPlaced
    dead_letter: %s.dead.stock
    max_deliver: %d
    backoff: 20ms
    sql: |
      update stock s set quantity = s.quantity - i.quantity
      from jsonb_to_recordset(:items::jsonb) as i(product_id int, quantity int)
      where s.product_id = i.product_id
    params:
      - {name: items, type: string, required: true}
`, suffix, prefix, prefix, maxDeliver)
	r := loadRecipe(t, func(s string) string { return strings.Replace(s, "endpoints:\n", section+"endpoints:\n", 1) })
	pool := openPool(t, dbtest.Postgres(t))
	_, err = pool.Exec(ctx, `CREATE TABLE stock (product_id int PRIMARY KEY, quantity int NOT NULL CHECK (quantity >= 0));
		INSERT INTO stock VALUES (1, 100), (2, 100)`)
	require.NoError(t, err)
	return &subscriptionRig{t: t, js: js, prefix: prefix, e: newEnvOn(t, r, pool, opts...)}
}

// publish sends an OrderPlaced event with the given id and items, under a
// message id of its own (so that the stream's deduplication lets a second
// copy of one event through: the subscription must skip it itself).
func (r *subscriptionRig) publish(id, items string, headers ...string) {
	r.t.Helper()
	msg := nats.NewMsg(r.prefix + ".orders.OrderPlaced")
	for i := 0; i+1 < len(headers); i += 2 {
		msg.Header.Set(headers[i], headers[i+1])
	}
	msg.Data = []byte(fmt.Sprintf(`{"id": %q, "type": "OrderPlaced", "service": "orders", "key": "order:1", "data": {"items": %s}}`, id, items))
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	_, err := r.js.PublishMsg(testCtx(r.t), msg, jetstream.WithMsgID(id+"-"+hex.EncodeToString(rnd[:])))
	require.NoError(r.t, err)
}

func (r *subscriptionRig) stock(product int) int {
	r.t.Helper()
	var q int
	require.NoError(r.t, r.e.pool.QueryRow(testCtx(r.t), "SELECT quantity FROM stock WHERE product_id = $1", product).Scan(&q))
	return q
}

func (r *subscriptionRig) consumed(result string) float64 {
	r.t.Helper()
	m, err := r.e.svc.metrics.consumed.GetMetricWithLabelValues("decrementStock", result)
	require.NoError(r.t, err)
	var d dto.Metric
	require.NoError(r.t, m.(prometheus.Metric).Write(&d))
	return d.GetCounter().GetValue()
}

// deadLetters returns the dead-lettered messages so far.
func (r *subscriptionRig) deadLetters() []deadLetter {
	r.t.Helper()
	ctx := testCtx(r.t)
	s, err := r.js.Stream(ctx, "SUBS_"+strings.TrimPrefix(r.prefix, "subs_"))
	require.NoError(r.t, err)
	info, err := s.Info(ctx)
	require.NoError(r.t, err)
	var out []deadLetter
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		raw, err := s.GetMsg(ctx, seq)
		if err != nil || raw.Subject != r.prefix+".dead.stock" {
			continue
		}
		out = append(out, rawMsg{raw})
	}
	return out
}

// rawMsg gives a stored message the two methods the test reads.
type rawMsg struct{ m *jetstream.RawStreamMsg }

func (m rawMsg) Headers() nats.Header { return m.m.Header }
func (m rawMsg) Data() []byte         { return m.m.Data }

// deadLetter is what the test reads of a dead-lettered message.
type deadLetter interface {
	Headers() nats.Header
	Data() []byte
}

// TestSubscriptionAppliesEachEventOnce: each OrderPlaced event decrements
// the stock once, also when it is delivered twice.
func TestSubscriptionAppliesEachEventOnce(t *testing.T) {
	r := newSubscriptionRig(t, 5)
	r.publish("e1", `[{"product_id": 1, "quantity": 2}, {"product_id": 2, "quantity": 1}]`)
	r.publish("e2", `[{"product_id": 1, "quantity": 3}]`)
	r.publish("e2", `[{"product_id": 1, "quantity": 3}]`) // the same event again
	r.publish("e3", `[{"product_id": 2, "quantity": 4}]`)
	require.Eventually(t, func() bool { return r.consumed(consumedApplied)+r.consumed(consumedDuplicate) == 4 }, 20*time.Second, 10*time.Millisecond)
	assert.Equal(t, 95, r.stock(1))
	assert.Equal(t, 95, r.stock(2))
	assert.Equal(t, 3.0, r.consumed(consumedApplied))
	assert.Equal(t, 1.0, r.consumed(consumedDuplicate))
	var n int
	require.NoError(t, r.e.pool.QueryRow(testCtx(t), "SELECT count(*) FROM strangler_inbox WHERE subscription = 'decrementStock'").Scan(&n))
	assert.Equal(t, 3, n, "one processed row per event id")

	t.Run("a restart goes on from the durable consumer", func(t *testing.T) {
		require.NoError(t, r.e.svc.Close(testCtx(t)))
		r.publish("e4", `[{"product_id": 1, "quantity": 5}]`)
		restarted, err := NewService(r.e.svc.Recipe(), r.e.pool)
		require.NoError(t, err)
		require.NoError(t, restarted.Start(testCtx(t)))
		t.Cleanup(func() { require.NoError(t, restarted.Close(context.Background())) })
		require.Eventually(t, func() bool { return r.stock(1) == 90 }, 20*time.Second, 10*time.Millisecond, "the event published while down is applied")
		assert.Equal(t, 95, r.stock(2), "and nothing older again")
	})
}

// TestSubscriptionRetriesThenDeadLetters: an event the statement refuses is
// retried with backoff and applied once it can be; one that keeps failing
// goes to the dead-letter subject after max_deliver attempts; one that
// cannot be applied at all (a required parameter missing) at once.
func TestSubscriptionRetriesThenDeadLetters(t *testing.T) {
	r := newSubscriptionRig(t, 4)
	// 150 of product 1: the CHECK refuses the statement until stock rises.
	r.publish("big", `[{"product_id": 1, "quantity": 150}]`)
	require.Eventually(t, func() bool { return r.consumed(consumedRetried) >= 2 }, 20*time.Second, 10*time.Millisecond, "retried")
	_, err := r.e.pool.Exec(testCtx(t), "UPDATE stock SET quantity = 200 WHERE product_id = 1")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return r.stock(1) == 50 }, 20*time.Second, 10*time.Millisecond, "applied once the stock allows it")
	assert.Empty(t, r.deadLetters())

	r.publish("never", `[{"product_id": 2, "quantity": 1000}]`)
	require.Eventually(t, func() bool { return len(r.deadLetters()) == 1 }, 20*time.Second, 10*time.Millisecond, "dead-lettered after max_deliver")
	dl := r.deadLetters()[0]
	assert.Equal(t, "4", dl.Headers().Get(HeaderDeadAttempts))
	assert.Equal(t, r.prefix+".orders.OrderPlaced", dl.Headers().Get(HeaderDeadSubject))
	assert.Contains(t, dl.Headers().Get(HeaderDeadReason), "violates check constraint")
	assert.Contains(t, string(dl.Data()), `"never"`)
	assert.Equal(t, 100, r.stock(2), "nothing of it was applied")

	r.publish("broken", `null`)
	require.Eventually(t, func() bool { return len(r.deadLetters()) == 2 }, 20*time.Second, 10*time.Millisecond, "dead-lettered at once")
	dl = r.deadLetters()[1]
	assert.Equal(t, "1", dl.Headers().Get(HeaderDeadAttempts))
	assert.Contains(t, dl.Headers().Get(HeaderDeadReason), "parameter items: data.items is missing from the event")
	assert.Equal(t, 2.0, r.consumed(consumedDead))

	var ev map[string]any
	require.NoError(t, json.Unmarshal(dl.Data(), &ev))
	assert.Equal(t, "broken", ev["id"])
}

// TestSubscriptionRecipeMistakes: a bad subscription is refused with its
// field named, and the derived keys are filled.
func TestSubscriptionRecipeMistakes(t *testing.T) {
	base := `subscriptions:
  - name: decrementStock
    nats_url: nats://127.0.0.1:4222
    stream: SHOP
    subject: shop.orders.OrderPlaced
    sql: update stock set quantity = quantity - :quantity where product_id = :product
    params:
      - {name: quantity, type: integer}
      - {name: product, from: data.product_id, type: integer, required: true}
`
	edit := func(old, new string) func(string) string {
		return func(s string) string {
			return strings.Replace(s, "endpoints:\n", strings.Replace(base, old, new, 1)+"endpoints:\n", 1)
		}
	}
	r := loadRecipe(t, edit("", ""))
	sb := r.Subscriptions[0]
	assert.Equal(t, "strangler-orders-decrementStock", sb.Durable)
	assert.Equal(t, "strangler.dead.orders.decrementStock", sb.DeadLetter)
	assert.Equal(t, "data.quantity", sb.Params[0].From)
	assert.Equal(t, 5, sb.MaxDeliver)
	assert.Equal(t, []string{"quantity", "product"}, sb.order)

	for _, tc := range []struct{ name, old, new, want string }{
		{"undeclared parameter", ":product", ":sku", `subscriptions[0].sql: :sku is not a declared parameter`},
		{"bad from", "from: data.product_id", "from: payload.product_id", `subscriptions[0].params[1].from: "payload.product_id" is not id, type, key, service, occurred_at, data or data.FIELD`},
		{"bad max_deliver", "    sql:", "    max_deliver: 0\n    sql:", `subscriptions[0].max_deliver: 0 must be at least 1`},
		{"wildcard dead letter", "    sql:", "    dead_letter: shop.dead.>\n    sql:", `subscriptions[0].dead_letter: "shop.dead.>" is not a subject to publish to`},
		{"missing stream", "    stream: SHOP\n", "", `subscriptions[0]: missing required field "stream"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := os.ReadFile(ordersRecipe)
			require.NoError(t, err)
			_, err = Parse("orders.yaml", []byte(edit(tc.old, tc.new)(string(data))))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestSubscriptionContinuesTheTrace: an event carrying a traceparent (as
// the outbox sends it) is applied in a span of that trace.
func TestSubscriptionContinuesTheTrace(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	r := newSubscriptionRig(t, 5, WithTracerProvider(tp))
	const trace, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	r.publish("t1", `[{"product_id": 1, "quantity": 1}]`, "traceparent", "00-"+trace+"-"+parent+"-01")
	require.Eventually(t, func() bool { return r.consumed(consumedApplied) == 1 }, 20*time.Second, 10*time.Millisecond)
	var found bool
	for _, s := range spans.GetSpans() {
		if strings.HasPrefix(s.Name, "consume ") {
			found = true
			assert.Equal(t, trace, s.SpanContext.TraceID().String())
			assert.Equal(t, parent, s.Parent.SpanID().String())
		}
	}
	assert.True(t, found, "a consume span")
}
