package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnits maps a unit suffix (compared case-insensitively) to its factor.
// KB, MB and GB are powers of 1000; KiB, MiB and GiB are powers of 1024.
var sizeUnits = []struct {
	name   string
	factor int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
	{"B", 1},
}

// ParseSize parses a byte size: a whole number with an optional unit, as in
// "512", "512B", "64KiB", "1MiB" or "1MB". KB/MB/GB are 1000-based and
// KiB/MiB/GiB 1024-based. Spaces between number and unit are allowed.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	factor := int64(1)
	for _, u := range sizeUnits {
		if len(t) > len(u.name) && strings.EqualFold(t[len(t)-len(u.name):], u.name) {
			factor = u.factor
			t = strings.TrimSpace(t[:len(t)-len(u.name)])
			break
		}
	}
	if t == "" {
		return 0, fmt.Errorf("invalid size %q: write a whole number of bytes with an optional unit, like 512, 64KiB or 1MiB", s)
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, fmt.Errorf("size %q is too large", s)
		}
		return 0, fmt.Errorf("invalid size %q: write a whole number of bytes with an optional unit (B, KB, MB, GB, KiB, MiB, GiB), like 512, 64KiB or 1MiB", s)
	}
	if n > math.MaxInt64/factor || n < math.MinInt64/factor {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * factor, nil
}
