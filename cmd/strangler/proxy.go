package main

import "github.com/spf13/cobra"

func (a *app) proxyCommand() *cobra.Command {
	return &cobra.Command{Use: "proxy", Short: "Run the routing facade", Args: cobra.NoArgs,
		RunE: notYet("the routing facade")}
}
