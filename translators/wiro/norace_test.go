//go:build !race

package wiro_test

const raceEnabled = false
