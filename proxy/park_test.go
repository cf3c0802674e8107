package proxy

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// relayGoroutines counts goroutines running a relay pump.
func relayGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("proxy.(*relay)")) {
			n++
		}
	}
	return n
}

// waitRelayGoroutines waits until at most want goroutines run relay pumps,
// and returns how many there were at the end.
func waitRelayGoroutines(want int, within time.Duration) int {
	deadline := time.Now().Add(within)
	for {
		n := relayGoroutines()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIdleRelaysHoldNoGoroutine checks that quiet relays park both legs:
// after the handshake and again after a message, no goroutine waits for
// them, and a parked relay still forwards what comes next, both ways.
func TestIdleRelaysHoldNoGoroutine(t *testing.T) {
	if getPoller() == nil {
		t.Skip("no epoll here: connections do not park")
	}
	url, _ := startBackend(t, echoBackend)
	_, addr := startProxy(t, Config{Routes: []*Route{plainRoute("relay", "/relay", plainBackend(url))}})
	const n = 40
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = dial(t, wsURL(addr, "/relay"))
	}
	if g := waitRelayGoroutines(0, 5*time.Second); g != 0 {
		t.Fatalf("%d goroutines still run pumps of %d idle relays after the handshake", g, n)
	}
	for round := range 2 {
		for i, c := range clients {
			c.send(fmt.Sprintf("r%d c%d", round, i))
		}
		for i, c := range clients {
			if got, want := c.recv(), fmt.Sprintf("echo: r%d c%d", round, i); got != want {
				t.Fatalf("round %d client %d got %q, want %q", round, i, got, want)
			}
		}
		if g := waitRelayGoroutines(0, 5*time.Second); g != 0 {
			t.Fatalf("round %d: %d goroutines still run pumps of %d idle relays after a message", round, g, n)
		}
	}
}

// TestParkedRelayFindsDeadClient checks that a parked leg keeps its read
// deadline: a client that answers no ping is dropped within ping interval
// plus pong timeout, and its relay ends.
func TestParkedRelayFindsDeadClient(t *testing.T) {
	url, _ := startBackend(t, echoBackend)
	srv, addr := startProxy(t, Config{
		Routes:       []*Route{plainRoute("relay", "/relay", plainBackend(url))},
		PingInterval: 400 * time.Millisecond,
		PongTimeout:  300 * time.Millisecond,
	})
	dead := dial(t, wsURL(addr, "/relay"))
	start := time.Now()
	_ = dead.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	for {
		if _, err := dead.nc.Read(buf); err != nil {
			break
		}
	}
	if d := time.Since(start); d < 600*time.Millisecond || d > 3*time.Second {
		t.Errorf("dead client dropped after %v, want about 700ms (ping 400ms + pong 300ms)", d)
	}
	deadline := time.Now().Add(3 * time.Second)
	for srv.Sessions() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("relay of a dead client still live: %d sessions", srv.Sessions())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
