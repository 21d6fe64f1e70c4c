package localdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrClosed is returned by Start and database operations on a server after
// Close.
var ErrClosed = errors.New("server closed")

const (
	// defaultStartTimeout bounds a start when ctx has no deadline.
	defaultStartTimeout = 2 * time.Minute
	// defaultStopTimeout bounds a graceful Stop when ctx has no deadline.
	defaultStopTimeout = 30 * time.Second
	// closeGrace is how long Close waits for a graceful stop before killing.
	closeGrace = 10 * time.Second
	// pingTimeout bounds one readiness attempt.
	pingTimeout = time.Second
	// logTailLines is how much of a server log start-up errors quote.
	logTailLines = 25
)

// server is the process machinery shared by MySQL and Postgres: one server
// process for one private directory, listening on a port that stays the same
// across restarts.
type server struct {
	kind    string // "mariadb" or "postgres", for messages
	dir     string
	logPath string
	logger  *slog.Logger
	cred    *syscall.Credential                       // nil: run as the current user
	stopSig syscall.Signal                            // asks for a graceful shutdown
	command func(port int) *exec.Cmd                  // a fresh command for each start
	ping    func(ctx context.Context, port int) error // nil once the server accepts a login

	port atomic.Int32 // changes only before the first start succeeds

	mu     sync.Mutex // held across start, stop and kill
	proc   *process
	closed bool
}

// process is one run of the server program.
type process struct {
	cmd      *exec.Cmd
	done     chan struct{} // closed once the process has been reaped
	err      error         // the Wait result, valid after done is closed
	logStart int64         // size of the log file before this run
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitError reports a server that exited while starting.
type exitError struct {
	kind    string
	err     error
	logTail string
}

func (e *exitError) Error() string {
	return fmt.Sprintf("%s exited during start-up (%v); end of its log:\n%s", e.kind, e.err, e.logTail)
}

func (e *exitError) Unwrap() error { return e.err }

// portInUse reports whether a start failed because another program holds
// the port.
func (e *exitError) portInUse() bool {
	return strings.Contains(e.logTail, "already in use") || strings.Contains(e.logTail, "could not bind") ||
		strings.Contains(e.logTail, "Do you already have another server running")
}

// oldBackendsLeft reports whether a PostgreSQL start failed because
// backends of the previous, killed postmaster still run.
func (e *exitError) oldBackendsLeft() bool {
	return strings.Contains(e.logTail, "pre-existing shared memory block")
}

// freePort asks the kernel for a free loopback TCP port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("picking a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startFirst starts the server for the first time on a free port, picking
// another one when some other program took the port in between.
func (s *server) startFirst(ctx context.Context) error {
	const attempts = 5
	var err error
	for range attempts {
		var port int
		if port, err = freePort(); err != nil {
			return err
		}
		s.mu.Lock()
		s.port.Store(int32(port))
		err = s.launchLocked(ctx)
		s.mu.Unlock()
		var ee *exitError
		if err == nil || !errors.As(err, &ee) || !ee.portInUse() {
			return err
		}
		s.logger.Warn("port taken during start-up; trying another", "server", s.kind, "port", port)
	}
	return err
}

// start (re)starts the server on its port; it does nothing when it runs.
func (s *server) start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("starting %s: %w", s.kind, ErrClosed)
	}
	if s.proc != nil && !s.proc.exited() {
		return nil
	}
	// After a kill, PostgreSQL's backends (each in a session of its own,
	// so not killed with the postmaster's group) take a moment to notice
	// and exit; until then a new postmaster refuses the data directory.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.launchLocked(ctx)
		var ee *exitError
		if err == nil || !errors.As(err, &ee) || !ee.oldBackendsLeft() || time.Now().After(deadline) {
			return err
		}
		s.logger.Info("old backends still hold the shared memory; starting again", "server", s.kind)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *server) launchLocked(ctx context.Context) error {
	begin := time.Now()
	logf, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening the %s log: %w", s.kind, err)
	}
	var logStart int64 // the tail quoted on failure starts at this run
	if fi, err := logf.Stat(); err == nil {
		logStart = fi.Size()
	}
	cmd := s.command(s.getPort())
	cmd.Dir = s.dir
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr(s.cred)
	err = cmd.Start()
	logf.Close() // the child has its own descriptor
	if err != nil {
		return fmt.Errorf("starting %s: %w", s.kind, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{}), logStart: logStart}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.proc = p
	if err := s.waitReady(ctx, p); err != nil {
		s.killLocked(p)
		return fmt.Errorf("starting %s on port %d: %w", s.kind, s.getPort(), err)
	}
	s.logger.Info("server ready", "server", s.kind, "port", s.getPort(), "pid", cmd.Process.Pid,
		"dir", s.dir, "elapsed", time.Since(begin).Round(time.Millisecond))
	return nil
}

