package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/stranglerfig/strangler/extract/contract"
	"github.com/stranglerfig/strangler/proxy/capture"
)

func (a *app) contractCommand() *cobra.Command {
	c := &cobra.Command{Use: "contract", Short: "Infer the legacy API's observed contract and check documents and recipes against it",
		Long: `contract infer writes the OpenAPI 3.1 document of the legacy API as the
facade's capture files show it; contract check lists every change from a
contract (an OpenAPI document, or a recipe) to a new side and says which break
a client. docs/contract.md is the reference.`}
	c.AddCommand(a.contractInferCommand(), a.contractCheckCommand())
	return c
}

func (a *app) contractInferCommand() *cobra.Command {
	var samples []string
	var out string
	c := &cobra.Command{Use: "infer --samples FILE... [-o FILE]", Short: "Write the legacy API's OpenAPI 3.1 document as captured traffic shows it",
		Long: `infer reads capture files of the facade (JSON lines) and writes the OpenAPI 3.1
document of what they show: path templates (ids, UUIDs and slugs become
variables), methods, path and query parameters, request bodies and answers
per status with JSON Schemas inferred from the bodies (types, formats,
required and nullable fields, enums, one real redacted example per field).
The same samples give the same bytes. It writes to stdout unless -o names a
file; a summary goes to stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(samples) == 0 {
				return &exitError{code: exitUsage, err: errors.New("contract infer: --samples is required (the facade's capture files)")}
			}
			var recs []capture.Record
			for _, f := range samples {
				r, err := capture.ReadFile(f)
				if err != nil {
					return &exitError{code: exitUsage, err: fmt.Errorf("contract infer: --samples: %w", err)}
				}
				recs = append(recs, r...)
			}
			res, err := contract.Infer(recs, contract.Options{})
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("contract infer: %w", err)}
			}
			if out == "" || out == "-" {
				if _, err := a.stdout.Write(res.Document); err != nil {
					return &exitError{code: exitUsage, err: fmt.Errorf("contract infer: writing the document: %w", err)}
				}
			} else if err := os.WriteFile(out, res.Document, 0o644); err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("contract infer: writing the document: %w", err)}
			}
			for _, s := range res.Skipped {
				fmt.Fprintf(a.stderr, "contract infer: left out of the schemas: %s\n", s)
			}
			fmt.Fprintf(a.stderr, "contract infer: %d endpoints from %d samples\n", res.Endpoints, res.Samples)
			return nil
		},
	}
	c.Flags().StringSliceVar(&samples, "samples", nil, "capture files of the facade (JSON lines; repeat or comma-separate)")
	c.Flags().StringVarP(&out, "output", "o", "", "file to write the document to (default stdout)")
	return c
}

func (a *app) contractCheckCommand() *cobra.Command {
	var against, output string
	c := &cobra.Command{Use: "check --against OPENAPI RECIPE | check OLD NEW", Short: "List the changes from a contract to a new side and exit 1 if one breaks a client",
		Long: `check compares the contract side (--against OPENAPI, or OLD) with the new side
(RECIPE, or NEW) and prints one line per change, breaking or info:

  breaking  GET /api/orders/{id}  200 $.data.total: type string -> number

Each side is an OpenAPI 3 document (JSON or YAML) or a recipe, checked as the
document it serves. Paths match whatever their variables are named. Removed
endpoints, fields, statuses and enum members, changed or widened types and
formats, fields that become optional or nullable in answers, and new required
request inputs or narrowed accepted inputs are breaking; docs/contract.md
lists every kind. -o json writes the report as JSON.

Exit status: 0 when no change breaks a client, 1 when one does, 2 when an
input cannot be read or the arguments are wrong.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			var oldPath, newPath string
			switch {
			case against != "" && len(args) == 1:
				oldPath, newPath = against, args[0]
			case against == "" && len(args) == 2:
				oldPath, newPath = args[0], args[1]
			case against != "":
				return &exitError{code: exitUsage, err: fmt.Errorf("contract check --against %s: give one recipe or document to check, not %d", against, len(args))}
			default:
				return &exitError{code: exitUsage, err: fmt.Errorf("contract check: give --against OPENAPI RECIPE, or OLD NEW (got %d arguments)", len(args))}
			}
			old, err := contract.LoadFile(oldPath)
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("contract check: %w", err)}
			}
			next, err := contract.LoadFile(newPath)
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("contract check: %w", err)}
			}
			rep := contract.Check(old, next)
			if output == "json" {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				err = enc.Encode(rep)
			} else {
				err = rep.WriteText(a.stdout)
				if err == nil {
					fmt.Fprintf(a.stderr, "contract check: %d breaking, %d info (contract %s, new %s)\n", rep.Breaking, rep.Info, oldPath, newPath)
				}
			}
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("contract check: writing the report: %w", err)}
			}
			if rep.HasBreaking() {
				return &exitError{code: exitFailed, err: errFailed}
			}
			return nil
		},
	}
	c.Flags().StringVar(&against, "against", "", "the contract: an OpenAPI document (e.g. from contract infer) or a recipe")
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return c
}
