package store_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stranglerfig/strangler/shadow/store"
)

// BenchmarkAdd measures Add on the caller's goroutine (an engine worker):
// a match is only counted, a diff is encoded and held until the flusher
// writes it. The flusher runs meanwhile; every 2,000 records the benchmark
// flushes with the timer stopped, so that the buffer never fills and every
// record is kept.
func BenchmarkAdd(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"file", func(b *testing.B) store.Store {
			st, err := store.OpenFile(b.TempDir(), store.Retention{}, store.WithLogger(quiet()))
			require.NoError(b, err)
			return st
		}},
		{"postgres", func(b *testing.B) store.Store {
			st, err := store.OpenPostgres(context.Background(), dbtest.Postgres(b), store.Retention{}, store.WithLogger(quiet()))
			require.NoError(b, err)
			return st
		}},
	}
	for _, s := range stores {
		b.Run(s.name+"/match", func(b *testing.B) {
			st := s.open(b)
			defer st.Close()
			r := match("orders", time.Now())
			b.ReportAllocs()
			for b.Loop() {
				if err := st.Add(ctx, r); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(s.name+"/diff", func(b *testing.B) {
			st := s.open(b)
			defer st.Close()
			r := benchDiff()
			ids := make([]string, 4096)
			for i := range ids {
				ids[i] = "bench-" + strconv.Itoa(i)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r.ID = ids[i%len(ids)]
				if err := st.Add(ctx, r); err != nil {
					b.Fatal(err)
				}
				if i++; i%2000 == 0 {
					b.StopTimer()
					if err := st.Flush(ctx); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			}
		})
	}
}

// benchDiff is a diff record of a typical size: a small JSON request, two
// answers of about 1 KiB, three differing paths.
func benchDiff() *store.Record {
	body := `{"data":{"id":42,"items":[` + repeatItems(12) + `],"total":"118.80"},"meta":{"request_id":"abc"}}`
	return &store.Record{
		Route: "orders", At: time.Now(), RequestID: "req-1", Result: store.ResultDiff, Primary: store.SideLegacy,
		Request: store.Request{Method: "GET", Path: "/api/orders/42", Query: "expand=items",
			Header: http.Header{"Accept": {"application/json"}, "X-Request-Id": {"req-1"}, "User-Agent": {"bench"}}},
		Legacy: &store.Answer{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: store.Body{Text: body}, DurationMS: 4.2},
		New:    &store.Answer{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: store.Body{Text: body}, DurationMS: 3.1},
		Diffs: []store.Diff{
			{Path: "$.data.total", Kind: "changed", Legacy: `"118.80"`, New: `"118.8"`},
			{Path: "$.data.items[3].price", Kind: "changed", Legacy: `"9.90"`, New: `"9.9"`},
			{Path: "$.data.items[7].price", Kind: "changed", Legacy: `"9.90"`, New: `"9.9"`},
		},
	}
}

func repeatItems(n int) string {
	s := ""
	for i := range n {
		if i > 0 {
			s += ","
		}
		s += `{"sku":"SKU-` + strconv.Itoa(i) + `","qty":1,"price":"9.90"}`
	}
	return s
}
