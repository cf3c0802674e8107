package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/config"
	"github.com/agentbridge/agentbridge/translators"
)

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "version: 1\nbackends: {demo: {dialect: demo}}\nroutes:\n  - {path: /a, dialect: plain, auth: none, backend: demo}\n")
	noAuth := write("noauth.yaml", "version: 1\nbackends: {demo: {dialect: demo}}\nroutes:\n  - {path: /a, dialect: plain, backend: demo}\n")
	badKey := write("badkey.yaml", "version: 1\nauth: {sso: {type: jwt, algorithms: [RS256], key_files: [/nonexistent.pem]}}\nbackends: {demo: {dialect: demo}}\nroutes:\n  - {path: /a, dialect: wiro, auth: [sso], backend: demo}\n")
	tests := []struct {
		name string
		args []string
		code int
		out  string // substring of stdout+stderr
	}{
		{"repo config", []string{"validate", "-config", "../../config.yaml"}, 0, "ok (3 routes, 1 backends)"},
		{"good", []string{"validate", "-config", good}, 0, "ok"},
		{"missing auth names its line", []string{"validate", "-config", noAuth}, 1, "noauth.yaml:4:"},
		{"unreadable key file", []string{"validate", "-config", badKey}, 1, `auth provider "sso" (line 2)`},
		{"missing file", []string{"validate", "-config", filepath.Join(dir, "nope.yaml")}, 1, "no such file"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"stray argument", []string{"validate", "extra"}, 2, "unexpected argument"},
		{"version", []string{"version"}, 0, "agentbridge dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			code := run(context.Background(), tt.args, &out, &out)
			if code != tt.code || !strings.Contains(out.String(), tt.out) {
				t.Errorf("run(%q) = %d, output %q; want %d containing %q", tt.args, code, out.String(), tt.code, tt.out)
			}
		})
	}
}

// TestBuildReplyModes: plain routes choose with reply:, Connic routes with
// session.streaming (a bug once made every route whole).
func TestBuildReplyModes(t *testing.T) {
	f, err := config.Parse("t.yaml", []byte(`version: 1
backends: {demo: {dialect: demo}}
routes:
  - {name: p, path: /p, dialect: plain, auth: none, backend: demo}
  - {name: ps, path: /ps, dialect: plain, auth: none, backend: demo, reply: stream}
  - {name: c, path: /c, dialect: connic, auth: none, backend: demo}
  - {name: cw, path: /cw, dialect: connic, auth: none, backend: demo, session: {streaming: false, max_messages: -1}}
`), dialects)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := build(f, dialects, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]translators.ReplyMode{"p": translators.ReplyWhole, "ps": translators.ReplyStream, "c": translators.ReplyStream, "cw": translators.ReplyWhole}
	for _, rt := range pc.Routes {
		if rt.ClientOptions.Reply != want[rt.Name] {
			t.Errorf("route %s: reply mode %v, want %v", rt.Name, rt.ClientOptions.Reply, want[rt.Name])
		}
		if rt.Name == "cw" && rt.Session.MaxMessages != -1 {
			t.Errorf("max_messages: -1 became %d", rt.Session.MaxMessages)
		}
	}
}

// TestBuildDebugEndpoints: the debug keys reach the proxy (a bug once left
// them out, and a benchmark then read allocations from a 404).
func TestBuildDebugEndpoints(t *testing.T) {
	f, err := config.Parse("t.yaml", []byte("version: 1\ndebug: {expvar: true, pprof: true}\nbackends: {demo: {dialect: demo}}\nroutes:\n  - {path: /p, dialect: plain, auth: none, backend: demo}\n"), dialects)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := build(f, dialects, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if !pc.Expvar || !pc.Pprof {
		t.Errorf("Expvar %v, Pprof %v; want both on", pc.Expvar, pc.Pprof)
	}
}
