//go:build race

package sinba_test

// The race detector slows encoding/xml about tenfold: memory tests read
// smaller flows under it.
const raceEnabled = true
