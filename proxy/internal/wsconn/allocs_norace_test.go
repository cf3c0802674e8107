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
