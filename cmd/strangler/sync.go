package main

import "github.com/spf13/cobra"

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
