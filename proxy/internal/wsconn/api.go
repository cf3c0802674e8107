package wsconn

import (
	"errors"
	"net"
	"os"
	"time"

	"github.com/gobwas/ws"
)

// This file holds what a connection's owner sets up before the pumps run,
// and the buffer access a relay needs to forward frames without copying
// them.

// LimitControl caps the control frames the peer may send (pings, pongs):
// rate a second, burst at once. Past it a read fails with CloseFlood. Call
// it before the first read.
func (c *Conn) LimitControl(rate, burst int) { c.ctrl = MakeBucket(rate, burst) }

// Preload puts bytes read from the socket before the connection was made
// (what a handshake's reader buffered past the 101) at the front of the read
// buffer, as if just read. p is copied; at most BufSize bytes are kept.
// Call it before the first read.
func (c *Conn) Preload(p []byte) {
	if len(p) == 0 {
		return
	}
	if c.rb == nil {
		c.rb, c.r, c.w = getBuf(), 0, 0
	}
	c.w += copy(c.rb[c.w:], p)
}

// SetOwner makes c park: a reader at a frame boundary with nothing to read
// gives up its goroutine (AwaitData returns ErrParked), and o is called back
// when c is readable again. Set it before the pumps run.
func (c *Conn) SetOwner(o Owner) { c.own = o }

// Inlineable reports whether c's pump can run on the poller's goroutine:
// the socket is read raw and the poller runs.
func (c *Conn) Inlineable() bool { return c.raw != nil && getPoller() != nil }

// SetInliner makes c's socket registered edge-triggered for good, and its
// pump run by i on the poller's goroutine when c is readable (see Inliner).
// Call it, after SetOwner, only when Inlineable, before the pumps run.
func (c *Conn) SetInliner(i Inliner) { c.inl = i }

// TryLockReader takes c's reader if no goroutine holds it, for an
// Inliner's RunInline, which must not wait: when it fails, the pump that
// parked c is still letting go of it, and the owner runs its pump on a
// goroutine of its own instead.
func (c *Conn) TryLockReader() bool { return c.rmu.TryLock() }

// UnlockReader lets go of c's reader, which LockReader took; a pump that
// parked (ErrParked) or ended calls it.
func (c *Conn) UnlockReader() { c.rmu.Unlock() }

// SetReadIdle sets how long a silent peer is given before a read fails (0:
// no limit), and returns the previous value. The reader's goroutine only:
// a handshake sets 0 around a read with a fixed deadline.
func (c *Conn) SetReadIdle(d time.Duration) (old time.Duration) {
	old, c.readIdle = c.readIdle, d
	return old
}

// Closed reports whether Close was called.
func (c *Conn) Closed() bool { return c.closed.Load() }

// CloseSent reports whether a close frame was sent: no data frame follows.
func (c *Conn) CloseSent() bool { return c.closeSent.Load() }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// TryLockWrite takes the write lock if no other goroutine holds it, for a
// pump that must not block (one run on the poller's goroutine). ok false
// means it is busy; err (with ok false) that a close frame was sent.
func (c *Conn) TryLockWrite() (ok bool, err error) {
	if !c.wmu.TryLock() {
		return false, nil
	}
	if c.closeSent.Load() {
		c.wmu.Unlock()
		return false, net.ErrClosed
	}
	return true, nil
}

// Unread gives back the last n bytes consumed, which must still be in the
// buffer: no read happened since. A relay unreads a frame's header to
// forward the header and payload as one slice of Buffered.
func (c *Conn) Unread(n int) { c.r -= n }

// Discard consumes the next n buffered bytes (n <= len(Buffered())).
func (c *Conn) Discard(n int) {
	c.r += n
}

// Skip marks the next n bytes of the stream as the payload of an abandoned
// frame: DrainUntilClose reads past them, not as frames.
func (c *Conn) Skip(n int64) { c.skip = n }

// FillFrame makes sure the payload of frame h, whose header of hs bytes was
// just read (ReadHeader), is buffered whole, header included: it must fit
// the buffer (hs+length <= BufSize).
func (c *Conn) FillFrame(hs int, length int64) error {
	c.r -= hs
	err := c.FillTo(hs + int(length))
	c.r += hs
	return err
}

// FillWithin waits up to d for more bytes. It reports timedOut, with no
// bytes consumed, when none came. The reader's goroutine only.
func (c *Conn) FillWithin(d time.Duration) (timedOut bool, err error) {
	c.SetReadDeadline(time.Now().Add(d))
	idle := c.readIdle
	c.readIdle = 0
	err = c.fill()
	c.readIdle = idle
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true, nil
	}
	return false, err
}

// Parks reports whether quiet connections can park here (Linux, with
// epoll), starting the poller on first use.
func Parks() bool { return getPoller() != nil }

// CheckHeader checks a data or control frame header parsed from Buffered
// against RFC 6455 for this side; fragmented says a fragmented message is
// in progress. A violation is CloseProtocol.
func (c *Conn) CheckHeader(h ws.Header, fragmented bool) error {
	return checkHeader(h, c.client, fragmented)
}
