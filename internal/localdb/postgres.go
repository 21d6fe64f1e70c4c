package localdb

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PostgresOptions configures StartPostgres. The zero value starts a server
// with wal_level=replica; start from DefaultPostgresOptions for one that
// logical replication can read.
type PostgresOptions struct {
	// LogicalWAL sets wal_level=logical, which logical replication needs.
	// Default (DefaultPostgresOptions): true. False means wal_level=replica.
	LogicalWAL bool
	// ExtraConf sets server parameters (-c name=value), overriding the
	// defaults, for example {"max_connections": "50"}. listen_addresses,
	// port and unix_socket_directories belong to the launcher and are
	// refused. Nil means none.
	ExtraConf map[string]string
	// Logger receives start, stop and readiness events. Nil discards them.
	Logger *slog.Logger
}

// DefaultPostgresOptions returns the options of a server with
// wal_level=logical.
func DefaultPostgresOptions() PostgresOptions {
	return PostgresOptions{LogicalWAL: true}
}

// Postgres is a throwaway PostgreSQL server on 127.0.0.1. Its superuser
// postgres logs in without a password (trust). Its methods are safe for
// concurrent use.
type Postgres struct {
	srv    *server
	binDir string
	conf   map[string]string // parameters other than the listening ones
}

// StartPostgres creates a PostgreSQL cluster in a new temporary directory,
// starts postgres on a free port and waits until it accepts logins, or ctx
// is done (two minutes without a deadline). Close it when done. As root, the
// cluster belongs to and the server runs as the OS user postgres.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	conf, err := postgresConf(opts)
	if err != nil {
		return nil, fmt.Errorf("starting PostgreSQL: %w", err)
	}
	binDir, err := findPostgresBinDir()
	if err != nil {
		return nil, fmt.Errorf("starting PostgreSQL: %w", err)
	}
	cred, err := postgresCredential()
	if err != nil {
		return nil, fmt.Errorf("starting PostgreSQL: %w", err)
	}
	dir, err := newInstanceDir(opts.Logger)
	if err != nil {
		return nil, fmt.Errorf("starting PostgreSQL: %w", err)
	}
	p := &Postgres{binDir: binDir, conf: conf}
	p.srv = &server{
		kind:    "postgres",
		dir:     dir,
		logPath: filepath.Join(dir, "postgres.log"),
		logger:  opts.Logger,
		cred:    cred,
		stopSig: syscall.SIGINT, // fast shutdown: SIGTERM would wait for clients
		command: p.command,
		ping:    p.ping,
	}
	if err := p.prepare(ctx); err != nil {
		return nil, fmt.Errorf("starting PostgreSQL: %w", errorsJoinClose(err, p.srv))
	}
	if err := p.srv.startFirst(ctx); err != nil {
		return nil, errorsJoinClose(err, p.srv)
	}
	return p, nil
}

// postgresConf merges the default server parameters with opts.ExtraConf.
func postgresConf(opts PostgresOptions) (map[string]string, error) {
	conf := map[string]string{
		"wal_level":             "logical",
		"max_replication_slots": "20",
		"max_wal_senders":       "20",
		"fsync":                 "off",
		"full_page_writes":      "off",
		// synchronous_commit stays on: with fsync off a commit costs one
		// write(2), and a committed row survives Kill, as it does on MariaDB
		// (innodb_flush_log_at_trx_commit=2). With it off, commits made just
		// before Kill vanish (even a CREATE TABLE, in a trial), which fault
		// tests would misread as lost data.
		"shared_buffers":  "64MB",
		"max_connections": "300",
	}
	if !opts.LogicalWAL {
		conf["wal_level"] = "replica"
	}
	for k, v := range opts.ExtraConf {
		switch strings.ToLower(k) {
		case "listen_addresses", "port", "unix_socket_directories":
			return nil, fmt.Errorf("checking ExtraConf: %q is set by the launcher", k)
		}
		if k == "" || strings.ContainsAny(k+v, "\x00\n\r") {
			return nil, fmt.Errorf("checking ExtraConf: invalid parameter %q = %q", k, v)
		}
		conf[k] = v
	}
	return conf, nil
}

// prepare fills the server directory: data (from the template), owned by
// the user that runs the server.
func (p *Postgres) prepare(ctx context.Context) error {
	uid, gid := -1, -1
	if cred := p.srv.cred; cred != nil {
		uid, gid = int(cred.Uid), int(cred.Gid)
		// The server writes its socket here and must reach its data.
		if err := os.Chown(p.srv.dir, uid, gid); err != nil {
			return fmt.Errorf("handing the server directory to the postgres user: %w", err)
		}
	}
	stamp, err := binaryStamp(filepath.Join(p.binDir, "postgres"))
	if err != nil {
		return err
	}
	key := templateKey("postgres", stamp, strconv.Itoa(os.Geteuid()))
	return prepareData(ctx, p.srv, key, filepath.Join(p.srv.dir, "data"), uid, gid, p.initdb)
}

