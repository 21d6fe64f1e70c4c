//go:build !unix

package proxy

import "net"

// peekClosed cannot look without blocking here: an idle connection counts
// as open, and a request on one the upstream closed fails as it would
// through net/http's transport in the same race.
func peekClosed(net.Conn) bool { return false }
