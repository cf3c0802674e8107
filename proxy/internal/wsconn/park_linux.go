package wsconn

import (
	"errors"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/agentbridge/agentbridge/proxy/internal/netpoll"
)

// Parking: a connection that has been quiet for parkAfter (or has had no
// bytes yet, or woke from a long quiet for what is likely one message)
// gives up the goroutine waiting for it. Its socket is registered,
// one-shot, with the process's poller (proxy/internal/netpoll), and the
// goroutine returns; when the socket becomes readable (or its read
// deadline passes, or another goroutine interrupts the read) the
// connection's owner is called on a new goroutine and picks up where it
// stopped. An idle connection then costs its structs and sockets but no
// goroutine stack.
//
// A busy connection is not parked: it waits under the runtime poller as
// before, so streaming pays nothing for this.
//
// A connection whose owner is an inliner (a relay) is served as an event
// loop serves it instead: its socket is registered once, edge-triggered,
// and it parks at every frame boundary with nothing buffered. A read that
// returned less than it asked for drained the socket, so the connection
// parks without the read(2) that would say EAGAIN (the ready flag catches
// an edge that came meanwhile), and the poller runs the owner's pump on its
// own goroutine, with no goroutine woken: one epoll_wait for a batch of
// connections, then one read and one write each. The pump moves to a
// goroutine before anything that could block (see Conn.AwaitInline, and
// relayPump.write in proxy/relay.go).

// parkAfter is how long a connection waits for bytes under the runtime
// poller, holding its goroutine, before it parks.
const parkAfter = 250 * time.Millisecond

// getPoller returns the process's poller, nil when connections cannot park
// (no epoll, or it failed: see netpoll).
func getPoller() *netpoll.Poller { return netpoll.Get() }

// pollHandle is c as the poller's Handler: Ready stays off Conn's API.
type pollHandle Conn

func (c *Conn) handle() *pollHandle { return (*pollHandle)(c) }

// Ready resumes the connection: a parked one-shot connection on a
// goroutine (unpark), an edge-triggered one here, on the poller's goroutine
// (Inliner), once it is parked.
func (h *pollHandle) Ready(hup bool) {
	c := (*Conn)(h)
	if c.inl == nil {
		c.unpark()
		return
	}
	if hup {
		// The peer's FIN (or an error) may sit behind bytes a read
		// takes: a short read no longer means drained.
		c.hup.Store(true)
	}
	c.ready.Store(true)
	if c.parked.CompareAndSwap(true, false) {
		c.parkDL.Store(0)
		c.reads = 0
		c.inl.RunInline(c)
	}
}

// inlineBudget bounds the reads one inline run makes, so that a busy
// connection does not keep the poller from the others.
const inlineBudget = 16

// AwaitInline makes sure, for a reader run on the poller's goroutine
// (inliner), that the next frame is a data frame whose bytes are all
// buffered (and, with fin, one that ends its message), reading what the
// socket has. It returns ErrParked when the socket has no more for now,
// and ErrHandoff when what comes next may block, so the owner must go on on
// a goroutine of its own: a control frame (it may be answered), a frame
// bigger than the buffer (it is read as it comes), a fragment (with fin), a
// header in error (reported there), a read the poller cannot park, or the
// run's read budget spent. With partial, it returns ErrPartial after a
// read that left a data frame still incomplete, so the caller can check
// what came (text is validated as it arrives), and call it again.
func (c *Conn) AwaitInline(fin, partial bool) error {
	for read := false; ; read = true {
		h, n, err := ParseHeader(c.Buffered())
		switch {
		case err != nil:
			return ErrHandoff
		case n == 0:
		case h.OpCode.IsControl() || h.Length > int64(BufSize-n) || (fin && !h.Fin):
			return ErrHandoff
		case int64(c.w-c.r-n) >= h.Length:
			return nil
		case partial && read:
			return ErrPartial
		}
		if c.reads++; c.reads > inlineBudget || !c.compact() {
			return ErrHandoff
		}
		had := c.w - c.r
		c.onPoller = true
		err = c.AwaitData()
		c.onPoller = false
		if err != nil {
			return err
		}
		if c.w-c.r <= had {
			return ErrHandoff // AwaitData left the wait to a blocking read
		}
	}
}

