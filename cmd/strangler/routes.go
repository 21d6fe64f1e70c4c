package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/stranglerfig/strangler/proxy/control"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/proxy"
)

// Environment variables of admin clients (DESIGN.md "Contracts").
const (
	envAdmin      = "STRANGLER_ADMIN"       // admin API URL
	envAdminToken = "STRANGLER_ADMIN_TOKEN" // bearer token
)

// adminTimeout bounds one admin API call of the CLI.
const adminTimeout = 30 * time.Second

func (a *app) routesCommand() *cobra.Command {
	c := &cobra.Command{Use: "routes", Short: "List, change and audit routes through the admin API"}
	list := &cobra.Command{Use: "list", Short: "List routes with mode, percent, target, breaker state and version", Args: cobra.NoArgs}
	listOut := list.Flags().StringP("output", "o", "text", "output format: text or json")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*listOut); err != nil {
			return err
		}
		var resp control.RoutesResponse
		raw, err := a.adminCall(cmd.Context(), http.MethodGet, "/routes", nil, &resp)
		if err != nil {
			return err
		}
		if *listOut == "json" {
			_, err = a.stdout.Write(raw)
			return err
		}
		return printRoutes(a.stdout, resp)
	}

	set := &cobra.Command{Use: "set NAME --mode legacy|shadow|canary|new [--percent N] [--reason TEXT]", Short: "Change a route's mode or percent",
		Args: cobra.ExactArgs(1)}
	mode := set.Flags().String("mode", "", "legacy, shadow, canary or new (required)")
	percent := set.Flags().Float64("percent", 0, "canary share, 0 to 100 (default: keep the current one)")
	reason := set.Flags().String("reason", "", "why, for the audit log")
	expect := set.Flags().Uint64("expect-version", 0, "refuse the change unless the route state is at this version")
	set.RunE = func(cmd *cobra.Command, args []string) error {
		if *mode == "" {
			return &exitError{code: exitUsage, err: errors.New("routes set: --mode is required (legacy, shadow, canary or new)")}
		}
		req := control.RouteChangeRequest{Mode: mode, Reason: *reason}
		if cmd.Flags().Changed("percent") {
			req.Percent = percent
		}
		if cmd.Flags().Changed("expect-version") {
			req.ExpectVersion = expect
		}
		var resp control.RoutesResponse
		if _, err := a.adminCall(cmd.Context(), http.MethodPost, "/routes/"+url.PathEscape(args[0]), req, &resp); err != nil {
			return err
		}
		return printChange(a.stdout, resp)
	}

	history := &cobra.Command{Use: "history", Short: "Show the audit log of route changes", Args: cobra.NoArgs}
	histOut := history.Flags().StringP("output", "o", "text", "output format: text or json")
	history.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*histOut); err != nil {
			return err
		}
		var resp control.HistoryResponse
		raw, err := a.adminCall(cmd.Context(), http.MethodGet, "/history", nil, &resp)
		if err != nil {
			return err
		}
		if *histOut == "json" {
			_, err = a.stdout.Write(raw)
			return err
		}
		return printHistory(a.stdout, resp.History)
	}
	reset := &cobra.Command{Use: "reset NAME... | --all", Short: "Drop run-time overrides: routes run with the project file's modes again"}
	resetAll := reset.Flags().Bool("all", false, "reset every route")
	resetReason := reset.Flags().String("reason", "", "why, for the audit log")
	reset.RunE = func(cmd *cobra.Command, args []string) error {
		if err := routesOrAll("routes reset", args, *resetAll); err != nil {
			return err
		}
		var resp control.RoutesResponse
		if _, err := a.adminCall(cmd.Context(), http.MethodPost, "/reset", control.ResetRequest{Routes: args, All: *resetAll, Reason: *resetReason}, &resp); err != nil {
			return err
		}
		return printChange(a.stdout, resp)
	}
	c.AddCommand(list, set, history, reset)
	for _, v := range []struct{ verb, short string }{
		{"pause", "Stop the rollout controller moving a route; it keeps its mode"},
		{"resume", "Hand a paused or rolled-back route back to the rollout controller"},
		{"promote", "Move a route to its rollout's next stage now, whatever its gates say"},
	} {
		rc := &cobra.Command{Use: v.verb + " NAME [--reason TEXT]", Short: v.short, Args: cobra.ExactArgs(1)}
		why := rc.Flags().String("reason", "", "why, for the audit log")
		verb := v.verb
		rc.RunE = func(cmd *cobra.Command, args []string) error {
			var resp control.RoutesResponse
			if _, err := a.adminCall(cmd.Context(), http.MethodPost, "/routes/"+url.PathEscape(args[0])+"/"+verb,
				control.RolloutRequest{Reason: *why}, &resp); err != nil {
				return err
			}
			return printChange(a.stdout, resp)
		}
		c.AddCommand(rc)
	}
	return c
}

