package config

import (
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	env := map[string]string{"A": "alpha", "EMPTY": ""}
	look := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		in, want string
		err      string // substring of the only message; "" for none
	}{
		{"plain", "plain", ""},
		{"${A}", "alpha", ""},
		{"x-${A}-y", "x-alpha-y", ""},
		{"${MISSING:-def}", "def", ""},
		{"${EMPTY:-def}", "def", ""},
		{"${A:-def}", "alpha", ""},
		{"${MISSING:-}", "", ""},
		{"${EMPTY}", "", ""},
		{"$$", "$", ""},
		{"$${A}", "${A}", ""},
		{"pa$word", "pa$word", ""},
		{"cost: 5$", "cost: 5$", ""},
		{"${MISSING}", "", "environment variable MISSING is not set"},
		{"${A", "${A", "unterminated"},
		{"${}", "", "invalid variable reference"},
		{"${A B}", "", "invalid variable reference"},
		{"${1A}", "", "invalid variable reference"},
	}
	for _, tt := range tests {
		got, errs := expand(tt.in, look)
		if tt.err == "" {
			if len(errs) != 0 || got != tt.want {
				t.Errorf("expand(%q) = %q, %v; want %q", tt.in, got, errs, tt.want)
			}
			continue
		}
		if len(errs) != 1 || !strings.Contains(errs[0], tt.err) {
			t.Errorf("expand(%q) errors = %v; want one containing %q", tt.in, errs, tt.err)
		}
	}
	if _, errs := expand("${X}${Y}", look); len(errs) != 2 {
		t.Errorf("two unset variables: got %v", errs)
	}
}

func TestEnvInConfig(t *testing.T) {
	src := []byte(`version: ${VERSION:-1}
listen: "${HOST:-127.0.0.1}:${PORT}"
limits: {max_pending: "${PENDING:-8}"}
backends: {demo: {dialect: demo}}
routes: [{path: /a, dialect: plain, auth: none, backend: demo}]
`)
	env := map[string]string{"PORT": "9999"}
	f, err := parse("t.yaml", src, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, testDialects)
	if err != nil {
		t.Fatal(err)
	}
	if f.Listen != "127.0.0.1:9999" || f.Limits.MaxPending != 8 || f.Version != 1 {
		t.Errorf("got listen %q, max_pending %d, version %d", f.Listen, f.Limits.MaxPending, f.Version)
	}

	delete(env, "PORT")
	_, err = parse("t.yaml", src, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, testDialects)
	want := "t.yaml:2:9: listen: environment variable PORT is not set (export it, or write ${PORT:-default} to give a default)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

func TestParseUsesProcessEnv(t *testing.T) {
	t.Setenv("AB_TEST_LISTEN", "127.0.0.1:7000")
	f, err := Parse("t.yaml", []byte(`version: 1
listen: ${AB_TEST_LISTEN}
backends: {demo: {dialect: demo}}
routes: [{path: /a, dialect: plain, auth: none, backend: demo}]
`), testDialects)
	if err != nil {
		t.Fatal(err)
	}
	if f.Listen != "127.0.0.1:7000" {
		t.Errorf("listen = %q", f.Listen)
	}
}
