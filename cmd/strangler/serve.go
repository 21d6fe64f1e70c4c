package main

import "github.com/spf13/cobra"

func (a *app) serveCommand() *cobra.Command {
	c := &cobra.Command{Use: "serve [RECIPE...]", Short: "Run recipe services (the project file's services when no recipe is named)",
		RunE: notYet("the recipe runtime")}
	c.Flags().Bool("migrate", false, "create or update the services' tables from the recipes")
	return c
}
