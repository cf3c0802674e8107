package proxy

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// closedInSlots counts closed connections the poller still holds a slot
// for: each would be kept from the garbage collector until its descriptor
// is reused.
func closedInSlots() int {
	p := getPoller()
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.parked {
		if c != nil && c.closed.Load() {
			n++
		}
	}
	return n
}

// TestEndedRelaysLeaveNoPollerSlot checks that a relay, whose legs keep
// their edge-triggered registration for life, gives their slots back when
// it ends (conn.forget), whichever side closed.
func TestEndedRelaysLeaveNoPollerSlot(t *testing.T) {
	url, _ := startBackend(t, echoBackend)
	srv, addr := startProxy(t, Config{Routes: []*Route{plainRoute("relay", "/relay", plainBackend(url))}})
	before := closedInSlots()
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
	deadline := time.Now().Add(5 * time.Second)
	for srv.Sessions() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d relays still live", srv.Sessions())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := closedInSlots() - before; n > 0 {
		t.Fatalf("the poller holds %d closed connections of ended relays", n)
	}
}

// nopInliner is an inliner that does nothing when the poller calls it.
type nopInliner struct{}

func (nopInliner) unparked(*conn, bool) {}
func (nopInliner) idleTimeout()         {}
func (nopInliner) runInline(*conn)      {}

// TestInlineRunHandsOffAfterItsBudget checks that a pump run on the
// poller's goroutine makes at most inlineBudget reads and then hands off,
// even though its socket never runs dry: a sender that keeps up with the
// pump must not keep the poller from every other connection.
func TestInlineRunHandsOffAfterItsBudget(t *testing.T) {
	if getPoller() == nil {
		t.Skip("no epoll here")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	// Far more small frames than the budget's reads can take, written
	// as fast as the socket takes them until the test ends.
	frame := appendHeader(nil, ws.Header{Fin: true, OpCode: ws.OpText, Length: 100})
	frame = append(frame, bytes.Repeat([]byte("x"), 100)...)
	burst := bytes.Repeat(frame, 4*bufSize/len(frame))
	stop := make(chan struct{})
	wrote := make(chan struct{})
	defer func() { close(stop); peer.Close(); <-wrote }()
	go func() {
		defer close(wrote)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := peer.Write(burst); err != nil {
				return
			}
		}
	}()

	c := newConn(nc, false, time.Second, 0)
	if c.raw == nil {
		t.Skip("the socket cannot be read raw")
	}
	var inl nopInliner
	c.own, c.inl = inl, inl
	defer c.forget()
	c.rmu.Lock()
	defer c.rmu.Unlock()
	// Let the socket fill before the run starts, as it would be when the
	// poller sees its edge.
	time.Sleep(50 * time.Millisecond)
	frames := 0
	for {
		err := c.awaitInline(true, false)
		if err != nil {
			if err != errHandoff {
				t.Fatalf("after %d frames and %d reads: %v, want errHandoff", frames, c.reads, err)
			}
			break
		}
		h, n, _ := parseHeader(c.buffered())
		c.r += n + int(h.Length)
		frames++
		if frames > 100*inlineBudget*bufSize/len(frame) {
			t.Fatalf("the run read %d frames and never handed off", frames)
		}
	}
	if c.reads != inlineBudget+1 {
		t.Fatalf("handed off at read %d, want after the budget of %d", c.reads, inlineBudget)
	}
	if min := inlineBudget * (bufSize - len(frame)) / len(frame) / 2; frames < min {
		t.Fatalf("handed off after only %d frames (%d reads)", frames, c.reads)
	}
}
