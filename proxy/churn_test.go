package proxy

import (
	"fmt"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/demo"
)

// TestChurnNoLeaks runs many connect, message, close cycles on every kind of
// session and checks that goroutines, file descriptors and the session
// registry come back to where they started while the server keeps running.
func TestChurnNoLeaks(t *testing.T) {
	cycles := 300
	if testing.Short() {
		cycles = 50
	}
	url, _ := startBackend(t, echoBackend)
	srv, addr := startProxy(t, Config{Routes: []*Route{
		plainRoute("echo", "/echo", plainBackend(url)),
		plainRoute("demo", "/demo", demoBackend(demo.Agent{})),
	}})
	// Warm up: the first connections start fasthttp workers that stay.
	for _, p := range []string{"/echo", "/demo"} {
		c := dial(t, wsURL(addr, p))
		c.send("warm")
		c.recv()
		c.nc.Close()
	}
	waitFor(t, func() bool { return srv.Sessions() == 0 })
	check := checkNoLeaks(t)
	for i := range cycles {
		for _, p := range []string{"/echo", "/demo"} {
			c := dial(t, wsURL(addr, p))
			msg := fmt.Sprint("message ", i)
			c.send(msg)
			got := c.recv()
			if got != "echo: "+msg && got != "You said: "+msg {
				t.Fatalf("%s cycle %d: reply %q", p, i, got)
			}
			if i%2 == 0 {
				c.nc.Close() // vanish without a close frame
			} else {
				c.closeNormally()
			}
		}
	}
	waitFor(t, func() bool { return srv.Sessions() == 0 })
	check()
}

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
