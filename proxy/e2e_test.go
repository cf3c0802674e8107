package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/agentbridge/agentbridge/demo"
	"github.com/agentbridge/agentbridge/translators"
)

func TestPlainToDemo(t *testing.T) {
	check := checkNoLeaks(t)
	stream := plainRoute("stream", "/stream/:agent/:name", demoBackend(demo.Agent{}))
	stream.ClientOptions = translators.Options{Reply: translators.ReplyStream, EndMarker: "[END]"}
	srv, addr := startProxy(t, Config{Routes: []*Route{
		plainRoute("agents", "/agents/:agent/:name", demoBackend(demo.Agent{})),
		stream,
	}})

	c := dial(t, wsURL(addr, "/agents/dialogue-agent/insight-seeker"))
	c.send("hello there")
	if got, want := c.recv(), "You said: hello there"; got != want {
		t.Errorf("whole reply = %q, want %q", got, want)
	}
	c.send(`{"type":"inquiry","content":"What patterns do you see?"}`)
	if got, want := c.recv(), `You said: {"type":"inquiry","content":"What patterns do you see?"}`; got != want {
		t.Errorf("second reply = %q, want %q", got, want)
	}

	s := dial(t, wsURL(addr, "/stream/a/b"))
	s.send("one two three")
	var chunks []string
	for {
		m := s.recv()
		if m == "[END]" {
			break
		}
		chunks = append(chunks, m)
	}
	if got, want := strings.Join(chunks, "|"), "You |said: |one |two |three"; got != want {
		t.Errorf("stream chunks = %q, want %q", got, want)
	}
	c.nc.Close()
	s.nc.Close()
	stopProxy(t, srv)
	check()
}

func TestPlainPassthrough(t *testing.T) {
	url, _ := startBackend(t, echoBackend)
	check := checkNoLeaks(t)
	srv, addr := startProxy(t, Config{Routes: []*Route{plainRoute("echo", "/echo", plainBackend(url))}})
	c := dial(t, wsURL(addr, "/echo"))
	for _, msg := range []string{"hi", "", strings.Repeat("x", 70000), "héllo ✓"} {
		c.send(msg)
		if got := c.recv(); got != "echo: "+msg {
			t.Fatalf("echo of %d bytes: got %d bytes", len(msg), len(got))
		}
	}
	// A fragmented message with a ping in between is relayed whole.
	mask := ws.NewMask()
	c.writeFrame(ws.MaskFrameWith(ws.NewFrame(ws.OpText, false, []byte("frag")), mask))
	c.writeFrame(ws.MaskFrame(ws.NewPingFrame([]byte("p"))))
	c.writeFrame(ws.MaskFrame(ws.NewFrame(ws.OpContinuation, true, []byte("mented"))))
	if got := c.recv(); got != "echo: fragmented" {
		t.Errorf("fragmented echo = %q", got)
	}
	c.nc.Close()
	stopProxy(t, srv)
	check()
}

func TestPlainTranslatedChunked(t *testing.T) {
	// A chunked backend with an end marker, a client that wants whole
	// replies: the proxy translates.
	url, _ := startBackend(t, chunkBackend("[DONE]"))
	b := plainBackend(url)
	b.Options = translators.Options{Chunked: true, EndMarker: "[DONE]"}
	gapURL, _ := startBackend(t, chunkBackend(""))
	gap := plainBackend(gapURL)
	gap.Options = translators.Options{Chunked: true}
	gap.IdleGap = 100 * time.Millisecond
	_, addr := startProxy(t, Config{Routes: []*Route{
		plainRoute("marker", "/marker", b),
		plainRoute("gap", "/gap", gap),
	}})
	for _, path := range []string{"/marker", "/gap"} {
		c := dial(t, wsURL(addr, path))
		c.send("a b c")
		if got := c.recv(); got != "a b c" {
			t.Errorf("%s: whole reply = %q, want %q", path, got, "a b c")
		}
		c.send("d e")
		if got := c.recv(); got != "d e" {
			t.Errorf("%s: second reply = %q, want %q", path, got, "d e")
		}
	}
}

