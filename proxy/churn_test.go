package proxy

import (
	"flag"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/agentbridge/agentbridge/demo"
)

var churnCycles = flag.Int("churn", 10000, "connect-authenticate-message-close cycles in TestChurnNoLeaks")

// TestChurnNoLeaks runs many connect, authenticate, message, close cycles
// over every kind of session (relay, translation, in-band Connic auth), then
// half as many with resets from the client or the backend, and checks that
// goroutines, file descriptors, live sessions and the heap come back to
// where they started while the server keeps running.
func TestChurnNoLeaks(t *testing.T) {
	cycles := *churnCycles
	if testing.Short() {
		cycles = 200
	}
	url, _ := startBackend(t, echoBackend)
	// A backend that resets the connection after its reply.
	resetURL, _ := startBackend(t, func(c netConn) {
		msg, _, err := readClient(c)
		if err != nil {
			return
		}
		writeText(c, "echo: "+string(msg))
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with RST
		}
	})
	secret := secretAuth(t, "churn-secret")
	withAuth := func(rt *Route) *Route { rt.Auth = secret; rt.Limits.MessageRate = -1; return rt }
	srv, addr := startProxy(t, Config{Routes: []*Route{
		withAuth(plainRoute("relay", "/relay", plainBackend(url))),
		withAuth(plainRoute("translate", "/translate", demoBackend(demo.Agent{}))),
		connicRoute("connic", "/connic", plainBackend(url), secret),
		withAuth(plainRoute("reset", "/reset", plainBackend(resetURL))),
	}})
	bearer := ws.HandshakeHeaderString("Authorization: Bearer churn-secret\r\n")

	cycle := func(i int, reset bool) {
		path := []string{"/relay", "/translate", "/connic"}[i%3]
		if reset && i%2 == 1 {
			path = "/reset"
		}
		var c *client
		if path == "/connic" {
			c = dialOwned(t, wsURL(addr, path), nil)
			c.send(`{"secret":"churn-secret"}`)
			c.recv() // connected
			c.send(fmt.Sprintf(`{"message":"m%d"}`, i))
			for m := c.recv(); !containsType(m, "stream_end"); m = c.recv() {
			}
		} else {
			c = dialOwned(t, wsURL(addr, path), bearer)
			c.send(fmt.Sprint("m", i))
			c.recv()
		}
		switch {
		case path == "/reset":
			// The backend resets after its reply: the client hears 1014,
			// or 1000 if its own close got there first.
			c.writeFrame(ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
			if code, _ := c.expectClose(); code != 1014 && code != ws.StatusNormalClosure {
				t.Errorf("after a backend reset: close %d", code)
			}
			c.nc.Close()
		case reset:
			if tc, ok := c.nc.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			c.nc.Close() // the client resets
		case i%2 == 0:
			c.nc.Close() // the client vanishes without a close frame
		default:
			c.closeNormally()
		}
	}
	// Warm up fasthttp's workers and the pools.
	for i := range 30 {
		cycle(i, false)
	}
	waitFor(t, func() bool { return srv.Sessions() == 0 })
	check := checkNoLeaks(t)
	heap0 := heapInUse()
	start := time.Now()
	for i := range cycles {
		cycle(i, false)
	}
	for i := range cycles / 2 {
		cycle(i, true)
	}
	waitFor(t, func() bool { return srv.Sessions() == 0 })
	check()
	heap1 := heapInUse()
	t.Logf("churn: %d clean + %d reset cycles in %v; heap in use %d KiB -> %d KiB",
		cycles, cycles/2, time.Since(start).Round(time.Millisecond), heap0>>10, heap1>>10)
	if heap1 > heap0+8<<20 {
		t.Errorf("heap grew from %d to %d KiB over the churn", heap0>>10, heap1>>10)
	}
}

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func containsType(msg, typ string) bool { return strings.Contains(msg, `"type":"`+typ+`"`) }

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
