// Command shadowbench measures what shadow comparison costs the facade's
// clients: the same paced load on one route in mode legacy (no copies) and
// in mode shadow (every request copied to the target and compared, legacy
// asked twice on 10%, results in a file store), in alternating rounds in
// one run, and prints the medians of p50 and p99 client latency of each and
// their ratios.
//
//	go run ./shadow/internal/shadowbench [-rate 1000] [-duration 5s] [-rounds 5] [-body 1024]
//
// Latency is measured from each request's scheduled time, so a stalled
// facade is not hidden by the load generator waiting for it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/proxy"
	"github.com/stranglerfig/strangler/shadow"
	"github.com/stranglerfig/strangler/shadow/store"
)

func main() {
	rate := flag.Int("rate", 1000, "requests per second offered")
	duration := flag.Duration("duration", 5*time.Second, "length of one round")
	rounds := flag.Int("rounds", 5, "rounds per mode; medians are printed")
	conns := flag.Int("conns", 32, "concurrent connections")
	body := flag.Int("body", 1024, "bytes of the JSON answer")
	flag.Parse()
	if err := run(*rate, *duration, *rounds, *conns, *body); err != nil {
		log.Fatal(err)
	}
}

type result struct{ p50, p99 time.Duration }

func run(rate int, d time.Duration, rounds, conns, bodySize int) error {
	answer := jsonBody(bodySize)
	serve := func(h http.Handler) (string, func(), error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", nil, err
		}
		srv := &http.Server{Handler: h}
		go srv.Serve(ln)
		return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
	}
	upstream := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	})
	legacy, stopL, err := serve(upstream)
	if err != nil {
		return err
	}
	defer stopL()
	target, stopT, err := serve(upstream)
	if err != nil {
		return err
	}
	defer stopT()

	dir, err := os.MkdirTemp("", "shadowbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	start := func(mode string) (string, func(), *shadow.Engine, error) {
		cfg, err := config.Parse("bench.yaml", []byte(fmt.Sprintf(`legacy: %s
routes:
  - name: orders
    match: {path: "/api/orders/{id}"}
    target: %s
    mode: %s
`, legacy, target, mode)), nil)
		if err != nil {
			return "", nil, nil, err
		}
		st, err := store.OpenFile(dir+"/"+mode, store.Retention{})
		if err != nil {
			return "", nil, nil, err
		}
		e, err := shadow.New(cfg, st, shadow.WithLogger(quiet))
		if err != nil {
			return "", nil, nil, err
		}
		f, err := proxy.New(cfg, proxy.WithLogger(quiet), proxy.WithShadower(e))
		if err != nil {
			return "", nil, nil, err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", nil, nil, err
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- f.Serve(ctx, ln, 5*time.Second) }()
		return "http://" + ln.Addr().String() + "/api/orders/1", func() {
			cancel()
			<-done
			e.Close(context.Background())
			f.Close()
			st.Close()
		}, e, nil
	}
	offURL, stopOff, _, err := start("legacy")
	if err != nil {
		return err
	}
	defer stopOff()
	onURL, stopOn, engine, err := start("shadow")
	if err != nil {
		return err
	}
	defer stopOn()

	fmt.Printf("shadowbench: %d req/s offered over %d connections, %v rounds x %d per mode, %d-byte JSON answers\n",
		rate, conns, d, rounds, bodySize)
	var off, on []result
	for i := range rounds {
		for _, m := range []struct {
			name string
			url  string
			out  *[]result
		}{{"off", offURL, &off}, {"on", onURL, &on}} {
			r, err := measure(m.url, rate, conns, d)
			if err != nil {
				return fmt.Errorf("round %d, shadow %s: %w", i+1, m.name, err)
			}
			*m.out = append(*m.out, r)
			fmt.Printf("  round %d shadow %-3s p50 %7.3f ms  p99 %7.3f ms\n", i+1, m.name, ms(r.p50), ms(r.p99))
		}
	}
	reps, err := engine.Report(context.Background(), "orders", store.ReportOptions{})
	if err != nil {
		return err
	}
	mo, mn := median(off), median(on)
	fmt.Printf("\nmedians          p50        p99\n")
	fmt.Printf("shadow off  %7.3f ms  %7.3f ms\n", ms(mo.p50), ms(mo.p99))
	fmt.Printf("shadow on   %7.3f ms  %7.3f ms\n", ms(mn.p50), ms(mn.p99))
	fmt.Printf("on / off    %9.2fx  %9.2fx\n", ms(mn.p50)/ms(mo.p50), ms(mn.p99)/ms(mo.p99))
	if len(reps) == 1 {
		r := reps[0]
		fmt.Printf("comparisons: %d (%d matched, %d differed, %d errors), %d dropped\n", r.Compared, r.Matched, r.Differed, r.Errors, r.Dropped)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(rs []result) result {
	p50 := make([]time.Duration, len(rs))
	p99 := make([]time.Duration, len(rs))
	for i, r := range rs {
		p50[i], p99[i] = r.p50, r.p99
	}
	slices.Sort(p50)
	slices.Sort(p99)
	return result{p50[len(rs)/2], p99[len(rs)/2]}
}

// measure offers rate requests/s for d over conns connections, each
// request scheduled at a fixed time; latency counts from that time.
func measure(url string, rate, conns int, d time.Duration) (result, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	interval := time.Duration(float64(time.Second) * float64(conns) / float64(rate))
	begin := time.Now().Add(10 * time.Millisecond)
	end := begin.Add(d)
	var mu sync.Mutex
	var lats []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			at := begin.Add(interval * time.Duration(i) / time.Duration(conns))
			for at.Before(end) {
				if w := time.Until(at); w > 0 {
					time.Sleep(w)
				}
				resp, err := c.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(at))
				at = at.Add(interval)
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return result{}, firstErr
	}
	if len(lats) == 0 {
		return result{}, errors.New("no request completed")
	}
	slices.Sort(lats)
	return result{p50: lats[len(lats)/2], p99: lats[len(lats)*99/100]}, nil
}

// jsonBody is an API answer of about n bytes: an envelope with a list of
// order items.
func jsonBody(n int) string {
	var b strings.Builder
	b.WriteString(`{"data":{"id":1,"status":"shipped","customer":{"id":42,"name":"Ada Lovelace"},"items":[`)
	for i := 0; b.Len() < n-60; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"sku":"SKU-%04d","qty":%d,"price":"%d.%02d"}`, i, i%5+1, 10+i, i%100)
	}
	b.WriteString(`]},"meta":{"total":1}}`)
	return b.String()
}
