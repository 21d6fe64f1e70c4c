package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/stranglerfig/strangler/shadow"
	"go.opentelemetry.io/otel/trace"
	"io"
	"log/slog"
	"os"
	"slices"

	"github.com/stranglerfig/strangler/proxy/control"

	"github.com/spf13/cobra"
	"github.com/stranglerfig/strangler/internal/buildinfo"
	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/dbconn"
	"github.com/stranglerfig/strangler/recipes"
)

// Exit codes, documented in the README.
const (
	exitOK     = 0 // success; for checks, every check passed
	exitFailed = 1 // the command ran and found a failure (doctor, verify)
	exitUsage  = 2 // bad flags, a bad project file or another error
)

// exitError carries an exit code with the error that caused it.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// failed marks a command that ran and found a failure it already reported.
var errFailed = errors.New("checks failed")

// app is what every subcommand shares: global flags and the output streams.
type app struct {
	configPath   string
	configGiven  bool
	adminURL     string
	stdout       io.Writer
	stderr       io.Writer
	log          *slog.Logger
	loadedConfig *config.Config
	logFormat    string // json | text | "" (json unless stderr is a terminal)
	logLevel     string // debug | info | warn | error
	// quietWarnings keeps config from logging the project file's
	// warnings: check prints them itself.
	quietWarnings bool
	// tracer is the tracer provider of a running process (see
	// setupTracing); tracing says whether it exports anything.
	tracer     trace.TracerProvider
	tracing    bool
	stopTracer func(context.Context) error
}

// run executes the CLI with args and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr}
	a.log = newLogger(stderr, "", slog.LevelInfo)
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if !errors.Is(ee.err, errFailed) {
			fmt.Fprintln(stderr, "strangler:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "strangler:", err)
	return exitUsage
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "strangler",
		Short: "Move a legacy monolith's endpoints, route by route, to new services",
		Long: `strangler is a toolkit for strangler-fig migrations: a routing facade in front of
a legacy monolith moves its endpoints, one route at a time, to new services
generated from recipes, keeps the legacy MySQL/MariaDB and the new PostgreSQL
databases in step, compares the new answers with legacy's on shadow traffic,
lets a rollout controller move each route through its stages, and rolls any
route back at once. Sync both ways at once (direction: both) is not in this
build.

Every subcommand reads the project file strangler.yaml (-c to point elsewhere).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildinfo.Read().String(),
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			a.configGiven = cmd.Flags().Changed("config")
			return a.setLogger()
		},
	}
	root.SetVersionTemplate("strangler {{.Version}}\n")
	root.PersistentFlags().StringVarP(&a.configPath, "config", "c", config.DefaultFile, "the project file")
	root.PersistentFlags().StringVar(&a.logFormat, "log-format", "", "log format: json or text (default json, text when stderr is a terminal)")
	root.PersistentFlags().StringVar(&a.logLevel, "log-level", "info", "least level logged: debug, info, warn or error")
	root.PersistentFlags().StringVar(&a.adminURL, "admin", "", "admin API URL for route commands (default $STRANGLER_ADMIN, else the project file's admin.listen)")
	root.AddCommand(
		a.proxyCommand(),
		a.routesCommand(),
		a.rollbackCommand(),
		a.shadowCommand(),
		a.serveCommand(),
		a.syncCommand(),
		a.extractCommand(),
		a.contractCommand(),
		a.catalogCommand(),
		a.doctorCommand(),
		a.demoCommand(),
		a.checkCommand(),
	)
	return root
}

// config loads the project file once. When optional is true and the file was
// not named with -c and does not exist, it returns nil without error.
func (a *app) config(optional bool) (*config.Config, error) {
	if a.loadedConfig != nil {
		return a.loadedConfig, nil
	}
	if optional && !a.configGiven {
		if _, err := os.Stat(a.configPath); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
	}
	c, err := config.Load(a.configPath, projectChecks{})
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	if !a.quietWarnings {
		for _, w := range c.Warnings {
			a.log.Warn("project file: " + w)
		}
	}
	a.loadedConfig = c
	return c, nil
}

// checkCommand validates the project file, the recipes it names and the
// admin token, and prints every warning proxy would log.
func (a *app) checkCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Validate the project file and the recipes it names, and print its warnings",
		Long: `check loads the project file (every mistake at once, each with its line and
field), loads every recipe its services name, reads the admin token variable,
and prints the warnings that proxy and serve would log at start. It exits 0
when everything loads, 2 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.quietWarnings = true
			c, err := a.config(false)
			if err != nil {
				return err
			}
			warnings := slices.Clone(c.Warnings)
			var problems []error
			tokens, err := control.ParseTokens(os.Getenv(c.Admin.TokenEnv))
			if err != nil {
				problems = append(problems, fmt.Errorf("admin.token_env %s: %w", c.Admin.TokenEnv, err))
			} else if err := control.CheckAdminListen(c.Admin.Listen, tokens); err != nil {
				problems = append(problems, fmt.Errorf("admin.listen: %w (%s is empty)", err, c.Admin.TokenEnv))
			} else if len(c.Routes) > 0 {
				warnings = append(warnings, proxyWarnings(c, tokens)...)
			}
			for _, s := range c.Services {
				if _, err := recipes.Load(c.Resolve(s.Recipe)); err != nil {
					problems = append(problems, err)
				}
			}
			for _, w := range warnings {
				fmt.Fprintln(a.stdout, "warning:", w)
			}
			if len(problems) > 0 {
				return &exitError{code: exitUsage, err: errors.Join(problems...)}
			}
			fmt.Fprintf(a.stdout, "%s: ok (%d routes, %d sync pipelines, %d services, %d warnings)\n",
				c.File, len(c.Routes), len(c.Sync), len(c.Services), len(warnings))
			return nil
		},
	}
}

// projectChecks are what a project file is checked with beyond its own
// rules: the database DSNs by the drivers' parsers, and the routes'
// comparison rules by the shadow differ.
type projectChecks struct {
	dbconn.Parser
	shadow.RuleChecker
}
