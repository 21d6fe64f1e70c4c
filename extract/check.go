package extract

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/stranglerfig/strangler/extract/samples"
	"github.com/stranglerfig/strangler/proxy/capture"
	"github.com/stranglerfig/strangler/shadow/compare"
)

// CheckResult is a replay of captured GETs against a served recipe.
type CheckResult struct {
	Sent    int `json:"sent"`
	Matched int `json:"matched"`
	// MatchRate is 100 * Matched / Sent.
	MatchRate float64 `json:"match_rate"`
	// Ignored are the paths left out of the comparison: members legacy
	// writes differently in two answers to one request (noise).
	Ignored []string `json:"ignored,omitempty"`
	// Paths are the differing paths, most frequent first.
	Paths []CheckPath `json:"paths,omitempty"`
	// Errors are requests that got no answer.
	Errors []string `json:"errors,omitempty"`
}

// CheckPath is one differing path of a check.
type CheckPath struct {
	Path    string `json:"path"`
	Count   int    `json:"count"`
	Example string `json:"example"` // the first request that differed there
	Legacy  string `json:"legacy"`
	New     string `json:"new"`
}

// NoisePaths are the answer members the samples saw change between two
// answers of legacy to the same request, as comparison paths
// ($.data.requestId, $.data[*].requestId).
func NoisePaths(recs []capture.Record) []string {
	seen := map[string]bool{}
	for _, e := range samples.Analyze(recs).Endpoints {
		for _, p := range endpointNoise(e) {
			seen[p] = true
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// endpointNoise are the comparison paths of an endpoint's unstable members.
func endpointNoise(e samples.Endpoint) []string {
	if e.Answer == nil {
		return nil
	}
	base := "$"
	if e.Answer.Shape.Envelope == "data" && e.Answer.Shape.DataKey != "" {
		base += compare.Member(e.Answer.Shape.DataKey)
	}
	if e.Answer.Kind == "list" {
		base += "[*]"
	}
	var out []string
	for _, f := range e.Answer.Fields {
		if f.Unstable {
			out = append(out, base+compare.Member(f.JSON))
		}
	}
	sort.Strings(out)
	return out
}

// Check sends every captured GET to base (the served recipe, e.g.
// http://127.0.0.1:9100) and compares each answer with legacy's captured
// one, with the shadow differ, leaving out the noise the samples show.
func Check(ctx context.Context, recs []capture.Record, base string, client *http.Client) (*CheckResult, error) {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	res := &CheckResult{Ignored: NoisePaths(recs)}
	cmp, err := compare.Compile(compare.Rules{Ignore: res.Ignored})
	if err != nil {
		return nil, err
	}
	paths := map[string]*CheckPath{}
	base = strings.TrimSuffix(base, "/")
	for _, rec := range recs {
		if rec.Request.Method != http.MethodGet || rec.Response.Truncated {
			continue
		}
		target := rec.Request.Path
		if rec.Request.Query != "" {
			target += "?" + rec.Request.Query
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+target, nil)
		if err != nil {
			return nil, err
		}
		res.Sent++
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			res.Errors = append(res.Errors, fmt.Sprintf("GET %s: %v", target, err))
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("GET %s: %v", target, err))
			continue
		}
		legacyBody := []byte(rec.Response.Body)
		if rec.Response.BodyBase64 != nil {
			legacyBody = rec.Response.BodyBase64
		}
		got := cmp.Compare(compare.Response{Status: rec.Response.Status, Header: rec.Response.Header, Body: legacyBody},
			compare.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil)
		if got.Match() {
			res.Matched++
			continue
		}
		for _, d := range got.Diffs {
			g := compare.Generalize(d.Path)
			p := paths[g]
			if p == nil {
				p = &CheckPath{Path: g, Example: "GET " + target, Legacy: d.A, New: d.B}
				paths[g] = p
			}
			p.Count++
		}
	}
	for _, p := range paths {
		res.Paths = append(res.Paths, *p)
	}
	sort.Slice(res.Paths, func(i, j int) bool {
		if res.Paths[i].Count != res.Paths[j].Count {
			return res.Paths[i].Count > res.Paths[j].Count
		}
		return res.Paths[i].Path < res.Paths[j].Path
	})
	if res.Sent > 0 {
		res.MatchRate = 100 * float64(res.Matched) / float64(res.Sent)
	}
	return res, nil
}

// String is the check as text.
func (c *CheckResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "replayed %d captured GETs: %d answered as legacy did (%.2f%%)\n", c.Sent, c.Matched, c.MatchRate)
	if len(c.Ignored) > 0 {
		fmt.Fprintf(&b, "  left out (legacy's own answers differ there): %s\n", strings.Join(c.Ignored, ", "))
	}
	for _, p := range c.Paths {
		fmt.Fprintf(&b, "  %-40s %4d  legacy %s, new %s (%s)\n", p.Path, p.Count, orNone(p.Legacy), orNone(p.New), p.Example)
	}
	for _, e := range c.Errors {
		fmt.Fprintf(&b, "  error: %s\n", e)
	}
	return b.String()
}

func orNone(v string) string {
	if v == "" {
		return "(missing)"
	}
	return v
}
