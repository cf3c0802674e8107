package translators_test

import (
	"testing"

	"github.com/agentbridge/agentbridge/translators"
)

func TestReserve(t *testing.T) {
	for _, c := range []struct {
		name             string
		len, cap, n, min int
		wantCap          int
	}{
		{"room enough", 10, 100, 90, 1024, 100},
		{"empty, min", 0, 0, 5, 1024, 1024},
		{"doubles", 1024, 1024, 1, 1024, 2048},
		{"more than double", 1024, 1024, 4096, 64, 5120},
	} {
		b := make([]byte, c.len, c.cap)
		for i := range b {
			b[i] = byte(i)
		}
		got := translators.Reserve(b, c.n, c.min)
		if cap(got) != c.wantCap || len(got) != c.len {
			t.Errorf("%s: len %d cap %d, want len %d cap %d", c.name, len(got), cap(got), c.len, c.wantCap)
		}
		for i := range got {
			if got[i] != byte(i) {
				t.Fatalf("%s: byte %d not kept", c.name, i)
			}
		}
	}
}
