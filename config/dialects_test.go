package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/translators"
	"github.com/agentbridge/agentbridge/translators/agents"
	"github.com/agentbridge/agentbridge/translators/connic"
	"github.com/agentbridge/agentbridge/translators/openhands"
	"github.com/agentbridge/agentbridge/translators/plain"
	"github.com/agentbridge/agentbridge/translators/wiro"
)

// testDialects is the program's table (cmd/agentbridge/dialects.go), which
// the testdata files are written for. Only tests import dialect packages.
var testDialects = []translators.Dialect{plain.Dialect, connic.Dialect, wiro.Dialect, agents.Dialect, openhands.Dialect}

// kv is a dialect this package has never heard of, with a key of each kind.
var kv = translators.Dialect{
	Name:      "kv",
	RouteKeys: []translators.Key{{Name: "greeting", Kind: translators.KeyString, Default: "hi"}},
	BackendKeys: []translators.Key{
		{Name: "token", Kind: translators.KeySecret, Required: true, Doc: "the token the backend wants"},
		{Name: "mode", Kind: translators.KeyEnum, Values: []string{"a", "b"}, Default: "a"},
		{Name: "window", Kind: translators.KeySize, Default: "4KiB"},
		{Name: "tries", Kind: translators.KeyCount, Default: "3"},
		{Name: "pause", Kind: translators.KeyDuration},
		{Name: "fast", Kind: translators.KeyBool},
		{Name: "hook", Kind: translators.KeyURL, Values: []string{"https"}},
	},
	CheckBackend: func(s translators.Settings) []translators.KeyError {
		if s.Bool("fast") && s.Written("pause") {
			return []translators.KeyError{{Key: "pause", Msg: "not used with fast: true"}}
		}
		return nil
	},
}

// TestDialectKeys: a dialect's keys are checked, defaulted and handed over
// from its declaration alone, with problems at the key's line; keys of
// another dialect, or of none, are refused.
func TestDialectKeys(t *testing.T) {
	table := append(testDialects[:len(testDialects):len(testDialects)], kv)
	const route = `{path: /a, dialect: plain, auth: none, backend: b}`
	cases := []struct {
		name, backend, route string
		path, msg            string // the one problem expected; none when path is ""
		check                func(t *testing.T, f *File)
	}{
		{name: "defaults", backend: `{dialect: kv, url: "ws://h/", token: t}`, check: func(t *testing.T, f *File) {
			s := f.Backends["b"].Settings
			if s.String("token") != "t" || s.String("mode") != "a" || s.Size("window") != 4096 || s.Count("tries") != 3 ||
				s.Duration("pause") != 0 || s.Bool("fast") || s.Written("mode") || !s.Written("token") {
				t.Errorf("settings = %+v", s)
			}
		}},
		{name: "written", backend: `{dialect: kv, url: "ws://h/", token: t, mode: b, window: 1KiB, tries: 5, pause: 2s, hook: "https://h/x"}`, check: func(t *testing.T, f *File) {
			s := f.Backends["b"].Settings
			if s.String("mode") != "b" || s.Size("window") != 1024 || s.Count("tries") != 5 || s.Duration("pause") != 2*time.Second ||
				s.String("hook") != "https://h/x" || !s.Written("mode") {
				t.Errorf("settings = %+v", s)
			}
		}},
		{name: "route key", backend: `{dialect: demo}`, route: `{path: /a, dialect: kv, auth: none, backend: b, greeting: hello}`, check: func(t *testing.T, f *File) {
			if s := f.Routes[0].Settings; s.String("greeting") != "hello" {
				t.Errorf("settings = %+v", s)
			}
		}},
		{name: "required", backend: `{dialect: kv, url: "ws://h/"}`,
			path: "backends.b.token", msg: "required: the token the backend wants"},
		{name: "empty secret", backend: `{dialect: kv, url: "ws://h/", token: ""}`,
			path: "backends.b.token", msg: "token is empty"},
		{name: "enum", backend: `{dialect: kv, url: "ws://h/", token: t, mode: c}`,
			path: "backends.b.mode", msg: `unknown mode "c" (choose one of: a, b)`},
		{name: "size", backend: `{dialect: kv, url: "ws://h/", token: t, window: 0}`,
			path: "backends.b.window", msg: "must be greater than 0, like 64KiB"},
		{name: "url scheme", backend: `{dialect: kv, url: "ws://h/", token: t, hook: "http://h/"}`,
			path: "backends.b.hook", msg: `invalid URL "http://h/": expected a URL starting with https:// and naming a host, like https://127.0.0.1:9000/path`},
		{name: "url params", backend: `{dialect: kv, url: "ws://h/", token: t, hook: "https://h/{x}"}`,
			path: "backends.b.hook", msg: "{x}: route parameters are not filled in here, only in a backend's url"},
		{name: "check", backend: `{dialect: kv, url: "ws://h/", token: t, fast: true, pause: 1s}`,
			path: "backends.b.pause", msg: "not used with fast: true"},
		{name: "another dialect's key", backend: `{dialect: kv, url: "ws://h/", token: t, chunked: true}`,
			path: "backends.b.chunked", msg: "not used by backend dialect kv (only by plain)"},
		{name: "kv's key elsewhere", backend: `{dialect: plain, url: "ws://h/", token: t}`,
			path: "backends.b.token", msg: "not used by backend dialect plain (only by kv)"},
		{name: "typo", backend: `{dialect: kv, url: "ws://h/", token: t, tokn: t}`,
			path: "backends.b.tokn", msg: `unknown key "tokn" (did you mean "token"?)`},
		{name: "unknown", backend: `{dialect: kv, url: "ws://h/", token: t, zzzzzz: 1}`,
			path: "backends.b.zzzzzz", msg: `unknown key "zzzzzz" (known keys here: dialect, url, dial_timeout, handshake_timeout, ca_file, forward_identity, token, mode, window, tries, pause, fast, hook)`},
		{name: "unknown dialect", backend: `{dialect: grpc}`,
			path: "backends.b.dialect", msg: `unknown backend dialect "grpc" (choose one of: demo, plain, connic, wiro, agents, openhands, kv)`},
		{name: "route key elsewhere", backend: `{dialect: demo}`, route: `{path: /a, dialect: plain, auth: none, backend: b, greeting: hello}`,
			path: "routes[0].greeting", msg: "only used with dialect kv (this route's clients speak plain)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.route
			if r == "" {
				r = route
			}
			src := "version: 1\nbackends:\n  b: " + c.backend + "\nroutes:\n  - " + r + "\n"
			f, err := parse("t.yaml", []byte(src), lookup, table)
			if c.path == "" {
				if err != nil {
					t.Fatal(err)
				}
				c.check(t, f)
				return
			}
			var cerr *Error
			if !errors.As(err, &cerr) || len(cerr.Problems) != 1 {
				t.Fatalf("want one problem at %s, got %v", c.path, err)
			}
			p, line := cerr.Problems[0], 3
			if strings.HasPrefix(c.path, "routes") {
				line = 5
			}
			if p.Path != c.path || p.Msg != c.msg || p.Line != line || p.Col == 0 {
				t.Errorf("got %v\nwant t.yaml:%d:_: %s: %s", p, line, c.path, c.msg)
			}
		})
	}
}

