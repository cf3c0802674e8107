//go:build race

package e2e

// raceEnabled: the suite runs with -race, so TestMain builds the proxy with
// -race too and a data race in it fails the test that started it.
const raceEnabled = true
