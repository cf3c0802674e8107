package wsconn

import (
	"net"
	"time"

	"github.com/gobwas/ws"
)

// setWriteDeadline must be called with wmu held. Like the read side, it
// leaves a deadline that is still most of the timeout away.
func (c *Conn) setWriteDeadline() error {
	if c.writeTimeout <= 0 {
		return nil
	}
	t := monoNow()
	if c.wdl.sub(t) > c.writeTimeout-c.writeTimeout/4 {
		return nil
	}
	c.wdl = t.add(c.writeTimeout)
	return c.nc.SetWriteDeadline(c.wdl.time())
}

// WriteFrame writes one whole frame with payload p. On a backend leg the
// frame is masked, and p is masked in place: callers pass only buffers they
// own and do not read p afterwards.
func (c *Conn) WriteFrame(op ws.OpCode, p []byte) error {
	b := getBuf()
	defer putBuf(b)
	return c.writeFrame(op, p, b)
}

// writeFrame is WriteFrame with b, a pooled buffer, to build the frame in:
// an idle connection holds no bytes for writing. p may lie in b's last
// controlMax bytes, where no frame that fits b reaches.
func (c *Conn) writeFrame(op ws.OpCode, p []byte, b *[BufSize]byte) error {
	h := ws.Header{Fin: true, OpCode: op, Length: int64(len(p))}
	if !c.client {
		h.Masked = true
		h.Mask = ws.NewMask()
		ws.Cipher(p, h.Mask, 0)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent.Load() {
		return net.ErrClosed
	}
	n := len(AppendHeader(b[:0], h))
	if n+len(p) <= BufSize {
		// One write, so header and payload leave in one segment.
		n += copy(b[n:], p)
		return c.send(b[:n])
	}
	if err := c.send(b[:n]); err != nil {
		return err
	}
	return c.send(p)
}

// LockWrite takes the write lock for a frame written in pieces with
// WriteLocked (a relay forwarding a frame as its payload arrives). It fails,
// without the lock held, once a close frame was sent.
func (c *Conn) LockWrite() error {
	c.wmu.Lock()
	if c.closeSent.Load() {
		c.wmu.Unlock()
		return net.ErrClosed
	}
	return nil
}

// WriteLocked writes p; the caller holds the write lock.
func (c *Conn) WriteLocked(p []byte) error { return c.send(p) }

// send writes p whole; the caller holds the write lock. It first writes
// what the socket takes at once, as a raw system call (WriteNow), and only
// what is left gets the write deadline and a write that waits under the
// runtime poller.
func (c *Conn) send(p []byte) error {
	if c.raw != nil {
		n, err := c.WriteNow(p)
		if err != nil || n == len(p) {
			return err
		}
		p = p[n:]
	}
	if err := c.setWriteDeadline(); err != nil {
		return err
	}
	n, err := c.nc.Write(p)
	c.st.outBytes.Add(int64(n))
	return err
}

func (c *Conn) UnlockWrite() { c.wmu.Unlock() }

// controlMax is the largest payload of a control frame (RFC 6455, 5.5).
const controlMax = 125

// WriteControl writes a control frame (ping, pong) with payload p of at most
// controlMax bytes; p is copied, not modified. The copy goes at the end of
// the pooled buffer the frame is built in (a local array would escape to
// the heap through the write).
func (c *Conn) WriteControl(op ws.OpCode, p []byte) error {
	b := getBuf()
	defer putBuf(b)
	tail := b[BufSize-controlMax:]
	return c.writeFrame(op, tail[:copy(tail, p)], b)
}

// WriteClose sends a close frame with code and reason once; later calls do
// nothing. No data frame is written after it.
func (c *Conn) WriteClose(code ws.StatusCode, reason string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent.Swap(true) {
		return nil
	}
	var body [controlMax]byte
	n := 0
	if code != 0 {
		if len(reason) > 123 {
			reason = reason[:123]
		}
		body[0], body[1] = byte(code>>8), byte(code)
		n = 2 + copy(body[2:], reason)
	}
	h := ws.Header{Fin: true, OpCode: ws.OpClose, Length: int64(n)}
	if !c.client {
		h.Masked = true
		h.Mask = ws.NewMask()
		ws.Cipher(body[:n], h.Mask, 0)
	}
	// A short deadline: a peer that does not read must not hold the close.
	c.wdl = monoNow().add(time.Second)
	_ = c.nc.SetWriteDeadline(c.wdl.time())
	b := getBuf()
	defer putBuf(b)
	frame := AppendHeader(b[:0], h)
	frame = frame[:len(frame)+copy(b[len(frame):], body[:n])]
	c.st.outBytes.Add(int64(len(frame)))
	c.st.out.sentCode, c.st.out.sentReason = code, reason
	if code == 0 {
		c.st.out.sentCode = ws.StatusNoStatusRcvd
	}
	_, err := c.nc.Write(frame)
	return err
}

// SendClose sends a close frame with code and reason, as WriteClose. For a
// protocol violation (1002, 1007) it then fails the connection (RFC 6455
// section 7.1.7): the peer gets no chance to answer.
func (c *Conn) SendClose(code ws.StatusCode, reason string) error {
	err := c.WriteClose(code, reason)
	if Violation(code) {
		c.shut()
	}
	return err
}

// failLinger is how long a connection whose sending side was shut (shut)
// is still read: bytes the peer sent meanwhile are read and dropped, as
// closing a socket with unread bytes sends a reset, which can destroy the
// close frame before the peer reads it.
const failLinger = 250 * time.Millisecond

// shut ends the sending side after the close frame, so the peer sees the
// end of the connection at once, and bounds what is left of reading (a
// drain for the peer's close answer) to failLinger. The socket is closed
// as usual once its reader is done.
func (c *Conn) shut() {
	c.wmu.Lock()
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	c.wmu.Unlock()
	c.InterruptRead(time.Now().Add(failLinger))
}

// WriteRaw writes p, which holds whole frames, in one write.
func (c *Conn) WriteRaw(p []byte) error {
	if err := c.LockWrite(); err != nil {
		return err
	}
	defer c.UnlockWrite()
	return c.WriteLocked(p)
}
