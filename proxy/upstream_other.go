//go:build !unix

package proxy

import "net"

// peekSupported is false here: an idle connection cannot be looked at
// without blocking, so the facade's own client would not see bytes an
// upstream wrote on it while idle. Every request goes to net/http's
// transport, whose reader goroutine watches idle connections.
const peekSupported = false

func peekClosed(net.Conn) bool { return false }
