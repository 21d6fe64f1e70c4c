package main

import "github.com/spf13/cobra"

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