// routesOrAll checks that a command names routes or gives --all, not both.
func routesOrAll(cmd string, args []string, all bool) error {
	switch {
	case all && len(args) > 0:
		return &exitError{code: exitUsage, err: fmt.Errorf("%s: name routes or give --all, not both", cmd)}
	case !all && len(args) == 0:
		return &exitError{code: exitUsage, err: fmt.Errorf("%s: name at least one route, or give --all", cmd)}
	}
	return nil
}

func (a *app) rollbackCommand() *cobra.Command {
	c := &cobra.Command{Use: "rollback NAME... | --all", Short: "Send routes back to legacy at once, on every replica"}
	all := c.Flags().Bool("all", false, "roll back every route")
	reason := c.Flags().String("reason", "", "why, for the audit log")
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if err := routesOrAll("rollback", args, *all); err != nil {
			return err
		}
		req := control.RollbackRequest{Routes: args, All: *all, Reason: *reason}
		var resp control.RoutesResponse
		if _, err := a.adminCall(cmd.Context(), http.MethodPost, "/rollback", req, &resp); err != nil {
			return err
		}
		return printChange(a.stdout, resp)
	}
	return c
}

func checkOutput(o string) error {
	if o != "text" && o != "json" {
		return &exitError{code: exitUsage, err: fmt.Errorf("-o %q: use text or json", o)}
	}
	return nil
}

// adminBase finds the admin API: --admin, then $STRANGLER_ADMIN, then the
// project file's admin.listen (when there is a project file).
func (a *app) adminBase() (string, error) {
	raw := a.adminURL
	if raw == "" {
		raw = os.Getenv(envAdmin)
	}
	if raw == "" {
		cfg, err := a.config(true)
		if err != nil {
			return "", err
		}
		if cfg == nil {
			return "", &exitError{code: exitUsage, err: fmt.Errorf("no admin API: give --admin URL, set %s, or run where %s is", envAdmin, config.DefaultFile)}
		}
		raw = "http://" + dialable(cfg.Admin.Listen)
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", &exitError{code: exitUsage, err: fmt.Errorf("admin API URL %q: want http(s)://host:port", raw)}
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// dialable turns a listen address into one a client on the same machine
// reaches: an unspecified host (":9901", "0.0.0.0:9901", "[::]:9901")
// becomes the loopback address, which the listener also serves and whose
// Host the admin API accepts.
func dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch ip := net.ParseIP(host); {
	case host == "" || (ip != nil && ip.Equal(net.IPv4zero)):
		return net.JoinHostPort("127.0.0.1", port)
	case ip != nil && ip.Equal(net.IPv6unspecified):
		return net.JoinHostPort("::1", port)
	}
	return listen
}

// adminToken reads the bearer token: $STRANGLER_ADMIN_TOKEN, else the
// variable the project file's admin.token_env names.
func (a *app) adminToken() (string, error) {
	v := os.Getenv(envAdminToken)
	if v == "" && a.adminURL == "" && os.Getenv(envAdmin) == "" {
		if cfg, err := a.config(true); err == nil && cfg != nil && cfg.Admin.TokenEnv != envAdminToken {
			v = os.Getenv(cfg.Admin.TokenEnv)
		}
	}
	tok, err := control.ClientToken(v)
	if err != nil {
		return "", &exitError{code: exitUsage, err: err}
	}
	return tok, nil
}

// adminClient is the CLI's HTTP client for the admin API. It follows no
// redirect: the admin API sends none, and a request carrying the token
// goes nowhere but the URL it was sent to.
var adminClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// adminCall sends one request to the admin API and decodes the answer into
// out, returning the raw body too. It first makes sure base is a strangler
// admin API (GET /version, without the token). A refusal by the API
// (4xx/5xx) exits 1 with the API's message; an unreachable API, something
// else answering or a bad setup exits 2.
func (a *app) adminCall(ctx context.Context, method, path string, in, out any) ([]byte, error) {
	base, err := a.adminBase()
	if err != nil {
		return nil, err
	}
	tok, err := a.adminToken()
	if err != nil {
		return nil, err
	}
	var body []byte
	if in != nil {
		if body, err = json.Marshal(in); err != nil {
			return nil, fmt.Errorf("encoding the request: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	if err := identifyAdmin(ctx, base); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
	if err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("admin API request: %w", err)}
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := adminClient.Do(req)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("calling the admin API at %s: %w", base, err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("reading the admin API's answer: %w", err)}
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(raw))
		var p control.Problem
		if json.Unmarshal(raw, &p) == nil && p.Detail != "" {
			msg = p.Detail
		}
		return nil, &exitError{code: exitFailed, err: fmt.Errorf("admin API refused %s %s (%s): %s", method, path, resp.Status, msg)}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("decoding the admin API's answer: %w", err)}
	}
	return raw, nil
}

