//go:build !unix

package control

// lockFile is a no-op where advisory locks are not available: writers in one
// process are still serialised by the store's mutex.
func lockFile(string) (func(), error) { return func() {}, nil }
