package main

import "github.com/spf13/cobra"

func (a *app) extractCommand() *cobra.Command {
	c := &cobra.Command{Use: "extract --table T... [--samples FILE] [-o DIR]", Short: "Write a recipe from the legacy schema and captured samples",
		Args: cobra.NoArgs, RunE: notYet("extraction")}
	c.Flags().StringSlice("table", nil, "legacy tables to extract")
	c.Flags().String("samples", "", "captured request/response samples (JSON lines)")
	c.Flags().StringP("output", "o", "recipes", "directory to write the recipe into")
	return c
}