// unslot drops the poller's slot of a one-shot connection that stopped
// being parked; an edge-triggered one keeps it until Forget.
func (c *Conn) unslot() {
	if p := getPoller(); p != nil && c.inl == nil {
		p.Clear(c.pfd, c.handle())
	}
}

// Forget drops c's registration slot; its owner calls it once both
// directions' pumps have ended (nothing reads c any more).
func (c *Conn) Forget() {
	if p := getPoller(); p != nil && c.polled {
		p.Clear(c.pfd, c.handle())
	}
}

// AwaitData waits until c's socket has bytes, for a reader at a frame
// boundary with nothing buffered (or, run inline, with part of a frame
// buffered: AwaitInline). A connection that got bytes within
// parkAfter waits under the runtime poller, so a busy stream pays nothing;
// a quieter one parks and AwaitData returns ErrParked: the caller must
// return at once (releasing c.rmu), and c's owner is called again on a new
// goroutine. nil means bytes are buffered, or that the caller's read blocks
// as usual (no owner, no poller, or the connection is closing).
func (c *Conn) AwaitData() error {
	if c.raw == nil || c.own == nil || c.noPark || c.intr.Load() != 0 || c.closeSent.Load() || c.closed.Load() || c.rerr != nil {
		return nil
	}
	if c.expired {
		c.expired = false
		return os.ErrDeadlineExceeded
	}
	c.release()
	start := monoNow()
	t := start // now, give or take the microseconds this call takes: read once
	if c.readIdle > 0 {
		c.rdl = start.add(c.readIdle)
	}
	if c.inl == nil && start < c.hotUntil {
		want := c.hotUntil
		if c.readIdle > 0 && c.rdl < want {
			want = c.rdl
		}
		if c.sockDL == 0 || c.sockDL > want || want.sub(c.sockDL) > parkAfter/2 {
			if err := c.armRead(want); err != nil {
				return c.readFailed(err)
			}
		}
		n, err := c.raw.read()
		if n > 0 {
			c.hotUntil = start.add(parkAfter)
			return nil
		}
		if err == nil {
			return c.readFailed(io.EOF)
		}
		t = monoNow() // after the wait
		if !errors.Is(err, os.ErrDeadlineExceeded) || c.intr.Load() != 0 || (c.readIdle > 0 && t >= c.rdl) {
			return c.readFailed(err)
		}
		// Quiet for parkAfter: park.
	}
	if c.readIdle > 0 && c.rdl.sub(t) < time.Millisecond {
		return nil // the deadline is upon us: let the read fail as usual
	}
	if c.inl != nil && c.polled && c.short && !c.hup.Load() && getPoller() != nil {
		// Drained, and registered for edges: no read needed to park.
		if err := c.parkEdge(t); err != errNoPark {
			return err
		}
	}
	if getPoller() == nil {
		c.noPark = true
		return nil
	}
	if c.sockDL != 0 && c.sockDL <= t {
		// The busy wait's deadline passed; the parked wait has its own
		// timer, but the read-or-park below must not fail at once.
		if err := c.armRead(c.rdl); err != nil {
			return c.readFailed(err)
		}
	}
	c.raw.park = true
	n, err := c.raw.read()
	c.raw.park = false
	switch {
	case n > 0:
		// Bytes soon after the last park start a busy spell; after a
		// long quiet, one message is likely all there is: park again
		// at once rather than hold a goroutine for parkAfter.
		if c.parkedAt != 0 && start.sub(c.parkedAt) < parkAfter {
			c.hotUntil = start.add(parkAfter)
		}
		return nil
	case c.raw.parked:
		c.raw.parked = false
		c.parkedAt = t
		return ErrParked
	case err == nil:
		return c.readFailed(io.EOF)
	case err == ErrHandoff:
		return err // on the poller's goroutine, parking would have waited for a lock
	default:
		if err == errNoPark {
			c.noPark = true
			return nil
		}
		return c.readFailed(err)
	}
}

