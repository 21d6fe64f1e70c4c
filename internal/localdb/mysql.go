package localdb

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
)

// mariadbPIDFile is where mariadbd writes its PID, inside the server directory.
const mariadbPIDFile = "mariadbd.pid"

// mariadbInnoDBLogSize is the redo log size; the template is built with the
// same size so that a server does not resize it on its first start.
const mariadbInnoDBLogSize = "48M"

// mariadbInitSQL runs once at install time: it removes the root accounts
// named after the host name, which --skip-name-resolve would only warn about.
const mariadbInitSQL = `DELETE FROM mysql.global_priv WHERE Host NOT IN ('localhost', '127.0.0.1', '::1');
DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost', '127.0.0.1', '::1');
`

// MySQLOptions configures StartMySQL. The zero value starts a server without
// a binary log; start from DefaultMySQLOptions for one that change-data
// capture can read.
type MySQLOptions struct {
	// Binlog turns on the binary log the way change-data capture needs it:
	// ROW format, FULL row image, FULL row metadata, --log-slave-updates.
	// Default (DefaultMySQLOptions): true. False starts with --skip-log-bin.
	Binlog bool
	// ServerID is the server's @@server_id. Zero means 1.
	ServerID uint32
	// ExtraArgs are appended to the mariadbd command line after the
	// defaults, so they override them, for example "--max-connections=50".
	// Nil means none.
	ExtraArgs []string
	// Logger receives start, stop and readiness events. Nil discards them.
	Logger *slog.Logger
}

// DefaultMySQLOptions returns the options of a server with the binary log
// on, server id 1.
func DefaultMySQLOptions() MySQLOptions {
	return MySQLOptions{Binlog: true}
}

// MySQL is a throwaway MariaDB server on 127.0.0.1. Its user root has no
// password and all privileges. Its methods are safe for concurrent use.
type MySQL struct {
	srv  *server
	bin  mariadbBinaries
	opts MySQLOptions
}

// StartMySQL creates a MariaDB data directory in a new temporary directory,
// starts mariadbd on a free port and waits until it accepts logins, or ctx
// is done (two minutes without a deadline). Close it when done.
func StartMySQL(ctx context.Context, opts MySQLOptions) (*MySQL, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ServerID == 0 {
		opts.ServerID = 1
	}
	opts.ExtraArgs = append([]string(nil), opts.ExtraArgs...)
	bin, err := findMariaDB()
	if err != nil {
		return nil, fmt.Errorf("starting MariaDB: %w", err)
	}
	dir, err := newInstanceDir(opts.Logger)
	if err != nil {
		return nil, fmt.Errorf("starting MariaDB: %w", err)
	}
	m := &MySQL{bin: bin, opts: opts}
	m.srv = &server{
		kind:    "mariadb",
		dir:     dir,
		logPath: filepath.Join(dir, "error.log"),
		logger:  opts.Logger,
		stopSig: syscall.SIGTERM,
		command: m.command,
		ping:    m.ping,
	}
	if err := m.prepare(ctx); err != nil {
		return nil, fmt.Errorf("starting MariaDB: %w", errorsJoinClose(err, m.srv))
	}
	if err := m.srv.startFirst(ctx); err != nil {
		return nil, errorsJoinClose(err, m.srv)
	}
	return m, nil
}

// prepare fills the server directory: data (from the template), tmp.
func (m *MySQL) prepare(ctx context.Context) error {
	stamp, err := binaryStamp(m.bin.server)
	if err != nil {
		return err
	}
	key := templateKey("mariadb", stamp, m.bin.install, mariadbInnoDBLogSize, strconv.Itoa(os.Geteuid()))
	dataDir := filepath.Join(m.srv.dir, "data")
	if err := prepareData(ctx, m.srv, key, dataDir, -1, -1, m.install); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(m.srv.dir, "tmp"), 0o700); err != nil {
		return fmt.Errorf("creating the tmp directory: %w", err)
	}
	return nil
}

