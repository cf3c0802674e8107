package wsconn

import (
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// MessageBuffered reports whether the read buffer holds a whole data
// frame that is a whole message: reading it will not wait.
func (c *Conn) MessageBuffered() bool {
	h, n, err := ParseHeader(c.Buffered())
	return err == nil && n > 0 && h.Fin && !h.OpCode.IsControl() && int64(c.w-c.r-n) >= h.Length
}

// AwaitMessage is AwaitData for a reader of whole messages (ReadMessage),
// between messages: the control frames buffered whole are handled first (a
// ping answered, a pong taken as a sign of life), and when nothing is left
// the reader waits, and may park (ErrParked). Without it a peer's pong, or
// its ping, would wake the reader only to leave it in ReadMessage's
// blocking read, holding a goroutine until the peer's next message: every
// keepalive round of an idle connection would cost one. It returns nil once
// something else is buffered (a data frame, or a frame not yet whole), or
// when the read is to block as usual (see AwaitData).
func (c *Conn) AwaitMessage() error {
	for {
		if err := c.handleBufferedControl(); err != nil {
			return err
		}
		if len(c.Buffered()) > 0 {
			return nil
		}
		if err := c.AwaitData(); err != nil {
			return err
		}
		if len(c.Buffered()) == 0 {
			return nil
		}
	}
}

// handleBufferedControl handles the control frames at the head of the
// read buffer that are there whole, reading nothing from the socket.
func (c *Conn) handleBufferedControl() error {
	for {
		h, n, err := ParseHeader(c.Buffered())
		if err != nil || n == 0 || !h.OpCode.IsControl() || int64(c.w-c.r-n) < h.Length {
			return nil // ReadMessage reads it, and reports what is wrong with it
		}
		if h, err = c.ReadHeader(false); err != nil {
			return err
		}
		if err := c.HandleControl(h); err != nil {
			return err
		}
	}
}

// ReadMessage reads the next whole data message, appending its unmasked
// payload to dst, and returns the message and its opcode. Control frames in
// between are handled here: a ping is answered with a pong, a pong is taken
// as a sign of life, a close ends with *PeerClosed. A message longer than
// max ends with CloseTooBig before its bytes are stored; invalid UTF-8 in a
// text message ends with CloseBadUTF8; a framing violation with
// CloseProtocol. The returned slice is dst grown, owned by the caller.
func (c *Conn) ReadMessage(dst []byte, max int64) (ws.OpCode, []byte, error) {
	var (
		op         ws.OpCode
		fragmented bool
		text       UTF8Stream
	)
	dst = dst[:0]
	for {
		h, err := c.ReadHeader(fragmented)
		if err != nil {
			return 0, dst, err
		}
		if h.OpCode.IsControl() {
			if err := c.HandleControl(h); err != nil {
				return 0, dst, err
			}
			continue
		}
		if !fragmented {
			op = h.OpCode
			text.Reset()
		}
		if int64(len(dst))+h.Length > max {
			c.skip = h.Length // never read, never allocated
			return 0, dst, CloseTooBig
		}
		// Text is checked as its bytes arrive: invalid UTF-8 fails the
		// connection at once, not when the rest of the frame came (RFC
		// 6455 section 8.1; case 6.4.3 of proxy/conformance_test.go).
		for off, left := 0, h.Length; left > 0; {
			p, err := c.ReadPayload(left)
			if err != nil {
				return 0, dst, err
			}
			left -= int64(len(p))
			dst = append(dst, p...)
			chunk := dst[len(dst)-len(p):]
			if h.Masked {
				ws.Cipher(chunk, h.Mask, off)
			}
			off += len(p)
			if op == ws.OpText && !text.Write(chunk) {
				c.skip = left // the rest of the frame is not read
				return 0, dst, CloseBadUTF8
			}
		}
		if h.Fin {
			if op == ws.OpText && !text.Done() {
				return 0, dst, CloseBadUTF8
			}
			return op, dst, nil
		}
		fragmented = true
	}
}

// HandleControl reads the payload of control frame h and acts on it.
func (c *Conn) HandleControl(h ws.Header) error {
	var body [125]byte // CheckHeader bounded control payloads to 125
	n := 0
	for left := h.Length; left > 0; {
		p, err := c.ReadPayload(left)
		if err != nil {
			return err
		}
		n += copy(body[n:], p)
		left -= int64(len(p))
	}
	if h.Masked {
		ws.Cipher(body[:n], h.Mask, 0)
	}
	if h.OpCode != ws.OpClose && !c.ctrl.Allow() {
		return CloseFlood
	}
	switch h.OpCode {
	case ws.OpPing:
		if err := c.WriteControl(ws.OpPong, body[:n]); err != nil && !c.closeSent.Load() {
			return err
		}
		return nil
	case ws.OpPong:
		return nil
	}
	// Close: validate the body (RFC 6455 section 7.1.5, 7.4).
	c.closeRecv = true
	c.st.in.recvFirst = !c.closeSent.Load()
	c.st.in.recvCode = ws.StatusNoStatusRcvd
	if n >= 2 {
		c.st.in.recvCode = ws.StatusCode(uint16(body[0])<<8 | uint16(body[1]))
		c.st.in.recvReason = string(body[2:n])
	}
	if n == 1 {
		return CloseProtocol
	}
	if n == 0 {
		return &PeerClosed{Code: ws.StatusNoStatusRcvd}
	}
	code := ws.StatusCode(uint16(body[0])<<8 | uint16(body[1]))
	// RFC 6455 section 7.4: codes below 1000 and from 5000 up are not
	// defined; gobwas's check lets the latter through.
	if code >= 5000 || ws.CheckCloseFrameData(code, "") != nil {
		return CloseProtocol
	}
	if !utf8.Valid(body[2:n]) {
		return CloseBadUTF8
	}
	return &PeerClosed{Code: code, Reason: string(body[2:n])}
}
