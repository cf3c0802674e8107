//go:build race

package benchmarks

import "context"

const raceEnabled = true

type contextT = context.Context
