package proxy

import (
	"errors"

	"github.com/gobwas/ws"

	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
	"github.com/agentbridge/agentbridge/translators"
)

// relayPump is one direction of a relay: the state of the message being
// forwarded, and the checks every frame passes (size across fragments,
// UTF-8, message rate).
//
// An idle relay holds two: the bools are together at the end so that none
// pads the struct, and what only the client's pump needs (its message rate)
// is the relay's.
type relayPump struct {
	r        *relay
	src, dst *wsconn.Conn
	max      int64
	msgs     int64 // messages read from src (plain: the pump's own; read once the relay ended)
	msgLen   int64
	text     wsconn.UTF8Stream

	// The text of the incomplete frame at the head of the buffer, checked
	// as it arrives (checkPartial): checked payload bytes so far, and
	// early, text's state after them.
	checked int
	early   wsconn.UTF8Stream

	// What a pump run on the poller's goroutine and handed to a goroutine
	// of its own still has to do there.
	pending []byte // frames not yet written, in the source's buffer
	stop    error  // the pump ended with this, once pending is written

	fromClient bool
	creds      bool // the client's dialect takes credentials in messages: consume any (credential)
	fragmented bool
	isText     bool
	inline     bool // running on the poller's goroutine
	holding    bool // pending is the rest of a partial write: dst's write lock is held
}

// resume writes what a handed-off pump left pending, then runs it.
func (p *relayPump) resume() error {
	if len(p.pending) > 0 {
		frames, holding := p.pending, p.holding
		p.pending, p.holding = nil, false
		var err error
		if holding {
			if err = p.dst.WriteLocked(frames); err != nil {
				err = writeError{err}
			}
			p.dst.UnlockWrite()
		} else {
			err = p.write(frames)
		}
		if err != nil {
			return err
		}
	}
	if err := p.stop; err != nil {
		p.stop = nil
		return err
	}
	return p.run()
}

func (p *relayPump) run() error {
	src := p.src
	for {
		if p.inline {
			err := src.AwaitInline(false, true)
			for err == wsconn.ErrPartial {
				if err = p.checkPartial(); err == nil {
					err = src.AwaitInline(false, true)
				}
			}
			if err != nil {
				return err
			}
		} else if len(src.Buffered()) == 0 {
			if err := src.AwaitData(); err != nil {
				return err
			}
		}
		h, err := src.ReadHeader(p.fragmented)
		if err != nil {
			return err
		}
		if h.OpCode.IsControl() {
			if err := src.HandleControl(h); err != nil {
				return err
			}
			continue
		}
		if err := p.begin(h); err != nil {
			src.Skip(h.Length)
			return err
		}
		hs := ws.HeaderSize(h)
		if int64(len(src.Buffered())) < h.Length && p.mayBeCredential(h, hs) {
			// Forwarded only once whole: wait for the rest of the frame,
			// its header kept in the buffer.
			if err := src.FillFrame(hs, h.Length); err != nil {
				return err
			}
		}
		if int64(len(src.Buffered())) < h.Length {
			// A frame bigger than what is buffered: forward it as it comes.
			if err := p.stream(h); err != nil {
				return err
			}
			if err := p.end(h); err != nil {
				return err
			}
			continue
		}
		// Every complete data frame already buffered goes out in one write:
		// one system call per batch, not per frame. A frame that fails a
		// check is not forwarded, but its payload is consumed: it must not
		// be read as frames. buf holds the frames from h's header on; it
		// aliases src's buffer, which no read touches until the write.
		src.Unread(hs)
		buf := src.Buffered()
		end := hs + int(h.Length)
		good := 0
		err = p.accept(h, buf[hs:end])
		for err == nil {
			good = end
			h2, n, perr := wsconn.ParseHeader(buf[end:])
			if perr != nil || n == 0 || h2.OpCode.IsControl() || int64(len(buf)-end-n) < h2.Length ||
				src.CheckHeader(h2, p.fragmented) != nil {
				break // the next round reads it, and reports what is wrong with it
			}
			if err = p.begin(h2); err == nil {
				payload := buf[end+n : end+n+int(h2.Length)]
				end += n + int(h2.Length)
				err = p.accept(h2, payload)
			}
		}
		src.Discard(end)
		if werr := p.write(buf[:good]); werr != nil {
			if werr == wsconn.ErrHandoff && err != errConsumed {
				p.stop = err // the goroutine writes the rest, then ends with err
			}
			return werr
		}
		if err != nil && err != errConsumed {
			return err
		}
	}
}

