package config

import (
	"errors"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics and that a failure is always a
// non-empty *Error whose problems name the file.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, path := range files {
		f.Add(mustRead(f, path))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parse("fuzz.yaml", data, lookup, testDialects)
		if err == nil {
			if cfg == nil || cfg.Version != 1 || len(cfg.Routes) == 0 {
				t.Fatalf("nil error but incomplete File: %+v", cfg)
			}
			_ = cfg.Redacted()
			return
		}
		var e *Error
		if !errors.As(err, &e) || len(e.Problems) == 0 {
			t.Fatalf("error is not a non-empty *Error: %#v", err)
		}
		for _, p := range e.Problems {
			if p.File != "fuzz.yaml" || p.Msg == "" {
				t.Fatalf("bad problem %#v", p)
			}
		}
	})
}
