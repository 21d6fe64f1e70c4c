package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"golang.org/x/term"
)

// setLogger builds the logger from --log-format and --log-level.
func (a *app) setLogger() error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(a.logLevel)); err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("--log-level %q: use debug, info, warn or error", a.logLevel)}
	}
	switch a.logFormat {
	case "", "json", "text":
	default:
		return &exitError{code: exitUsage, err: fmt.Errorf("--log-format %q: use json or text", a.logFormat)}
	}
	a.log = newLogger(a.stderr, a.logFormat, level)
	return nil
}

// newLogger writes JSON lines, or logfmt text with format "text"; format ""
// picks text when w is a terminal and JSON otherwise (a log collector's
// pipe, a file).
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	if format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	if format == "text" {
		return slog.New(traceHandler{slog.NewTextHandler(w, opts)})
	}
	return slog.New(traceHandler{slog.NewJSONHandler(w, opts)})
}