func TestHandshakeErrors(t *testing.T) {
	_, addr := startProxy(t, Config{Routes: []*Route{
		plainRoute("dead", "/dead", plainBackend("ws://127.0.0.1:1/")),
		plainRoute("demo", "/demo", demoBackend(demo.Agent{})),
	}})
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/nowhere", 404, `"error":"not_found"`},
		{"/dead", 502, `"error":"backend_unavailable"`},
	}
	for _, tt := range tests {
		status, body := dialRefused(t, wsURL(addr, tt.path), nil)
		if status != tt.status || !strings.Contains(body, tt.body) {
			t.Errorf("%s: status %d body %q, want %d with %s", tt.path, status, body, tt.status, tt.body)
		}
	}
}

func TestBackendHandshakeTimeout(t *testing.T) {
	// A backend that accepts TCP but never answers the handshake: 504.
	ln := listenSilent(t)
	b := plainBackend("ws://" + ln + "/")
	b.HandshakeTimeout = 200 * time.Millisecond
	_, addr := startProxy(t, Config{Routes: []*Route{plainRoute("slow", "/slow", b)}})
	status, body := dialRefused(t, wsURL(addr, "/slow"), nil)
	if status != 504 || !strings.Contains(body, "backend_timeout") {
		t.Errorf("status %d body %q, want 504 backend_timeout", status, body)
	}
}

func TestBadFrames(t *testing.T) {
	url, _ := startBackend(t, echoBackend)
	small := plainRoute("small", "/small", plainBackend(url))
	small.Limits.MaxMessage = 1024
	smallDemo := plainRoute("smalldemo", "/smalldemo", demoBackend(demo.Agent{}))
	smallDemo.Limits.MaxMessage = 1024
	_, addr := startProxy(t, Config{Routes: []*Route{
		plainRoute("echo", "/echo", plainBackend(url)),
		plainRoute("demo", "/demo", demoBackend(demo.Agent{})),
		small, smallDemo,
	}})
	big := strings.Repeat("y", 600)
	tests := []struct {
		name   string
		frames []ws.Frame
		want   ws.StatusCode
	}{
		{"unmasked frame", []ws.Frame{ws.NewTextFrame([]byte("hi"))}, ws.StatusProtocolError},
		{"reserved opcode", []ws.Frame{ws.MaskFrame(ws.NewFrame(ws.OpCode(0x3), true, []byte("x")))}, ws.StatusProtocolError},
		{"rsv bit", []ws.Frame{ws.MaskFrame(ws.Frame{Header: ws.Header{Fin: true, Rsv: 4, OpCode: ws.OpText, Length: 1}, Payload: []byte("x")})}, ws.StatusProtocolError},
		{"continuation first", []ws.Frame{ws.MaskFrame(ws.NewFrame(ws.OpContinuation, true, []byte("x")))}, ws.StatusProtocolError},
		{"fragmented ping", []ws.Frame{ws.MaskFrame(ws.NewFrame(ws.OpPing, false, nil))}, ws.StatusProtocolError},
		{"invalid utf-8", []ws.Frame{ws.MaskFrame(ws.NewTextFrame([]byte("bad \xff")))}, ws.StatusInvalidFramePayloadData},
		{"utf-8 split over fragments", []ws.Frame{
			ws.MaskFrame(ws.NewFrame(ws.OpText, false, []byte("ok \xe2\x82"))),
			ws.MaskFrame(ws.NewFrame(ws.OpContinuation, true, []byte("x"))),
		}, ws.StatusInvalidFramePayloadData},
		{"bad close code", []ws.Frame{ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(1005, "")))}, ws.StatusProtocolError},
	}
	for _, path := range []string{"/echo", "/demo"} {
		for _, tt := range tests {
			t.Run(path+"/"+tt.name, func(t *testing.T) {
				c := dial(t, wsURL(addr, path))
				for _, f := range tt.frames {
					c.writeFrame(f)
				}
				if code, _ := c.expectClose(); code != tt.want {
					t.Errorf("close code %d, want %d", code, tt.want)
				}
			})
		}
		// Over the limit across fragments: 1009, each fragment alone fits.
		for _, p := range []string{"/small", "/smalldemo"} {
			c := dial(t, wsURL(addr, p))
			c.writeFrame(ws.MaskFrame(ws.NewFrame(ws.OpText, false, []byte(big))))
			c.writeFrame(ws.MaskFrame(ws.NewFrame(ws.OpContinuation, true, []byte(big))))
			if code, _ := c.expectClose(); code != ws.StatusMessageTooBig {
				t.Errorf("%s: cumulative over limit: close %d, want 1009", p, code)
			}
		}
	}
}

