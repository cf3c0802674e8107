package proxy

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/agentbridge/agentbridge/auth"
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
// whose source is quiet parks it (wsconn.Conn.AwaitData) and lets its goroutine
// go; the relay is the connections' owner and runs the pump again when
// bytes arrive, so an idle relay holds no goroutine. The first pump to end
// decides the close codes for both legs (finish); the other then drains
// its source until the peer's close answer or a grace period, and the last
// one to end closes both legs and calls the server back (end).
//
// Every idle relay holds one: 496 bytes on 64-bit platforms, the 512-byte
// size class. Mind the class when adding a field; what few relays use
// goes in a side struct (relayCreds).
type relay struct {
	s       *Server
	rt      *Route
	client  *wsconn.Conn
	backend *wsconn.Conn

	up, down    relayPump     // client to backend, backend to client
	rate        wsconn.Bucket // the client's message rate (the client pump's)
	slot        connSlot      // given back to the server once both pumps ended
	expiry      *time.Timer   // ends the relay when the client's credential expires; nil if it does not
	inflight    atomic.Int64  // client messages the backend has not answered
	backendMsgs atomic.Int64  // backend messages relayed (a drain watches it for quiet)
	alive       atomic.Int32  // pumps that have not ended
	draining    atomic.Bool
	finished    sync.Once
	id          auth.Identity // the admitted client's, for the access log
	creds       *relayCreds   // made when a client message may be a credential (credential); the client pump's
}

// relayCreds is the client's codec, made when a client message may be a
// credential (credential), and its events: a side struct, since most
// relays never need it and every idle one would carry it.
type relayCreds struct {
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
		creds: r.rt.Client.MayBeCredential != nil}
	r.rate = wsconn.MakeBucket(r.rt.Limits.MessageRate, r.rt.Limits.MessageBurst)
	r.down = relayPump{r: r, src: r.backend, dst: r.client, max: r.rt.Limits.MaxMessage}
	r.alive.Store(2)
	r.client.SetOwner(r)
	r.backend.SetOwner(r)
	if r.client.Inlineable() && r.backend.Inlineable() {
		r.client.SetInliner(r)
		r.backend.SetInliner(r)
	}
	r.client.StartIdle(r.rt.Session.Timeout) // a relay without client messages for this long ends (IdleTimeout)
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
	r.s.logSession(sessionRecord{rt: r.rt, kind: "relay", client: r.client, backend: r.backend, id: r.id,
		fromClient: r.up.msgs, fromBackend: r.backendMsgs.Load()})
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
