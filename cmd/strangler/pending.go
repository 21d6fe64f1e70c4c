package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// notYet is the RunE of a subcommand whose part of strangler is not in this
// build: it says so and exits with exitMissing, never pretending to work.
func notYet(what string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		return &exitError{code: exitMissing, err: fmt.Errorf("%s: not yet available in this build (%s)", cmd.CommandPath(), what)}
	}
}

func (a *app) proxyCommand() *cobra.Command {
	return &cobra.Command{Use: "proxy", Short: "Run the routing facade", Args: cobra.NoArgs,
		RunE: notYet("the routing facade")}
}

func (a *app) routesCommand() *cobra.Command {
	c := &cobra.Command{Use: "routes", Short: "List, change and audit routes through the admin API"}
	list := &cobra.Command{Use: "list", Short: "List routes with mode, percent, target, breaker state and version", Args: cobra.NoArgs,
		RunE: notYet("the admin API")}
	list.Flags().StringP("output", "o", "text", "output format: text or json")
	set := &cobra.Command{Use: "set NAME --mode legacy|shadow|canary|new [--percent N] [--reason TEXT]", Short: "Change a route's mode or percent",
		Args: cobra.ExactArgs(1), RunE: notYet("the admin API")}
	set.Flags().String("mode", "", "legacy, shadow, canary or new")
	set.Flags().Float64("percent", 0, "canary share, 0 to 100")
	set.Flags().String("reason", "", "why, for the audit log")
	history := &cobra.Command{Use: "history", Short: "Show the audit log of route changes", Args: cobra.NoArgs,
		RunE: notYet("the admin API")}
	history.Flags().StringP("output", "o", "text", "output format: text or json")
	c.AddCommand(list, set, history)
	return c
}

func (a *app) rollbackCommand() *cobra.Command {
	c := &cobra.Command{Use: "rollback NAME... | --all", Short: "Send routes back to legacy at once, on every replica",
		RunE: notYet("the admin API")}
	c.Flags().Bool("all", false, "roll back every route")
	c.Flags().String("reason", "", "why, for the audit log")
	return c
}

func (a *app) shadowCommand() *cobra.Command {
	c := &cobra.Command{Use: "shadow", Short: "Read shadow comparisons and replay requests"}
	report := &cobra.Command{Use: "report [ROUTE]", Short: "Summarise shadow comparisons and their differing fields",
		Args: cobra.MaximumNArgs(1), RunE: notYet("shadow comparison")}
	report.Flags().StringP("output", "o", "text", "output format: text or json")
	replay := &cobra.Command{Use: "replay ID", Short: "Send a recorded request to both sides again and compare",
		Args: cobra.ExactArgs(1), RunE: notYet("shadow comparison")}
	c.AddCommand(report, replay)
	return c
}

func (a *app) serveCommand() *cobra.Command {
	c := &cobra.Command{Use: "serve [RECIPE...]", Short: "Run recipe services (the project file's services when no recipe is named)",
		RunE: notYet("the recipe runtime")}
	c.Flags().Bool("migrate", false, "create or update the services' tables from the recipes")
	return c
}

func (a *app) syncCommand() *cobra.Command {
	c := &cobra.Command{Use: "sync", Short: "Change-data sync between the legacy and new databases"}
	runCmd := &cobra.Command{Use: "run", Short: "Snapshot, then stream changes, for every pipeline", Args: cobra.NoArgs,
		RunE: notYet("change-data sync")}
	status := &cobra.Command{Use: "status", Short: "Show each pipeline's phase, position and lag", Args: cobra.NoArgs,
		RunE: notYet("change-data sync")}
	status.Flags().StringP("output", "o", "text", "output format: text or json")
	verify := &cobra.Command{Use: "verify", Short: "Compare source and target row by row (exit 0 only when identical)", Args: cobra.NoArgs,
		RunE: notYet("change-data sync")}
	verify.Flags().StringSlice("table", nil, "only these tables")
	verify.Flags().Bool("repair", false, "rewrite differing rows from the source")
	c.AddCommand(runCmd, status, verify)
	return c
}

func (a *app) extractCommand() *cobra.Command {
	c := &cobra.Command{Use: "extract --table T... [--samples FILE] [-o DIR]", Short: "Write a recipe from the legacy schema and captured samples",
		Args: cobra.NoArgs, RunE: notYet("extraction")}
	c.Flags().StringSlice("table", nil, "legacy tables to extract")
	c.Flags().String("samples", "", "captured request/response samples (JSON lines)")
	c.Flags().StringP("output", "o", "recipes", "directory to write the recipe into")
	return c
}
