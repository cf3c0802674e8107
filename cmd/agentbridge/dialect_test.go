package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/agentbridge/agentbridge/config"
	"github.com/agentbridge/agentbridge/translators"
	"github.com/agentbridge/agentbridge/translators/translatorstest/linetest"
)

// withLine is the program's table plus a fifth dialect, written for this
// test outside proxy/ and config/: adding it is this one line.
var withLine = append(dialects[:len(dialects):len(dialects)], linetest.Dialect)

// TestFifthDialect: a dialect nothing else knows of is configured with its
// own keys and spoken end to end, as a client's dialect (to the demo agent)
// and as a backend's (from a plain client), over 127.0.0.1.
func TestFifthDialect(t *testing.T) {
	backend := lineBackend(t)
	addr := startWithTable(t, `version: 1
backends:
  demo:  {dialect: demo, demo: {pace: 0s, prefix: "echo: "}}
  lines: {dialect: line, url: "ws://`+backend+`/", verb: ask}
routes:
  - {path: /line, dialect: line, auth: none, backend: demo, tag: said}
  - {path: /line-default, dialect: line, auth: none, backend: demo}
  - {path: /plain, dialect: plain, auth: none, backend: lines}
`, withLine, nil)
	cases := []struct {
		path, send, want string
	}{
		{"/line", "say hello there", "said echo: hello there"},                    // the route's tag
		{"/line-default", "say hi", "reply echo: hi"},                             // tag's default
		{"/line", "shout hi", `error expected a verb and text, like "say hello"`}, // the codec refuses
		{"/plain", "hello", "got ask hello"},                                      // the backend's verb
	}
	for _, c := range cases {
		t.Run(c.path+" "+c.send, func(t *testing.T) {
			if got := exchange(t, "ws://"+addr+c.path, c.send); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestFifthDialectConfig: the line dialect's keys are checked like any
// other's, and without its table line the dialect does not exist.
func TestFifthDialectConfig(t *testing.T) {
	const base = "version: 1\nbackends: {demo: {dialect: demo}}\nroutes:\n  - {path: /l, dialect: line, auth: none, backend: demo%s}\n"
	cases := []struct {
		name, extra string
		table       []translators.Dialect
		want        string
	}{
		{"typo", ", tga: x", withLine, `t.yaml:4:58: routes[0].tga: unknown key "tga" (did you mean "tag"?)`},
		{"not in the table", "", dialects, `routes[0].dialect: unknown client dialect "line" (choose one of: plain, connic, wiro, agents, openhands)`},
		{"another dialect's key", ", reply: stream", withLine, "routes[0].reply: only used with dialect plain, agents (this route's clients speak line)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := config.Parse("t.yaml", []byte(strings.Replace(base, "%s", c.extra, 1)), c.table)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
}

// exchange sends one text message on a new WebSocket connection to url and
// returns the first text message back.
func exchange(t *testing.T, url, msg string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	var r io.Reader = conn
	if br != nil {
		r = br
	}
	if err := wsutil.WriteClientText(conn, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	got, err := wsutil.ReadServerText(struct {
		io.Reader
		io.Writer
	}{r, conn})
	if err != nil {
		t.Fatal(err)
	}
	return string(got)
}

// lineBackend serves the line dialect on 127.0.0.1: it answers each
// message "<verb> <text>" with "reply got <verb> <text>".
func lineBackend(t *testing.T) string {
	t.Helper()
	return serveWS(t, ws.Upgrader{}, func(c net.Conn, rw io.ReadWriter) {
		for {
			msg, err := wsutil.ReadClientText(rw)
			if err != nil {
				return
			}
			if err := wsutil.WriteServerText(c, append([]byte("reply got "), msg...)); err != nil {
				return
			}
		}
	})
}

// serveWS accepts WebSocket connections on 127.0.0.1 until the test ends
// and runs handle for each on its own goroutine, with a reader that keeps
// what the upgrade buffered. u may watch the handshake (OnRequest).
func serveWS(t *testing.T, u ws.Upgrader, handle func(c net.Conn, rw io.ReadWriter)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := u.Upgrade(c); err != nil {
					return
				}
				handle(c, struct {
					io.Reader
					io.Writer
				}{bufio.NewReader(c), c})
			}()
		}
	}()
	return ln.Addr().String()
}
