package localdb

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsPIDFile is where nats-server writes its PID, inside the server
// directory.
const natsPIDFile = "nats-server.pid"

// NATSOptions configures StartNATS. The zero value starts a server without
// JetStream; start from DefaultNATSOptions for one that streams and durable
// consumers (recipe events and subscriptions) can use.
type NATSOptions struct {
	// JetStream turns JetStream on, its storage in the server's directory.
	// Default (DefaultNATSOptions): true. False starts core NATS alone.
	JetStream bool
	// ExtraArgs are appended to the nats-server command line after the
	// defaults, for example "-D" for debug logs. Nil means none.
	ExtraArgs []string
	// Logger receives start, stop and readiness events. Nil discards them.
	Logger *slog.Logger
}

// DefaultNATSOptions returns the options of a server with JetStream on.
func DefaultNATSOptions() NATSOptions {
	return NATSOptions{JetStream: true}
}

// NATS is a throwaway nats-server on 127.0.0.1, without authentication. Its
// methods are safe for concurrent use.
type NATS struct {
	srv  *server
	bin  string
	name string // the server name, which readiness checks
	opts NATSOptions
}

// StartNATS starts nats-server (found on PATH or in the usual system
// directories) on a free port, with its JetStream storage in a new temporary
// directory, and waits until it accepts connections (and, with JetStream,
// answers JetStream requests), or ctx is done (two minutes without a
// deadline). Close it when done.
func StartNATS(ctx context.Context, opts NATSOptions) (*NATS, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.ExtraArgs = append([]string(nil), opts.ExtraArgs...)
	bin, err := findProgram([]string{"nats-server"}, []string{"/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/usr/bin"})
	if err != nil {
		return nil, fmt.Errorf("starting NATS: looking for nats-server: %w", err)
	}
	dir, err := newInstanceDir(opts.Logger)
	if err != nil {
		return nil, fmt.Errorf("starting NATS: %w", err)
	}
	n := &NATS{bin: bin, name: "localdb-" + filepath.Base(dir), opts: opts}
	n.srv = &server{
		kind:    "nats",
		dir:     dir,
		logPath: filepath.Join(dir, "nats-server.log"),
		logger:  opts.Logger,
		stopSig: syscall.SIGTERM,
		command: n.command,
		ping:    n.ping,
	}
	if err := os.Mkdir(filepath.Join(dir, "jetstream"), 0o700); err != nil {
		return nil, fmt.Errorf("starting NATS: creating the JetStream directory: %w", errorsJoinClose(err, n.srv))
	}
	if err := n.srv.startFirst(ctx); err != nil {
		return nil, errorsJoinClose(err, n.srv)
	}
	return n, nil
}

// command builds the nats-server command line for port.
func (n *NATS) command(port int) *exec.Cmd {
	d := n.srv.dir
	args := []string{
		"-a", "127.0.0.1",
		"-p", strconv.Itoa(port),
		"-n", n.name,
		"-P", filepath.Join(d, natsPIDFile),
	}
	if n.opts.JetStream {
		args = append(args, "-js", "-sd", filepath.Join(d, "jetstream"))
	}
	args = append(args, n.opts.ExtraArgs...)
	return exec.Command(n.bin, args...)
}

// ping connects and checks that the server answering is this one (by its
// name), and that JetStream answers when it is on.
func (n *NATS) ping(ctx context.Context, port int) error {
	nc, err := nats.Connect(natsURL(port), nats.Timeout(pingTimeout), nats.NoReconnect(), nats.Name("localdb readiness"))
	if err != nil {
		return err
	}
	defer nc.Close()
	if got := nc.ConnectedServerName(); got != n.name {
		return fmt.Errorf("port %d is served by NATS server %q, not %q", port, got, n.name)
	}
	if !n.opts.JetStream {
		return nil
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	_, err = js.AccountInfo(ctx)
	return err
}

func natsURL(port int) string { return "nats://127.0.0.1:" + strconv.Itoa(port) }

// Port returns the TCP port the server listens on, on 127.0.0.1. It stays
// the same across Stop and Start.
func (n *NATS) Port() int { return n.srv.getPort() }

// URL returns the server's nats:// URL, the form recipes' nats_url takes.
func (n *NATS) URL() string { return natsURL(n.Port()) }

// Stop shuts the server down (SIGTERM) and waits for it to exit. If ctx is
// done first (after 30 s without a deadline) it kills the server and says
// so. The JetStream storage stays and Start brings the server back on the
// same port, with its streams. Stopping a stopped server does nothing.
func (n *NATS) Stop(ctx context.Context) error { return n.srv.stop(ctx) }

// Kill ends the server abruptly with SIGKILL, as a crash would, and waits
// for it to be gone. Killing a server that does not run does nothing.
func (n *NATS) Kill() error { return n.srv.kill() }

// Start starts the server again after Stop or Kill, on the same port and
// storage, and waits until it answers or ctx is done. It does nothing if the
// server runs, and fails with ErrClosed after Close.
func (n *NATS) Start(ctx context.Context) error { return n.srv.start(ctx) }

// Close stops the server, killing it if it has not stopped within 10 s, and
// removes its directory. Calling it again does nothing.
func (n *NATS) Close() error { return n.srv.close() }

// Dir returns the server's private directory: jetstream/, nats-server.log
// and its PID file. Close removes it.
func (n *NATS) Dir() string { return n.srv.dir }

// PID returns the process id of the running server, 0 when it is not
// running.
func (n *NATS) PID() int { return n.srv.pid() }
