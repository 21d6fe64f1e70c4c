package localdb

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// instancePrefix starts the name of every server directory. It is short
// because unix socket paths live inside and must stay under ~100 bytes.
const instancePrefix = "sdb"

// ownerFile, in a server directory, holds the PID of the process that
// created it; directories whose owner and server are gone are removed.
const ownerFile = ".localdb-owner"

var sweepOnce sync.Once

// newInstanceDir creates the private directory of a new server, after
// removing (once per process) the directories of earlier runs that died
// without cleaning up.
func newInstanceDir(logger *slog.Logger) (string, error) {
	sweepOnce.Do(func() { sweepStale(logger) })
	dir, err := os.MkdirTemp("", instancePrefix)
	if err != nil {
		return "", fmt.Errorf("creating a server directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("writing the owner of %s: %w", dir, err)
	}
	return dir, nil
}

// sweepStale removes server directories whose owner process is gone and
// whose server is not running.
func sweepStale(logger *slog.Logger) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), instancePrefix+"*"))
	for _, dir := range dirs {
		owner, ok := readPID(filepath.Join(dir, ownerFile))
		if !ok || owner == os.Getpid() || processAlive(owner) {
			continue
		}
		if pid, ok := readPID(filepath.Join(dir, mariadbPIDFile)); ok && processAlive(pid) {
			continue
		}
		if pid, ok := readPID(filepath.Join(dir, "data", "postmaster.pid")); ok && processAlive(pid) {
			continue
		}
		if pid, ok := readPID(filepath.Join(dir, natsPIDFile)); ok && processAlive(pid) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			logger.Debug("removing a stale server directory", "dir", dir, "err", err)
			continue
		}
		logger.Debug("removed a stale server directory", "dir", dir, "owner", owner)
	}
}

// readPID reads the PID on the first line of path.
func readPID(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	return pid, err == nil && pid > 0
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
