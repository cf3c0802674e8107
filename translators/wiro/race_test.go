//go:build race

package wiro_test

// raceEnabled: under the race detector sync.Pool drops a quarter of what
// is put back, at random, so the pooled parsers are made again and
// allocation counts mean nothing.
const raceEnabled = true
