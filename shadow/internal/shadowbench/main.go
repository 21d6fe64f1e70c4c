// Command shadowbench measures what shadow comparison costs the facade's
// clients: the same paced load on one route in mode legacy (no copies) and
// in mode shadow (every request copied to the target and compared, legacy
// asked twice on 10%, results in a file store), in alternating rounds in
// one run, and prints the medians of p50 and p99 client latency of each and
// their ratios.
//
//	go run ./shadow/internal/shadowbench [-rate 1000] [-duration 5s] [-rounds 5] [-body 1024] [-pin]
//
// Latency is measured from each request's scheduled time, so a stalled
// facade is not hidden by the load generator waiting for it.
//
// Legacy and the target run in a child process, as they would run on other
// machines: the target's own work of answering the copies is not the
// facade's cost. With -pin (where taskset(1) exists and there are two CPUs
// or more) the facade and the load generator run on CPU 0 alone
// (GOMAXPROCS 1) and the child on CPU 1: the harshest case, where the
// shadow work shares the client path's only CPU.
package main

import (
	"bufio"
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
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/loadgen"
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
	pin := flag.Bool("pin", false, "run the facade on CPU 0 alone and the backends on CPU 1 (needs taskset and two CPUs)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the facade process to this file")
	memprofile := flag.String("memprofile", "", "write an allocation profile of the facade process to this file")
	backends := flag.Bool("backends", false, "serve legacy and the target and print their URLs (the child process)")
	flag.Parse()
	if *backends {
		if err := serveBackends(*body); err != nil {
			log.Fatal(err)
		}
		return
	}
	_, err := exec.LookPath("taskset")
	canPin := *pin && err == nil && runtime.NumCPU() >= 2
	switch {
	case os.Getenv(envCPU) != "":
		canPin = true // this is the pinned process: it sees one CPU
	case canPin:
		os.Exit(pinned())
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *memprofile != "" {
		runtime.MemProfileRate = 4096
		defer func() {
			f, err := os.Create(*memprofile)
			if err != nil {
				log.Fatal(err)
			}
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}()
	}
	if err := run(*rate, *duration, *rounds, *conns, *body, canPin); err != nil {
		log.Fatal(err)
	}
}

// envCPU is set in the pinned process.
const envCPU = "SHADOWBENCH_CPU"

// pinned runs this command again on CPU 0 and returns its exit code.
func pinned() int {
	self, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command("taskset", append([]string{"-c", "0", self}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), envCPU+"=0")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		log.Fatal(err)
	}
	return 0
}

// serveBackends serves legacy and the target on two listeners, prints
// their URLs and serves until its standard input closes.
func serveBackends(bodySize int) error {
	answer := jsonBody(bodySize)
	upstream := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	})
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		go (&http.Server{Handler: upstream}).Serve(ln)
		fmt.Println("http://" + ln.Addr().String())
	}
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// startBackends starts the child process and returns legacy's and the
// target's URLs.
func startBackends(bodySize int, pin bool) (string, string, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return "", "", nil, err
	}
	args := []string{self, "-backends", "-body", fmt.Sprint(bodySize)}
	if pin {
		args = append([]string{"taskset", "-c", "1"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", "", nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", "", nil, err
	}
	stop := func() { stdin.Close(); cmd.Wait() }
	sc := bufio.NewScanner(stdout)
	var urls []string
	for len(urls) < 2 && sc.Scan() {
		urls = append(urls, sc.Text())
	}
	if len(urls) < 2 {
		stop()
		return "", "", nil, fmt.Errorf("the backends process did not start: %v", sc.Err())
	}
	return urls[0], urls[1], stop, nil
}

type result struct{ p50, p99 time.Duration }

func run(rate int, d time.Duration, rounds, conns, bodySize int, pin bool) error {
	legacy, target, stopBackends, err := startBackends(bodySize, pin)
	if err != nil {
		return err
	}
	defer stopBackends()

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
	if pin {
		fmt.Println("facade and load generator on CPU 0 (GOMAXPROCS 1), legacy and target in another process on CPU 1")
	} else {
		fmt.Printf("not pinned: facade, load generator and the backends' process share %d CPUs\n", runtime.NumCPU())
	}
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

// measure offers rate requests/s for d over conns connections.
func measure(url string, rate, conns int, d time.Duration) (result, error) {
	r, err := loadgen.Run(url, conns, rate, d)
	if err != nil {
		return result{}, err
	}
	return result{p50: r.Quantile(0.50), p99: r.Quantile(0.99)}, nil
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
