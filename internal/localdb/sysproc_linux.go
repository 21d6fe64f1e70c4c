package localdb

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// sysProcAttr puts a server in its own process group, so that it and its
// children can be signalled together, and has the kernel kill it when the
// thread that started it dies, so that no server outlives a crashed test.
// (The Go runtime does not end its threads while the process lives, unless a
// goroutine locked to one exits.)
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
}

// groupAlive reports whether a process other than a zombie is left in the
// process group pgid. Zombies are skipped since orphans may never be reaped
// when the init process of a container does not reap them.
func groupAlive(pgid int) bool {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		fields := bytes.Fields(b[i+1:])
		if len(fields) < 3 || string(fields[0]) == "Z" {
			continue
		}
		if pg, err := strconv.Atoi(string(fields[2])); err == nil && pg == pgid {
			return true
		}
	}
	return false
}
