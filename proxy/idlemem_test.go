package proxy

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
	"github.com/agentbridge/agentbridge/translators"
)

// TestIdleSessionsReleaseScratch checks that a translating session gives
// its working buffers back once its reply ended and both pumps parked: the
// heap held per Connic session after one message and its streamed reply
// stays near what it held after the handshake (it grew by about 3.7 KiB
// when the pumps kept their message and event buffers, the pending frames,
// the Turn's text, the ring of pending ids and the codec's parser), and the
// next message, on buffers taken from the pools again, is answered as the
// first was.
func TestIdleSessionsReleaseScratch(t *testing.T) {
	if !wsconn.Parks() {
		t.Skip("no epoll here: connections do not park")
	}
	url, _ := startBackend(t, chunkBackend("[DONE]"))
	b := plainBackend(url)
	b.Options = translators.Options{Chunked: true, EndMarker: "[DONE]"}
	srv, addr := startProxy(t, Config{Routes: []*Route{
		connicRoute("connic", "/connic", b, secretAuth(t, "idle-secret")),
	}})
	const n = 200
	clients := make([]*client, n)
	for i := range clients {
		c := dialWith(t, wsURL(addr, "/connic"), ws.HandshakeHeaderString("X-Connic-Secret: idle-secret\r\n"))
		if m := c.recv(); !containsType(m, "connected") {
			t.Fatalf("connic greeting %q", m)
		}
		clients[i] = c
	}
	round := func(r int) {
		for i, c := range clients {
			c.send(fmt.Sprintf(`{"type":"message","id":"m%d-%d","payload":{"message":"round %d client %d"}}`, r, i, r, i))
		}
		for i, c := range clients {
			var got []string
			for m := c.recv(); !containsType(m, "stream_end"); m = c.recv() {
				got = append(got, m)
			}
			if all := strings.Join(got, " "); !strings.Contains(all, fmt.Sprintf(`"chunk":"%d"`, i)) {
				t.Fatalf("round %d client %d got %s", r, i, all)
			}
		}
		if g := waitPumpGoroutines(5 * time.Second); g != 0 {
			t.Fatalf("round %d: %d goroutines still run pumps", r, g)
		}
	}
	heap := func() int64 {
		var m runtime.MemStats
		// Twice: a pool's items outlive one collection.
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	if g := waitPumpGoroutines(5 * time.Second); g != 0 {
		t.Fatalf("%d goroutines still run pumps after the handshake", g)
	}
	h0 := heap()
	round(0)
	h1 := heap()
	round(1) // after an idle period, on buffers from the pools again
	h2 := heap()
	per := func(d int64) int64 { return d / n }
	t.Logf("heap per session: %+d bytes after the first message, %+d after the second", per(h1-h0), per(h2-h0))
	// What may stay: the ids the Connic codec copied, the leg's encode
	// buffer and such small things (about 100 bytes), not the scratch;
	// the rest (about 450 bytes) is the runtime's and the test's own.
	const max = 1024
	if per(h1-h0) > max || per(h2-h0) > max {
		t.Errorf("idle sessions hold %d and %d more bytes each after a message, want at most %d",
			per(h1-h0), per(h2-h0), max)
	}
	if srv.Sessions() != n {
		t.Errorf("%d sessions, want %d", srv.Sessions(), n)
	}
}

// TestSessionSizeClass keeps the session in the size class its doc comment
// names: with the allocator's 8-byte header, at most 640 bytes.
func TestSessionSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(session{}); n+8 > 640 {
		t.Errorf("a session is %d bytes: past the 640-byte size class (see its doc comment)", n)
	}
}

// TestStreamingSessionParksWithoutScratch checks that a session whose reply
// is in progress gives the backend pump's scratch back when the pump parks
// between chunks (the events, the leg's message buffer), so that the next
// chunk takes the poller's warm copy from the pool, while the Turn keeps
// the reply's text: the reply, resumed after the pause, arrives whole.
func TestStreamingSessionParksWithoutScratch(t *testing.T) {
	if !wsconn.Parks() {
		t.Skip("no epoll here: connections do not park")
	}
	resume := make(chan struct{})
	srv, c := connicChunkSession(t, func(c net.Conn) {
		if _, _, err := wsutil.ReadClientData(c); err != nil {
			return
		}
		for _, w := range []string{"one ", "two "} {
			if wsutil.WriteServerText(c, []byte(w)) != nil {
				return
			}
		}
		<-resume
		for _, w := range []string{"three", "[DONE]"} {
			if wsutil.WriteServerText(c, []byte(w)) != nil {
				return
			}
		}
		_, _, _ = wsutil.ReadClientData(c) // until the proxy closes
	})
	c.send(`{"type":"message","id":"m1","payload":{"message":"hi"}}`)
	var got []string
	for len(got) < 3 { // stream_start and two chunks
		got = append(got, c.recv())
	}
	if g := waitPumpGoroutines(5 * time.Second); g != 0 {
		t.Fatalf("%d goroutines still run pumps mid-reply", g)
	}
	srv.mu.Lock()
	var ss *session
	for sc := range srv.sessions {
		ss, _ = sc.(*session)
	}
	srv.mu.Unlock()
	if ss == nil {
		t.Fatal("no translating session registered")
	}
	su := ss.backend()
	// The backend's reader lock orders these reads after the parked pump's
	// writes.
	for !su.c.TryLockReader() {
		time.Sleep(time.Millisecond)
	}
	bb, rb, open := ss.bb, su.rb, ss.turn.Open()
	text := string(ss.turn.Text())
	su.c.UnlockReader()
	if bb != nil || rb != nil {
		t.Errorf("a session parked mid-reply holds its scratch: events %v, leg %v", bb != nil, rb != nil)
	}
	if !open || text != "one two " {
		t.Errorf("mid-reply the Turn is open=%v with text %q, want open with %q", open, text, "one two ")
	}
	close(resume)
	got = append(got, recvReply(c)...)
	if all := strings.Join(got, " "); !strings.Contains(all, `"chunk":"three"`) || !strings.Contains(all, `"chunk":"one "`) {
		t.Errorf("reply after the pause: %s", all)
	}
}
