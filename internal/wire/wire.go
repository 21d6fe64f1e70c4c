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
	if len(name) < len(InternalPrefix) {
		return false
	}
	for i := 0; i < len(InternalPrefix); i++ {
		c := name[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c = '-'
		}
		want := InternalPrefix[i]
		if 'A' <= want && want <= 'Z' {
			want += 'a' - 'A'
		}
		if c != want {
			return false
		}
	}
	return true
}
