package wsconn

import (
	"errors"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// Parking: a connection that has been quiet for parkAfter (or has had no
// bytes yet, or woke from a long quiet for what is likely one message)
// gives up the goroutine waiting for it. Its socket is registered, one-shot, with one
// epoll instance shared by the process, and the goroutine returns; when the
// socket becomes readable (or its read deadline passes, or another
// goroutine interrupts the read) the connection's owner is called on a new
// goroutine and picks up where it stopped. An idle connection then costs its
// structs and sockets but no goroutine stack (reference/performance.md 4.3:
// the stacks were 8 of the 16 KiB an idle proxied connection took).
//
// A busy connection is not parked: it waits under the runtime poller as
// before, so streaming pays nothing for this. The epoll descriptor is itself
// waited for under the runtime poller, so no thread blocks in epoll_wait.
//
// A connection whose owner is an inliner (a relay) is served as an event
// loop serves it instead: its socket is registered once, edge-triggered,
// and it parks at every frame boundary with nothing Buffered. A read that
// returned less than it asked for drained the socket, so the connection
// parks without the read(2) that would say EAGAIN (the ready flag catches
// an edge that came meanwhile), and the poller runs the owner's pump on its
// own goroutine, with no goroutine woken: one epoll_wait for a batch of
// connections, then one read and one write each. The pump moves to a
// goroutine before anything that could block (see conn.AwaitInline and
// relayPump.write).

// parkAfter is how long a connection waits for bytes under the runtime
// poller, holding its goroutine, before it parks.
const parkAfter = 250 * time.Millisecond

// poller is the process's epoll instance for parked connections.
type poller struct {
	epfd int
	f    *os.File // epfd, registered with the runtime poller

	mu     sync.Mutex
	parked []*Conn // by file descriptor: parked, or registered edge-triggered
}

var (
	pollerOnce sync.Once
	thePoller  *poller
)

// getPoller returns the shared poller, starting it on first use; nil if
// epoll is unavailable, in which case connections do not park.
func getPoller() *poller {
	pollerOnce.Do(func() {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return
		}
		if err := syscall.SetNonblock(epfd, true); err != nil {
			syscall.Close(epfd)
			return
		}
		p := &poller{epfd: epfd, f: os.NewFile(uintptr(epfd), "agentbridge-epoll")}
		rc, err := p.f.SyscallConn()
		if err != nil {
			p.f.Close()
			return
		}
		thePoller = p
		go p.loop(rc)
	})
	return thePoller
}

// loop wakes the owners of connections whose sockets became readable. It
// reads events without blocking and waits for more under the runtime
// poller; it ends if epoll fails.
func (p *poller) loop(rc syscall.RawConn) {
	evs := make([]syscall.EpollEvent, 256)
	var failed error
	wait := func(fd uintptr) bool {
		n, err := epollPoll(int(fd), evs)
		if err == syscall.EINTR {
			return false
		}
		if err != nil {
			failed = err
			return true
		}
		if n == 0 {
			return false
		}
		for i := range evs[:n] {
			p.wake(int(evs[i].Fd), evs[i].Events)
		}
		// A short batch emptied the ready list: wait under the runtime
		// poller (an event that came meanwhile ends the wait at once)
		// rather than spend an epoll_wait to learn there is none.
		return n == len(evs)
	}
	for failed == nil {
		if err := rc.Read(wait); err != nil {
			return
		}
	}
}

// epollPoll is epoll_wait with a zero timeout, as a raw system call (it
// never blocks; see rawRead). It is made as epoll_pwait with no signal
// mask, which is the same call and the one every architecture has (arm64
// has no epoll_wait).
func epollPoll(epfd int, evs []syscall.EpollEvent) (int, error) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), 0, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

// wake resumes the connection registered for fd: a parked one-shot
// connection on a goroutine (unpark), an edge-triggered one here, on the
// poller's goroutine (inliner), once it is parked.
func (p *poller) wake(fd int, events uint32) {
	p.mu.Lock()
	var c *Conn
	if fd < len(p.parked) {
		c = p.parked[fd]
	}
	p.mu.Unlock()
	if c == nil {
		return
	}
	if c.inl == nil {
		c.unpark()
		return
	}
	if events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
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
// Buffered (and, with fin, one that ends its message), reading what the
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
		if err := c.AwaitData(); err != nil {
			return err
		}
		if c.w-c.r <= had {
			return ErrHandoff // AwaitData left the wait to a blocking read
		}
	}
}

func (p *poller) set(fd int, c *Conn) {
	p.mu.Lock()
	if fd >= len(p.parked) {
		n := 2 * len(p.parked)
		if n <= fd {
			n = fd + 1024
		}
		grown := make([]*Conn, n)
		copy(grown, p.parked)
		p.parked = grown
	}
	p.parked[fd] = c
	p.mu.Unlock()
}

// clear forgets c if it still holds fd's slot.
func (p *poller) clear(fd int, c *Conn) {
	p.mu.Lock()
	if fd < len(p.parked) && p.parked[fd] == c {
		p.parked[fd] = nil
	}
	p.mu.Unlock()
}

// register arms fd for one readiness event, or (edge) for every edge from
// now on. It runs inside the socket's raw read callback, so fd cannot be
// closed meanwhile.
func (p *poller) register(fd int, added, edge bool) error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollOneShot, Fd: int32(fd)}
	if edge {
		ev.Events = syscall.EPOLLIN | syscall.EPOLLRDHUP | epollET
	}
	op := syscall.EPOLL_CTL_MOD
	if !added {
		op = syscall.EPOLL_CTL_ADD
	}
	return syscall.EpollCtl(p.epfd, op, fd, &ev)
}

