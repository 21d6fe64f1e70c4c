package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// notYet is the RunE of a subcommand whose part of strangler is not in this
// build: it says so and exits with exitMissing, never pretending to work.
func notYet(what string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		return &exitError{code: exitMissing, err: fmt.Errorf("%s: not yet available in this build (%s)", strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" "), what)}
	}
}