// waitReady polls the server with a login until it succeeds, the process
// exits, or ctx is done.
func (s *server) waitReady(ctx context.Context, p *process) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}
	delay := 5 * time.Millisecond
	timer := time.NewTimer(0)
	defer timer.Stop()
	var last error
	for {
		select {
		case <-p.done:
			return &exitError{kind: s.kind, err: p.err, logTail: logTail(s.logPath, p.logStart)}
		case <-ctx.Done():
			return fmt.Errorf("waiting for connections (last attempt: %v): %w; end of its log:\n%s",
				last, ctx.Err(), logTail(s.logPath, p.logStart))
		case <-timer.C:
		}
		attempt, cancel := context.WithTimeout(ctx, pingTimeout)
		last = s.ping(attempt, s.getPort())
		cancel()
		if last == nil {
			return nil
		}
		timer.Reset(delay)
		delay = min(delay*2, 100*time.Millisecond)
	}
}

// stopLocked asks the server to shut down and waits until it has, or kills
// it when ctx is done first.
func (s *server) stopLocked(ctx context.Context) error {
	p := s.proc
	if p == nil || p.exited() {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStopTimeout)
		defer cancel()
	}
	if err := p.cmd.Process.Signal(s.stopSig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.killLocked(p)
		return fmt.Errorf("stopping %s: %w", s.kind, err)
	}
	select {
	case <-p.done:
		waitGroupGone(p.cmd.Process.Pid)
		s.logger.Info("server stopped", "server", s.kind, "port", s.getPort())
		return nil
	case <-ctx.Done():
		s.killLocked(p)
		return fmt.Errorf("stopping %s: no graceful shutdown in time, killed it: %w", s.kind, ctx.Err())
	}
}

// killLocked sends SIGKILL to the server's process group and waits for it
// to be gone.
func (s *server) killLocked(p *process) {
	if p == nil || p.exited() {
		return
	}
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-p.done
	waitGroupGone(pid)
	s.logger.Info("server killed", "server", s.kind, "port", s.getPort())
}

// waitGroupGone waits, briefly, until no live process is left in the
// process group pgid: a restarted PostgreSQL refuses to start while old
// backends still hold its shared memory.
func waitGroupGone(pgid int) {
	deadline := time.Now().Add(5 * time.Second)
	delay := time.Millisecond
	for groupAlive(pgid) && time.Now().Before(deadline) {
		time.Sleep(delay)
		delay = min(delay*2, 50*time.Millisecond)
	}
}

func (s *server) stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked(ctx)
}

func (s *server) kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killLocked(s.proc)
	return nil
}

// close stops the server, killing it after closeGrace, and removes its
// directory. Later calls do nothing.
func (s *server) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
	defer cancel()
	if err := s.stopLocked(ctx); err != nil {
		s.logger.Warn("closing server", "server", s.kind, "err", err)
	}
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("removing the %s directory: %w", s.kind, err)
	}
	return nil
}

func (s *server) getPort() int { return int(s.port.Load()) }

func (s *server) pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || s.proc.exited() {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

func (s *server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// logTail returns the last lines of the log file at path, written after
// offset from.
func logTail(path string, from int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	defer f.Close()
	const maxBytes = 8 << 10
	if fi, err := f.Stat(); err == nil {
		_, _ = f.Seek(max(from, fi.Size()-maxBytes), io.SeekStart)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	return strings.Join(lines, "\n")
}

// runLogged runs a set-up program (initdb, mariadb-install-db) with its
// output in logPath, quoting the end of that log when it fails. The program
// runs in its own process group, killed as a whole when ctx is done.
func runLogged(ctx context.Context, cmd *exec.Cmd, logPath string, cred *syscall.Credential) error {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening %s: %w", logPath, err)
	}
	defer logf.Close()
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr(cred)
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return fmt.Errorf("running %s: %w; end of its output:\n%s", cmd.Path, err, logTail(logPath, 0))
	}
	return nil
}
