package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/shadow"
	"github.com/stranglerfig/strangler/shadow/store"
)

func (a *app) shadowCommand() *cobra.Command {
	c := &cobra.Command{Use: "shadow", Short: "Read shadow comparisons, replay requests, pin or clear learned noise (through the admin API)"}
	report := &cobra.Command{Use: "report [ROUTE] [-o json] [--min PERCENT]", Short: "Match rate per route, top differing paths with example values, learned noise, drops and errors",
		Long: `Match rate per route, top differing paths with example values, learned
noise, drops and errors, as the running facade's shadow store holds them
(every replica's, with a postgres:// shadow.store).

With --min, exits 1 when a route compared something and its match rate is
below PERCENT, or compared nothing at all: a gate for CI.`,
		Args: cobra.MaximumNArgs(1)}
	out := report.Flags().StringP("output", "o", "text", "output format: text or json")
	minRate := report.Flags().Float64("min", 0, "exit 1 when a route's match rate is below this percent (0: no gate)")
	top := report.Flags().Int("top", 10, "differing paths listed per route")
	report.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		q := url.Values{"top": {fmt.Sprint(*top)}}
		if len(args) == 1 {
			q.Set("route", args[0])
		}
		var resp shadow.ReportResponse
		raw, err := a.adminCall(cmd.Context(), http.MethodGet, "/shadow/report?"+q.Encode(), nil, &resp)
		if err != nil {
			return err
		}
		if *out == "json" {
			_, err = a.stdout.Write(raw)
		} else {
			err = printShadowReport(a.stdout, resp.Routes)
		}
		if err != nil {
			return err
		}
		return shadowGate(resp.Routes, args, *minRate, cmd.Flags().Changed("min"))
	}

	replay := &cobra.Command{Use: "replay ID [--curl]", Short: "Send a recorded request to both sides again and print the diff, or print it as two curl commands",
		Long: `Send a recorded request (an id from shadow report) to both sides again and
print how their answers differ now. An unsafe request is sent only to the
new service (with X-Strangler-Shadow: 1) and compared with legacy's stored
answer. Recorded requests are redacted: a secret is sent as it was
stored, replaced.

With --curl, print the request as two curl commands instead, one per side.`,
		Args: cobra.ExactArgs(1)}
	asCurl := replay.Flags().Bool("curl", false, "print two curl commands instead of sending")
	replayOut := replay.Flags().StringP("output", "o", "text", "output format: text or json")
	replay.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*replayOut); err != nil {
			return err
		}
		id := url.PathEscape(args[0])
		if *asCurl {
			var rec store.Record
			if _, err := a.adminCall(cmd.Context(), http.MethodGet, "/shadow/records/"+id, nil, &rec); err != nil {
				return err
			}
			cfg, err := a.config(false)
			if err != nil {
				return err
			}
			return printCurls(a.stdout, cfg.Legacy, targetOf(cfg, rec.Route), &rec)
		}
		var resp shadow.ReplayResponse
		raw, err := a.adminCall(cmd.Context(), http.MethodPost, "/shadow/replay/"+id, struct{}{}, &resp)
		if err != nil {
			return err
		}
		if *replayOut == "json" {
			_, err = a.stdout.Write(raw)
			return err
		}
		return printReplay(a.stdout, &resp)
	}

	noise := &cobra.Command{Use: "noise [ROUTE] [--pin PATH | --clear [PATH]]", Short: "List, pin or clear the learned noise of routes",
		Long: `List the paths whose values differ between two answers of legacy to the same
request (learned noise, silenced in comparisons), pin one for good, or
clear one (--clear PATH) or every learned, unpinned path of a route
(--clear).`,
		Args: cobra.MaximumNArgs(1)}
	pin := noise.Flags().String("pin", "", "keep PATH as noise of ROUTE for good")
	clear := noise.Flags().Bool("clear", false, "forget the learned noise of ROUTE (every unpinned path, or --path)")
	clearPath := noise.Flags().String("path", "", "with --clear: forget this path only, pinned or not")
	noiseOut := noise.Flags().StringP("output", "o", "text", "output format: text or json")
	noise.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*noiseOut); err != nil {
			return err
		}
		var resp shadow.NoiseResponse
		var raw []byte
		var err error
		switch {
		case *pin != "" || *clear:
			if len(args) != 1 {
				return &exitError{code: exitUsage, err: fmt.Errorf("shadow noise: name the route to --pin or --clear")}
			}
			if *pin != "" && *clear {
				return &exitError{code: exitUsage, err: fmt.Errorf("shadow noise: --pin or --clear, not both")}
			}
			ch := shadow.NoiseChange{Route: args[0], Action: "pin", Path: *pin}
			if *clear {
				ch.Action, ch.Path = "clear", *clearPath
			}
			raw, err = a.adminCall(cmd.Context(), http.MethodPost, "/shadow/noise", ch, &resp)
		default:
			q := ""
			if len(args) == 1 {
				q = "?route=" + url.QueryEscape(args[0])
			}
			raw, err = a.adminCall(cmd.Context(), http.MethodGet, "/shadow/noise"+q, nil, &resp)
		}
		if err != nil {
			return err
		}
		if *noiseOut == "json" {
			_, err = a.stdout.Write(raw)
			return err
		}
		return printNoise(a.stdout, resp.Noise)
	}
	c.AddCommand(report, replay, noise)
	return c
}