// TestCheckTable: a table no file could be checked with is an error of the
// program, reported before the file is read.
func TestCheckTable(t *testing.T) {
	key := func(k translators.Key) translators.Dialect {
		return translators.Dialect{Name: "x", BackendKeys: []translators.Key{k}}
	}
	cases := []struct {
		name  string
		table []translators.Dialect
		want  string
	}{
		{"twice", []translators.Dialect{plain.Dialect, plain.Dialect}, `name "plain" is empty or used twice`},
		{"demo", []translators.Dialect{{Name: "demo"}}, `name "demo" is empty or used twice`},
		{"generic key", []translators.Dialect{key(translators.Key{Name: "url", Kind: translators.KeyURL, Values: []string{"ws"}})}, "is a key every backend has"},
		{"generic route key", []translators.Dialect{{Name: "x", RouteKeys: []translators.Key{{Name: "path", Kind: translators.KeyString}}}}, "is a key every route has"},
		{"no kind", []translators.Dialect{key(translators.Key{Name: "k"})}, "unknown kind 0"},
		{"no values", []translators.Dialect{key(translators.Key{Name: "k", Kind: translators.KeyEnum})}, "no values"},
		{"bad default", []translators.Dialect{key(translators.Key{Name: "k", Kind: translators.KeyEnum, Values: []string{"a"}, Default: "b"})}, `default "b" is not one of [a]`},
		{"bad duration", []translators.Dialect{key(translators.Key{Name: "k", Kind: translators.KeyDuration, Default: "soon"})}, "invalid duration"},
		{"bad name", []translators.Dialect{key(translators.Key{Name: "a.b", Kind: translators.KeyString})}, "letters, digits and _"},
		{"required without doc", []translators.Dialect{key(translators.Key{Name: "k", Kind: translators.KeyString, Required: true})}, "needs Doc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse("t.yaml", mustRead(t, "testdata/valid/minimal.yaml"), lookup, c.table)
			var cerr *Error
			if err == nil || errors.As(err, &cerr) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want a table error containing %q", err, c.want)
			}
		})
	}
	if _, err := parse("t.yaml", mustRead(t, "testdata/valid/minimal.yaml"), lookup, append(testDialects[:3:3], kv)); err != nil {
		t.Errorf("a good table: %v", err)
	}
}
