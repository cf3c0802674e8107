package proxy

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
)

// pumpGoroutines counts goroutines running a relay's or a session's pump,
// or reading a Wiro subscriber's socket or a Wiro conversation's backend.
// The poller's own goroutine counts only while it runs a pump inline (its
// creator may be a relay's start).
func pumpGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("netpoll.(*shard).loop")) && !bytes.Contains(g, []byte("RunInline")) {
			continue
		}
		if bytes.Contains(g, []byte("proxy.(*relay)")) || bytes.Contains(g, []byte("proxy.(*session)")) ||
			bytes.Contains(g, []byte("proxy.(*subscriber)")) || bytes.Contains(g, []byte("proxy.(*conversation)")) {
			n++
		}
	}
	return n
}

// waitPumpGoroutines waits until no goroutine runs a pump, and returns how
// many still did at the end.
func waitPumpGoroutines(within time.Duration) int {
	deadline := time.Now().Add(within)
	for {
		n := pumpGoroutines()
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIdleSessionsHoldNoGoroutine checks that quiet sessions park both
// legs, on a relay and on a translating route with a socket backend: after
// the handshake and again after each message, no goroutine waits for them,
// and a parked session still carries what comes next, both ways.
func TestIdleSessionsHoldNoGoroutine(t *testing.T) {
	if !wsconn.Parks() {
		t.Skip("no epoll here: connections do not park")
	}
	url, _ := startBackend(t, echoBackend)
	secret := secretAuth(t, "park-secret")
	_, addr := startProxy(t, Config{Routes: []*Route{
		plainRoute("relay", "/relay", plainBackend(url)),
		connicRoute("connic", "/connic", plainBackend(url), secret),
	}})
	const n = 20
	type session struct {
		c      *client
		connic bool
	}
	var sessions []session
	for i := range 2 * n {
		if i%2 == 0 {
			sessions = append(sessions, session{c: dial(t, wsURL(addr, "/relay"))})
			continue
		}
		c := dialWith(t, wsURL(addr, "/connic"), ws.HandshakeHeaderString("X-Connic-Secret: park-secret\r\n"))
		if m := c.recv(); !containsType(m, "connected") {
			t.Fatalf("connic greeting %q", m)
		}
		sessions = append(sessions, session{c: c, connic: true})
	}
	if g := waitPumpGoroutines(5 * time.Second); g != 0 {
		t.Fatalf("%d goroutines still run pumps of %d idle sessions after the handshake", g, len(sessions))
	}
	for round := range 2 {
		for i, s := range sessions {
			if s.connic {
				s.c.send(fmt.Sprintf(`{"message":"r%d c%d"}`, round, i))
			} else {
				s.c.send(fmt.Sprintf("r%d c%d", round, i))
			}
		}
		for i, s := range sessions {
			want := fmt.Sprintf("echo: r%d c%d", round, i)
			if !s.connic {
				if got := s.c.recv(); got != want {
					t.Fatalf("round %d relay %d got %q, want %q", round, i, got, want)
				}
				continue
			}
			var got []string
			for m := s.c.recv(); !containsType(m, "stream_end") && !containsType(m, "response"); m = s.c.recv() {
				got = append(got, m)
			}
			if all := strings.Join(got, " "); !strings.Contains(all, want) {
				t.Fatalf("round %d connic %d got %s, want the text %q", round, i, all, want)
			}
		}
		if g := waitPumpGoroutines(5 * time.Second); g != 0 {
			t.Fatalf("round %d: %d goroutines still run pumps of %d idle sessions after a message", round, g, len(sessions))
		}
	}
}

// startPingedRelay serves an echoing relay at /relay whose legs are
// pinged every 400ms and dropped 300ms after an unanswered ping.
func startPingedRelay(t *testing.T) (*Server, string) {
	t.Helper()
	url, _ := startBackend(t, echoBackend)
	return startProxy(t, Config{
		Routes:       []*Route{plainRoute("relay", "/relay", plainBackend(url))},
		PingInterval: 400 * time.Millisecond,
		PongTimeout:  300 * time.Millisecond,
	})
}

// TestParkedRelayFindsDeadClient checks that a parked leg keeps its read
// deadline: a client that answers no ping is dropped within ping interval
// plus pong timeout, and its relay ends.
func TestParkedRelayFindsDeadClient(t *testing.T) {
	srv, addr := startPingedRelay(t)
	dead := dial(t, wsURL(addr, "/relay"))
	if d := dead.awaitDrop(5 * time.Second); d < 600*time.Millisecond || d > 3*time.Second {
		t.Errorf("dead client dropped after %v, want about 700ms (ping 400ms + pong 300ms)", d)
	}
	awaitNoSessions(t, srv, 3*time.Second, "relay of a dead client")
}

// TestParkedDeadlineMovesLazily checks the parked legs' read deadline as
// it moves with traffic: each park leaves the connection's timer where an
// earlier park set it, and when it fires early it must find the later
// deadline and wait for that. A client that talks for longer than the
// deadline is kept; once it stops answering it is dropped about one
// ping interval plus pong timeout later.
func TestParkedDeadlineMovesLazily(t *testing.T) {
	srv, addr := startPingedRelay(t)
	c := dial(t, wsURL(addr, "/relay"))
	for i := range 8 { // 8 x 150ms: past the 700ms deadline the first park set
		c.send(fmt.Sprint("m", i))
		if got := c.recv(); got != fmt.Sprint("echo: m", i) {
			t.Fatalf("message %d: got %q", i, got)
		}
		time.Sleep(150 * time.Millisecond)
	}
	if d := c.awaitDrop(5 * time.Second); d < 450*time.Millisecond || d > 3*time.Second {
		t.Errorf("silent client dropped %v after its last message, want about 700ms (ping 400ms + pong 300ms)", d)
	}
	awaitNoSessions(t, srv, 3*time.Second, "relay of a silent client")
}

// TestRelayIdleTimeoutMovesWithMessages checks the session timeout of a
// relay, which rides on the client connection's one timer: each client
// message moves the deadline (lazily), and a client that stops sending gets
// the error message and 1008 one timeout after its last message.
func TestRelayIdleTimeoutMovesWithMessages(t *testing.T) {
	url, _ := startBackend(t, echoBackend)
	rt := plainRoute("relay", "/relay", plainBackend(url))
	rt.Session = Session{Timeout: 400 * time.Millisecond}
	_, addr := startProxy(t, Config{Routes: []*Route{rt}})
	c := dial(t, wsURL(addr, "/relay"))
	start := time.Now()
	for i := range 4 { // 4 x 200ms: past the timeout, but never 400ms quiet
		c.send(fmt.Sprint("m", i))
		if got := c.recv(); got != fmt.Sprint("echo: m", i) {
			t.Fatalf("message %d: got %q", i, got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	last := time.Now().Add(-200 * time.Millisecond)
	code, msgs := c.expectClose()
	quiet := time.Since(last)
	if code != ws.StatusPolicyViolation || len(msgs) != 1 || !strings.Contains(msgs[0], "session_timeout") {
		t.Fatalf("close %d after %q, want session_timeout and 1008", code, msgs)
	}
	if time.Since(start) < 900*time.Millisecond || quiet < 350*time.Millisecond || quiet > 3*time.Second {
		t.Errorf("closed %v after the last message (%v after the first), want about 400ms after the last", quiet, time.Since(start))
	}
}

// TestIdleSubscribersHoldNoGoroutine checks that Wiro subscriber sockets
// park between subscriptions, and a conversation's backend socket between
// replies, and that both still serve what comes next.
func TestIdleSubscribersHoldNoGoroutine(t *testing.T) {
	if !wsconn.Parks() {
		t.Skip("no epoll here: connections do not park")
	}
	url, _ := startBackend(t, echoBackend)
	_, addr := startProxy(t, Config{Routes: []*Route{
		wiroRoute("wiro", "/v1", plainBackend(url), secretAuth(t, "api-key")),
	}})
	subs := make([]*client, 20)
	for i := range subs {
		subs[i] = dial(t, wsURL(addr, "/v1"))
	}
	if g := waitPumpGoroutines(5 * time.Second); g != 0 {
		t.Fatalf("%d goroutines still read %d idle subscriber sockets", g, len(subs))
	}
	for round := range 2 {
		status, r := wiroSend(t, addr, "/v1", "api-key", sendBody(fmt.Sprint("round ", round), "user-1"))
		if status != 200 || !r.Result {
			t.Fatalf("send = %d %+v", status, r)
		}
		evs := subs[round].wiroEvents(r.AgentToken, true)
		if last := evs[len(evs)-1]; last.Type != "agent_end" && last.Status != "agent_end" {
			t.Fatalf("round %d: events %s", round, types(evs))
		}
		var all strings.Builder
		for _, e := range evs {
			all.WriteString(e.DebugOutput)
			all.Write(e.Message)
		}
		if !strings.Contains(all.String(), fmt.Sprint("echo: round ", round)) {
			t.Fatalf("round %d: no echo in %s: %s", round, types(evs), all.String())
		}
		if g := waitPumpGoroutines(5 * time.Second); g != 0 {
			t.Fatalf("round %d: %d goroutines still read idle subscriber sockets", round, g)
		}
	}
}
