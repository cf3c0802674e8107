//go:build !race

package wsconn

import (
	"io"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestWriteControlAllocatesNothing: a ping or pong is built in a pooled
// buffer, its payload copied to the buffer's end, so keepalive costs no
// allocation per ping (the race detector's pool drops buffers at random,
// hence the build tag).
func TestWriteControlAllocatesNothing(t *testing.T) {
	nc, peer := tcpPair(t)
	go io.Copy(io.Discard, peer)

	for _, client := range []bool{true, false} { // a backend leg masks
		c := New(nc, client, time.Second, 0)
		payload := []byte("keepalive")
		if n := testing.AllocsPerRun(100, func() {
			if err := c.WriteControl(ws.OpPing, payload); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("client=%v: WriteControl allocates %v times per call", client, n)
		}
		if string(payload) != "keepalive" {
			t.Errorf("client=%v: WriteControl changed its payload to %q", client, payload)
		}
	}
}

// TestTimersScheduleAllocatesNothing: scheduling, moving and cancelling a
// kick on a heap with room allocates nothing (container/heap's Push and
// Pop would box each entry; timers.go does not call them for that).
func TestTimersScheduleAllocatesNothing(t *testing.T) {
	var th timerHeap
	conns := make([]*Conn, 64)
	far := monoNow().add(time.Hour)
	for i := range conns {
		conns[i] = &Conn{kick: func() {}}
		th.schedule(conns[i], far.add(time.Duration(i)), false)
	}
	defer th.t.Stop()
	c := conns[10]
	if n := testing.AllocsPerRun(100, func() {
		th.schedule(c, far.add(-time.Minute), false) // moved to the top
		th.cancel(c)
		th.schedule(c, far.add(time.Minute), false) // back in, at the end
	}); n != 0 {
		t.Errorf("schedule and cancel took %v allocations, want 0", n)
	}
	checkHeap(t, &th)
}
