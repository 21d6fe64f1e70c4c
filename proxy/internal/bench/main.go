// Command bench compares the facade with the proxies it is measured
// against, on one machine, in one run:
//
//	go run ./proxy/internal/bench [-duration 10s] [-rounds 3] [-conns 64] [-cpuprofile facade.pprof]
//
// It starts one upstream and, each in its own process limited to one core
// (GOMAXPROCS=1; nginx with worker_processes 1): a bare
// httputil.ReverseProxy with a tuned transport, nginx when installed, and
// the facade with 1 route and with 500 routes where the hit route is the
// last one (breakers and metrics on, access log off), and that 500-route
// facade twice more: with net/http's tuned transport alone instead of its
// own client (WithTransport(NewTransport())), and with answers buffered
// as the ReverseProxy does by default (WithFlushInterval(0)) instead of
// flushed before the facade waits for more of the upstream's body. It loads each with
// wrk when installed, else with a Go load generator, in interleaved rounds,
// and prints the medians of requests/s, p50 and p99 latency, the CPU time
// each subject's process spent per request, and ratios.
//
// With -gateway it also measures that 500-route facade with gateway duties
// on its hit route (docs/gateway.md): a JWT check (RS256, 2048-bit key, from
// a JWKS file, one claim passed on as a header) and a rate limit keyed by a
// claim, set high enough never to refuse; once with the verified-token
// cache (what a client sending its token again costs) and once without it
// (a signature verification per request). Every subject is then sent the
// same bearer token, so that the requests are the same bytes throughout.
//
// Diagnostics: BENCH_PLAIN_SERVER=1 serves the facade from the same plain
// http.Server as the bare proxies instead of Facade.Serve; BENCH_SERVER=h2c
// or idle then adds one of Serve's settings to every Go server.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/loadgen"
	"github.com/stranglerfig/strangler/proxy"
	"log/slog"
)

const roleEnv = "STRANGLER_BENCH_ROLE"

// goProxyEnv is the environment of every Go proxy measured.
var goProxyEnv = []string{"GOMAXPROCS=1"}

func main() {
	if role := os.Getenv(roleEnv); role != "" {
		if err := child(role); err != nil {
			log.Fatalf("bench %s: %v", role, err)
		}
		return
	}
	var (
		duration   = flag.Duration("duration", 10*time.Second, "length of one measurement")
		rounds     = flag.Int("rounds", 3, "measurements per subject; medians are printed")
		conns      = flag.Int("conns", 64, "concurrent connections")
		bodySize   = flag.Int("body", 512, "bytes in the upstream's answer")
		routes     = flag.Int("routes", 500, "routes of the large facade; the hit route is the last")
		loadgen    = flag.String("loadgen", "auto", "wrk, go or auto (wrk when installed)")
		cpuprofile = flag.String("cpuprofile", "", "write a CPU profile of the large facade here")
		gogc       = flag.Int("gogc", 0, "GOGC of every Go proxy (bare ones and facades alike); 0: Go's default")
		gateway    = flag.Bool("gateway", false, "also measure the large facade with a JWT check and a rate limit on the hit route")
	)
	flag.Parse()
	if *gogc > 0 {
		goProxyEnv = append(goProxyEnv, fmt.Sprintf("GOGC=%d", *gogc))
	}
	if err := run(*duration, *rounds, *conns, *bodySize, *routes, *loadgen, *cpuprofile, *gateway); err != nil {
		log.Fatal(err)
	}
}

// subject is one thing measured.
type subject struct {
	name         string
	url          string
	pid          int  // the process whose CPU time is counted (the upstream for "direct")
	withChildren bool // count the children too (nginx's worker)
	res          []result
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	cpu      time.Duration // CPU time (user+system) of the subject's process per request
}

