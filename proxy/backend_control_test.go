package proxy

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
	"github.com/agentbridge/agentbridge/translators"
)

// TestControlFrameBehindReplyEnd checks that a control frame right behind
// a reply's last message does not hold that message back. A backend that
// answers a ping once its reply is written (the proxy pings every backend
// leg) sends the pong in the same burst as the reply's end; the session
// holds its frames while the backend has more buffered, and the pong is
// not more of the reply. Held, the reply's end would wait for the
// backend's next message, which waits for the client's, which waits for
// the reply's end.
func TestControlFrameBehindReplyEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   ws.OpCode
	}{{"pong", ws.OpPong}, {"ping", ws.OpPing}} {
		t.Run(tc.name, func(t *testing.T) {
			c := burstSession(t, func(buf *bytes.Buffer, msg []byte) {
				for _, w := range strings.SplitAfter(string(msg), " ") {
					_ = ws.WriteFrame(buf, ws.NewTextFrame([]byte(w)))
				}
				_ = ws.WriteFrame(buf, ws.NewTextFrame([]byte("[DONE]")))
				_ = ws.WriteFrame(buf, ws.NewFrame(tc.op, true, nil))
			})
			for i, text := range []string{"first reply here", "second reply"} {
				c.send(`{"type":"message","id":"m` + string(rune('0'+i)) + `","payload":{"message":"` + text + `"}}`)
				if all := strings.Join(recvReply(c), " "); !strings.Contains(all, `"chunk":"reply`) {
					t.Fatalf("reply %d: %s", i, all)
				}
			}
		})
	}
}

// TestPongsLeaveSessionParked checks that a keepalive round on an idle
// translating session costs no goroutine: a pong from the client, and one
// from the backend right behind its reply, are handled where they are
// buffered and both legs park again, rather than leaving each pump in a
// blocking read until its peer's next message.
func TestPongsLeaveSessionParked(t *testing.T) {
	if !wsconn.Parks() {
		t.Skip("no epoll here: connections do not park")
	}
	c := burstSession(t, func(buf *bytes.Buffer, msg []byte) {
		_ = ws.WriteFrame(buf, ws.NewTextFrame(msg))
		_ = ws.WriteFrame(buf, ws.NewTextFrame([]byte("[DONE]")))
		_ = ws.WriteFrame(buf, ws.NewPongFrame(nil))
	})
	c.send(`{"type":"message","id":"m1","payload":{"message":"hello"}}`)
	recvReply(c)
	if err := ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewPongFrame(nil))); err != nil {
		t.Fatal(err)
	}
	if g := waitPumpGoroutines(5 * time.Second); g != 0 {
		t.Fatalf("%d goroutines still run pumps after the pongs", g)
	}
	c.send(`{"type":"message","id":"m2","payload":{"message":"again"}}`)
	recvReply(c)
}

// burstSession starts a Connic route to a plain, chunked backend that
// answers each message with the frames burst writes for it, sent in one
// write, and returns a client past its greeting.
func burstSession(t *testing.T, burst func(buf *bytes.Buffer, msg []byte)) *client {
	t.Helper()
	_, c := connicChunkSession(t, func(c net.Conn) {
		for {
			msg, _, err := wsutil.ReadClientData(c)
			if err != nil {
				return
			}
			var buf bytes.Buffer
			burst(&buf, msg)
			if _, err := c.Write(buf.Bytes()); err != nil {
				return
			}
		}
	})
	return c
}

// connicChunkSession starts a proxy with a Connic route to fn, a plain
// backend whose replies are chunks ended by "[DONE]", and returns the
// proxy and a client past its greeting.
func connicChunkSession(t *testing.T, fn backendFunc) (*Server, *client) {
	t.Helper()
	url, _ := startBackend(t, fn)
	b := plainBackend(url)
	b.Options = translators.Options{Chunked: true, EndMarker: "[DONE]"}
	srv, addr := startProxy(t, Config{Routes: []*Route{
		connicRoute("connic", "/connic", b, secretAuth(t, "chunk-secret")),
	}})
	c := dialWith(t, wsURL(addr, "/connic"), ws.HandshakeHeaderString("X-Connic-Secret: chunk-secret\r\n"))
	if m := c.recv(); !containsType(m, "connected") {
		t.Fatalf("connic greeting %q", m)
	}
	return srv, c
}

// recvReply returns a reply's messages up to its stream_end; recv fails
// the test after 5 s without one.
func recvReply(c *client) []string {
	c.t.Helper()
	var got []string
	for m := c.recv(); !containsType(m, "stream_end"); m = c.recv() {
		got = append(got, m)
	}
	return got
}