// shadowGate fails a report whose routes fall below min percent: a route
// named on the command line, or every route reported, must have compared
// something and matched at least min.
func shadowGate(reps []store.RouteReport, args []string, min float64, on bool) error {
	if !on {
		return nil
	}
	var low []string
	if len(args) == 1 && len(reps) == 0 {
		low = append(low, fmt.Sprintf("%s compared nothing", args[0]))
	}
	for _, r := range reps {
		switch {
		case r.Compared == 0:
			low = append(low, fmt.Sprintf("%s compared nothing", r.Route))
		case r.MatchRate < min:
			low = append(low, fmt.Sprintf("%s matched %.2f%% < %.2f%%", r.Route, r.MatchRate, min))
		}
	}
	if len(reps) == 0 && len(args) == 0 {
		low = append(low, "no route compared anything")
	}
	if len(low) > 0 {
		return &exitError{code: exitFailed, err: fmt.Errorf("shadow report: below --min: %s", strings.Join(low, "; "))}
	}
	return nil
}

func printShadowReport(w io.Writer, reps []store.RouteReport) error {
	if len(reps) == 0 {
		_, err := fmt.Fprintln(w, "no comparisons yet")
		return err
	}
	for i, r := range reps {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s: %.2f%% match (%d compared: %d matched, %d differed, %d errors; %d dropped)\n",
			r.Route, r.MatchRate, r.Compared, r.Matched, r.Differed, r.Errors, r.Dropped)
		if len(r.Drops) > 0 {
			var parts []string
			for reason, n := range r.Drops {
				parts = append(parts, fmt.Sprintf("%s %d", reason, n))
			}
			sort.Strings(parts)
			fmt.Fprintf(w, "  dropped: %s\n", strings.Join(parts, ", "))
		}
		if len(r.Paths) > 0 {
			fmt.Fprintln(w, "  differing paths:")
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, p := range r.Paths {
				ex := ""
				if len(p.Examples) > 0 {
					e := p.Examples[0]
					ex = fmt.Sprintf("legacy %s, new %s (%s)", orMissing(e.Legacy), orMissing(e.New), e.ID)
				}
				fmt.Fprintf(tw, "    %s\t%d\t%s\n", p.Path, p.Count, ex)
			}
			tw.Flush()
		}
		if len(r.Noise) > 0 {
			fmt.Fprintln(w, "  learned noise (silenced):")
			for _, n := range r.Noise {
				pinned := ""
				if n.Pinned {
					pinned = ", pinned"
				}
				fmt.Fprintf(w, "    %s (seen %d times%s)\n", n.Path, n.Count, pinned)
			}
		}
		for _, e := range r.RecentErrors {
			fmt.Fprintf(w, "  error %s %s: %s\n", e.ID, e.At.Format("2006-01-02 15:04:05"), e.Error)
		}
	}
	return nil
}

func orMissing(v string) string {
	if v == "" {
		return "(missing)"
	}
	return v
}