func run(d time.Duration, rounds, conns, bodySize, nroutes int, loadgen, cpuprofile string, gateway bool) error {
	useWrk := false
	switch loadgen {
	case "wrk":
		useWrk = true
	case "auto":
		_, err := exec.LookPath("wrk")
		useWrk = err == nil
	case "go":
	default:
		return fmt.Errorf("-loadgen %q: want wrk, go or auto", loadgen)
	}
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			_ = p.Process.Signal(syscall.SIGTERM)
			_ = p.Wait()
		}
	}()
	lastPID := 0
	start := func(role string, env ...string) (string, error) {
		cmd, addr, err := spawn(role, env...)
		if err != nil {
			return "", err
		}
		procs = append(procs, cmd)
		lastPID = cmd.Process.Pid
		return addr, nil
	}
	up, err := start("upstream", fmt.Sprintf("BENCH_BODY=%d", bodySize))
	if err != nil {
		return err
	}
	upURL := "http://" + up
	hit := fmt.Sprintf("/api/svc%d/items/42", nroutes-1)
	upPID := lastPID
	subjects := []*subject{{name: "direct", url: upURL + hit, pid: upPID}}
	bare, err := start("bare", append([]string{"BENCH_UPSTREAM=" + upURL}, goProxyEnv...)...)
	if err != nil {
		return err
	}
	subjects = append(subjects, &subject{name: "bare httputil.ReverseProxy", url: "http://" + bare + hit, pid: lastPID})
	pooled, err := start("bare", append([]string{"BENCH_UPSTREAM=" + upURL, "BENCH_POOL=1"}, goProxyEnv...)...)
	if err != nil {
		return err
	}
	subjects = append(subjects, &subject{name: "bare + BufferPool", url: "http://" + pooled + hit, pid: lastPID})

	nginxNote := ""
	if nginxAddr, pid, stop, err := startNginx(up); err != nil {
		nginxNote = "nginx: " + err.Error()
	} else {
		defer stop()
		subjects = append(subjects, &subject{name: "nginx", url: "http://" + nginxAddr + hit, pid: pid, withChildren: true})
	}
	f1, err := start("facade", append([]string{"BENCH_UPSTREAM=" + upURL, "BENCH_ROUTES=1"}, goProxyEnv...)...)
	if err != nil {
		return err
	}
	subjects = append(subjects, &subject{name: "facade, 1 route", url: "http://" + f1 + "/api/svc0/items/42", pid: lastPID})
	env := append([]string{"BENCH_UPSTREAM=" + upURL, fmt.Sprintf("BENCH_ROUTES=%d", nroutes)}, goProxyEnv...)
	if cpuprofile != "" {
		abs, _ := filepath.Abs(cpuprofile)
		env = append(env, "BENCH_CPUPROFILE="+abs)
	}
	f500, err := start("facade", env...)
	if err != nil {
		return err
	}
	big := &subject{name: fmt.Sprintf("facade, %d routes (hit last)", nroutes), url: "http://" + f500 + hit, pid: lastPID}
	subjects = append(subjects, big)
	// The same facade with net/http's tuned transport alone (what
	// WithTransport(NewTransport()) gives), measured in the same rounds.
	fnet, err := start("facade", append([]string{"BENCH_UPSTREAM=" + upURL, fmt.Sprintf("BENCH_ROUTES=%d", nroutes),
		"BENCH_TRANSPORT=nethttp"}, goProxyEnv...)...)
	if err != nil {
		return err
	}
	subjects = append(subjects, &subject{name: fmt.Sprintf("facade, %d, net/http transport", nroutes), url: "http://" + fnet + hit, pid: lastPID})
	// And with answers buffered as net/http's ReverseProxy does by default
	// (WithFlushInterval(0)), against the facade's flush before it waits.
	fbuf, err := start("facade", append([]string{"BENCH_UPSTREAM=" + upURL, fmt.Sprintf("BENCH_ROUTES=%d", nroutes),
		"BENCH_FLUSH=0"}, goProxyEnv...)...)
	if err != nil {
		return err
	}
	subjects = append(subjects, &subject{name: fmt.Sprintf("facade, %d, no flush", nroutes), url: "http://" + fbuf + hit, pid: lastPID})
	var authHeader string // sent by the load generator to every subject with -gateway
	if gateway {
		jwks, token, cleanup, err := gatewayKeys()
		if err != nil {
			return err
		}
		defer cleanup()
		authHeader = "Bearer " + token
		for _, g := range []struct{ name, cache string }{{gatewayOn, "0"}, {gatewayNoCache, "-1"}} {
			addr, err := start("facade", append([]string{"BENCH_UPSTREAM=" + upURL, fmt.Sprintf("BENCH_ROUTES=%d", nroutes),
				"BENCH_GATEWAY_JWKS=" + jwks, "BENCH_GATEWAY_CACHE=" + g.cache}, goProxyEnv...)...)
			if err != nil {
				return err
			}
			subjects = append(subjects, &subject{name: fmt.Sprintf(g.name, nroutes), url: "http://" + addr + hit, pid: lastPID})
		}
	}

	gen := "Go load generator"
	if useWrk {
		gen = "wrk -t1"
	}
	fmt.Printf("load: %s, %d connections, %v per measurement, %d rounds, %d-byte answers; Go proxies with %s\n",
		gen, conns, d, rounds, bodySize, strings.Join(goProxyEnv, " "))
	if gateway {
		fmt.Println("every subject is sent the same bearer token (Authorization, RS256)")
	}
	for _, s := range subjects { // warm up connections and code paths
		if _, err := measure(useWrk, s.url, authHeader, conns, time.Second); err != nil {
			return fmt.Errorf("warming up %s: %w", s.name, err)
		}
	}
	for r := 0; r < rounds; r++ {
		for _, s := range subjects {
			before := cpuTime(s.pid, s.withChildren)
			res, err := measure(useWrk, s.url, authHeader, conns, d)
			if err != nil {
				return fmt.Errorf("measuring %s: %w", s.name, err)
			}
			if n := res.rps * d.Seconds(); n > 0 {
				res.cpu = time.Duration(float64(cpuTime(s.pid, s.withChildren)-before) / n)
			}
			s.res = append(s.res, res)
		}
	}
	med := map[string]result{}
	for _, s := range subjects {
		med[s.name] = median(s.res)
	}
	bare0 := med["bare httputil.ReverseProxy"]
	fmt.Printf("\n%-34s %11s %9s %9s %7s %8s %12s %12s\n", "", "requests/s", "p50", "p99", "x bare", "x direct",
		"CPU us/req", "x bare (CPU)")
	for _, s := range subjects {
		m := med[s.name]
		fmt.Printf("%-34s %11.0f %9s %9s %7.2f %8.2f %12.1f %12.2f\n", s.name, m.rps, m.p50.Round(time.Microsecond),
			m.p99.Round(time.Microsecond), m.rps/bare0.rps, m.rps/med["direct"].rps,
			float64(m.cpu)/1e3, float64(bare0.cpu)/float64(m.cpu))
	}
	fmt.Println("\nCPU us/req: CPU time of the subject's own process per request (for direct, the upstream's);")
	fmt.Println("x bare (CPU): requests one core would serve, relative to the bare proxy (bare CPU/req over this CPU/req).")
	fb := med[big.name]
	if n, ok := med["nginx"]; ok {
		fmt.Printf("facade (%d routes) / nginx: %.2f by throughput, %.2f by CPU per request; nginx / bare: %.2f by throughput, %.2f by CPU\n",
			nroutes, fb.rps/n.rps, float64(n.cpu)/float64(fb.cpu), n.rps/bare0.rps, float64(bare0.cpu)/float64(n.cpu))
	} else {
		fmt.Println(nginxNote)
	}
	fmt.Printf("facade (%d routes) / bare httputil.ReverseProxy: %.2f by throughput, %.2f by CPU per request (target >= 1.20)\n",
		nroutes, fb.rps/bare0.rps, float64(bare0.cpu)/float64(fb.cpu))
	if n, ok := med[fmt.Sprintf("facade, %d, net/http transport", nroutes)]; ok {
		fmt.Printf("facade (%d routes), own client / net/http transport: %.2f by throughput, %.2f by CPU per request\n",
			nroutes, fb.rps/n.rps, float64(n.cpu)/float64(fb.cpu))
	}
	if n, ok := med[fmt.Sprintf("facade, %d, no flush", nroutes)]; ok {
		fmt.Printf("facade (%d routes), flush before waiting / no flush: %.2f by throughput, %.2f by CPU per request\n",
			nroutes, fb.rps/n.rps, float64(n.cpu)/float64(fb.cpu))
	}
	if on, ok := med[fmt.Sprintf(gatewayOn, nroutes)]; ok {
		fmt.Printf("facade (%d routes), auth+limit on / off: %.2f by throughput; CPU per request %.1f us against %.1f us: %+.1f us (target < 5 us)\n",
			nroutes, on.rps/fb.rps, float64(on.cpu)/1e3, float64(fb.cpu)/1e3, float64(on.cpu-fb.cpu)/1e3)
		if nc, ok := med[fmt.Sprintf(gatewayNoCache, nroutes)]; ok {
			fmt.Printf("facade (%d routes), auth+limit with the token cache off / off: %.2f by throughput; CPU per request %+.1f us\n",
				nroutes, nc.rps/fb.rps, float64(nc.cpu-fb.cpu)/1e3)
		}
	}
	if cpuprofile != "" {
		fmt.Printf("CPU profile of the %d-route facade: %s (go tool pprof -top %s)\n", nroutes, cpuprofile, cpuprofile)
	}
	return nil
}

