package main

import (
	"context"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// The parts of the dialect contract the proxy drives for the line dialect
// (translators/translatorstest/linetest), end to end over 127.0.0.1: a
// codec's KindReply answered on its own leg, client or backend, and the
// timers a dialect declares (TickEvery), on either leg.

// TestFifthDialectReplies: "ping x" gets "pong x" from the proxy on the leg
// it came from, and goes no further: from a line client (to the demo
// agent), and from a line backend (behind a plain client), both at
// connect and in the middle of a reply.
func TestFifthDialectReplies(t *testing.T) {
	backend, got := recordingLineBackend(t, "ping hello")
	addr := startWithTable(t, `version: 1
backends:
  demo:  {dialect: demo, demo: {pace: 0s, prefix: "echo: "}}
  lines: {dialect: line, url: "ws://`+backend+`/"}
routes:
  - {path: /line, dialect: line, auth: none, backend: demo}
  - {path: /plain, dialect: plain, auth: none, backend: lines}
`, withLine, nil)

	t.Run("client", func(t *testing.T) {
		c := dialText(t, "ws://"+addr+"/line")
		c.send("ping x")
		if m := c.recv(); m != "pong x" {
			t.Fatalf("got %q, want pong x", m)
		}
		c.send("say hi")
		if m := c.recv(); m != "reply echo: hi" {
			t.Fatalf("got %q after the pong, want the reply", m)
		}
	})
	t.Run("backend", func(t *testing.T) {
		c := dialText(t, "ws://"+addr+"/plain")
		if m := next(t, got); m != "pong hello" { // the backend's ping at connect
			t.Fatalf("backend got %q, want pong hello", m)
		}
		c.send("x")
		// The backend pings before each reply: the client sees the reply
		// only, the backend the message and then the pong.
		if m := c.recv(); m != "got say x" {
			t.Fatalf("client got %q, want got say x", m)
		}
		for _, want := range []string{"say x", "pong say x"} {
			if m := next(t, got); m != want {
				t.Fatalf("backend got %q, want %q", m, want)
			}
		}
	})
}

// TestFifthDialectHeartbeat: with its heartbeat key set, the proxy sends
// "beat <n>" to an idle peer at that interval, a client or a backend; a
// session ends with its timers, leaving no goroutine behind.
func TestFifthDialectHeartbeat(t *testing.T) {
	backend, got := recordingLineBackend(t, "")
	addr := startWithTable(t, `version: 1
backends:
  demo:  {dialect: demo, demo: {pace: 0s, prefix: "echo: "}}
  lines: {dialect: line, url: "ws://`+backend+`/", heartbeat: 50ms}
routes:
  - {path: /line, dialect: line, auth: none, backend: demo, heartbeat: 50ms}
  - {path: /plain, dialect: plain, auth: none, backend: lines}
  - {path: /warm, dialect: line, auth: none, backend: demo}
`, withLine, nil)
	// A first session starts what the server starts once (its worker
	// pool, the poller) before goroutines are counted.
	w := dialText(t, "ws://"+addr+"/warm")
	w.send("say hi")
	w.recv()
	w.close()
	time.Sleep(50 * time.Millisecond)
	before := runtime.NumGoroutine()

	c := dialText(t, "ws://"+addr+"/line")
	start := time.Now()
	for _, want := range []string{"beat 1", "beat 2"} {
		if m := c.recv(); m != want {
			t.Fatalf("client got %q, want %q", m, want)
		}
	}
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Errorf("two beats in %v, want about 100ms", d)
	}
	c.send("say hi") // the codec still encodes between beats
	for m := c.recv(); m != "reply echo: hi"; m = c.recv() {
		if !strings.HasPrefix(m, "beat ") {
			t.Fatalf("client got %q", m)
		}
	}

	p := dialText(t, "ws://"+addr+"/plain")
	for _, want := range []string{"beat 1", "beat 2"} {
		if m := next(t, got); m != want {
			t.Fatalf("backend got %q, want %q", m, want)
		}
	}

	c.close()
	p.close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after both sessions ended, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
	// The backend's timer stopped with its session: no beat after the close.
	drain(got)
	time.Sleep(150 * time.Millisecond)
	select {
	case m := <-got:
		t.Errorf("backend got %q after its session ended", m)
	default:
	}
}

// textClient is a WebSocket client of the proxy that sends and reads text.
type textClient struct {
	t    *testing.T
	conn net.Conn
	rw   io.ReadWriter
}

func dialText(t *testing.T, url string) *textClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	var r io.Reader = conn
	if br != nil {
		r = br
	}
	return &textClient{t: t, conn: conn, rw: struct {
		io.Reader
		io.Writer
	}{r, conn}}
}

func (c *textClient) send(msg string) {
	c.t.Helper()
	if err := wsutil.WriteClientText(c.conn, []byte(msg)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *textClient) recv() string {
	c.t.Helper()
	msg, err := wsutil.ReadServerText(c.rw)
	if err != nil {
		c.t.Fatal(err)
	}
	return string(msg)
}

// close sends a close frame and waits for the proxy's.
func (c *textClient) close() {
	c.t.Helper()
	_ = ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
	for {
		if _, err := wsutil.ReadServerText(c.rw); err != nil {
			break // the close (wsutil reports it as an error) or the socket's end
		}
	}
	c.conn.Close()
}

// recordingLineBackend serves the line dialect on 127.0.0.1 and sends every
// message it gets on the channel. It sends greet first, if not empty, and
// answers each "<verb> <text>" with "ping <verb> <text>", then "reply got
// <verb> <text>"; pongs and beats get no answer.
func recordingLineBackend(t *testing.T, greet string) (string, chan string) {
	t.Helper()
	got := make(chan string, 100)
	addr := serveWS(t, ws.Upgrader{}, func(c net.Conn, rw io.ReadWriter) {
		if greet != "" && wsutil.WriteServerText(c, []byte(greet)) != nil {
			return
		}
		for {
			msg, err := wsutil.ReadClientText(rw)
			if err != nil {
				return
			}
			got <- string(msg)
			verb, _, _ := strings.Cut(string(msg), " ")
			if verb == "pong" || verb == "beat" {
				continue
			}
			if wsutil.WriteServerText(c, append([]byte("ping "), msg...)) != nil ||
				wsutil.WriteServerText(c, append([]byte("reply got "), msg...)) != nil {
				return
			}
		}
	})
	return addr, got
}

// next returns the next message on ch, failing after 5 seconds.
func next(t *testing.T, ch chan string) string {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("nothing came")
		return ""
	}
}

// drain empties ch.
func drain(ch chan string) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
