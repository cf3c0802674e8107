package proxy

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
	"github.com/agentbridge/agentbridge/translators"
)

// relay is a passthrough session: client and backend speak the same dialect,
// so frames are forwarded as they are, never parsed beyond their headers.
// Client frames keep their mask (the proxy is the backend's client, so
// they must be masked anyway); text payloads are still checked for UTF-8,
// and on a route whose client dialect takes credentials in messages, a
// client message that is one is dropped (credential).
//
// Two pumps run, one per direction; each owns reading its source. A pump
// whose source is quiet parks it (conn.awaitData) and lets its goroutine
// go; the relay is the connections' owner and runs the pump again when
// bytes arrive, so an idle relay holds no goroutine. The first pump to end
// decides the close codes for both legs (finish); the other then drains
// its source until the peer's close answer or a grace period, and the last
// one to end closes both legs and calls the server back (end).
type relay struct {
	s       *Server
	rt      *Route
	client  *wsconn.Conn
	backend *wsconn.Conn

	up, down    relayPump    // client to backend, backend to client
	alive       atomic.Int32 // pumps that have not ended
	slot        connSlot     // given back to the server once both pumps ended
	expiry      *time.Timer  // ends the relay when the client's credential expires; nil if it does not
	inflight    atomic.Int64 // client messages the backend has not answered
	backendMsgs atomic.Int64 // backend messages relayed (a drain watches it for quiet)
	draining    atomic.Bool
	finished    sync.Once

	// The client's codec, made when a client message may be a credential
	// (credential), and its events; the client pump's.
	codec translators.Codec
	evs   []translators.Event
}

func newRelay(s *Server, rt *Route, client, backend *wsconn.Conn) *relay {
	return &relay{s: s, rt: rt, client: client, backend: backend}
}

// refuse ends a relay that could not be registered (the server is
// draining).
func (r *relay) refuse() {
	r.backend.CloseGracefully(ws.StatusGoingAway, "", 0)
	r.client.CloseGracefully(ws.StatusGoingAway, "server shutting down", closeGrace)
}

// start runs the relay: the client pump on the calling goroutine until it
// parks or ends, the backend pump on a new one. It returns before the relay
// ends; once it has (on some goroutine), the relay unregisters from the
// server and releases its slot.
func (r *relay) start(slot connSlot) {
	r.slot = slot
	r.client.StartKeepalive(r.s.cfg.PingInterval)
	r.backend.StartKeepalive(r.s.cfg.PingInterval)
	r.up = relayPump{r: r, src: r.client, dst: r.backend, fromClient: true, max: r.rt.Limits.MaxMessage,
		rate: wsconn.MakeBucket(r.rt.Limits.MessageRate, r.rt.Limits.MessageBurst), creds: r.rt.Client.InBand}
	r.down = relayPump{r: r, src: r.backend, dst: r.client, max: r.rt.Limits.MaxMessage}
	r.alive.Store(2)
	r.client.SetOwner(r)
	r.backend.SetOwner(r)
	if r.client.Inlineable() && r.backend.Inlineable() {
		r.client.SetInliner(r)
		r.backend.SetInliner(r)
	}
	r.client.StartIdle(r.rt.Session.Timeout) // a relay without client messages for this long ends (idleTimeout)
	go r.drive(&r.down, false)
	r.drive(&r.up, false)
}

// IdleTimeout ends a relay whose client sent nothing for Session.Timeout.
func (r *relay) IdleTimeout() {
	r.sendError("session_timeout", "the session timed out after inactivity")
	r.finish(closeIdle, true)
	r.client.InterruptRead(time.Now().Add(closeGrace))
}

// Unparked resumes the pump reading c.
func (r *relay) Unparked(c *wsconn.Conn, expired bool) {
	r.drive(r.pumpOf(c), expired)
}

// RunInline resumes the pump reading c on the poller's goroutine. It must
// not wait there: if the pump that parked c still holds its reader, the
// pump resumes on a goroutine of its own.
func (r *relay) RunInline(c *wsconn.Conn) {
	p := r.pumpOf(c)
	if !c.TryLockReader() {
		go r.drive(p, false)
		return
	}
	r.pump(p, true)
}

func (r *relay) pumpOf(c *wsconn.Conn) *relayPump {
	if c == r.client {
		return &r.up
	}
	return &r.down
}

