//go:build !unix

package control

import "errors"

// lockFile is a no-op where advisory locks are not available: writers in one
// process are still serialised by the store's mutex.
func lockFile(string) (func(), error) { return func() {}, nil }

// errLocked is tryLockFile's answer when another process holds the lock.
var errLocked = errors.New("locked by another process")

// tryLockFile always takes the lock where advisory locks are not available:
// every process leads its own rollouts.
func tryLockFile(string) (func(), error) { return func() {}, nil }