// begin checks a data frame's header against the message state.
func (p *relayPump) begin(h ws.Header) error {
	if !p.fragmented {
		p.msgLen, p.isText = 0, h.OpCode == ws.OpText
		p.text.Reset()
		if p.fromClient && !p.r.rate.Allow() {
			return closeRateLimited // the client is told so as the relay ends (pump)
		}
		if p.fromClient {
			p.r.client.TouchIdle()
		}
	}
	if p.msgLen += h.Length; p.msgLen > p.max {
		return closeTooBig
	}
	return nil
}

// accept checks the buffered frame h, with payload (still masked, in the
// source's buffer); the caller consumes it, and forwards it when it passes.
// A credential is not forwarded: errConsumed.
func (p *relayPump) accept(h ws.Header, payload []byte) error {
	if p.isText {
		from := p.checked // checked while the frame was incomplete: not again
		if from > 0 {
			p.text, p.checked = p.early, 0
		}
		if h.Masked {
			ws.Cipher(payload, h.Mask, 0)
		}
		ok := p.text.Write(payload[from:])
		cred := ok && p.creds && h.Fin && !p.fragmented && p.r.credential(payload)
		if h.Masked {
			ws.Cipher(payload, h.Mask, 0)
		}
		switch {
		case !ok:
			return closeBadUTF8
		case cred:
			return errConsumed
		}
	}
	return p.end(h)
}

// errConsumed: a client frame was a credential; it is dropped, and the
// relay goes on.
var errConsumed = errors.New("credential consumed")

// mayBeCredential reports whether frame h, of header size hs, must be
// whole before it is forwarded: a client message of one frame that fits
// the buffer, on a route whose client dialect takes credentials in
// messages (credential). Bigger and fragmented messages are forwarded as
// they come, unchecked: no client sends a credential that way.
func (p *relayPump) mayBeCredential(h ws.Header, hs int) bool {
	return p.creds && h.OpCode == ws.OpText && h.Fin && h.Length <= int64(wsconn.BufSize-hs)
}

// credential reports whether msg, a whole client text message on a route
// whose client dialect takes credentials in messages, is one. A client
// admitted by header may still send one; wherever it appears it is
// consumed, never passed on to the backend, as a translating session does.
// The dialect's MayBeCredential rules out almost every message without
// parsing; the rest are decoded by the client's codec.
func (r *relay) credential(msg []byte) bool {
	if !r.rt.Client.MayBeCredential(msg) {
		return false
	}
	if r.creds == nil {
		r.creds = &relayCreds{codec: clientCodec(r.rt, nil)}
	}
	cr := r.creds
	evs, err := cr.codec.Decode(cr.evs[:0], msg)
	cr.evs = evs
	return err == nil && len(evs) > 0 && evs[0].Kind == translators.KindAuth
}

// checkPartial checks the text of the incomplete data frame at the head of
// the buffer as far as it came. A pump run inline forwards a frame only
// once it is whole; invalid UTF-8 in its first bytes must fail the
// connection at once all the same (RFC 6455 section 8.1;
// case 6.4.6 of proxy/conformance_test.go),
// not when the rest came, if it ever does. accept goes on from p.early.
func (p *relayPump) checkPartial() error {
	src := p.src
	buf := src.Buffered()
	h, n, _ := wsconn.ParseHeader(buf) // AwaitInline parsed it: a data frame, its header whole
	if src.CheckHeader(h, p.fragmented) != nil {
		return wsconn.ErrHandoff // readHeader reports it, on a goroutine
	}
	if h.OpCode == ws.OpBinary || (h.OpCode == ws.OpContinuation && !p.isText) {
		return nil
	}
	if p.checked == 0 {
		p.early = p.text
		if h.OpCode == ws.OpText {
			p.early.Reset()
		}
	}
	payload := buf[n:]
	if !checkText(&p.early, payload[p.checked:], h, p.checked) {
		src.Discard(len(buf)) // the frame is not read as frames
		src.Skip(h.Length - int64(len(payload)))
		return closeBadUTF8
	}
	p.checked = len(payload)
	return nil
}