func median(rs []result) result {
	pick := func(get func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = get(r)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	return result{
		cpu: time.Duration(pick(func(r result) float64 { return float64(r.cpu) })),
		rps: pick(func(r result) float64 { return r.rps }),
		p50: time.Duration(pick(func(r result) float64 { return float64(r.p50) })),
		p99: time.Duration(pick(func(r result) float64 { return float64(r.p99) })),
	}
}

// spawn runs this program again in a role and returns the address it
// listens on.
func spawn(role string, env ...string) (*exec.Cmd, string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, "", fmt.Errorf("finding this program: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(append(os.Environ(), roleEnv+"="+role), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("starting %s: %w", role, err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, "", fmt.Errorf("%s did not say where it listens: %w", role, err)
	}
	return cmd, strings.TrimSpace(strings.TrimPrefix(line, "LISTEN ")), nil
}

// child serves one role until SIGTERM.
func child(role string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var h http.Handler
	var closer func() error
	var serve func(context.Context) error // the facade serves itself (h2c and HTTP/1.1)
	switch role {
	case "upstream":
		n, _ := strconv.Atoi(os.Getenv("BENCH_BODY"))
		body := []byte(strings.Repeat("x", max(n, 1)))
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
		})
	case "bare":
		u, err := url.Parse(os.Getenv("BENCH_UPSTREAM"))
		if err != nil {
			return err
		}
		rp := &httputil.ReverseProxy{
			Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() },
			Transport: proxy.NewTransport(), // the tuned transport, no buffer pool
			ErrorLog:  log.New(io.Discard, "", 0),
		}
		if os.Getenv("BENCH_POOL") != "" {
			rp.BufferPool = &pool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
		}
		h = rp
	case "facade":
		n, _ := strconv.Atoi(os.Getenv("BENCH_ROUTES"))
		cfg, err := facadeConfig(os.Getenv("BENCH_UPSTREAM"), n, os.Getenv("BENCH_GATEWAY_JWKS"), os.Getenv("BENCH_GATEWAY_CACHE"))
		if err != nil {
			return err
		}
		opts := []proxy.Option{proxy.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))}
		if os.Getenv("BENCH_TRANSPORT") == "nethttp" {
			opts = append(opts, proxy.WithTransport(proxy.NewTransport()))
		}
		if os.Getenv("BENCH_FLUSH") == "0" {
			opts = append(opts, proxy.WithFlushInterval(0))
		}
		f, err := proxy.New(cfg, opts...)
		if err != nil {
			return err
		}
		h, closer = f, f.Close
		if os.Getenv("BENCH_PLAIN_SERVER") == "" {
			serve = func(ctx context.Context) error { return f.Serve(ctx, ln, 5*time.Second) }
		}
		if p := os.Getenv("BENCH_CPUPROFILE"); p != "" {
			pf, err := os.Create(p)
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(pf); err != nil {
				return err
			}
			defer func() { pprof.StopCPUProfile(); pf.Close() }()
		}
	default:
		return fmt.Errorf("unknown role %q", role)
	}
	fmt.Printf("LISTEN %s\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if serve != nil {
		if err := serve(ctx); err != nil {
			return err
		}
		return closer()
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	switch os.Getenv("BENCH_SERVER") { // diagnostics: one of Serve's settings at a time
	case "h2c":
		var p http.Protocols
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
		srv.Protocols = &p
	case "idle":
		srv.IdleTimeout = 2 * time.Minute
	}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// pool is the buffer pool of the "bare + BufferPool" proxy.
type pool struct{ p sync.Pool }

func (b *pool) Get() []byte    { return *(b.p.Get().(*[]byte)) }
func (b *pool) Put(buf []byte) { b.p.Put(&buf) }

// facadeConfig is a project file with n routes /api/svc{i}/items/{id}, all
// in mode new towards the upstream. With a JWKS file, the last route (the
// one hit) checks a JWT against it (cache: jwt.cache) and has a rate limit
// keyed by the "sub" claim that never refuses.
func facadeConfig(upstream string, n int, jwks, cache string) (*config.Config, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "legacy: %s\nroutes:\n", upstream)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - name: svc%d\n    match: {path: \"/api/svc%d/items/{id}\", methods: [GET]}\n    target: %s\n    mode: new\n", i, i, upstream)
		if jwks != "" && i == n-1 {
			fmt.Fprintf(&b, "    auth:\n      jwt: {jwks: %q, issuer: %s, audience: %s, algorithms: [RS256], claims_to_headers: {sub: X-User-Id}, cache: %s}\n",
				jwks, gatewayIssuer, gatewayAudience, cache)
			b.WriteString("    rate_limit: {rps: 1000000000, burst: 1000000000, key: \"claim:sub\"}\n")
		}
	}
	return config.Parse("bench.yaml", []byte(b.String()), nil)
}

