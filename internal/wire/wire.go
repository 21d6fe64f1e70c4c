// Package wire names the headers the facade and the services behind it
// exchange, so that the facade (proxy) and the recipe runtime (recipes),
// which must not import each other, share one definition.
package wire

const (
	// InternalPrefix starts the name of every internal header. The facade
	// strips every header with this prefix (in any case) from client
	// requests before it matches, captures or forwards them, so that only
	// the facade itself can set one.
	InternalPrefix = "X-Strangler-"
	// Shadow: 1 marks a shadow copy of an unsafe request. A service
	// honours it by rolling its transaction back: no side effect, no event.
	Shadow = "X-Strangler-Shadow"
	// DryRun: 1 is set on a service's answer to a request it rolled back.
	DryRun = "X-Strangler-Dry-Run"
)

// IsInternal reports whether a header name starts with InternalPrefix, in
// any case and with '_' taken for '-' (CGI-style servers read
// X_Strangler_Shadow as X-Strangler-Shadow).
func IsInternal(name string) bool {
	return len(name) >= len(internalFolded) && FoldedEqual(name[:len(internalFolded)], internalFolded)
}

// internalFolded is InternalPrefix as FoldHeader writes it.
const internalFolded = "x-strangler-"

// FoldHeader writes a header name the way FoldedEqual compares it: lower
// case, '_' read as '-'.
func FoldHeader(name string) string {
	b := []byte(name)
	for i, c := range b {
		b[i] = foldByte(c)
	}
	return string(b)
}

// FoldedEqual reports whether name, folded (FoldHeader), is folded, without
// allocating.
func FoldedEqual(name, folded string) bool {
	if len(name) != len(folded) {
		return false
	}
	for i := 0; i < len(name); i++ {
		if foldByte(name[i]) != folded[i] {
			return false
		}
	}
	return true
}

func foldByte(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	case c == '_':
		return '-'
	}
	return c
}
