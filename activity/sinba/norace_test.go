//go:build !race

package sinba_test

const raceEnabled = false