// install runs mariadb-install-db into dataDir; workDir takes its log.
func (m *MySQL) install(ctx context.Context, dataDir, workDir string) error {
	sqlPath := filepath.Join(workDir, "init.sql")
	if err := os.WriteFile(sqlPath, []byte(mariadbInitSQL), 0o600); err != nil {
		return fmt.Errorf("writing the install script: %w", err)
	}
	defer os.Remove(sqlPath)
	args := []string{
		"--no-defaults", // must come first
		"--datadir=" + dataDir,
		"--basedir=" + filepath.Dir(filepath.Dir(m.bin.server)),
		"--auth-root-authentication-method=normal",
		"--skip-test-db",
		"--innodb-log-file-size=" + mariadbInnoDBLogSize,
		"--extra-file=" + sqlPath,
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	cmd := exec.CommandContext(ctx, m.bin.install, args...)
	cmd.Dir = workDir
	logPath := filepath.Join(workDir, "install.log")
	defer os.Remove(logPath)
	if err := runLogged(ctx, cmd, logPath, nil); err != nil {
		return fmt.Errorf("initialising the MariaDB data directory: %w", err)
	}
	return nil
}

// command builds the mariadbd command line for port.
func (m *MySQL) command(port int) *exec.Cmd {
	d := m.srv.dir
	args := []string{
		"--no-defaults", // must come first: no /etc/mysql settings
		"--datadir=" + filepath.Join(d, "data"),
		"--tmpdir=" + filepath.Join(d, "tmp"),
		"--socket=" + filepath.Join(d, "mysql.sock"),
		"--pid-file=" + filepath.Join(d, mariadbPIDFile),
		"--log-error=" + m.srv.logPath,
		"--bind-address=127.0.0.1",
		"--port=" + strconv.Itoa(port),
		"--skip-name-resolve",
		"--innodb-buffer-pool-size=64M",
		"--innodb-log-file-size=" + mariadbInnoDBLogSize,
		"--innodb-flush-log-at-trx-commit=2",
		"--sync-binlog=0",
		"--character-set-server=utf8mb4",
		"--collation-server=utf8mb4_general_ci",
		"--max-connections=500",
		"--server-id=" + strconv.FormatUint(uint64(m.opts.ServerID), 10),
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	if m.opts.Binlog {
		args = append(args,
			"--log-bin="+filepath.Join(d, "binlog"),
			"--binlog-format=ROW",
			"--binlog-row-image=FULL",
			"--binlog-row-metadata=FULL",
			"--log-slave-updates",
		)
	} else {
		args = append(args, "--skip-log-bin")
	}
	args = append(args, m.opts.ExtraArgs...)
	return exec.Command(m.bin.server, args...)
}

// rootConfig is the driver configuration of a root login to database.
func rootConfig(port int, database string) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.User = "root"
	cfg.Net = "tcp"
	cfg.Addr = "127.0.0.1:" + strconv.Itoa(port)
	cfg.DBName = database
	cfg.Timeout = pingTimeout
	return cfg
}

// ping logs in and checks that the server answering is this one, not some
// other server that took the port while this one was stopped.
func (m *MySQL) ping(ctx context.Context, port int) error {
	connector, err := mysql.NewConnector(rootConfig(port, ""))
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	var dataDir string
	if err := db.QueryRowContext(ctx, "SELECT @@datadir").Scan(&dataDir); err != nil {
		return err
	}
	if want := filepath.Join(m.srv.dir, "data"); filepath.Clean(dataDir) != want {
		return fmt.Errorf("port %d is served from %s, not %s", port, dataDir, want)
	}
	return nil
}

// exec runs one statement as root.
func (m *MySQL) exec(ctx context.Context, stmt string) error {
	if m.srv.isClosed() {
		return ErrClosed
	}
	connector, err := mysql.NewConnector(rootConfig(m.Port(), ""))
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	_, err = db.ExecContext(ctx, stmt)
	return err
}

// quoteMySQL quotes an identifier for MariaDB.
func quoteMySQL(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// Port returns the TCP port the server listens on, on 127.0.0.1. It stays
// the same across Stop and Start.
func (m *MySQL) Port() int { return m.srv.getPort() }

// DSN returns a go-sql-driver DSN for root to database (empty for none), with
// parseTime and multiStatements on.
func (m *MySQL) DSN(database string) string {
	return fmt.Sprintf("root@tcp(127.0.0.1:%d)/%s?parseTime=true&multiStatements=true", m.Port(), url.PathEscape(database))
}

// URL returns a mysql:// URL for root to database (empty for none), the form
// strangler.yaml uses.
func (m *MySQL) URL(database string) string {
	return fmt.Sprintf("mysql://root@127.0.0.1:%d/%s", m.Port(), url.PathEscape(database))
}

// CreateDatabase creates the database name; it fails if it exists.
func (m *MySQL) CreateDatabase(ctx context.Context, name string) error {
	if name == "" {
		return fmt.Errorf("creating a MariaDB database: empty name")
	}
	if err := m.exec(ctx, "CREATE DATABASE "+quoteMySQL(name)); err != nil {
		return fmt.Errorf("creating MariaDB database %q: %w", name, err)
	}
	return nil
}

// DropDatabase drops the database name if it exists.
func (m *MySQL) DropDatabase(ctx context.Context, name string) error {
	if name == "" {
		return fmt.Errorf("dropping a MariaDB database: empty name")
	}
	if err := m.exec(ctx, "DROP DATABASE IF EXISTS "+quoteMySQL(name)); err != nil {
		return fmt.Errorf("dropping MariaDB database %q: %w", name, err)
	}
	return nil
}

// Stop shuts the server down gracefully (SIGTERM) and waits for it to exit.
// If ctx is done first (after 30 s without a deadline) it kills the server
// and says so. The data directory stays and Start brings the server back on
// the same port. Stopping a stopped server does nothing.
func (m *MySQL) Stop(ctx context.Context) error { return m.srv.stop(ctx) }

// Kill ends the server abruptly with SIGKILL, as a crash would, and waits
// for it to be gone. The data directory stays, for Start to recover. Killing
// a server that does not run does nothing.
func (m *MySQL) Kill() error { return m.srv.kill() }

// Start starts the server again after Stop or Kill, on the same port and
// data directory, and waits until it accepts logins or ctx is done. It does
// nothing if the server runs, and fails with ErrClosed after Close.
func (m *MySQL) Start(ctx context.Context) error { return m.srv.start(ctx) }

// Close stops the server, killing it if it has not stopped within 10 s, and
// removes its directory. Calling it again does nothing.
func (m *MySQL) Close() error { return m.srv.close() }

// Dir returns the server's private directory: data/, binlog.*, error.log,
// mysql.sock. Close removes it.
func (m *MySQL) Dir() string { return m.srv.dir }

// PID returns the process id of the running server, 0 when it is not running.
func (m *MySQL) PID() int { return m.srv.pid() }

// errorsJoinClose closes a server that failed to start, adding any error
// from that to err.
func errorsJoinClose(err error, s *server) error {
	if cerr := s.close(); cerr != nil {
		return fmt.Errorf("%w (and cleaning up: %w)", err, cerr)
	}
	return err
}
