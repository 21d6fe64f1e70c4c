package config

import (
	"net/url"
	"strings"
)

// DSNParser checks the database DSNs of a project file (databases, sync
// sources and targets, services, state). internal/dbconn.Parser is the one
// implementation, with the drivers' own parsers; it is passed in rather
// than imported so that the packages that only read a loaded configuration
// (the facade's request path) link no database driver. A nil DSNParser
// checks only the ${VAR} references of a DSN: for callers that never use
// the databases.
type DSNParser interface {
	// CheckMySQL returns why dsn is not a MySQL/MariaDB DSN of either form.
	CheckMySQL(dsn string) error
	// CheckPostgres returns why dsn is not a PostgreSQL URL or
	// keyword/value DSN.
	CheckPostgres(dsn string) error
	// Secrets returns the password and secret parameters dsn holds.
	Secrets(dsn string) ([]string, error)
}

// unchecked is the DSNParser of a nil argument.
type unchecked struct{}

func (unchecked) CheckMySQL(string) error          { return nil }
func (unchecked) CheckPostgres(string) error       { return nil }
func (unchecked) Secrets(string) ([]string, error) { return nil, nil }

// hasInlinePassword reports a DSN that holds a literal password rather than
// a ${VAR} reference.
func hasInlinePassword(dsns DSNParser, dsn string) bool {
	const marker = "ZZstranglerEnvRefZZ" // a word every form parses inside a password
	secrets, err := dsns.Secrets(envRef.ReplaceAllString(dsn, marker))
	if err != nil {
		return false // refused as unparseable by the DSN's own check
	}
	for _, s := range secrets {
		if strings.ReplaceAll(s, marker, "") != "" {
			return true
		}
	}
	return false
}

// redactURL returns an http(s) URL with its password replaced, for errors
// and warnings; a string that does not parse and could hold a password is
// not printed at all.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.Contains(raw, "@") {
			return "[unparseable URL]"
		}
		return raw
	}
	return u.Redacted()
}
