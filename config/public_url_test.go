package config

import (
	"strings"
	"testing"
)

func TestPublicURL(t *testing.T) {
	const rest = "backends:\n  d: {dialect: demo}\nroutes:\n  - {path: /a, dialect: plain, auth: none, backend: d}\n"
	load := func(line string) (*File, error) {
		return parse("p.yaml", []byte("version: 1\n"+line+rest), lookup, testDialects)
	}
	for _, ok := range []string{"https://agents.example.com", "http://127.0.0.1:8080/prefix"} {
		f, err := load("public_url: " + ok + "\n")
		if err != nil || f.PublicURL != ok {
			t.Errorf("public_url %s: %v, %q", ok, err, f.PublicURL)
		}
	}
	if f, err := load(""); err != nil || f.PublicURL != "" {
		t.Errorf("no public_url: %v, %q", err, f.PublicURL)
	}
	for _, bad := range []string{"ftp://agents.example.com", "agents.example.com", "https://user:pw@agents.example.com", "https://agents.example.com/?k=v", "https://agents.example.com/#f"} {
		if _, err := load("public_url: \"" + bad + "\"\n"); err == nil || !strings.Contains(err.Error(), "public_url") {
			t.Errorf("public_url %s: %v, want a problem at public_url", bad, err)
		}
	}
}
