package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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
		{"repo config", []string{"validate", "-config", "../../config.yaml"}, 0, "ok (6 routes, 1 backends)"},
		{"good", []string{"validate", "-config", good}, 0, "ok"},
		{"missing auth names its line", []string{"validate", "-config", noAuth}, 1, "noauth.yaml:4:"},
		{"unreadable key file", []string{"validate", "-config", badKey}, 1, `auth provider "sso" (line 2)`},
		{"missing file", []string{"validate", "-config", filepath.Join(dir, "nope.yaml")}, 1, "no such file"},
		{"tls without a key", []string{"validate", "-config", write("tls.yaml", "version: 1\ntls: {cert_file: /nonexistent.pem}\nbackends: {demo: {dialect: demo}}\nroutes:\n  - {path: /a, dialect: plain, auth: none, backend: demo}\n")}, 1, "tls.key_file: required"},
		{"tls files missing", []string{"validate", "-config", write("tls2.yaml", "version: 1\ntls: {cert_file: /nonexistent.pem, key_file: /nonexistent.key}\nbackends: {demo: {dialect: demo}}\nroutes:\n  - {path: /a, dialect: plain, auth: none, backend: demo}\n")}, 1, "/nonexistent.pem"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"stray argument", []string{"validate", "extra"}, 2, "unexpected argument"},
		{"version", []string{"version"}, 0, "agentbridge (devel) no-vcs-info (go"},
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

// TestHelpListsCommands: -h and help list every subcommand, not only
// serve's flags.
func TestHelpListsCommands(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"serve", "-h"}, {"reload", "-h"}} {
		var out bytes.Buffer
		if code := run(context.Background(), args, &out, &out); code != 0 {
			t.Errorf("run(%q) = %d, want 0", args, code)
		}
		for _, c := range []string{"serve", "validate", "reload", "version", "help", "SIGHUP"} {
			if !strings.Contains(out.String(), "\n  "+c) && !strings.Contains(out.String(), c) {
				t.Errorf("run(%q) does not list %q:\n%s", args, c, out.String())
			}
		}
	}
}

func TestVersionOf(t *testing.T) {
	tests := []struct {
		bi   debug.BuildInfo
		want string
	}{
		{debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3 no-vcs-info"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "e73df8b979318d4e11d6310a89659e122b12d7fa"},
			{Key: "vcs.time", Value: "2026-12-04T20:45:25Z"},
			{Key: "vcs.modified", Value: "true"},
		}}, "(devel) rev e73df8b97931 2026-12-04T20:45:25Z dirty"},
		{debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261204204525-e73df8b97931"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "e73df8b97931"}, {Key: "vcs.time", Value: "2026-12-04T20:45:25Z"}, {Key: "vcs.modified", Value: "false"},
		}}, "v0.0.0-20261204204525-e73df8b97931 rev e73df8b97931 2026-12-04T20:45:25Z"},
	}
	for _, tt := range tests {
		if got := versionOf(&tt.bi); got != tt.want {
			t.Errorf("versionOf(%+v) = %q, want %q", tt.bi.Main, got, tt.want)
		}
	}
}

// TestReloadCommand: reload validates first (a bad file signals nothing),
// then sends SIGHUP to the process the pid file names.
func TestReloadCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("version: 1\nbackends: {demo: {dialect: demo}}\nroutes:\n  - {path: /a, dialect: plain, auth: none, backend: demo}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("version: 1\nroutes: []\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pidfile := filepath.Join(dir, "pid")
	if err := os.WriteFile(pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	var out bytes.Buffer
	if code := run(context.Background(), []string{"reload", "-config", bad, "-pidfile", pidfile}, &out, &out); code != 1 {
		t.Errorf("reload of an invalid file = %d, want 1:\n%s", code, out.String())
	}
	if code := run(context.Background(), []string{"reload", "-config", cfg}, &out, &out); code != 1 || !strings.Contains(out.String(), "-pidfile is required") {
		t.Errorf("reload without -pidfile = %d:\n%s", code, out.String())
	}
	select {
	case <-hup:
		t.Fatal("a failed reload signalled the process")
	case <-time.After(50 * time.Millisecond):
	}
	out.Reset()
	if code := run(context.Background(), []string{"reload", "-config", cfg, "-pidfile", pidfile}, &out, &out); code != 0 {
		t.Fatalf("reload = %d:\n%s", code, out.String())
	}
	select {
	case <-hup:
	case <-time.After(5 * time.Second):
		t.Fatal("no SIGHUP after reload")
	}
}

// TestBuildAdmin: admin.listen moves /metrics off the main listener and
// admin.auth names the providers that admit a scrape.
func TestBuildAdmin(t *testing.T) {
	f, err := config.Parse("t.yaml", []byte("version: 1\nadmin: {listen: 127.0.0.1:24290, auth: [ops]}\nauth: {ops: {type: secret, secrets: [s3cret]}}\nbackends: {demo: {dialect: demo}}\nroutes:\n  - {path: /p, dialect: plain, auth: none, backend: demo}\n"), dialects)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := build(f, dialects, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if !pc.MetricsOnAdmin || len(pc.AdminAuth) != 1 {
		t.Errorf("MetricsOnAdmin %v, %d admin providers; want true, 1", pc.MetricsOnAdmin, len(pc.AdminAuth))
	}
	if _, err := config.Parse("t.yaml", []byte("version: 1\nadmin: {auth: [tk]}\nauth: {tk: {type: ticket, issue_with: [ops]}, ops: {type: secret, secrets: [s]}}\nbackends: {demo: {dialect: demo}}\nroutes:\n  - {path: /p, dialect: plain, auth: none, backend: demo}\n"), dialects); err == nil || !strings.Contains(err.Error(), "admin.auth") {
		t.Errorf("a ticket provider for scrapes: %v, want an admin.auth error", err)
	}
}
