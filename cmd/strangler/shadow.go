package main

import "github.com/spf13/cobra"

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