// identifyAdmin asks base what it is (GET /version, with no Authorization
// header) and refuses anything but a strangler admin API of the version
// this client speaks, so that the token is never sent to, say, the
// facade's client port and on to legacy.
func identifyAdmin(ctx context.Context, base string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/version", nil)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("admin API request: %w", err)}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := adminClient.Do(req)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("calling the admin API at %s: %w", base, err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("reading the answer of %s/version: %w", base, err)}
	}
	notAdmin := func(what string) error {
		return &exitError{code: exitUsage, err: fmt.Errorf("%s is not a strangler admin API (GET /version answered %s); check --admin or %s",
			base, what, envAdmin)}
	}
	ct := resp.Header.Get("Content-Type")
	if ct == "" {
		ct = "no content type"
	}
	answered := fmt.Sprintf("%d %s", resp.StatusCode, ct)
	if resp.StatusCode != http.StatusOK {
		return notAdmin(answered)
	}
	if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
		return notAdmin(answered)
	}
	var v control.VersionResponse
	if err := json.Unmarshal(raw, &v); err != nil {
		return notAdmin(answered + ", not a version document")
	}
	if err := v.CheckIdentity(); err != nil {
		if v.Service == control.AdminService {
			return &exitError{code: exitUsage, err: fmt.Errorf("the admin API at %s (strangler %s) does not match this client: %w; use a strangler build of the same API",
				base, v.Version, err)}
		}
		return notAdmin(answered + ": " + err.Error())
	}
	return nil
}

func printRoutes(w io.Writer, resp control.RoutesResponse) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tMODE\tPERCENT\tTARGET\tBREAKER\tVERSION\tSOURCE")
	for _, r := range resp.Routes {
		pct := "-"
		if r.Mode == config.ModeCanary {
			pct = fmt.Sprintf("%g", r.Percent)
		}
		mode := r.Mode
		if r.Hold != "" {
			mode += " (rollout " + r.Hold + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.Name, mode, pct, r.Target, r.Breaker, r.Version, routeSource(r))
	}
	return tw.Flush()
}

// routeSource says where a route's mode comes from: "file", or "override
// by WHO at WHEN (file: MODE)".
func routeSource(r control.RouteView) string {
	if r.Source != control.SourceOverride {
		return r.Source
	}
	s := "override"
	if o := r.Override; o != nil {
		if o.Who != "" {
			s += " by " + o.Who
		}
		s += " at " + o.At.UTC().Format(time.RFC3339)
	}
	file := r.File.Mode
	if file == config.ModeCanary {
		file += fmt.Sprintf(" %g%%", r.File.Percent)
	}
	return s + " (file: " + file + ")"
}

func printChange(w io.Writer, resp control.RoutesResponse) error {
	n := 0
	if resp.Changed != nil {
		n = *resp.Changed
	}
	if n == 0 {
		fmt.Fprintf(w, "nothing to change (version %d)\n", resp.Version)
	} else {
		fmt.Fprintf(w, "%d route(s) changed, version %d\n", n, resp.Version)
	}
	return printRoutes(w, resp)
}

func printHistory(w io.Writer, h []control.HistoryEntry) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tVERSION\tROUTE\tFROM\tTO\tWHO\tREASON")
	for _, e := range h {
		to := modeText(e.To)
		if e.Reset {
			to += " (file, reset)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format(time.RFC3339), e.Version, e.Route,
			modeText(e.From), to, e.Who, e.Reason)
	}
	return tw.Flush()
}

func modeText(r proxy.RouteState) string {
	s := r.Mode
	if r.Mode == config.ModeCanary {
		s = fmt.Sprintf("canary %g%%", r.Percent)
	}
	if r.Hold != "" {
		s += " (rollout " + r.Hold + ")"
	}
	return s
}