// initdb creates a cluster in dataDir. workDir takes the log. As root, it
// runs initdb as postgres in a scratch directory that user can reach, unless
// workDir is the server directory (already owned by postgres), and copies
// the result.
func (p *Postgres) initdb(ctx context.Context, dataDir, workDir string) error {
	cred := p.srv.cred
	target := dataDir
	if cred != nil && workDir != p.srv.dir {
		scratch, err := os.MkdirTemp("", instancePrefix+"i")
		if err != nil {
			return fmt.Errorf("creating a scratch directory for initdb: %w", err)
		}
		defer os.RemoveAll(scratch)
		if err := os.Chown(scratch, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("handing the initdb directory to the postgres user: %w", err)
		}
		workDir, target = scratch, filepath.Join(scratch, "data")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(p.binDir, "initdb"),
		"-D", target, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	cmd.Dir = workDir
	logPath := filepath.Join(workDir, "initdb.log")
	defer os.Remove(logPath)
	if err := runLogged(ctx, cmd, logPath, cred); err != nil {
		return fmt.Errorf("initialising the PostgreSQL cluster: %w", err)
	}
	if target != dataDir {
		return copyTree(target, dataDir, -1, -1)
	}
	return nil
}

// command builds the postgres command line for port.
func (p *Postgres) command(port int) *exec.Cmd {
	args := []string{
		"-D", filepath.Join(p.srv.dir, "data"),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port=" + strconv.Itoa(port),
		"-c", "unix_socket_directories=" + p.srv.dir,
	}
	for _, k := range slices.Sorted(maps.Keys(p.conf)) {
		args = append(args, "-c", k+"="+p.conf[k])
	}
	return exec.Command(filepath.Join(p.binDir, "postgres"), args...)
}

// ping logs in and checks that the server answering is this one, not some
// other server that took the port while this one was stopped.
func (p *Postgres) ping(ctx context.Context, port int) error {
	conn, err := pgconn.Connect(ctx, postgresURL(port, "postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	res, err := conn.Exec(ctx, "SHOW data_directory").ReadAll()
	if err != nil {
		return err
	}
	if len(res) != 1 || len(res[0].Rows) != 1 || len(res[0].Rows[0]) != 1 {
		return fmt.Errorf("port %d: unexpected answer to SHOW data_directory", port)
	}
	if got, want := filepath.Clean(string(res[0].Rows[0][0])), filepath.Join(p.srv.dir, "data"); got != want {
		return fmt.Errorf("port %d is served from %s, not %s", port, got, want)
	}
	return nil
}

// exec runs one statement as postgres in the database postgres.
func (p *Postgres) exec(ctx context.Context, stmt string) error {
	if p.srv.isClosed() {
		return ErrClosed
	}
	conn, err := pgconn.Connect(ctx, p.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, stmt).ReadAll()
	return err
}

// Port returns the TCP port the server listens on, on 127.0.0.1. It stays
// the same across Stop and Start.
func (p *Postgres) Port() int { return p.srv.getPort() }

// DSN returns a postgres:// URL for the user postgres to database (empty for
// the default, postgres), without TLS.
func (p *Postgres) DSN(database string) string { return postgresURL(p.Port(), database) }

func postgresURL(port int, database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port, url.PathEscape(database))
}

// URL returns the same postgres:// URL as DSN, the form strangler.yaml uses.
func (p *Postgres) URL(database string) string { return p.DSN(database) }

// CreateDatabase creates the database name; it fails if it exists.
func (p *Postgres) CreateDatabase(ctx context.Context, name string) error {
	if name == "" {
		return fmt.Errorf("creating a PostgreSQL database: empty name")
	}
	if err := p.exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("creating PostgreSQL database %q: %w", name, err)
	}
	return nil
}

// DropDatabase drops the database name if it exists, ending the sessions
// still connected to it.
func (p *Postgres) DropDatabase(ctx context.Context, name string) error {
	if name == "" {
		return fmt.Errorf("dropping a PostgreSQL database: empty name")
	}
	if err := p.exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("dropping PostgreSQL database %q: %w", name, err)
	}
	return nil
}

// Stop shuts the server down gracefully (a fast shutdown: SIGINT, sessions
// are ended) and waits for it to exit. If ctx is done first (after 30 s
// without a deadline) it kills the server and says so. The data directory
// stays and Start brings the server back on the same port. Stopping a
// stopped server does nothing.
func (p *Postgres) Stop(ctx context.Context) error { return p.srv.stop(ctx) }

// Kill ends the server and its backends abruptly with SIGKILL, as a crash
// would, and waits for them to be gone. The data directory stays, for Start
// to recover. Killing a server that does not run does nothing.
func (p *Postgres) Kill() error { return p.srv.kill() }

// Start starts the server again after Stop or Kill, on the same port and
// data directory, and waits until it accepts logins or ctx is done. It does
// nothing if the server runs, and fails with ErrClosed after Close.
func (p *Postgres) Start(ctx context.Context) error { return p.srv.start(ctx) }

// Close stops the server, killing it if it has not stopped within 10 s, and
// removes its directory. Calling it again does nothing.
func (p *Postgres) Close() error { return p.srv.close() }

// Dir returns the server's private directory: data/, postgres.log and the
// unix socket. Close removes it.
func (p *Postgres) Dir() string { return p.srv.dir }

// PID returns the process id of the running postmaster, 0 when it is not
// running.
func (p *Postgres) PID() int { return p.srv.pid() }
