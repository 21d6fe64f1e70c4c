package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// The demo's shop traffic: many users (X-User-Id) reading orders, products
// and customers, browsing lists and pages, placing orders with items, and a
// little noise (unknown customers and paths), through the facade for the
// whole demo. Every answer is counted by route, status and backend (the
// monolith marks its answers with X-Powered-By); an answer other than the
// one the request must get (200, 201, 404 for the noise) is a failure.

// Routes of the traffic, as the demo's project file names them; "other" is
// everything the facade sends to legacy unmatched.
const (
	routeOrdersRead   = "orders-read"
	routeProductsRead = "products-read"
	routeOrdersWrite  = "orders-write"
	routeOther        = "other"
)

// trafficProduct is a product for sale, with its price in cents.
type trafficProduct struct {
	id    int
	cents int64
}

// trafficTarget is where requests go: a facade. A target that was left is
// closed once no request is on it.
type trafficTarget struct {
	base   string
	client *http.Client
	mu     sync.RWMutex // held shared by each request on the target
	closed bool
}

// routeCounts are the answers of one route.
type routeCounts struct {
	Requests, Legacy, New, Failed int64
}

// trafficCounts are the figures of the traffic since it began.
type trafficCounts struct {
	Requests, Failed, Legacy, New int64
	Routes                        map[string]routeCounts
	Placed, PlacedNew, SoldOut    int64
	QtyNew                        map[int]int64 // product -> quantity ordered through the new service
	QtyLegacy                     map[int]int64 // product -> quantity ordered through the monolith
	Failures                      []string      // the first ones, for the report
}

func (c trafficCounts) clone() trafficCounts {
	c.Routes = maps.Clone(c.Routes)
	c.QtyNew = maps.Clone(c.QtyNew)
	c.QtyLegacy = maps.Clone(c.QtyLegacy)
	c.Failures = append([]string(nil), c.Failures...)
	return c
}

// since returns the figures counted after b.
func (c trafficCounts) since(b trafficCounts) trafficCounts {
	out := trafficCounts{Requests: c.Requests - b.Requests, Failed: c.Failed - b.Failed, Legacy: c.Legacy - b.Legacy,
		New: c.New - b.New, Placed: c.Placed - b.Placed, PlacedNew: c.PlacedNew - b.PlacedNew, SoldOut: c.SoldOut - b.SoldOut,
		Routes: map[string]routeCounts{}}
	for k, v := range c.Routes {
		o := b.Routes[k]
		out.Routes[k] = routeCounts{Requests: v.Requests - o.Requests, Legacy: v.Legacy - o.Legacy, New: v.New - o.New, Failed: v.Failed - o.Failed}
	}
	return out
}

// traffic is the generator.
type traffic struct {
	lim       *rate.Limiter
	workers   int
	orders    int // seeded orders: ids 1..orders
	customers int
	products  int
	forSale   []trafficProduct
	target    atomic.Pointer[trafficTarget]
	writes    sync.RWMutex // each placement holds it shared; hold takes it

	mu sync.Mutex
	n  trafficCounts
	// newOrders are the orders placed through the new service, with their
	// lines, in the order their answers came.
	newOrders []placedOrder
}

// placedOrder is an order the new service took.
type placedOrder struct {
	id    int64
	lines map[int]int64
}

func newTraffic(base string, perSecond float64, sz demoSizes, forSale []trafficProduct) *traffic {
	t := &traffic{lim: rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond/20))), workers: 24,
		orders: sz.orders, customers: sz.customers, products: sz.products, forSale: forSale,
		n: trafficCounts{Routes: map[string]routeCounts{}, QtyNew: map[int]int64{}, QtyLegacy: map[int]int64{}}}
	t.target.Store(newTrafficTarget(base, t.workers))
	return t
}

func newTrafficTarget(base string, conns int) *trafficTarget {
	return &trafficTarget{base: base, client: &http.Client{Timeout: 15 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: conns, IdleConnTimeout: 30 * time.Second}}}
}

