package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// externalMySQL is a MariaDB or MySQL server named by STRANGLER_TEST_MYSQL.
type externalMySQL struct {
	cfg *mysql.Config // an admin login, without a database
}

// newExternalMySQL parses a go-sql-driver DSN or a mysql:// URL. Errors
// never quote the DSN, which may hold a password.
func newExternalMySQL(dsn string) (*externalMySQL, error) {
	if strings.HasPrefix(dsn, "mysql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return nil, fmt.Errorf("parsing %s as a mysql:// URL: %w", EnvMySQL, redactURLError(err))
		}
		host := u.Host
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), "3306")
		}
		// go-sql-driver finds the credentials before the last "@" and takes
		// them as they are: rebuild its DSN with them unescaped.
		var cred string
		if u.User != nil {
			cred = u.User.Username()
			if pw, ok := u.User.Password(); ok {
				cred += ":" + pw
			}
			cred += "@"
		}
		dsn = cred + "tcp(" + host + ")" + u.EscapedPath()
		if u.Path == "" {
			dsn += "/"
		}
		if u.RawQuery != "" {
			dsn += "?" + u.RawQuery
		}
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing %s as a go-sql-driver DSN: %w", EnvMySQL, err)
	}
	cfg.DBName = ""
	return &externalMySQL{cfg: cfg}, nil
}

func (e *externalMySQL) exec(ctx context.Context, stmt string) error {
	connector, err := mysql.NewConnector(e.cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	_, err = db.ExecContext(ctx, stmt)
	return err
}

func quoteMySQL(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

// CreateDatabase creates the database name.
func (e *externalMySQL) CreateDatabase(ctx context.Context, name string) error {
	if err := e.exec(ctx, "CREATE DATABASE "+quoteMySQL(name)); err != nil {
		return fmt.Errorf("creating database %q on the %s server: %w", name, EnvMySQL, err)
	}
	return nil
}

// DropDatabase drops the database name if it exists.
func (e *externalMySQL) DropDatabase(ctx context.Context, name string) error {
	if err := e.exec(ctx, "DROP DATABASE IF EXISTS "+quoteMySQL(name)); err != nil {
		return fmt.Errorf("dropping database %q on the %s server: %w", name, EnvMySQL, err)
	}
	return nil
}

// DSN returns the server's DSN for database, with parseTime and
// multiStatements on.
func (e *externalMySQL) DSN(database string) string {
	cfg := e.cfg.Clone()
	cfg.DBName = database
	cfg.ParseTime = true
	cfg.MultiStatements = true
	return cfg.FormatDSN()
}

// externalPostgres is a PostgreSQL server named by STRANGLER_TEST_POSTGRES.
type externalPostgres struct {
	admin *url.URL // the URL as given: its database serves admin statements
}

func newExternalPostgres(raw string) (*externalPostgres, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("parsing %s: want a postgres:// URL", EnvPostgres)
	}
	return &externalPostgres{admin: u}, nil
}

func (e *externalPostgres) exec(ctx context.Context, stmt string) error {
	conn, err := pgconn.Connect(ctx, e.admin.String())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, stmt).ReadAll()
	return err
}

// CreateDatabase creates the database name.
func (e *externalPostgres) CreateDatabase(ctx context.Context, name string) error {
	if err := e.exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("creating database %q on the %s server: %w", name, EnvPostgres, err)
	}
	return nil
}

// DropDatabase drops the database name if it exists, ending its sessions.
func (e *externalPostgres) DropDatabase(ctx context.Context, name string) error {
	if err := e.exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("dropping database %q on the %s server: %w", name, EnvPostgres, err)
	}
	return nil
}

// DSN returns the server's URL with database in place of its own.
func (e *externalPostgres) DSN(database string) string {
	u := *e.admin
	u.Path, u.RawPath = "/"+database, ""
	return u.String()
}

// redactURLError drops the URL, which may hold a password, from a parse
// error.
func redactURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
