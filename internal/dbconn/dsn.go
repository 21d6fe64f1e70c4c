// Package dbconn reads the database DSNs of a project file with the drivers'
// own parsers, and redacts them for logs and errors. It is apart from
// internal/config so that the packages that only read a loaded
// configuration (the facade's request path) link no database driver.
package dbconn

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stranglerfig/strangler/internal/config"
)

// ParseMySQL reads a MySQL/MariaDB DSN in either form:
// mysql://user:pass@host:port/db?param=value (or mariadb://, in any case)
// or the go-sql-driver form
// user:pass@tcp(host:port)/db?param=value. Errors never contain the password.
func ParseMySQL(dsn string) (*mysql.Config, error) {
	if scheme, _, _ := strings.Cut(dsn, "://"); !strings.EqualFold(scheme, "mysql") && !strings.EqualFold(scheme, "mariadb") {
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return nil, fmt.Errorf("parsing MySQL DSN %q: %w", Redact(dsn), err)
		}
		return cfg, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URL, password included
		}
		return nil, fmt.Errorf("parsing MySQL URL %q: %w", Redact(dsn), err)
	}
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net = "tcp"
	host := u.Host
	if host == "" {
		return nil, fmt.Errorf("parsing MySQL URL %q: no host", Redact(dsn))
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(strings.Trim(host, "[]"), "3306")
	}
	cfg.Addr = host
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if u.RawQuery == "" {
		return cfg, nil
	}
	s := cfg.FormatDSN()
	sep := "?"
	if strings.Contains(s, "?") {
		sep = "&"
	}
	out, err := mysql.ParseDSN(s + sep + u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("parsing MySQL URL %q: %w", Redact(dsn), err)
	}
	return out, nil
}

// ParsePostgres reads a PostgreSQL URL or keyword/value DSN the way pgx does,
// with client_encoding UTF8 (see clientUTF8). Errors never contain the
// password.
func ParsePostgres(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgconn.ParseConfigError already redacts the password.
		return nil, fmt.Errorf("parsing PostgreSQL DSN: %w", err)
	}
	clientUTF8(cfg)
	return cfg, nil
}

// ParsePostgresPool is ParsePostgres for a pgxpool.
func ParsePostgresPool(dsn string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing PostgreSQL DSN: %w", err)
	}
	clientUTF8(cfg.ConnConfig)
	return cfg, nil
}

// clientUTF8 asks the server for UTF-8 on the connection. pgx sends Go's
// strings, which are UTF-8, as they are, and leaves client_encoding at the
// database's encoding: in a LATIN1 database 'café' would be stored as the
// five LATIN1 characters of its UTF-8 bytes. With UTF8 the server converts,
// and refuses a character the database's encoding cannot hold.
func clientUTF8(cfg *pgx.ConnConfig) {
	cfg.RuntimeParams["client_encoding"] = "UTF8"
}

// MySQLDSN expands ${VAR} references in a MySQL DSN of either form and
// returns it in go-sql-driver form ("" for "").
func MySQLDSN(dsn string) (string, error) {
	if dsn == "" {
		return "", nil
	}
	s, err := config.ExpandEnv(dsn)
	if err != nil {
		return "", err
	}
	cfg, err := ParseMySQL(s)
	if err != nil {
		return "", err
	}
	return cfg.FormatDSN(), nil
}

// PostgresDSN expands ${VAR} references in a PostgreSQL DSN ("" for "").
func PostgresDSN(dsn string) (string, error) {
	if dsn == "" {
		return "", nil
	}
	s, err := config.ExpandEnv(dsn)
	if err != nil {
		return "", err
	}
	if _, err := ParsePostgres(s); err != nil {
		return "", err
	}
	return s, nil
}

// Parser is the config.DSNParser that checks DSNs with the drivers' own
// parsers: pass it to config.Load and config.Parse.
type Parser struct{}

var _ config.DSNParser = Parser{}

// CheckMySQL implements config.DSNParser.
func (Parser) CheckMySQL(dsn string) error { _, err := ParseMySQL(dsn); return err }

// CheckPostgres implements config.DSNParser.
func (Parser) CheckPostgres(dsn string) error { _, err := ParsePostgres(dsn); return err }

// Secrets implements config.DSNParser: the password and secret parameters
// dsn holds, in the form it is written.
func (Parser) Secrets(dsn string) ([]string, error) {
	_, secrets, err := redactDSN(dsn)
	return secrets, err
}