// run sends requests until ctx is done.
func (t *traffic) run(ctx context.Context) {
	var wg sync.WaitGroup
	for w := range t.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w)+1, 42))
			for t.lim.Wait(ctx) == nil {
				t.one(ctx, rng)
			}
		}()
	}
	wg.Wait()
	t.target.Load().client.CloseIdleConnections()
}

// setRate changes how many requests a second the traffic sends.
func (t *traffic) setRate(perSecond float64) { t.lim.SetLimit(rate.Limit(perSecond)) }

// switchTo sends every request from now on to base, and returns once no
// request is on the facade it left.
func (t *traffic) switchTo(base string) {
	old := t.target.Swap(newTrafficTarget(base, t.workers))
	old.mu.Lock()
	old.closed = true
	old.mu.Unlock()
	old.client.CloseIdleConnections()
}

// holdWrites holds every placement not yet sent and waits for those on the
// way; releaseWrites lets them go.
func (t *traffic) holdWrites()    { t.writes.Lock() }
func (t *traffic) releaseWrites() { t.writes.Unlock() }

// counts returns the figures so far.
func (t *traffic) counts() trafficCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n.clone()
}

// placedNew returns the orders the new service took.
func (t *traffic) placedNew() []placedOrder {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]placedOrder(nil), t.newOrders...)
}

// one sends one request, chosen as a shop's visitors would.
func (t *traffic) one(ctx context.Context, rng *rand.Rand) {
	user := 1 + rng.IntN(t.customers)
	switch p := rng.IntN(100); {
	case p < 40: // an order page: half of the visits to the 50 most recent ones
		id := 1 + rng.IntN(t.orders)
		if rng.IntN(2) == 0 {
			id = max(1, t.orders-rng.IntN(50))
		}
		t.get(ctx, routeOrdersRead, "/api/orders/"+strconv.Itoa(id), user, http.StatusOK)
	case p < 60:
		t.get(ctx, routeProductsRead, "/api/products/"+strconv.Itoa(1+rng.IntN(t.products)), user, http.StatusOK)
	case p < 67:
		t.get(ctx, routeOther, "/api/customers/"+strconv.Itoa(user), user, http.StatusOK)
	case p < 72:
		t.get(ctx, routeOther, fmt.Sprintf("/api/orders?limit=10&offset=%d", 10*rng.IntN(50)), user, http.StatusOK)
	case p < 76:
		t.get(ctx, routeOther, fmt.Sprintf("/api/products?page=%d", 1+rng.IntN(5)), user, http.StatusOK)
	case p < 79:
		t.get(ctx, routeOther, "/", user, http.StatusOK)
	case p < 80:
		t.get(ctx, routeOther, "/api/reports/daily", user, http.StatusOK)
	case p < 86:
		t.writes.RLock()
		t.place(ctx, rng, user)
		t.writes.RUnlock()
	case p < 93: // noise: customers that do not exist
		t.get(ctx, routeOther, "/api/customers/"+strconv.Itoa(900000+rng.IntN(1000)), user, http.StatusNotFound)
	default: // noise: paths the shop does not have
		t.get(ctx, routeOther, []string{"/favicon.ico", "/api/wishlist", "/wp-login.php"}[rng.IntN(3)], user, http.StatusNotFound)
	}
}

// get sends a GET and counts its answer.
func (t *traffic) get(ctx context.Context, route, path string, user, want int) {
	status, fromLegacy, _, err := t.do(ctx, http.MethodGet, path, nil, user)
	t.count(ctx, route, "GET "+path, status, fromLegacy, err, status == want)
}

