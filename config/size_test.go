package config

import "testing"

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"512", 512, true},
		{"512B", 512, true},
		{"64KiB", 64 << 10, true},
		{"1MiB", 1 << 20, true},
		{"1 MiB", 1 << 20, true},
		{"2GiB", 2 << 30, true},
		{"1KB", 1000, true},
		{"1MB", 1000000, true},
		{"1GB", 1000000000, true},
		{"8kib", 8 << 10, true},
		{"0", 0, true},
		{"-1", -1, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"1.5MiB", 0, false},
		{"1XB", 0, false},
		{"lots", 0, false},
		{"99999999999999999999", 0, false},
		{"9999999999999GiB", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