func TestBackendCloseCodePassesThrough(t *testing.T) {
	closer := func(c netConn) {
		_, _, _ = readClient(c)
		writeClose(c, 4001, "go away")
	}
	url, _ := startBackend(t, func(c netConn) { closer(c) })
	b := plainBackend(url)
	_, addr := startProxy(t, Config{Routes: []*Route{
		plainRoute("pass", "/pass", b),
		{Name: "tr", Path: "/tr", Client: b.Dialect, Backend: b, ClientOptions: translators.Options{Reply: translators.ReplyStream}},
	}})
	for _, path := range []string{"/pass", "/tr"} {
		c := dial(t, wsURL(addr, path))
		c.send("hi")
		if code, _ := c.expectClose(); code != 4001 {
			t.Errorf("%s: close %d, want the backend's 4001", path, code)
		}
	}
}

func TestBackendDropsMidReply(t *testing.T) {
	// The backend sends two chunks and drops the TCP connection: the client
	// gets both chunks, the dialect's error message, then 1014, whether the
	// route translates or relays.
	url, _ := startBackend(t, func(c netConn) {
		_, _, _ = readClient(c)
		writeText(c, "part one ")
		writeText(c, "part two")
	})
	b := plainBackend(url)
	b.Options = translators.Options{Chunked: true, EndMarker: "[DONE]"}
	translate := plainRoute("translate", "/translate", b)
	translate.ClientOptions = translators.Options{Reply: translators.ReplyStream}
	relay := plainRoute("relay", "/relay", b)
	relay.ClientOptions = translators.Options{Reply: translators.ReplyStream, EndMarker: "[DONE]"}
	_, addr := startProxy(t, Config{Routes: []*Route{translate, relay}})
	for _, path := range []string{"/translate", "/relay"} {
		c := dial(t, wsURL(addr, path))
		c.send("go")
		code, msgs := c.expectClose()
		if code != 1014 {
			t.Errorf("%s: close %d, want 1014", path, code)
		}
		if len(msgs) != 3 || msgs[0] != "part one " || msgs[1] != "part two" || !strings.Contains(msgs[2], `"code":"backend_unavailable"`) {
			t.Errorf("%s: messages before close = %q", path, msgs)
		}
	}
}

func TestKeepaliveFindsDeadClient(t *testing.T) {
	_, addr := startProxy(t, Config{
		Routes:       []*Route{plainRoute("demo", "/demo", demoBackend(demo.Agent{}))},
		PingInterval: 50 * time.Millisecond,
		PongTimeout:  50 * time.Millisecond,
	})
	// A client that reads nothing and answers no ping is dropped within
	// ping + pong timeout; a well-behaved client stays.
	dead := dial(t, wsURL(addr, "/demo"))
	live := dial(t, wsURL(addr, "/demo"))
	// The live client answers pings (wsutil answers them while reading).
	got := make(chan string, 1)
	go func() { m, _ := live.read(); got <- m }()
	if d := dead.awaitDrop(3 * time.Second); d > time.Second {
		t.Errorf("dead client dropped after %v, want about 100ms", d)
	}
	time.Sleep(300 * time.Millisecond)
	live.send("still here")
	if m := <-got; m != "You said: still here" {
		t.Errorf("live client got %q", m)
	}
}

func TestShutdownDrainsReplies(t *testing.T) {
	check := checkNoLeaks(t)
	srv, addr := startProxy(t, Config{
		Routes:       []*Route{plainRoute("slow", "/slow", demoBackend(demo.Agent{Pace: 20 * time.Millisecond}))},
		DrainTimeout: 5 * time.Second,
	})
	busy := dial(t, wsURL(addr, "/slow"))
	idle := dial(t, wsURL(addr, "/slow"))
	busy.send("one two three four five")
	time.Sleep(30 * time.Millisecond) // the reply is streaming now
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(t.Context()) }()

	// The in-flight reply finishes, then 1001.
	if got := busy.recv(); got != "You said: one two three four five" {
		t.Errorf("reply during drain = %q", got)
	}
	if code, _ := busy.expectClose(); code != ws.StatusGoingAway {
		t.Errorf("busy client close %d, want 1001", code)
	}
	if code, _ := idle.expectClose(); code != ws.StatusGoingAway {
		t.Errorf("idle client close %d, want 1001", code)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if _, err := netDial(addr); err == nil {
		t.Errorf("new connection accepted after Shutdown")
	}
	busy.nc.Close()
	idle.nc.Close()
	stopProxy(t, srv)
	check()
}

