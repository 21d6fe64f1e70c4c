package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the CPU times in /proc/<pid>/stat (USER_HZ,
// 100 on Linux).
const clockTick = 10 * time.Millisecond

// procCPU is the CPU time of process pid: its own (utime, stime) and, with
// reaped, that of its children it has waited for (cutime, cstime); ppid is
// its parent. ok is false when the process is gone.
func procCPU(pid int, reaped bool) (cpu time.Duration, ppid int, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// f[0] is field 3 (state): ppid is field 4, utime..cstime 14..17.
	if len(f) < 15 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	n := 2
	if reaped {
		n = 4
	}
	var ticks int64
	for _, x := range f[11 : 11+n] {
		t, _ := strconv.ParseInt(x, 10, 64)
		ticks += t
	}
	return time.Duration(ticks) * clockTick, ppid, true
}

// treeCPU is the CPU time a server process and all its children have used
// so far, exited children included once the server has reaped them (a
// PostgreSQL backend is a child of the postmaster; MariaDB is one process).
func treeCPU(pid int) time.Duration {
	total, _, _ := procCPU(pid, true)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		if cpu, ppid, ok := procCPU(child, false); ok && ppid == pid {
			total += cpu
		}
	}
	return total
}
