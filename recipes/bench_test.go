package recipes

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stretchr/testify/require"
)

// The benchmark of the recipe runtime against a hand-written net/http + pgx
// handler doing the same queries on the same database, in one run:
//
//	go test ./recipes -run '^$' -bench BenchmarkRuntimeVsHandwritten -benchtime 1x
//
// Each scenario (GET by key; a list filtered on status with its total) is
// loaded by a Go load generator over real listeners, alternating runtime
// and hand-written rounds; the medians of the rounds are printed with their
// ratios (medians of the ratios of back-to-back pairs of rounds).
// RECIPES_BENCH_ROUND (default 500ms) sets the length of a round,
// RECIPES_BENCH_ROUNDS (default 15) their number, RECIPES_BENCH_CLIENTS
// (default 8) the concurrent clients.

// handwritten serves the same two endpoints as the bench recipe, written
// directly against pgx, answering byte-identical JSON.
type handwritten struct{ pool *pgxpool.Pool }

type hwOrder struct {
	ID         int64   `json:"id"`
	CustomerID int64   `json:"customerId"`
	Status     string  `json:"status"`
	Total      string  `json:"total"`
	Note       *string `json:"note"`
	PlacedAt   string  `json:"placedAt"`
}

const hwColumns = `id, customer_id, status, total::text, note, placed_at, xmin::text`

func (h *handwritten) scan(row pgx.Row, o *hwOrder, version *string, extra ...any) error {
	var placed time.Time
	dest := append([]any{&o.ID, &o.CustomerID, &o.Status, &o.Total, &o.Note, &placed, version}, extra...)
	if err := row.Scan(dest...); err != nil {
		return err
	}
	o.PlacedAt = placed.UTC().Format("2006-01-02 15:04:05")
	return nil
}

func (h *handwritten) get(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	var o hwOrder
	var version string
	err = h.scan(h.pool.QueryRow(r.Context(), "SELECT "+hwColumns+" FROM orders WHERE id = $1", id), &o, &version)
	if err == pgx.ErrNoRows {
		http.Error(w, "not found", http.StatusNotFound)
		return
	} else if err != nil {
		http.Error(w, "internal", http.StatusInternalServerError)
		return
	}
	body, _ := json.Marshal(map[string]any{"data": o})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", `"`+version+`"`)
	_, _ = w.Write(body)
}

