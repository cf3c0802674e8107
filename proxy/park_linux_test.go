package proxy

import (
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
)

// TestEndedRelaysLeaveNoPollerSlot checks that a relay, whose legs keep
// their edge-triggered registration for life, gives their slots back when
// it ends (conn.forget), whichever side closed.
func TestEndedRelaysLeaveNoPollerSlot(t *testing.T) {
	url, _ := startBackend(t, echoBackend)
	srv, addr := startProxy(t, Config{Routes: []*Route{plainRoute("relay", "/relay", plainBackend(url))}})
	before := wsconn.ClosedInSlots()
	for i := range 6 {
		c := dialOwned(t, wsURL(addr, "/relay"), nil)
		c.send("hi")
		if got := c.recv(); got != "echo: hi" {
			t.Fatalf("relay %d got %q", i, got)
		}
		if i%2 == 0 {
			c.closeNormally()
		}
		c.nc.Close()
	}
	awaitNoSessions(t, srv, 5*time.Second, "relays")
	if n := wsconn.ClosedInSlots() - before; n > 0 {
		t.Fatalf("the poller holds %d closed connections of ended relays", n)
	}
}
