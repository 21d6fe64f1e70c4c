// Command strangler is the one binary of the strangler toolkit: the routing
// facade, the recipe services, change-data sync, extraction and the checks
// around them. Subcommands only wire packages together.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
