//go:build unix

package proxy

import (
	"net"
	"syscall"
)

// peekSupported: idle connections can be probed without blocking.
const peekSupported = true

// peekClosed reports whether the peer closed c or sent bytes nobody asked
// for, with a non-blocking peek that leaves the bytes where they are (a
// read deadline in the past would not even try the read).
func peekClosed(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK || err == syscall.EINTR:
			// open, nothing to read
		case err != nil || n >= 0:
			closed = true // an error, the peer's close (0), or unasked bytes
		}
		return true // done: never wait for readiness
	})
	return closed || err != nil
}