func (h *handwritten) list(w http.ResponseWriter, r *http.Request) {
	status := r.URL.Query().Get("status")
	limit := 20
	rows, err := h.pool.Query(r.Context(), "SELECT "+hwColumns+", count(*) OVER () FROM orders WHERE status = $1 ORDER BY id LIMIT $2", status, limit)
	if err != nil {
		http.Error(w, "internal", http.StatusInternalServerError)
		return
	}
	defer rows.Close()
	out := []hwOrder{}
	var total int64
	for rows.Next() {
		var o hwOrder
		var version string
		if err := h.scan(rows, &o, &version, &total); err != nil {
			http.Error(w, "internal", http.StatusInternalServerError)
			return
		}
		out = append(out, o)
	}
	if rows.Err() != nil {
		http.Error(w, "internal", http.StatusInternalServerError)
		return
	}
	body, _ := json.Marshal(map[string]any{"data": out, "meta": map[string]any{"total": total}})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// loadResult is one round of load.
type loadResult struct {
	rps      float64
	p50, p99 time.Duration
	errors   int
}

// load sends requests from clients goroutines for d and measures them.
func load(ctx context.Context, client *http.Client, urls []string, clients int, d time.Duration) loadResult {
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			bad := 0
			for i := c; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				start := time.Now()
				resp, err := client.Get(urls[i%len(urls)])
				if err != nil {
					bad++
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					bad++
				}
				local = append(local, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, local...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	res := loadResult{rps: float64(len(lat)) / d.Seconds(), errors: errs}
	if len(lat) > 0 {
		res.p50 = lat[len(lat)/2]
		res.p99 = lat[len(lat)*99/100]
	}
	return res
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func serve(b *testing.B, h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func medianOf(rs []loadResult) loadResult {
	pick := func(key func(loadResult) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = key(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	out := loadResult{
		rps: pick(func(r loadResult) float64 { return r.rps }),
		p50: time.Duration(pick(func(r loadResult) float64 { return float64(r.p50) })),
		p99: time.Duration(pick(func(r loadResult) float64 { return float64(r.p99) })),
	}
	for _, r := range rs {
		out.errors += r.errors
	}
	return out
}

// benchSetup seeds a fresh database with 100 customers and 20,000 orders
// and returns the recipe service and the hand-written handler over it.
func benchSetup(b *testing.B) (*Service, http.Handler) {
	ctx := testCtx(b)
	pool, err := pgxpool.New(ctx, dbtest.Postgres(b))
	require.NoError(b, err)
	b.Cleanup(pool.Close)
	r := loadRecipe(b, func(s string) string { return strings.ReplaceAll(s, ", embed: [customer]", "") })
	_, err = Migrate(ctx, pool, r)
	require.NoError(b, err)
	_, err = pool.Exec(ctx, `INSERT INTO customers (name, email) SELECT 'c' || g, 'c' || g || '@example.com' FROM generate_series(1, 100) g;
		INSERT INTO orders (customer_id, status, total, note, placed_at)
		SELECT 1 + g % 100, (ARRAY['new','paid','shipped','cancelled'])[1 + g % 4], (g % 1000) + 0.5,
		       CASE WHEN g % 3 = 0 THEN 'note ' || g END, timestamptz '2026-01-01' + g * interval '1 minute'
		FROM generate_series(1, 20000) g;
		CREATE INDEX ON orders (status, id); ANALYZE`)
	require.NoError(b, err)
	svc, err := NewService(r, pool)
	require.NoError(b, err)
	hw := &handwritten{pool: pool}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/orders/{id}", hw.get)
	mux.HandleFunc("GET /api/orders", hw.list)
	return svc, mux
}

// BenchmarkHandlers measures one request through each handler in process
// (no network, no load generator): the CPU and allocations the recipe
// runtime adds over the hand-written handler, database round trip included.
func BenchmarkHandlers(b *testing.B) {
	svc, hand := benchSetup(b)
	for _, h := range []struct {
		name string
		h    http.Handler
	}{{"recipe", svc}, {"hand", hand}} {
		for _, path := range []struct{ name, path string }{{"get", "/api/orders/4242"}, {"list", "/api/orders?status=paid"}} {
			b.Run(h.name+"/"+path.name, func(b *testing.B) {
				b.ReportAllocs()
				req := httptest.NewRequest("GET", path.path, nil)
				for b.Loop() {
					rec := httptest.NewRecorder()
					h.h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("%s: %d %s", path.path, rec.Code, rec.Body.String())
					}
				}
			})
		}
	}
}

func BenchmarkRuntimeVsHandwritten(b *testing.B) {
	b.ReportAllocs()
	ctx := testCtx(b)
	svc, hand := benchSetup(b)
	recipeURL := serve(b, svc)
	handURL := serve(b, hand)

	// Both must answer the same bytes, or the comparison means nothing.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}, Timeout: 10 * time.Second}
	for _, path := range []string{"/api/orders/42", "/api/orders/3", "/api/orders?status=paid"} {
		bodies := [2]string{}
		for i, base := range []string{recipeURL, handURL} {
			resp, err := client.Get(base + path)
			require.NoError(b, err)
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			bodies[i] = string(data)
		}
		require.JSONEq(b, bodies[1], bodies[0], "runtime and hand-written answers differ for %s", path)
	}

	round := 500 * time.Millisecond
	if d, err := time.ParseDuration(os.Getenv("RECIPES_BENCH_ROUND")); err == nil && d > 0 {
		round = d
	}
	rounds, clients := envInt("RECIPES_BENCH_ROUNDS", 15), envInt("RECIPES_BENCH_CLIENTS", 8)
	scenarios := []struct {
		name  string
		paths []string
	}{
		{"get by key", func() []string {
			var p []string
			for i := 1; i <= 20000; i += 97 {
				p = append(p, "/api/orders/"+strconv.Itoa(i))
			}
			return p
		}()},
		{"filtered list", []string{"/api/orders?status=paid", "/api/orders?status=new", "/api/orders?status=shipped", "/api/orders?status=cancelled"}},
	}
	urls := func(base string, paths []string) []string {
		out := make([]string, len(paths))
		for i, p := range paths {
			out[i] = base + p
		}
		return out
	}
	b.ResetTimer()
	for range b.N {
		fmt.Fprintf(os.Stderr, "\nrecipe runtime vs hand-written net/http+pgx: %d clients, %d rounds of %s, medians\n", clients, rounds, round)
		fmt.Fprintf(os.Stderr, "%-14s %-12s %10s %10s %10s\n", "scenario", "server", "req/s", "p50", "p99")
		for _, sc := range scenarios {
			load(ctx, client, urls(recipeURL, sc.paths), clients, round/4) // warm both: pools, statement caches
			load(ctx, client, urls(handURL, sc.paths), clients, round/4)
			var rec, hand []loadResult
			for i := range rounds {
				// Alternate which goes first, so drift in the machine's load
				// falls on both alike.
				if i%2 == 0 {
					rec = append(rec, load(ctx, client, urls(recipeURL, sc.paths), clients, round))
					hand = append(hand, load(ctx, client, urls(handURL, sc.paths), clients, round))
				} else {
					hand = append(hand, load(ctx, client, urls(handURL, sc.paths), clients, round))
					rec = append(rec, load(ctx, client, urls(recipeURL, sc.paths), clients, round))
				}
			}
			rm, hm := medianOf(rec), medianOf(hand)
			require.Zero(b, rm.errors+hm.errors, "no request may fail")
			// Ratios are medians of the per-round pairs: each pair ran back
			// to back, under the same load from whatever else the machine
			// runs, so a burst elsewhere skews one pair, not the result.
			pairRatio := func(key func(loadResult) float64) float64 {
				v := make([]float64, len(rec))
				for i := range rec {
					v[i] = key(rec[i]) / key(hand[i])
				}
				slices.Sort(v)
				return v[len(v)/2]
			}
			for _, row := range []struct {
				name string
				r    loadResult
			}{{"recipe", rm}, {"hand-written", hm}} {
				fmt.Fprintf(os.Stderr, "%-14s %-12s %10.0f %10s %10s\n", sc.name, row.name, row.r.rps, row.r.p50.Round(time.Microsecond), row.r.p99.Round(time.Microsecond))
			}
			rpsRatio := pairRatio(func(r loadResult) float64 { return r.rps })
			p50Ratio := pairRatio(func(r loadResult) float64 { return float64(r.p50) })
			p99Ratio := pairRatio(func(r loadResult) float64 { return float64(r.p99) })
			fmt.Fprintf(os.Stderr, "%-14s ratio        %9.2fx %9.2fx %9.2fx   (median of %d paired rounds; target: req/s >= 0.90x, p99 <= 1.20x)\n", sc.name,
				rpsRatio, p50Ratio, p99Ratio, rounds)
			key := strings.ReplaceAll(sc.name, " ", "_")
			b.ReportMetric(rm.rps, key+"_recipe_req/s")
			b.ReportMetric(hm.rps, key+"_hand_req/s")
			b.ReportMetric(rpsRatio, key+"_rps_ratio")
			b.ReportMetric(p99Ratio, key+"_p99_ratio")
		}
	}
}
