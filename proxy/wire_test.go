package proxy

import (
	"bytes"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/agentbridge/agentbridge/translators"
)

// fxDialect is a dialect for the tests of this file: the canonical kinds
// a client sends besides user messages, an opaque frame of its own, and a
// timer that fails. Every message is a verb, a space and text:
//
//	say <text>      KindUserMessage, sent to a backend as "say <text>"
//	tool <json>     KindToolOutput (Ref "c1"), sent as "tool c1 <json>"
//	toolerr <text>  KindToolError, sent as "toolerr <text>"
//	state <json>    KindState, sent as "state <json>"
//	frame <type>    KindFrame of the dialect "fx" with Code <type>
//	reply <text>    from a backend: KindTurnEnd; to a client: "reply <text>"
//
// With Options.Agent "tick" its codecs tick every 20ms: "beat <n>", and
// an error (a peer that missed its pong) at the third. SameShape is never
// true, so two fx peers are translated, not relayed.
var fxDialect = translators.Dialect{
	Name:      "fx",
	New:       func(o translators.Options) translators.Codec { return &fxCodec{role: o.Role} },
	SameShape: func(_, _ translators.Options) bool { return false },
	TickEvery: func(o translators.Options) time.Duration {
		if o.Agent == "tick" {
			return 20 * time.Millisecond
		}
		return 0
	},
}

type fxCodec struct {
	role  translators.Role
	beats int
}

func (c *fxCodec) Decode(dst []translators.Event, msg []byte) ([]translators.Event, error) {
	verb, text, _ := bytes.Cut(msg, []byte(" "))
	k := translators.KindByName(map[string]string{"say": "user_message", "tool": "tool_output",
		"toolerr": "tool_error", "state": "state", "frame": "frame", "reply": "turn_end"}[string(verb)])
	ev := translators.Event{Kind: k, Text: text, Value: text, Ref: []byte("c1"), Usage: translators.UnknownUsage}
	switch k {
	case translators.KindInvalid:
		return dst, translators.Malformed("unknown verb")
	case translators.KindFrame:
		ev = translators.Event{Kind: k, Name: []byte("fx"), Code: text, Raw: msg}
	}
	return append(dst, ev), nil
}

func (c *fxCodec) Encode(dst []byte, ev *translators.Event) ([]byte, error) {
	switch ev.Kind {
	case translators.KindUserMessage:
		return append(append(dst, "say "...), ev.Text...), nil
	case translators.KindToolOutput:
		return append(append(append(append(dst, "tool "...), ev.Ref...), ' '), ev.Value...), nil
	case translators.KindToolError:
		return append(append(dst, "toolerr "...), ev.Text...), nil
	case translators.KindState:
		return append(append(dst, "state "...), ev.Value...), nil
	case translators.KindTurnEnd:
		return append(append(dst, "reply "...), ev.Full...), nil
	case translators.KindError:
		return append(append(dst, "error "...), ev.Text...), nil
	}
	return translators.PassFrame(dst, ev, "fx"), nil
}

func (c *fxCodec) Tick(dst []byte) ([]byte, error) {
	c.beats++
	if c.beats == 3 {
		return dst, translators.Malformed("missed its pong")
	}
	return strconv.AppendInt(append(dst, "beat "...), int64(c.beats), 10), nil
}

// recordBackend is a WebSocket backend that sends each text message it
// gets on got, then the close code it was sent (as "close <code>"), and
// sends the messages it is given on send.
func recordBackend(t *testing.T) (url string, got chan string, send chan string) {
	got, send = make(chan string, 100), make(chan string, 100)
	url, _ = startBackend(t, func(c net.Conn) {
		go func() {
			for m := range send {
				if ws.WriteFrame(c, ws.NewTextFrame([]byte(m))) != nil {
					return
				}
			}
		}()
		for {
			f, err := ws.ReadFrame(c)
			if err != nil {
				return
			}
			if f.Header.Masked {
				ws.Cipher(f.Payload, f.Header.Mask, 0)
			}
			switch f.Header.OpCode {
			case ws.OpText:
				got <- string(f.Payload)
			case ws.OpClose:
				code, _ := ws.ParseCloseFrameData(f.Payload)
				got <- "close " + strconv.Itoa(int(code))
				return
			}
		}
	})
	t.Cleanup(func() { close(send) })
	return url, got, send
}

func nextMsg(t *testing.T, ch chan string) string {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("the backend got nothing")
		return ""
	}
}

