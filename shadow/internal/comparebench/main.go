// Command comparebench measures how many pairs of JSON answers the shadow
// comparer compares per second on one core, against the baseline it
// replaces (encoding/json.Unmarshal of both bodies into generic values,
// then reflect.DeepEqual), both measured in the same run in alternating
// rounds, and prints the medians, their ratio and the allocations per
// comparison.
//
//	go run ./shadow/internal/comparebench [-rounds 5] [-duration 2s]
//
// It runs with GOMAXPROCS=1 and one goroutine. The bodies are generated
// deterministically (package bodies): order lists of about 1 KiB and
// 100 KiB, compared with a byte-equal copy, with the same data written
// with other member order and whitespace, with a copy where three values
// differ, and under rules (ignore, keyed and unkeyed sets, tolerance,
// normalize) with a copy equal only under them. The baseline has no rules:
// in the last case it compares the same bytes without them.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"reflect"
	"runtime"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/stranglerfig/strangler/shadow/compare"
	"github.com/stranglerfig/strangler/shadow/internal/comparebench/bodies"
)

func main() {
	rounds := flag.Int("rounds", 5, "rounds per measurement; medians are printed")
	duration := flag.Duration("duration", 2*time.Second, "length of one measurement")
	flag.Parse()
	if *rounds < 1 || *duration <= 0 {
		log.Fatal("comparebench: -rounds must be >= 1 and -duration > 0")
	}
	if err := run(*rounds, *duration); err != nil {
		log.Fatal(err)
	}
}

type benchCase struct {
	size string
	name string
	a, b []byte
	cmp  *compare.Comparer
	want bool // the comparer's verdict
}

// measurement is one round's rate and allocations per operation.
type measurement struct {
	rate   float64
	allocs float64
}

func run(rounds int, d time.Duration) error {
	runtime.GOMAXPROCS(1)
	plain, err := compare.Compile(compare.Rules{})
	if err != nil {
		return err
	}
	ruled, err := compare.Compile(bodies.Rules)
	if err != nil {
		return err
	}
	var cases []benchCase
	for _, s := range []struct {
		label string
		size  int
	}{{"1 KiB", 1024}, {"100 KiB", 100 * 1024}} {
		p := bodies.Generate(s.size)
		cases = append(cases,
			benchCase{s.label, "equal (same bytes)", p.A, p.Same, plain, true},
			benchCase{s.label, "equal (reordered, reindented)", p.A, p.Reordered, plain, true},
			benchCase{s.label, "differing (3 values)", p.A, p.Differing, plain, false},
			benchCase{s.label, "with rules (equal under them)", p.A, p.Ruled, ruled, true},
		)
	}
	for _, c := range cases {
		if got := c.cmp.Compare(response(c.a), response(c.b), nil).Match(); got != c.want {
			return fmt.Errorf("comparebench: %s %s: match = %v, want %v", c.size, c.name, got, c.want)
		}
	}

	fmt.Printf("comparebench: %d rounds of %s per measurement, GOMAXPROCS=1, one goroutine, %s %s/%s; medians\n",
		rounds, d, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	ours := make([][]measurement, len(cases))
	base := make([][]measurement, len(cases))
	for range rounds {
		for i, c := range cases {
			ra, rb := response(c.a), response(c.b)
			ours[i] = append(ours[i], measure(d, func() { c.cmp.Compare(ra, rb, nil) }))
			base[i] = append(base[i], measure(d, func() { baseline(c.a, c.b) }))
		}
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "body\tcase\tbytes A+B\tcompare/s\tallocs/op\tbaseline/s\tallocs/op\tratio\t")
	for i, c := range cases {
		o, b := median(ours[i]), median(base[i])
		fmt.Fprintf(tw, "%s\t%s\t%d+%d\t%.0f\t%.1f\t%.0f\t%.0f\t%.1fx\t\n",
			c.size, c.name, len(c.a), len(c.b), o.rate, o.allocs, b.rate, b.allocs, o.rate/b.rate)
	}
	return tw.Flush()
}

func response(body []byte) compare.Response {
	return compare.Response{Status: 200, Header: map[string][]string{"Content-Type": {"application/json"}}, Body: body}
}

// baseline is the comparison the comparer replaces.
func baseline(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// measure runs f for about d and returns its rate per second and the heap
// allocations per call.
func measure(d time.Duration, f func()) measurement {
	f() // warm the pools
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n := 0
	start := time.Now()
	var elapsed time.Duration
	for batch := 1; ; batch = min(batch*2, 1<<14) {
		for range batch {
			f()
		}
		n += batch
		if elapsed = time.Since(start); elapsed >= d {
			break
		}
	}
	runtime.ReadMemStats(&after)
	return measurement{
		rate:   float64(n) / elapsed.Seconds(),
		allocs: float64(after.Mallocs-before.Mallocs) / float64(n),
	}
}

// median returns the median rate of ms, and the allocations of that round.
func median(ms []measurement) measurement {
	s := slices.Clone(ms)
	slices.SortFunc(s, func(a, b measurement) int {
		switch {
		case a.rate < b.rate:
			return -1
		case a.rate > b.rate:
			return 1
		}
		return 0
	})
	return s[len(s)/2]
}
