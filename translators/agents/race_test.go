//go:build race

package agents_test

// raceEnabled: under the race detector sync.Pool drops a quarter of what
// is put back, at random, so the codec's pooled parsers and buffers are
// made again and allocation counts mean nothing.
const raceEnabled = true
