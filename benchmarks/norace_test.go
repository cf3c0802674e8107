//go:build !race

package benchmarks

import "context"

const raceEnabled = false

type contextT = context.Context
