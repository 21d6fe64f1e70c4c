package main

import "github.com/spf13/cobra"

func (a *app) catalogCommand() *cobra.Command {
	c := &cobra.Command{Use: "catalog [-o json]", Short: "Services, their routes, owners, tables and SLO standing (not available in this build)",
		Args: cobra.NoArgs, RunE: notYet("the catalog")}
	c.Flags().StringP("output", "o", "text", "output format: text or json")
	return c
}
