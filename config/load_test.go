package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/invalid/*.err from the current output")

// testEnv is the environment the testdata files are loaded with.
var testEnv = map[string]string{
	"TEAM_SECRET":   "team-secret",
	"CONNIC_SECRET": "connic-secret",
	"WIRO_KEY":      "wiro-key",
	"EMPTY_DEFAULT": "",
}

func lookup(name string) (string, bool) {
	v, ok := testEnv[name]
	return v, ok
}

func TestValidFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata/valid files")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parse(path, data, lookup, testDialects)
			if err != nil {
				t.Fatalf("unexpected problems:\n%v", err)
			}
			if f.Version != 1 || len(f.Routes) == 0 {
				t.Fatalf("incomplete File: %+v", f)
			}
		})
	}
}

// TestInvalidFiles compares the problems found in each
// testdata/invalid/NAME.yaml with NAME.err. Run with -update to rewrite them.
func TestInvalidFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata/invalid files")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = parse(filepath.ToSlash(path), data, lookup, testDialects)
			var cerr *Error
			if !errors.As(err, &cerr) || len(cerr.Problems) == 0 {
				t.Fatalf("want *Error with problems, got %v", err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(path, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./config -run TestInvalidFiles -update)", err)
			}
			if got != string(want) {
				t.Errorf("problems differ from %s\n--- got:\n%s--- want:\n%s", golden, got, want)
			}
			for _, p := range cerr.Problems {
				if p.Line == 0 && !strings.Contains(p.Msg, "empty") {
					t.Errorf("problem without a line: %v", p)
				}
			}
		})
	}
}

func TestFullFile(t *testing.T) {
	f, err := parse("full.yaml", mustRead(t, "testdata/valid/full.yaml"), lookup, testDialects)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"team secrets", strings.Join(f.Auth["team"].Secrets, ","), "team-secret,old-$ecret"},
		{"hmac default", f.Auth["hmac"].Secret, "dev-only-secret"},
		{"sso leeway", f.Auth["sso"].Leeway, 30 * time.Second},
		{"ticket ttl", f.Auth["tickets"].TTL, 30 * time.Second},
		{"proxies", strings.Join(f.Auth["edge"].TrustedProxies, ","), "127.0.0.1/32,::1/128,10.0.0.0/8"},
		{"provider line", f.Auth["team"].Line, 9},
		{"connic secret", f.Backends["support"].Settings.String("secret"), "connic-secret"},
		{"wiro key", f.Backends["wiroapi"].Settings.String("api_key"), "wiro-key"},
		{"wiro has no url", f.Backends["wiroapi"].URL, ""},
		{"echo idle gap", f.Backends["echo"].Settings.Duration("idle_gap"), 250 * time.Millisecond},
		{"lines idle gap unwritten", f.Backends["lines"].Settings.Written("idle_gap"), false},
		{"lines end marker", f.Backends["lines"].Settings.String("end_marker"), "[DONE]"},
		{"route 0 max_message", f.Routes[0].Limits.MaxMessage, int64(64 << 10)},
		{"route 0 keeps global", f.Routes[0].Limits.MaxTurnText, int64(1 << 20)},
		{"route 0 streaming", f.Routes[0].Session.Streaming, false},
		{"route 0 timeout", f.Routes[0].Session.Timeout, 30 * time.Minute},
		{"route 0 line", f.Routes[0].Line, 22},
		{"route 2 none", f.Routes[2].AuthNone, true},
		{"route 2 auth", len(f.Routes[2].Auth), 0},
		{"route 2 reply", f.Routes[2].Settings.String("reply"), "stream"},
		{"route 2 end marker", f.Routes[2].Settings.String("end_marker"), "<END>"},
		{"route 0 has no reply", f.Routes[0].Settings.Written("reply"), false},
		{"route 3 name", f.Routes[3].Name, "/edge"},
		{"route 3 streaming", f.Routes[3].Session.Streaming, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	f, err := parse("minimal.yaml", mustRead(t, "testdata/valid/minimal.yaml"), lookup, testDialects)
	if err != nil {
		t.Fatal(err)
	}
	want := defaultLimits()
	if f.Limits != want || f.Routes[0].Limits != want {
		t.Errorf("limits = %+v / %+v, want %+v", f.Limits, f.Routes[0].Limits, want)
	}
	if f.Listen != DefaultListen || f.Log.Level != "info" || f.Log.Format != "text" {
		t.Errorf("listen/log = %q %+v", f.Listen, f.Log)
	}
	if f.Keepalive.PingInterval != 25*time.Second || f.Keepalive.PongTimeout != 10*time.Second || f.Shutdown.DrainTimeout != 10*time.Second {
		t.Errorf("keepalive/shutdown = %+v %+v", f.Keepalive, f.Shutdown)
	}
	r := f.Routes[0]
	if r.Name != "/chat" || r.Settings.String("reply") != "whole" || !r.AuthNone || r.Session != (Session{Streaming: true, Timeout: time.Hour, MaxMessages: 100, ResumeWindow: 30 * time.Second, ResumeEvents: 1000, ResumeBytes: 1 << 20}) {
		t.Errorf("route = %+v", r)
	}
	d := f.Backends["demo"].Demo
	if d.Pace != 40*time.Millisecond || d.Prefix != "You said: " || d.Thinking {
		t.Errorf("demo = %+v", d)
	}
}

func TestDefaultsPerDialect(t *testing.T) {
	src := `version: 1
backends:
  c: {dialect: connic, url: "ws://h/"}
  p: {dialect: plain, url: "ws://h/", chunked: true}
  d: {dialect: demo, demo: {pace: 0s, prefix: ""}}
routes: [{path: /, dialect: plain, auth: none, backend: c}]
`
	f, err := parse("t.yaml", []byte(src), lookup, testDialects)
	if err != nil {
		t.Fatal(err)
	}
	c, p, d := f.Backends["c"], f.Backends["p"], f.Backends["d"]
	if c.Settings.String("secret_in") != "header" || c.DialTimeout != 5*time.Second || c.HandshakeTimeout != 10*time.Second {
		t.Errorf("connic = %+v", c)
	}
	if g := p.Settings.Duration("idle_gap"); g != 500*time.Millisecond || p.Settings.Written("idle_gap") {
		t.Errorf("plain idle gap = %v", g)
	}
	if d.Demo.Pace != 0 || d.Demo.Prefix != "" {
		t.Errorf("explicit zero demo values were replaced: %+v", d.Demo)
	}
}

func TestRepoConfig(t *testing.T) {
	const path = "../config.yaml"
	if _, err := os.Stat(path); err != nil {
		t.Skip("no config.yaml at the repository root yet")
	}
	// The repository's file may name variables that are not set here.
	env := func(name string) (string, bool) {
		if v, ok := os.LookupEnv(name); ok {
			return v, true
		}
		return "test-value-for-" + name, true
	}
	if _, err := parse(path, mustRead(t, path), env, testDialects); err != nil {
		t.Fatalf("config.yaml does not load:\n%v", err)
	}
}

func TestLoad(t *testing.T) {
	t.Setenv("TEAM_SECRET", "x")
	t.Setenv("CONNIC_SECRET", "y")
	t.Setenv("WIRO_KEY", "z")
	if _, err := Load("testdata/valid/design.yaml", testDialects); err != nil {
		t.Fatal(err)
	}
	if _, err := Load("testdata/no-such-file.yaml", testDialects); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: got %v", err)
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{Problems: []Problem{
		{File: "c.yaml", Line: 3, Col: 5, Path: "routes[0].auth", Msg: "m1"},
		{File: "c.yaml", Line: 4, Msg: "m2"},
		{File: "c.yaml", Msg: "m3"},
	}}
	want := "c.yaml:3:5: routes[0].auth: m1\nc.yaml:4: m2\nc.yaml: m3"
	if e.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", e.Error(), want)
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestForwardIdentity(t *testing.T) {
	f, err := Parse("f.yaml", []byte("version: 1\nbackends:\n  b: {dialect: plain, url: \"ws://127.0.0.1:1/\", forward_identity: {header: X-Agent-User}}\n  d: {dialect: demo}\nroutes:\n  - {path: /a, dialect: plain, auth: none, backend: b}\n"), testDialects)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Backends["b"].ForwardIdentity; got != "X-Agent-User" {
		t.Errorf("ForwardIdentity = %q", got)
	}
	for _, bad := range []string{
		"  b: {dialect: plain, url: \"ws://127.0.0.1:1/\", forward_identity: {header: \"bad header\"}}\n",
		"  b: {dialect: plain, url: \"ws://127.0.0.1:1/\", forward_identity: {}}\n",
		"  b: {dialect: demo, forward_identity: {header: X-A}}\n",
	} {
		_, err := Parse("f.yaml", []byte("version: 1\nbackends:\n"+bad+"routes:\n  - {path: /a, dialect: plain, auth: none, backend: b}\n"), testDialects)
		if err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// TestRotationAndNoLimit: an empty entry in a secret rotation list is
// skipped with a warning (a list of only empty secrets is still an error),
// and max_connections_per_ip: 0 means no limit, as documented.
func TestRotationAndNoLimit(t *testing.T) {
	env := map[string]string{"CUR": "current-secret"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	const base = "version: 1\nlimits: {max_connections_per_ip: 0}\nauth: {team: {type: secret, secrets: [%s]}}\nbackends: {demo: {dialect: demo}}\nroutes:\n  - {path: /a, dialect: plain, auth: [team], backend: demo}\n"
	f, err := parse("t.yaml", []byte(fmt.Sprintf(base, `"${CUR}", "${PREV:-}"`)), lookup, testDialects)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Auth["team"].Secrets; len(got) != 1 || got[0] != "current-secret" {
		t.Errorf("secrets = %q, want only the current one", got)
	}
	if len(f.Warnings) != 1 || f.Warnings[0].Line != 3 || !strings.Contains(f.Warnings[0].Msg, "empty secret skipped") {
		t.Errorf("warnings = %v, want one about the empty secret on line 3", f.Warnings)
	}
	if f.Limits.MaxConnectionsPerIP != 0 {
		t.Errorf("max_connections_per_ip = %d, want 0 (no limit)", f.Limits.MaxConnectionsPerIP)
	}
	_, err = parse("t.yaml", []byte(fmt.Sprintf(base, `"${PREV:-}"`)), lookup, testDialects)
	if err == nil || !strings.Contains(err.Error(), "every secret is empty") {
		t.Errorf("only empty secrets: err = %v, want \"every secret is empty\"", err)
	}
}