// measure loads url for d and returns what it saw; auth, when set, is sent
// as every request's Authorization.
func measure(useWrk bool, url, auth string, conns int, d time.Duration) (result, error) {
	if useWrk {
		return measureWrk(url, auth, conns, d)
	}
	if auth != "" {
		return measureGoAuth(url, auth, conns, d)
	}
	return measureGo(url, conns, d)
}

var (
	wrkRPS = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkPct = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkErr = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)|Socket errors: .*`)
)

func measureWrk(url, auth string, conns int, d time.Duration) (result, error) {
	secs := max(int(d.Seconds()), 1)
	args := []string{"-t1", fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", secs), "--latency"}
	if auth != "" {
		args = append(args, "-H", "Authorization: "+auth)
	}
	out, err := exec.Command("wrk", append(args, url)...).CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	if m := wrkErr.Find(out); m != nil {
		return result{}, fmt.Errorf("wrk saw errors: %s", m)
	}
	m := wrkRPS.FindSubmatch(out)
	if m == nil {
		return result{}, fmt.Errorf("wrk output without Requests/sec: %s", out)
	}
	var r result
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	for _, p := range wrkPct.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(p[2]), 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(p[3])]
		lat := time.Duration(v * float64(unit))
		if string(p[1]) == "50" {
			r.p50 = lat
		} else {
			r.p99 = lat
		}
	}
	return r, nil
}

func measureGo(url string, conns int, d time.Duration) (result, error) {
	r, err := loadgen.Run(url, conns, 0, d)
	if err != nil {
		return result{}, err
	}
	return result{rps: r.RPS(), p50: r.Quantile(0.50), p99: r.Quantile(0.99)}, nil
}

// startNginx runs nginx, one worker, in front of the upstream.
func startNginx(upstream string) (string, int, func(), error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		return "", 0, nil, errors.New("not installed")
	}
	dir, err := os.MkdirTemp("", "strangler-bench-nginx-")
	if err != nil {
		return "", 0, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", 0, nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	conf := fmt.Sprintf(`worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream up { server %[2]s; keepalive 256; }
  server {
    listen %[3]s;
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`, dir, upstream, addr)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return "", 0, nil, err
	}
	cmd := exec.Command(bin, "-p", dir, "-c", path)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", 0, nil, fmt.Errorf("starting: %w", err)
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		_ = cmd.Wait()
		os.RemoveAll(dir)
	}
	for i := 0; i < 100; i++ { // wait until it listens, with a deadline
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return addr, cmd.Process.Pid, stop, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return "", 0, nil, errors.New("did not start listening within 5s")
}

// cpuTime returns the user and system CPU time a process used so far, with
// its children's when asked (read from /proc; zero elsewhere).
func cpuTime(pid int, children bool) time.Duration {
	total := procCPU(pid)
	if children {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			p, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if parent(p) == pid {
				total += procCPU(p)
			}
		}
	}
	return total
}

// statFields returns the fields of /proc/PID/stat after the command name.
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

func parent(pid int) int {
	f := statFields(pid)
	if len(f) < 2 {
		return -1
	}
	p, _ := strconv.Atoi(f[1])
	return p
}

// procCPU reads utime+stime (fields 14 and 15 of stat; clock ticks of 10ms).
func procCPU(pid int) time.Duration {
	f := statFields(pid)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}