// end updates the message state after frame h.
func (p *relayPump) end(h ws.Header) error {
	p.fragmented = !h.Fin
	if !h.Fin {
		return nil
	}
	if p.isText && !p.text.Done() {
		return closeBadUTF8
	}
	p.msgs++
	if p.fromClient {
		p.r.inflight.Add(1)
	} else {
		p.r.inflight.Add(-1)
		p.r.backendMsgs.Add(1)
	}
	return nil
}

// write forwards whole frames. Run inline, it writes only what dst's
// socket takes at once; the rest is left pending (with dst's write lock
// held, so no other frame cuts in) and it returns wsconn.ErrHandoff.
func (p *relayPump) write(frames []byte) error {
	if len(frames) == 0 {
		return nil
	}
	if p.inline {
		dst := p.dst
		ok, err := dst.TryLockWrite()
		switch {
		case err != nil:
			return writeError{err}
		case !ok:
			p.pending = frames
			return wsconn.ErrHandoff
		}
		n, err := dst.WriteNow(frames) // both legs are raw sockets, or the relay would not be inline
		switch {
		case err != nil:
			dst.UnlockWrite()
			return writeError{err}
		case n < len(frames):
			p.pending, p.holding = frames[n:], true
			return wsconn.ErrHandoff
		}
		dst.UnlockWrite()
		return nil
	}
	if err := p.dst.LockWrite(); err != nil {
		return writeError{err}
	}
	defer p.dst.UnlockWrite()
	if err := p.dst.WriteLocked(frames); err != nil {
		return writeError{err}
	}
	return nil
}

// stream forwards frame h, bigger than the buffer holds, as its payload
// arrives, holding dst's write lock for the whole frame.
func (p *relayPump) stream(h ws.Header) error {
	src, dst := p.src, p.dst
	p.checked = 0 // checked from the start here
	if err := dst.LockWrite(); err != nil {
		return writeError{err}
	}
	defer dst.UnlockWrite()
	hdr := wsconn.GetBuf() // pooled: a local array would escape to the heap through the write
	err := dst.WriteLocked(wsconn.AppendHeader(hdr[:0], h))
	wsconn.PutBuf(hdr)
	if err != nil {
		src.Skip(h.Length)
		return writeError{err}
	}
	for off, left := 0, h.Length; left > 0; {
		chunk, err := src.ReadPayload(left)
		if err != nil {
			return err
		}
		if p.isText {
			if h.Masked {
				ws.Cipher(chunk, h.Mask, off)
			}
			ok := p.text.Write(chunk)
			if h.Masked {
				ws.Cipher(chunk, h.Mask, off)
			}
			if !ok {
				return closeBadUTF8
			}
		}
		off += len(chunk)
		left -= int64(len(chunk))
		if left == 0 && h.Fin && p.isText && !p.text.Done() {
			return closeBadUTF8 // the message ends mid-character: its last bytes stay here
		}
		if err := dst.WriteLocked(chunk); err != nil {
			src.Skip(left) // the rest of this frame, for a drain to skip
			return writeError{err}
		}
	}
	return nil
}

// writeError is a failed write to the other leg: that leg is the one gone.
type writeError struct{ error }

// checkText validates p, the payload of frame h from byte off on, masked
// or not, restoring the mask.
func checkText(text *wsconn.UTF8Stream, p []byte, h ws.Header, off int) bool {
	if !h.Masked {
		return text.Write(p)
	}
	ws.Cipher(p, h.Mask, off)
	ok := text.Write(p)
	ws.Cipher(p, h.Mask, off)
	return ok
}
