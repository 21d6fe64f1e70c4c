package localdb_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// skipShort leaves the server tests out under go test -short.
func skipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs MariaDB and PostgreSQL; run without -short")
	}
}

// testContext bounds a test's server operations.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// testLogger writes the launcher's events to the test output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// requireGone checks that a server closed for good: no process left in its
// process group, its directory removed and its port free to listen on.
func requireGone(t *testing.T, pid int, dir string, port int) {
	t.Helper()
	require.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "server process %d still exists", pid)
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.Empty(t, liveGroupMembers(pid), "processes left in the server's process group")
	_, err = os.Stat(dir)
	require.ErrorIs(t, err, fs.ErrNotExist, "server directory %s still exists", dir)
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	require.NoError(t, err, "port %d still taken", port)
	require.NoError(t, l.Close())
}

// liveGroupMembers lists the processes, zombies aside, in process group pgid.
func liveGroupMembers(pgid int) []string {
	var live []string
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) >= 3 && string(f[0]) != "Z" && string(f[2]) == strconv.Itoa(pgid) {
			live = append(live, string(b[:i+1]))
		}
	}
	return live
}

// requireExited checks that the process pid no longer runs.
func requireExited(t *testing.T, pid int) {
	t.Helper()
	require.NotZero(t, pid)
	require.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "process %d still runs", pid)
}
