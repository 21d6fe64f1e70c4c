//go:build race

package compare_test

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// pooled buffers are allocated again.
const raceEnabled = true
