//go:build unix && !linux

package localdb

import "syscall"

// sysProcAttr puts a server in its own process group, so that it and its
// children can be signalled together. Outside Linux there is no parent-death
// signal: a server may outlive a test binary that crashes.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred}
}

// groupAlive reports whether a process is left in the process group pgid.
func groupAlive(pgid int) bool {
	return syscall.Kill(-pgid, 0) == nil
}