// parkEdge parks c, drained and registered edge-triggered, without
// reading; t is now, as AwaitData read it. errNoPark: an edge came since
// the last read, so read instead. ErrHandoff: run on the poller's
// goroutine, the timer's lock was busy.
func (c *Conn) parkEdge(t mono) error {
	if !c.armPark() {
		return ErrHandoff
	}
	c.parked.Store(true)
	if c.ready.Load() || c.intr.Load() != 0 || c.closed.Load() || getPoller() == nil {
		// Bytes, an interrupt or a close came meanwhile (after ready or
		// parked was set: whoever sets them next sees parked), or the
		// poller failed.
		if c.parked.CompareAndSwap(true, false) {
			c.parkDL.Store(0)
			return errNoPark
		}
		// The poller, the timer or an interrupt took it: the owner runs.
	}
	c.parkedAt = t
	return ErrParked
}

// armPark makes the timers end the park at the reader's deadline. On the
// poller's goroutine (onPoller) it only tries the locks (the Conn's tmu,
// the timers heap's), and reports false when another goroutine holds one:
// the pump must hand off.
func (c *Conn) armPark() bool {
	if !c.onPoller {
		c.tmu.Lock()
	} else if !c.tmu.TryLock() {
		return false
	}
	if c.kick == nil {
		c.kick = c.onKick
	}
	ok := true
	if c.readIdle > 0 {
		c.parkDL.Store(int64(c.rdl))
		if ok = c.arm(c.onPoller); !ok {
			c.parkDL.Store(0)
		}
	}
	c.tmu.Unlock()
	return ok
}

// parkFD registers c's socket with the poller; the raw read callback calls
// it with the socket's descriptor when it has no bytes. nil means c is
// parked; errNoPark that the poller refused it; ErrHandoff that, on the
// poller's goroutine, parking would wait for a lock.
func (c *Conn) parkFD(fd int) error {
	p := getPoller()
	if p == nil {
		return errNoPark
	}
	edge := c.inl != nil
	if c.onPoller && (!edge || !c.polled) {
		return ErrHandoff // registering takes the poller's table lock
	}
	c.pfd = fd
	if !edge || !c.polled {
		p.Set(fd, c.handle())
	}
	if !c.armPark() {
		return ErrHandoff
	}
	c.parked.Store(true)
	var err error
	if !edge || !c.polled {
		err = p.Arm(fd, c.polled, edge)
	}
	if err == nil {
		c.polled = true
		if c.intr.Load() != 0 || c.closed.Load() || (edge && c.ready.Load()) || p.Failed() {
			// Interrupted, closed or the poller failed while parking:
			// that unpark may have come before parked was set, so it is
			// done here (the owner runs once this goroutine lets go of
			// rmu).
			c.unpark()
		}
		return nil
	}
	if c.parked.CompareAndSwap(true, false) {
		c.parkDL.Store(0)
		if !c.polled {
			p.Clear(fd, c.handle())
		}
		return errNoPark
	}
	// The timer or an interrupt already took it: the owner runs anyway.
	return nil
}

// unpark hands c back to its owner, on a new goroutine, if c is parked.
func (c *Conn) unpark() {
	if !c.parked.CompareAndSwap(true, false) {
		return
	}
	c.parkDL.Store(0)
	c.woken.Store(true) // the slot is dropped on kick's goroutine: unpark may run on the poller's
	handoffs.Add(1)
	go c.kick()
}

// handoffs counts the parked connections handed back to a goroutine of
// their own (unpark): once a wake-up, never a frame.
var handoffs atomic.Int64

// PollStats returns, for metrics, the open connections parked on the
// poller now and the hand-offs of parked connections to goroutines so far.
// It walks the poller's connections: call it at a scrape, not per frame.
func PollStats() (parked int, handed int64) {
	p := getPoller()
	if p == nil {
		return 0, handoffs.Load()
	}
	p.Each(func(h netpoll.Handler) {
		if c, ok := h.(*pollHandle); ok && c.parked.Load() && !c.closed.Load() {
			parked++
		}
	})
	return parked, handoffs.Load()
}

// ClosedInSlots counts closed connections the poller still holds a slot
// for: each is kept from the garbage collector until its descriptor is
// reused. For tests: an owner that ended must have called Forget.
func ClosedInSlots() int {
	p := getPoller()
	if p == nil {
		return 0
	}
	n := 0
	p.Each(func(h netpoll.Handler) {
		if c, ok := h.(*pollHandle); ok && c.closed.Load() {
			n++
		}
	})
	return n
}