// TestClientKindsReachBackend: tool results, tool errors, state and a
// frame of the backend's own dialect go from a client to the backend.
func TestClientKindsReachBackend(t *testing.T) {
	url, got, _ := recordBackend(t)
	_, addr := startProxy(t, Config{Routes: []*Route{
		{Name: "fx", Path: "/fx", Client: fxDialect, Backend: &Backend{Name: "fx", Dialect: fxDialect, URL: url}},
	}})
	c := dial(t, wsURL(addr, "/fx"))
	for _, m := range []struct{ send, want string }{
		{"tool {\"ok\":1}", "tool c1 {\"ok\":1}"},
		{"toolerr it broke", "toolerr it broke"},
		{"state {\"n\":2}", "state {\"n\":2}"},
		{"frame rpc", "frame rpc"},
		{"say hi", "say hi"},
	} {
		c.send(m.send)
		if g := nextMsg(t, got); g != m.want {
			t.Errorf("sent %q: backend got %q, want %q", m.send, g, m.want)
		}
	}
}

// TestFramesDroppedAreCounted: a frame of a dialect the other side does
// not speak is dropped, both ways, and counted by route, dialect and type.
func TestFramesDroppedAreCounted(t *testing.T) {
	url, got, send := recordBackend(t)
	plainURL, _ := startBackend(t, echoBackend)
	srv, addr := startProxy(t, Config{Routes: []*Route{
		{Name: "up", Path: "/up", Client: fxDialect, Backend: plainBackend(plainURL)},
		plainRoute("down", "/down", &Backend{Name: "fx", Dialect: fxDialect, URL: url}),
	}})
	up := dial(t, wsURL(addr, "/up"))
	up.send("frame rpc")
	up.send("frame rpc")
	up.send("say hi")
	if m := up.recv(); m != "reply echo: hi" { // the plain backend saw only "hi"
		t.Errorf("client got %q", m)
	}
	down := dial(t, wsURL(addr, "/down"))
	down.send("hello")
	if m := nextMsg(t, got); m != "say hello" {
		t.Fatalf("backend got %q", m)
	}
	send <- "frame status"
	send <- "reply done"
	if m := down.recv(); m != "done" { // the frame never reached the plain client
		t.Errorf("client got %q, want done", m)
	}
	want := map[DroppedFrame]int64{{"up", "fx", "rpc"}: 2, {"down", "fx", "status"}: 1}
	d := srv.Dropped()
	if len(d) != len(want) {
		t.Errorf("dropped %v, want %v", d, want)
	}
	for k, n := range want {
		if d[k] != n {
			t.Errorf("dropped %v: %d, want %d (all: %v)", k, d[k], n, d)
		}
	}
	_, body := scrape(t, "http://"+addr+"/metrics", "")
	for series, n := range map[string]float64{
		`agentbridge_frames_dropped_total{dialect="fx",route="up",type="rpc"}`:      2,
		`agentbridge_frames_dropped_total{dialect="fx",route="down",type="status"}`: 1,
	} {
		if got := sample(body, series); got != n {
			t.Errorf("%s = %v, want %v", series, got, n)
		}
	}
}

// TestTickFailureEndsSession: a Tick error ends the session like a codec
// error: a client that failed its dialect's keepalive gets the dialect's
// error and 1008; when the backend failed it, the client gets 1014 (after
// the backend_unavailable error) and the backend 1008.
func TestTickFailureEndsSession(t *testing.T) {
	url, got, _ := recordBackend(t)
	tickClient := &Route{Name: "c", Path: "/c", Client: fxDialect, ClientOptions: translators.Options{Agent: "tick"},
		Backend: &Backend{Name: "fx", Dialect: fxDialect, URL: url}}
	tickBackend := plainRoute("b", "/b", &Backend{Name: "fx", Dialect: fxDialect, URL: url,
		Options: translators.Options{Agent: "tick"}})
	_, addr := startProxy(t, Config{Routes: []*Route{tickClient, tickBackend}})

	t.Run("client", func(t *testing.T) {
		c := dial(t, wsURL(addr, "/c"))
		code, msgs := c.expectClose()
		want := []string{"beat 1", "beat 2", "error missed its pong"}
		if code != ws.StatusPolicyViolation || len(msgs) != len(want) || msgs[0] != want[0] || msgs[1] != want[1] || msgs[2] != want[2] {
			t.Errorf("close %d after %q, want 1008 after %q", code, msgs, want)
		}
		if m := nextMsg(t, got); m != "close 1001" {
			t.Errorf("backend got %q, want close 1001", m)
		}
	})
	t.Run("backend", func(t *testing.T) {
		c := dial(t, wsURL(addr, "/b"))
		for _, want := range []string{"beat 1", "beat 2", "close 1008"} {
			if m := nextMsg(t, got); m != want {
				t.Errorf("backend got %q, want %q", m, want)
			}
		}
		code, msgs := c.expectClose()
		if code != 1014 || len(msgs) != 1 {
			t.Errorf("client: close %d after %q, want 1014 after the error", code, msgs)
		}
	})
}