// drive runs pump p on its own goroutine, holding its source's reader,
// until it parks or ends.
func (r *relay) drive(p *relayPump, expired bool) {
	p.src.LockReader(expired)
	r.pump(p, false)
}

// pump runs p, whose source's reader is held, until it parks or ends.
// inline: on the poller's goroutine, which the pump leaves for one of its
// own before anything that could block.
func (r *relay) pump(p *relayPump, inline bool) {
	src := p.src
	p.inline = inline
	err := p.resume()
	switch {
	case err == wsconn.ErrParked:
		src.UnlockReader()
		return
	case inline:
		// Handed off (or ended: ending writes closes and drains, which
		// wait): the rest runs on a goroutine of its own, the reader
		// still held.
		if err != wsconn.ErrHandoff {
			p.stop = err
		}
		go r.pump(p, false)
		return
	}
	if err == closeRateLimited {
		r.sendError("rate_limited", "too many messages: slow down")
	}
	if p.fromClient && clientViolation(err) {
		r.awaitReplies()
	}
	r.finish(err, p.fromClient)
	src.DrainUntilClose()
	src.UnlockReader()
	if r.alive.Add(-1) == 0 {
		r.end()
	}
}

// replyGrace bounds how long a client that broke the protocol waits, no
// longer read, for the replies to the messages it sent before (awaitReplies);
// replyQuiet ends the wait early when the backend sends nothing for that
// long.
const (
	replyGrace = 250 * time.Millisecond
	replyQuiet = 50 * time.Millisecond
)

// clientViolation reports whether err, which ended the client's pump, is
// the client breaking the protocol (1002, 1007).
func clientViolation(err error) bool {
	var ce *CloseError
	return errors.As(err, &ce) && wsconn.Violation(ce.Code)
}

// awaitReplies lets the backend's replies to what the client sent before
// a protocol violation reach the client before the close: a reply already
// on its way would otherwise be dropped (the cases 3.2, 4.1.3 and
// 5.15 of TestConformance, proxy/conformance_test.go). It waits until every client message was answered, the backend
// is quiet for replyQuiet or its pump ended, at most replyGrace.
func (r *relay) awaitReplies() {
	start := time.Now()
	msgs, quietSince := r.backendMsgs.Load(), start
	for r.inflight.Load() > 0 && r.alive.Load() == 2 {
		time.Sleep(2 * time.Millisecond)
		t := time.Now()
		if n := r.backendMsgs.Load(); n != msgs {
			msgs, quietSince = n, t
		}
		if t.Sub(start) >= replyGrace || t.Sub(quietSince) >= replyQuiet {
			return
		}
	}
}

// end closes both legs once both pumps have ended.
func (r *relay) end() {
	r.client.Close()
	r.backend.Close()
	r.client.Forget()
	r.backend.Forget()
	r.client.FreeRead()
	r.backend.FreeRead()
	if r.expiry != nil {
		r.expiry.Stop()
	}
	r.s.unregister(r)
	r.slot.release()
}

// finish decides, once, how both legs close after one side ended with err.
func (r *relay) finish(err error, fromClient bool) {
	r.finished.Do(func() {
		cc, bc := closeCodes(err, fromClient)
		if cc == closeBackendGone {
			r.sendError("backend_unavailable", "the connection to the agent was lost")
		}
		if cc != closePeerVanished {
			_ = r.client.SendClose(cc.Code, cc.Reason)
		}
		_ = r.backend.WriteClose(bc.Code, bc.Reason)
		// Unblock the pump still reading: give its peer a moment to answer
		// the close, then its read fails.
		deadline := time.Now().Add(closeGrace)
		other := r.backend
		if !fromClient {
			other = r.client
		}
		other.InterruptRead(deadline)
	})
}

// sendError sends the client dialect's error message. A relay has no codec
// of its own; this rare path makes one.
func (r *relay) sendError(code, msg string) {
	opts := r.rt.ClientOptions
	opts.Role = translators.Client
	ev := translators.Event{Kind: translators.KindError, Code: []byte(code), Text: []byte(msg)}
	if out, err := r.rt.Client.New(opts).Encode(nil, &ev); err == nil && len(out) > 0 {
		_ = r.client.WriteFrame(opcode(r.rt.Client), out)
	}
}