func TestShutdownDeadlineForcesClose(t *testing.T) {
	srv, addr := startProxy(t, Config{
		Routes:       []*Route{plainRoute("slow", "/slow", demoBackend(demo.Agent{Pace: time.Second}))},
		DrainTimeout: 100 * time.Millisecond,
	})
	c := dial(t, wsURL(addr, "/slow"))
	c.send("never finishes in time")
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	go func() { _ = srv.Shutdown(t.Context()) }()
	if code, _ := c.expectClose(); code != ws.StatusGoingAway {
		t.Errorf("close %d, want 1001", code)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("forced close after %v, want about the 100ms drain timeout", d)
	}
}

func TestReadyzDuringDrain(t *testing.T) {
	srv, addr := startProxy(t, Config{
		Routes:       []*Route{plainRoute("slow", "/slow", demoBackend(demo.Agent{Pace: 50 * time.Millisecond}))},
		DrainTimeout: 3 * time.Second,
	})
	if code := httpGet(t, addr, "/readyz"); code != 200 {
		t.Fatalf("/readyz = %d before shutdown", code)
	}
	c := dial(t, wsURL(addr, "/slow"))
	c.send("a b c d e f g h")
	time.Sleep(20 * time.Millisecond)
	go func() { _ = srv.Shutdown(t.Context()) }()
	deadline := time.Now().Add(2 * time.Second)
	for !srv.Draining() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !srv.Draining() {
		t.Fatal("server not draining")
	}
	c.recv()
}

func TestKeepaliveBackend(t *testing.T) {
	// The proxy pings backends too: one that answers pings but is quiet for
	// longer than ping + pong timeout stays connected; one that answers
	// nothing is taken for dead (the client gets an error, then 1014).
	quiet, _ := startBackend(t, func(c netConn) {
		msg, _, err := readClient(c)
		if err != nil {
			return
		}
		go func() {
			time.Sleep(600 * time.Millisecond)
			writeText(c, "late: "+string(msg))
			writeText(c, "[DONE]")
		}()
		_, _, _ = readClient(c) // answers pings meanwhile
	})
	dead, _ := startBackend(t, func(c netConn) { time.Sleep(time.Second) })
	routes := []*Route{plainRoute("quiet", "/quiet", plainBackend(quiet)), plainRoute("dead", "/dead", plainBackend(dead))}
	for _, rt := range routes {
		// Chunked backend, whole replies to the client: translating.
		rt.Backend.Options = translators.Options{Chunked: true, EndMarker: "[DONE]"}
	}
	_, addr := startProxy(t, Config{Routes: routes, PingInterval: 50 * time.Millisecond, PongTimeout: 150 * time.Millisecond})

	c := dial(t, wsURL(addr, "/quiet"))
	c.send("hi")
	if got := c.recv(); got != "late: hi" {
		t.Errorf("quiet backend: got %q", got)
	}

	c = dial(t, wsURL(addr, "/dead"))
	start := time.Now()
	code, msgs := c.expectClose()
	if code != 1014 || len(msgs) != 1 || time.Since(start) > 900*time.Millisecond {
		t.Errorf("dead backend: close %d after %q in %v, want 1014 within about 200ms", code, msgs, time.Since(start))
	}
}

func TestExpvarOptIn(t *testing.T) {
	_, off := startProxy(t, Config{Routes: []*Route{plainRoute("d", "/d", demoBackend(demo.Agent{}))}})
	if code := httpGet(t, off, "/debug/vars"); code != 404 {
		t.Errorf("/debug/vars without expvar: %d, want 404", code)
	}
	if code := httpGet(t, off, "/debug/pprof/"); code != 404 {
		t.Errorf("/debug/pprof/ without pprof: %d, want 404", code)
	}
	_, on := startProxy(t, Config{Routes: []*Route{plainRoute("d", "/d", demoBackend(demo.Agent{}))}, Expvar: true, Pprof: true})
	if code := httpGet(t, on, "/debug/vars"); code != 200 {
		t.Errorf("/debug/vars with expvar: %d, want 200", code)
	}
	if code := httpGet(t, on, "/debug/pprof/"); code != 200 {
		t.Errorf("/debug/pprof/ with pprof: %d, want 200", code)
	}
}
