package wsconn

import (
	"bytes"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// nopInliner is an inliner that does nothing when the poller calls it.
type nopInliner struct{}

func (nopInliner) Unparked(*Conn, bool) {}
func (nopInliner) IdleTimeout()         {}
func (nopInliner) RunInline(*Conn)      {}

// TestInlineRunHandsOffAfterItsBudget checks that a pump run on the
// poller's goroutine makes at most inlineBudget reads and then hands off,
// even though its socket never runs dry: a sender that keeps up with the
// pump must not keep the poller from every other connection.
func TestInlineRunHandsOffAfterItsBudget(t *testing.T) {
	if getPoller() == nil {
		t.Skip("no epoll here")
	}
	nc, peer := tcpPair(t)

	// Far more small frames than the budget's reads can take, written
	// as fast as the socket takes them until the test ends.
	frame := AppendHeader(nil, ws.Header{Fin: true, OpCode: ws.OpText, Length: 100})
	frame = append(frame, bytes.Repeat([]byte("x"), 100)...)
	burst := bytes.Repeat(frame, 4*BufSize/len(frame))
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

	c := New(nc, false, time.Second, 0)
	if c.raw == nil {
		t.Skip("the socket cannot be read raw")
	}
	var inl nopInliner
	c.own, c.inl = inl, inl
	defer c.Forget()
	c.rmu.Lock()
	defer c.rmu.Unlock()
	// Let the socket fill before the run starts, as it would be when the
	// poller sees its edge.
	time.Sleep(50 * time.Millisecond)
	frames := 0
	for {
		err := c.AwaitInline(true, false)
		if err != nil {
			if err != ErrHandoff {
				t.Fatalf("after %d frames and %d reads: %v, want ErrHandoff", frames, c.reads, err)
			}
			break
		}
		h, n, _ := ParseHeader(c.Buffered())
		c.r += n + int(h.Length)
		frames++
		if frames > 100*inlineBudget*BufSize/len(frame) {
			t.Fatalf("the run read %d frames and never handed off", frames)
		}
	}
	if c.reads != inlineBudget+1 {
		t.Fatalf("handed off at read %d, want after the budget of %d", c.reads, inlineBudget)
	}
	if min := inlineBudget * (BufSize - len(frame)) / len(frame) / 2; frames < min {
		t.Fatalf("handed off after only %d frames (%d reads)", frames, c.reads)
	}
}