// closeCodes maps why one side ended to the close sent to each leg.
func closeCodes(err error, fromClient bool) (client, backend *CloseError) {
	var (
		pc *wsconn.PeerClosed
		ce *CloseError
		we writeError
	)
	switch {
	case errors.As(err, &we) && fromClient:
		return closeBackendGone, closePeerVanished // the backend stopped taking data
	case errors.As(err, &we):
		return closePeerVanished, &CloseError{Code: ws.StatusGoingAway, Reason: "client went away"}
	case errors.As(err, &pc):
		// A clean close passes through both ways.
		code := &CloseError{Code: passCode(pc.Code), Reason: pc.Reason}
		return code, code
	case errors.Is(err, errGoingAway):
		return closeGoingAway, closeGoingAway
	case errors.As(err, &ce) && fromClient:
		// The client broke the protocol or a limit.
		return ce, &CloseError{Code: ws.StatusGoingAway, Reason: "client went away"}
	case errors.As(err, &ce):
		// The backend broke the protocol.
		return closeBackendGone, ce
	case fromClient:
		return closePeerVanished, &CloseError{Code: ws.StatusGoingAway, Reason: "client went away"}
	default:
		return closeBackendGone, closePeerVanished
	}
}

// errGoingAway ends a session on shutdown.
var errGoingAway = errors.New("server shutting down")

func (r *relay) drain() {
	r.draining.Store(true)
	go r.waitIdle()
}

// waitIdle ends a draining relay once every client message was answered and
// the backend has been quiet for a moment (its reply may come in chunks).
func (r *relay) waitIdle() {
	quiet := 50 * time.Millisecond
	if r.rt.Backend.Options.Chunked {
		quiet = r.rt.Backend.IdleGap
	}
	t := time.NewTicker(25 * time.Millisecond)
	defer t.Stop()
	msgs, quietSince := r.backendMsgs.Load(), time.Now()
	for now := range t.C {
		if r.alive.Load() == 0 { // the relay has ended
			return
		}
		if n := r.backendMsgs.Load(); n != msgs {
			msgs, quietSince = n, now
		}
		if r.inflight.Load() <= 0 && now.Sub(quietSince) >= quiet {
			r.forceClose()
			return
		}
	}
}

func (r *relay) forceClose() {
	r.finish(errGoingAway, true)
	// The client pump may be waiting for the client; the close above made
	// its read deadline near, so it returns.
	r.client.InterruptRead(time.Now().Add(closeGrace))
}

// relayPump is one direction of a relay: the state of the message being
// forwarded, and the checks every frame passes (size across fragments,
// UTF-8, message rate).
type relayPump struct {
	r          *relay
	src, dst   *wsconn.Conn
	fromClient bool
	max        int64
	rate       wsconn.Bucket
	creds      bool // the client's dialect takes credentials in messages: consume any (credential)

	fragmented bool
	isText     bool
	msgLen     int64
	text       wsconn.UTF8Stream
	hdr        [ws.MaxHeaderSize]byte // header scratch: a local array would escape to the heap through Write

	// The text of the incomplete frame at the head of the buffer, checked
	// as it arrives (checkPartial): checked payload bytes so far, and
	// early, text's state after them.
	checked int
	early   wsconn.UTF8Stream

	// Running on the poller's goroutine, and what a pump handed to a
	// goroutine of its own still has to do there.
	inline  bool
	pending []byte // frames not yet written, in the source's buffer
	holding bool   // pending is the rest of a partial write: dst's write lock is held
	stop    error  // the pump ended with this, once pending is written
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
		if !p.rate.Allow() {
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
// whose client dialect takes credentials in messages (Connic's
// {"secret": ...}), is one. A client admitted by header may still send
// one; wherever it appears it is consumed, never passed on to the backend,
// as a translating session does. A look for the key (or a \u escape,
// which could spell it) rules out almost every message without parsing;
// the rest are decoded by the client's codec.
func (r *relay) credential(msg []byte) bool {
	if !bytes.Contains(msg, credentialKey) && !bytes.Contains(msg, jsonEscape) {
		return false
	}
	if r.codec == nil {
		r.codec = clientCodec(r.rt)
	}
	evs, err := r.codec.Decode(r.evs[:0], msg)
	r.evs = evs
	return err == nil && len(evs) > 0 && evs[0].Kind == translators.KindAuth
}

var (
	credentialKey = []byte(`"secret"`)
	jsonEscape    = []byte(`\u`)
)

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
	if err := dst.WriteLocked(wsconn.AppendHeader(p.hdr[:0], h)); err != nil {
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