// place places an order of one to three products for sale, one or two of
// each, in the body both legacy and the new service take.
func (t *traffic) place(ctx context.Context, rng *rand.Rand, user int) {
	lines := map[int]int64{}
	var items []map[string]int64
	var cents int64
	for range 1 + rng.IntN(3) {
		p := t.forSale[rng.IntN(len(t.forSale))]
		if _, dup := lines[p.id]; dup {
			continue
		}
		q := int64(1 + rng.IntN(2))
		lines[p.id] = q
		cents += q * p.cents
		items = append(items, map[string]int64{"product_id": int64(p.id), "quantity": q})
	}
	body := map[string]any{"customerId": user, "total": fmt.Sprintf("%d.%02d", cents/100, cents%100), "items": items}
	if rng.IntN(8) == 0 {
		body["note"] = "gift & wrap"
	}
	data, _ := json.Marshal(body)
	status, fromLegacy, answer, err := t.do(ctx, http.MethodPost, "/api/orders", data, user)
	var created struct {
		Data struct {
			ID int64 `json:"id"`
		} `json:"data"`
	}
	ok := status == http.StatusCreated && json.Unmarshal(answer, &created) == nil && created.Data.ID > 0
	soldOut := fromLegacy && status == http.StatusConflict // legacy refuses what it does not have
	t.count(ctx, routeOrdersWrite, "POST /api/orders", status, fromLegacy, err, ok || soldOut)
	if ctx.Err() != nil || err != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if soldOut {
		t.n.SoldOut++
	}
	if !ok {
		return
	}
	t.n.Placed++
	if fromLegacy {
		for p, q := range lines {
			t.n.QtyLegacy[p] += q
		}
	}
	if !fromLegacy {
		t.n.PlacedNew++
		for p, q := range lines {
			t.n.QtyNew[p] += q
		}
		t.newOrders = append(t.newOrders, placedOrder{id: created.Data.ID, lines: lines})
	}
}

// do sends one request to the current facade and reads its answer.
func (t *traffic) do(ctx context.Context, method, path string, body []byte, user int) (int, bool, []byte, error) {
	tg := t.target.Load()
	for {
		tg.mu.RLock()
		if !tg.closed {
			break
		}
		tg.mu.RUnlock()
		tg = t.target.Load()
	}
	defer tg.mu.RUnlock()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, tg.base+path, rd)
	if err != nil {
		return 0, false, nil, err
	}
	req.Header.Set("X-User-Id", strconv.Itoa(user))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := tg.client.Do(req)
	if err != nil {
		return 0, false, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.HasPrefix(resp.Header.Get("X-Powered-By"), "legacyshop"), answer, err
}

// count records one answer; nothing is counted once ctx is done (the demo
// is stopping, the request was cut off by it).
func (t *traffic) count(ctx context.Context, route, what string, status int, fromLegacy bool, err error, ok bool) {
	if ctx.Err() != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	rc := t.n.Routes[route]
	t.n.Requests++
	rc.Requests++
	switch {
	case err != nil || !ok:
		t.n.Failed++
		rc.Failed++
		if len(t.n.Failures) < 20 {
			reason := fmt.Sprintf("answered %d", status)
			if err != nil {
				reason = err.Error()
			}
			t.n.Failures = append(t.n.Failures, fmt.Sprintf("%s %s: %s", time.Now().Format("15:04:05.000"), what, reason))
		}
	case fromLegacy:
		t.n.Legacy++
		rc.Legacy++
	default:
		t.n.New++
		rc.New++
	}
	t.n.Routes[route] = rc
}

// shopCatalog reads the products for sale and their prices from the
// shop's catalog pages, as a client would.
func shopCatalog(ctx context.Context, legacy string) ([]trafficProduct, error) {
	var out []trafficProduct
	c := &http.Client{Timeout: 10 * time.Second}
	for page := 1; ; page++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/api/products?page=%d&per_page=50", legacy, page), nil)
		if err != nil {
			return nil, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, fmt.Errorf("reading the shop's catalog: %w", err)
		}
		var body struct {
			Data []struct {
				ID     int    `json:"id"`
				Price  string `json:"price"`
				Active int    `json:"active"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading the shop's catalog: %w", err)
		}
		if len(body.Data) == 0 {
			break
		}
		for _, p := range body.Data {
			whole, frac, _ := strings.Cut(p.Price, ".")
			w, err1 := strconv.ParseInt(whole, 10, 64)
			f, err2 := strconv.ParseInt(frac, 10, 64)
			if err1 != nil || err2 != nil || len(frac) != 2 {
				return nil, fmt.Errorf("reading the shop's catalog: product %d costs %q", p.ID, p.Price)
			}
			if p.Active == 1 {
				out = append(out, trafficProduct{id: p.ID, cents: w*100 + f})
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("reading the shop's catalog: no product for sale")
	}
	return out, nil
}