func printNoise(w io.Writer, ns []store.Noise) error {
	if len(ns) == 0 {
		_, err := fmt.Fprintln(w, "no noise learned")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROUTE\tPATH\tSEEN\tPINNED\tSINCE")
	for _, n := range ns {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%v\t%s\n", n.Route, n.Path, n.Count, n.Pinned, n.Since.Format("2006-01-02 15:04:05"))
	}
	return tw.Flush()
}

func printReplay(w io.Writer, resp *shadow.ReplayResponse) error {
	r := resp.Record
	from := "legacy asked again"
	if resp.LegacyFrom == "stored" {
		from = "legacy's stored answer: an unsafe request is not sent to legacy again"
	}
	fmt.Fprintf(w, "%s %s%s (route %s; %s): %s\n", r.Request.Method, r.Request.Path, query(r.Request.Query), r.Route, from, r.Result)
	if r.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", r.Error)
	}
	if r.Legacy != nil && r.New != nil {
		fmt.Fprintf(w, "  legacy %d in %.1f ms, new %d in %.1f ms\n", r.Legacy.Status, r.Legacy.DurationMS, r.New.Status, r.New.DurationMS)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, d := range r.Diffs {
		fmt.Fprintf(tw, "  %s\t%s\tlegacy %s\tnew %s\n", d.Path, d.Kind, orMissing(d.Legacy), orMissing(d.New))
	}
	if r.More > 0 {
		fmt.Fprintf(tw, "  ... and %d more paths\n", r.More)
	}
	for _, p := range r.Noise {
		fmt.Fprintf(tw, "  %s\tnoise (silenced)\n", p)
	}
	return tw.Flush()
}

func query(q string) string {
	if q == "" {
		return ""
	}
	return "?" + q
}

// targetOf is the target URL of a route of the project file, or "".
func targetOf(cfg *config.Config, route string) string {
	for _, r := range cfg.Routes {
		if r.Name == route {
			return r.Target
		}
	}
	return ""
}

// printCurls prints a stored request as two curl commands: to legacy (the
// path legacy received) and to the new service (the path it received). An
// unsafe request is printed for the new service only with the shadow header
// that makes it roll back, and for legacy behind a warning.
func printCurls(w io.Writer, legacy, target string, rec *store.Record) error {
	if target == "" {
		return &exitError{code: exitUsage, err: fmt.Errorf("shadow replay: record %s is of route %q, which the project file does not have", rec.ID, rec.Route)}
	}
	req := rec.Request
	body := req.Body.Text
	if req.Body.Base64 != "" {
		return &exitError{code: exitUsage, err: fmt.Errorf("shadow replay --curl: record %s has a binary request body; replay it without --curl", rec.ID)}
	}
	targetPath := req.Target
	if targetPath == "" {
		targetPath = req.Path
		if u, err := url.Parse(target); err == nil {
			targetPath = strings.TrimSuffix(u.Path, "/") + req.Path
		}
	}
	base := func(raw string) string {
		u, err := url.Parse(raw)
		if err != nil {
			return raw
		}
		u.Path, u.RawPath, u.RawQuery = "", "", ""
		return u.String()
	}
	legacyPath := req.Path
	if u, err := url.Parse(legacy); err == nil {
		legacyPath = strings.TrimSuffix(u.Path, "/") + req.Path
	}
	safe := req.Method == http.MethodGet || req.Method == http.MethodHead || req.Method == http.MethodOptions
	fmt.Fprintf(w, "# record %s, route %s; secrets were redacted when it was stored\n", rec.ID, rec.Route)
	if !safe {
		fmt.Fprintln(w, "# legacy: this is a write; sending it again changes legacy's data")
	}
	fmt.Fprintln(w, "# legacy")
	fmt.Fprintln(w, curlCommand(req.Method, base(legacy)+legacyPath+query(req.Query), req.Header, body, false))
	fmt.Fprintln(w, "# new")
	_, err := fmt.Fprintln(w, curlCommand(req.Method, base(target)+targetPath+query(req.Query), req.Header, body, !safe))
	return err
}

// curlCommand writes one curl command line, every argument shell-quoted.
func curlCommand(method, u string, h http.Header, body string, shadowHeader bool) string {
	parts := []string{"curl", "-sS", "-i", "-X", shellQuote(method)}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.EqualFold(k, shadow.ShadowHeader) && !shadowHeader {
			continue
		}
		for _, v := range h[k] {
			parts = append(parts, "-H", shellQuote(k+": "+v))
		}
	}
	if shadowHeader && h.Get(shadow.ShadowHeader) == "" {
		parts = append(parts, "-H", shellQuote(shadow.ShadowHeader+": 1"))
	}
	if body != "" {
		parts = append(parts, "--data-binary", shellQuote(body))
	}
	parts = append(parts, shellQuote(u))
	return strings.Join(parts, " ")
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