// EPOLLONESHOT and EPOLLET; syscall's constants are negative-typed.
const (
	epollOneShot = 1 << 30
	epollET      = 1 << 31
)

// unslot drops the poller's slot of a one-shot connection that stopped
// being parked; an edge-triggered one keeps it until Forget.
func (c *Conn) unslot() {
	if c.inl == nil {
		thePoller.clear(c.pfd, c)
	}
}

// Forget drops c's registration slot; its owner calls it once both
// directions' pumps have ended (nothing reads c any more).
func (c *Conn) Forget() {
	if c.polled && thePoller != nil {
		thePoller.clear(c.pfd, c)
	}
}

// AwaitData waits until c's socket has bytes, for a reader at a frame
// boundary with nothing Buffered (or, run inline, with part of a frame
// Buffered: AwaitInline). A connection that got bytes within
// parkAfter waits under the runtime poller, so a busy stream pays nothing;
// a quieter one parks and AwaitData returns ErrParked: the caller must
// return at once (releasing c.rmu), and c's owner is called again on a new
// goroutine. nil means bytes are Buffered, or that the caller's read blocks
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
	start := now()
	if c.readIdle > 0 {
		c.rdl = start.Add(c.readIdle)
	}
	if c.inl == nil && start.Before(c.hotUntil) {
		want := c.hotUntil
		if c.readIdle > 0 && c.rdl.Before(want) {
			want = c.rdl
		}
		if c.sockDL.IsZero() || c.sockDL.After(want) || want.Sub(c.sockDL) > parkAfter/2 {
			if err := c.armRead(want); err != nil {
				return c.readFailed(err)
			}
		}
		n, err := c.raw.read()
		if n > 0 {
			c.hotUntil = start.Add(parkAfter)
			return nil
		}
		if err == nil {
			return c.readFailed(io.EOF)
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) || c.intr.Load() != 0 || (c.readIdle > 0 && !now().Before(c.rdl)) {
			return c.readFailed(err)
		}
		// Quiet for parkAfter: park.
	}
	if c.readIdle > 0 && time.Until(c.rdl) < time.Millisecond {
		return nil // the deadline is upon us: let the read fail as usual
	}
	if c.inl != nil && c.polled && c.short && !c.hup.Load() {
		// Drained, and registered for edges: no read needed to park.
		if err := c.parkEdge(); err != errNoPark {
			return err
		}
	}
	if getPoller() == nil {
		c.noPark = true
		return nil
	}
	if !c.sockDL.IsZero() && !c.sockDL.After(now()) {
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
		if start.Sub(c.parkedAt) < parkAfter {
			c.hotUntil = start.Add(parkAfter)
		}
		return nil
	case c.raw.parked:
		c.raw.parked = false
		c.parkedAt = now()
		return ErrParked
	case err == nil:
		return c.readFailed(io.EOF)
	default:
		if err == errNoPark {
			c.noPark = true
			return nil
		}
		return c.readFailed(err)
	}
}

// parkEdge parks c, drained and registered edge-triggered, without
// reading. errNoPark: an edge came since the last read, so read instead.
func (c *Conn) parkEdge() error {
	c.armPark()
	c.parked.Store(true)
	if c.ready.Load() || c.intr.Load() != 0 || c.closed.Load() {
		// Bytes, an interrupt or a close came meanwhile (after ready or
		// parked was set: whoever sets them next sees parked).
		if c.parked.CompareAndSwap(true, false) {
			c.parkDL.Store(0)
			return errNoPark
		}
		// The poller, the timer or an interrupt took it: the owner runs.
	}
	c.parkedAt = now()
	return ErrParked
}

// armPark makes the timer end the park at the reader's deadline.
func (c *Conn) armPark() {
	c.tmu.Lock()
	if c.kick == nil {
		c.kick = c.onKick
	}
	if c.readIdle > 0 {
		c.parkDL.Store(c.rdl.UnixNano())
		c.armLocked()
	}
	c.tmu.Unlock()
}

// parkFD registers c's socket with the poller; the raw read callback calls
// it with the socket's descriptor when it has no bytes. It reports whether
// c is parked.
func (c *Conn) parkFD(fd int) bool {
	p := thePoller
	edge := c.inl != nil
	c.pfd = fd
	if !edge || !c.polled {
		p.set(fd, c)
	}
	c.armPark()
	c.parked.Store(true)
	var err error
	if !edge || !c.polled {
		err = p.register(fd, c.polled, edge)
	}
	if err == nil {
		c.polled = true
		if c.intr.Load() != 0 || c.closed.Load() || (edge && c.ready.Load()) {
			// Interrupted or closed while parking: that unpark may have
			// come before parked was set, so it is done here (the owner
			// runs once this goroutine lets go of rmu).
			c.unpark()
		}
		return true
	}
	if c.parked.CompareAndSwap(true, false) {
		c.parkDL.Store(0)
		if !c.polled {
			p.clear(fd, c)
		}
		return false
	}
	// The timer or an interrupt already took it: the owner runs anyway.
	return true
}

// unpark hands c back to its owner, on a new goroutine, if c is parked.
func (c *Conn) unpark() {
	if !c.parked.CompareAndSwap(true, false) {
		return
	}
	c.parkDL.Store(0)
	c.unslot()
	c.woken.Store(true)
	go c.kick()
}

// ClosedInSlots counts closed connections the poller still holds a slot
// for: each is kept from the garbage collector until its descriptor is
// reused. For tests: an owner that ended must have called Forget.
func ClosedInSlots() int {
	p := getPoller()
	if p == nil {
		return 0
	}
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
