// Package loadgen is the HTTP load generator of the benchmark harnesses:
// GET requests to one URL over a fixed number of connections, closed-loop
// (each connection sends its next request as soon as the last answered)
// or paced at a rate, with every latency kept.
package loadgen

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Result is one run: every request's latency, sorted.
type Result struct {
	Latencies []time.Duration
	Elapsed   time.Duration
}

// Quantile returns the latency below which q (0 to 1) of the requests fell.
func (r Result) Quantile(q float64) time.Duration {
	return r.Latencies[int(float64(len(r.Latencies)-1)*q)]
}

// RPS is requests completed per second.
func (r Result) RPS() float64 { return float64(len(r.Latencies)) / r.Elapsed.Seconds() }

// Run sends GET url over conns connections for d. With rate 0 each
// connection sends its next request once the last one answered, and
// latency counts from the send; with a rate (requests per second over all
// connections) each request is scheduled at a fixed time and its latency
// counts from that time, so a stalled server is not hidden by the
// generator waiting for it. The first failed request (an error or a status
// other than 200) ends the run with that error.
func Run(url string, conns, rate int, d time.Duration) (Result, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(conns) / float64(rate))
	}
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
				if interval == 0 {
					at = time.Now()
				}
				if err := get(c, url); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(at))
				if interval == 0 {
					at = time.Now()
				} else {
					at = at.Add(interval)
				}
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return Result{}, firstErr
	}
	if len(lats) == 0 {
		return Result{}, errors.New("no request completed")
	}
	slices.Sort(lats)
	return Result{Latencies: lats, Elapsed: time.Since(begin)}, nil
}

func get(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return err
}
