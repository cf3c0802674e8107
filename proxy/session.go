package proxy

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/agentbridge/agentbridge/auth"
	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
	"github.com/agentbridge/agentbridge/translators"
)

// session is a translating session: the client's socket with its codec on
// one side, an Upstream on the other, canonical events in between.
//
// Two pumps run. The client pump (run's own goroutine) reads the client,
// decodes, answers what the codec asks it to answer and sends the rest to
// the upstream. The backend pump reads the upstream, normalizes through the
// Turn and encodes for the client. Both may write to the client: encoding,
// the frames pending and the write all happen under cmu, so frames leave in
// the order they were made. The backend pump holds its frames back while the
// backend has more buffered (one write per burst); the client pump's acks and
// errors go at once, with whatever was pending before them. The first pump
// to end decides the close codes (finish); run returns when both are done.
//
// Every live translating session holds one: 632 bytes on 64-bit platforms,
// which with the 8-byte header the allocator puts on objects of more than
// 512 bytes that hold pointers fits the 640-byte size class. Mind the class
// when adding a field. What a session needs only while it works (its pumps'
// buffers, the pending frames, the Turn's texts, the events it makes
// itself) is lent from pools and given back when it goes idle
// (scratch.go); what only some sessions need (a resumable one's log) hangs
// off a pointer.
type session struct {
	s      *Server
	rt     *Route
	client *wsconn.Conn
	up     Upstream
	ccodec translators.Codec

	cmu   sync.Mutex // guards ccodec.Encode, pend and writes to the client
	pend  []byte     // encoded client frames not yet written; lent from bytesPool (scratch.go)
	pendh *[]byte    // pend's holder in bytesPool, nil when pend was not lent
	sid   [24]byte   // the session's id (the greeting carries it)

	pending *translators.IDQueue // &pendq
	pendq   translators.IDQueue
	turn    translators.Turn // backend pump only

	busy     atomic.Bool // a reply is in progress
	draining atomic.Bool
	finished sync.Once
	alive    atomic.Int32 // pumps that have not ended
	slot     connSlot     // given back to the server once both pumps ended
	expiry   *time.Timer  // ends the session when the client's credential expires; nil if it does not

	// Pump state kept across parks: the client pump's count and rate; the
	// pumps' scratch, nil while they are parked with nothing in progress
	// (scratch.go).
	cb       *clientBufs  // client pump only
	bb       *backendBufs // backend pump only
	messages int
	rate     wsconn.Bucket
	su       *socketUpstream // ss.up when it is a socket
	more     moreUpstream    // ss.up when it can tell that more is already waiting

	// A client's KindReset replaces the backend leg (reset): the client
	// pump closes up and opens another with params and id, as serve opened
	// the first. umu guards the swap of up, su and more against the
	// goroutines that are not the pumps (finish, the backend's timer, a
	// parked leg's wake-up) and the flags: resetting says the backend
	// pump's end is the reset's (it closes bdone and the session goes
	// on), bended that it ended for good, over that finish ran.
	params    []Param
	id        auth.Identity
	umu       sync.Mutex
	resetting bool
	bended    bool
	over      bool
	claimed   bool // a new socket is taking the session over (resume.go)
	ticksOff  bool // no ticker timer is armed any more (under tmu, not umu: see below)
	bdone     chan struct{}
	rids      [][]byte // reset: the ids of the replies in flight
	// keep (with the flags of shared replies, below) says the session
	// writes its user messages and ended replies to the conversation conv
	// of its path (Server.transcripts), for the client dialect's HTTP
	// endpoints.
	conv string

	// Shared replies (a client dialect with Dialect.Replayed; room.go):
	// room is the path's, sharing says the backend pump is keeping its
	// reply there, shared that it just ended it (the followers get its last
	// frames at the next write), fan the backend pump's scratch. gone says
	// the client left mid-reply: the backend leg stays until the replies
	// end or grace fires, and nothing more is written to the client.
	room    *room
	sharing bool
	shared  bool
	keep    bool
	fan     []*session
	fanDue  bool // the backend pump owes the followers a fanOut
	// histories says the client set its path's conversation in the message
	// just read (KindHistory): the other sockets of the path get it.
	histories bool
	acked     bool      // the client pump's: acks are queued that flushAcks has not written
	cop       ws.OpCode // the client dialect's data frame opcode
	gone      atomic.Bool
	grace     *time.Timer

	// res is a resumable session's state (resume.go), nil when the session
	// is not one. claimed, with the flags under umu, says a new socket is
	// taking the session over.
	res *resumable

	// The timers of dialects that send messages of their own (a Ticker):
	// ctimer calls the client codec's Tick every cevery, btimer the backend
	// socket's (su.tick). Each is nil when its dialect declares none, so a
	// session without them costs no timer. tmu guards both and ticksOff
	// (with the flags under umu, above), set when the session finishes: no
	// timer is armed after that.
	tmu     sync.Mutex
	cticker translators.Ticker
	cevery  time.Duration
	ctimer  *time.Timer
	btimer  *time.Timer
}

func newSession(s *Server, rt *Route, client *wsconn.Conn, up Upstream, codec translators.Codec) *session {
	ss := &session{
		s:      s,
		rt:     rt,
		client: client,
		up:     up,
		ccodec: codec,
		cop:    opcode(rt.Client),
	}
	ss.pendq.Init(rt.Limits.MaxPending)
	ss.pending = &ss.pendq
	ss.turn = translators.Turn{MaxText: rt.Limits.MaxTurnText, Pending: ss.pending}
	return ss
}

func (ss *session) refuse() {
	ss.up.Close(int(ws.StatusGoingAway), "")
	ss.client.CloseGracefully(ws.StatusGoingAway, "server shutting down", closeGrace)
}

// start runs the session; agent names the backend's agent for the
// client's greeting. The client pump runs on the calling goroutine until it
// parks or ends, the backend pump on a new one; start returns before the
// session ends, and once it has (on some goroutine) the session unregisters
// from the server and releases its slot. A pump
// whose socket is quiet parks it (wsconn.Conn.AwaitData) and lets its goroutine
// go: the session, as the sockets' owner, runs it again when bytes arrive.
func (ss *session) start(agent []byte, slot connSlot) {
	ss.slot = slot
	ss.client.StartKeepalive(ss.s.cfg.PingInterval)
	su, _ := ss.up.(*socketUpstream)
	ss.su = su
	ss.more, _ = ss.up.(moreUpstream)
	if su != nil {
		su.c.StartKeepalive(ss.s.cfg.PingInterval)
	}
	// KindOpen follows the greeting, for a dialect whose greeting is more
	// than one message.
	ss.cmu.Lock()
	ss.queueOwn(translators.Event{Kind: translators.KindReady, ID: appendSessionID(ss.sid[:0]), Agent: agent})
	ss.queueOwn(translators.Event{Kind: translators.KindOpen})
	err := ss.flushLocked()
	ss.cmu.Unlock()
	if err != nil {
		ss.finish(errClientWrite{err}, false)
	}
	ss.rate = wsconn.MakeBucket(ss.rt.Limits.MessageRate, ss.rt.Limits.MessageBurst)
	ss.alive.Store(2)
	ss.client.SetOwner(ss)
	ss.client.StartIdle(ss.rt.Session.Timeout) // no user message for this long ends it (IdleTimeout)
	if su != nil {
		su.c.SetOwner(ss)
		ss.inline(su)
	}
	ss.startTicks()
	go ss.drive(false, false)
	ss.drive(true, false)
}

// Unparked resumes the pump reading c. A wake-up of a backend leg that a
// reset replaced meanwhile is not the session's any more.
func (ss *session) Unparked(c *wsconn.Conn, expired bool) {
	ss.umu.Lock()
	client, su := ss.client, ss.su
	ss.umu.Unlock()
	if c != client && (su == nil || su.c != c) {
		return
	}
	ss.drive(c == client, expired)
}

// backend returns the socket of the current backend leg, or nil.
// upstream returns the backend leg, for the client pump: the backend pump
// may replace it (rejoin) while the client pump sends.
func (ss *session) upstream() Upstream {
	ss.umu.Lock()
	defer ss.umu.Unlock()
	return ss.up
}

func (ss *session) backend() *socketUpstream {
	ss.umu.Lock()
	defer ss.umu.Unlock()
	return ss.su
}

// drive runs one pump until it parks or ends; the client pump holds the
// client's reader, the backend pump the backend socket's (if any).
func (ss *session) drive(client bool, expired bool) {
	var c *wsconn.Conn
	var su *socketUpstream
	if client {
		c = ss.client
	} else if su = ss.backend(); su != nil {
		c = su.c
	}
	if c != nil {
		c.LockReader(expired)
	}
	var err error
	if client {
		err = ss.clientPump()
	} else {
		err = ss.backendPump()
	}
	ss.pumped(client, c, su, err)
}

// pumped lets go of reader c (nil for a backend leg that is no socket),
// whose pump returned err: parked, or ended (and then the session, its
// leg or its client with it). su is the backend leg the backend pump read.
func (ss *session) pumped(client bool, c *wsconn.Conn, su *socketUpstream, err error) {
	if err == wsconn.ErrParked {
		if client {
			ss.clientParked()
		} else {
			ss.backendParked(su)
		}
		c.UnlockReader()
		return
	}
	if client && clientViolation(err) {
		ss.awaitReplies()
	}
	if client && ss.orphan(err) {
		// The client left mid-reply: the backend pump goes on, and ends
		// the session when the replies have (or grace does).
		c.UnlockReader()
		if ss.alive.Add(-1) == 0 {
			ss.end()
		}
		return
	}
	if !client && ss.rejoin(err) {
		// The backend leg dropped and a new one joined its conversation
		// again: its pump runs, and this one's buffers go with the old leg.
		if c != nil {
			c.UnlockReader()
			su.release()
		}
		return
	}
	if !client && ss.replaced() {
		// The client pump closed this leg to open another (reset): the
		// session goes on, and this pump's buffers go with its leg.
		if c != nil {
			c.UnlockReader()
			su.release()
		}
		close(ss.bdone)
		return
	}
	ss.finish(err, client)
	if c != nil {
		c.UnlockReader()
	}
	if ss.alive.Add(-1) == 0 {
		ss.end()
	}
}

// orphan reports whether the client pump, ended with err, leaves the
// session to its backend pump, for the route's session.resume_window (or
// session.timeout when shorter): the client just left (no violation, no
// limit, no shutdown), and either the session is resumable (resume.go) or
// its path shares replies and a reply is in progress or waited for, so
// that a client reconnecting (a reloaded tab) can resume it. Nothing more
// is written to the client.
func (ss *session) orphan(err error) bool {
	var ce *CloseError
	var bw errBackendWrite
	window := ss.rt.Session.ResumeWindow
	if (ss.room == nil && ss.res == nil) || window <= 0 || ss.draining.Load() ||
		errors.Is(err, errGoingAway) || errors.As(err, &bw) || errors.As(err, &ce) {
		return false
	}
	ss.umu.Lock()
	over := ss.over
	ss.umu.Unlock()
	if over || (ss.res == nil && ss.idleNow()) {
		return false
	}
	ss.cmu.Lock()
	ss.gone.Store(true)
	ss.pend = ss.pend[:0]
	ss.cmu.Unlock()
	// The client is done with: answer its close and let its socket go (a
	// client waits for that), as the end of the session would.
	if code, _ := closeCodes(err, true); code != closePeerVanished {
		_ = ss.client.SendClose(code.Code, code.Reason)
		ss.client.DrainUntilClose()
	}
	ss.client.Close()
	if t := ss.rt.Session.Timeout; t > 0 && t < window {
		window = t
	}
	ss.umu.Lock()
	ss.grace = time.AfterFunc(window, ss.orphanEnded)
	if ss.res != nil && ss.res.detached != nil {
		close(ss.res.detached) // a socket taking the session over waits for this
	}
	ss.umu.Unlock()
	if ss.res == nil && ss.idleNow() { // the reply ended meanwhile, and its pump missed gone
		ss.orphanEnded()
	}
	return true
}

// orphanEnded ends a session whose client left, once its replies ended.
func (ss *session) orphanEnded() { ss.finish(errClientWrite{io.EOF}, false) }

// replaced reports, for the backend pump that just ended, whether a reset
// closed its leg; if not, the backend pump ended for good.
func (ss *session) replaced() bool {
	ss.umu.Lock()
	defer ss.umu.Unlock()
	if ss.resetting {
		return true
	}
	ss.bended = true
	return false
}

// changing reports whether su is no longer the backend leg, or is being
// replaced (reset).
func (ss *session) changing(su *socketUpstream) bool {
	ss.umu.Lock()
	defer ss.umu.Unlock()
	return ss.resetting || ss.su != su
}

// reset starts a new conversation for the client (KindReset), on the
// client pump: the replies in flight are cancelled, the backend leg is
// closed deliberately, and a new one is opened the way serve opened the
// first (openLeg: a socket is dialed again, an in-process agent opened
// again, a REST backend gets a new session key). The backend pump of the
// old leg ends first, so the Turn and the pending ids are the client
// pump's meanwhile; a new backend pump reads the new leg. An error ends
// the session: the client is told the agent is unavailable.
func (ss *session) reset() error {
	ss.umu.Lock()
	if ss.bended || ss.over {
		ss.umu.Unlock()
		return nil // the session is ending anyway
	}
	ss.resetting = true
	ss.bdone = make(chan struct{})
	old := ss.up
	ss.umu.Unlock()
	if ss.keep {
		ss.s.transcripts.clear(ss.conv) // the history starts over too
	}
	// The acks of this read go before the cancels; a client gone is
	// found by the next read.
	_ = ss.flushAcks()
	old.Close(int(ws.StatusNormalClosure), "conversation cleared")
	<-ss.bdone // the old leg's backend pump has ended

	// The replies in flight: the one streaming (the Turn's) and those
	// waiting. Each is cancelled on the old leg (a REST backend stops
	// working on it; a closed socket's backend stopped already) and ends
	// for the client as cancelled.
	ss.rids = ss.rids[:0]
	if ss.turn.Open() {
		ss.rids = append(ss.rids, append([]byte(nil), ss.turn.ID()...))
	}
	for ss.pending.Len() > 0 {
		ss.rids = append(ss.rids, ss.pending.Pop(nil))
	}
	for _, id := range ss.rids {
		// Made here, not kept in the session: a reset is rare.
		rev := []translators.Event{{Kind: translators.KindCancel, ID: id, Text: []byte("the conversation was cleared")}}
		_ = old.Send(&rev[0])
		rev[0] = translators.Event{Kind: translators.KindCancel, ID: id, Text: []byte("the conversation was cleared")}
		err := ss.relayEvents(rev, false)
		ss.fanOutDue()
		if err != nil {
			ss.backendEnded()
			return errClientWrite{err}
		}
	}
	ss.busy.Store(false)

	var lg leg
	var err error
	if !ss.draining.Load() {
		lg, err = ss.s.openLeg(ss.rt, ss.params, ss.id)
		if err == nil && lg.up == nil {
			lg.close()
			err = errors.New("the route relays: no leg to translate through")
		}
	} else {
		err = errGoingAway
	}
	if err == nil {
		osu, _ := old.(*socketUpstream)
		if ss.useLeg(lg, osu) {
			return nil
		}
		lg.close()
		err = errGoingAway
	}
	ss.backendEnded()
	if err == errGoingAway {
		return err
	}
	ss.s.log.Warn("reset: the new backend leg failed", "route", ss.rt.Name, "error", err)
	return errBackendWrite{err}
}

// useLeg makes lg the session's backend leg in place of old (nil when it
// was no socket), and starts its backend pump: after a reset, or a rejoin.
// It reports false, and changes nothing, when the session finished
// meanwhile; the caller then closes lg.
func (ss *session) useLeg(lg leg, old *socketUpstream) bool {
	ss.umu.Lock()
	if ss.over {
		ss.umu.Unlock()
		return false
	}
	ss.up = lg.up
	ss.su, _ = lg.up.(*socketUpstream)
	ss.more, _ = lg.up.(moreUpstream)
	ss.resetting = false
	su := ss.su
	ss.umu.Unlock()
	if su != nil {
		if old != nil {
			ss.s.metrics.relegged(ss, old.c, su.c)
		}
		su.c.StartKeepalive(ss.s.cfg.PingInterval)
		su.c.SetOwner(ss)
		ss.inline(su)
	}
	go ss.drive(false, false)
	return true
}

// backendEnded counts the backend pump as ended after a reset that closed
// its leg opened no other: the session ends with its client pump.
func (ss *session) backendEnded() {
	ss.umu.Lock()
	ss.resetting = false
	ss.bended = true
	ss.umu.Unlock()
	ss.alive.Add(-1)
}

// end lets go of both legs once both pumps have ended.
func (ss *session) end() {
	// Give the client a moment to answer our close, then let go.
	if !ss.client.Closed() {
		ss.client.DrainUntilClose()
	}
	ss.client.Close()
	ss.client.FreeRead()
	if ss.cb != nil {
		putClientBufs(ss.cb)
		ss.cb = nil
	}
	ss.freeBackend()
	if ss.su != nil {
		ss.su.release()
	}
	if ss.expiry != nil {
		ss.expiry.Stop()
	}
	ss.umu.Lock()
	if ss.grace != nil {
		ss.grace.Stop()
	}
	ss.umu.Unlock()
	if ss.room != nil {
		ss.abandonShared()
		ss.s.rooms.leave(ss.room, ss)
	}
	ss.s.logSession(ss.record())
	if ss.res != nil {
		ss.s.dropResumable(ss)
	}
	ss.s.unregister(ss)
	ss.slot.release()
}

// awaitReplies lets the replies to what the client sent before a protocol
// violation reach the client before the close (see relay.awaitReplies):
// it waits, at most replyGrace, until no reply is in progress or waited
// for, or the backend pump ended.
func (ss *session) awaitReplies() {
	if ss.flushAcks() != nil {
		return
	}
	deadline := time.Now().Add(replyGrace)
	for !ss.idleNow() && ss.alive.Load() == 2 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
}

// errBackendWrite wraps a failure to send to the backend.
type errBackendWrite struct{ error }

// clientPump reads the client until an error, or until it parks
// (wsconn.ErrParked: its state is in the session, and the next call resumes).
func (ss *session) clientPump() error {
	b := ss.clientBufs()
	for {
		if !ss.client.MessageBuffered() {
			// About to read, and perhaps wait: the acks of the messages
			// read so far leave now, in one write.
			if err := ss.flushAcks(); err != nil {
				return err
			}
			if err := ss.client.AwaitMessage(); err != nil {
				return err
			}
		}
		op, msg, err := ss.client.ReadMessage(b.msg, ss.rt.Limits.MaxMessage)
		b.msg = msg
		if err != nil {
			return err
		}
		if !ss.rate.Allow() {
			_ = ss.sendError("rate_limited", "too many messages: slow down")
			return closeRateLimited
		}
		if op == ws.OpBinary && !ss.rt.Client.Binary && !utf8.Valid(msg) {
			return closeUnsupported
		}
		evs, err := ss.ccodec.Decode(b.evs[:0], msg)
		b.evs = evs
		if err != nil {
			var me *translators.MalformedError
			reason := "malformed message"
			if errors.As(err, &me) {
				reason = me.Reason
			}
			ss.s.metrics.refusedMessage(ss.rt)
			if err := ss.sendError("bad_request", reason); err != nil {
				return err
			}
		}
		for i := range evs {
			ev := &evs[i]
			switch ev.Kind {
			case translators.KindReply:
				if err := ss.writeClient(ev.Raw); err != nil {
					return err
				}
			case translators.KindUserMessage:
				if ss.draining.Load() {
					if err := ss.sendErrorFor(ev.ID, "shutting_down", "the server is shutting down; message not delivered"); err != nil {
						return err
					}
					continue
				}
				ss.messages++
				if max := ss.rt.Session.MaxMessages; max > 0 && ss.messages > max {
					_ = ss.sendErrorFor(ev.ID, "message_limit", "this session reached its message limit")
					return closeTooManyMsgs
				}
				if !ss.pending.Push(ev.ID) {
					if err := ss.sendErrorFor(ev.ID, "too_many_pending", "too many messages waiting for a reply; message not delivered"); err != nil {
						return err
					}
					continue
				}
				ss.client.TouchIdle()
				// The ack is queued first, so it precedes the reply's first
				// event; it is written with them, or with the acks of the
				// other messages of this read (flushAcks).
				ss.queueAck(translators.Event{Kind: translators.KindAck, ID: ev.ID, Seq: int64(ss.messages)})
				if ss.keep {
					// Before the send: the reply may end before Send returns.
					ss.s.transcripts.add(ss.conv, false, ev.ID, ev.Text)
					if len(ev.ID) > 0 {
						// The other sockets of the path show it before its reply.
						ss.shareHistory()
					}
				}
				if err := ss.upstream().Send(ev); err != nil {
					return errBackendWrite{err}
				}
			case translators.KindResume:
				if err := ss.answerResume(ev); err != nil {
					return err
				}
			case translators.KindReplay:
				if err := ss.replay(ev.ID); err != nil {
					return err
				}
			case translators.KindHistory:
				if ss.keep {
					if string(ev.Code) == "replace" {
						ss.s.transcripts.clear(ss.conv)
						ss.histories = true
					} else {
						ss.s.transcripts.add(ss.conv, string(ev.Name) == "assistant", ev.ID, ev.Text)
					}
				}
			case translators.KindReset:
				ss.client.TouchIdle()
				if err := ss.reset(); err != nil {
					return err
				}
			case translators.KindCancel, translators.KindToolOutput, translators.KindToolError,
				translators.KindState, translators.KindFrame:
				// The backend's codec drops what its dialect has no place for.
				if err := ss.upstream().Send(ev); err != nil {
					return errBackendWrite{err}
				}
			}
		}
		if ss.histories {
			ss.histories = false
			ss.shareHistory()
		}
		if cap(msg) > maxPooledMessage {
			b.msg = nil // one large message must not pin a large buffer to the session
		}
	}
}

// backendPump reads the upstream until an error, or until a socket
// upstream parks (wsconn.ErrParked).
func (ss *session) backendPump() error {
	for {
		b := ss.backendBufs()
		evs, err := ss.up.Receive(b.evs[:0])
		b.evs = evs
		if err != nil {
			return err
		}
		if err := ss.relayed(ss.relayEvents(evs, moreWaiting(ss.more))); err != nil {
			return err
		}
	}
}

// relayed is what follows relaying a batch of the backend's events (which
// ended with err): the followers get the frames written, and the backend
// pump ends if the client is gone or the server draining, and the replies
// ended.
func (ss *session) relayed(err error) error {
	ss.fanOutDue()
	if err != nil {
		return errClientWrite{err}
	}
	if ss.gone.Load() && ss.res == nil && ss.idleNow() {
		return errClientWrite{io.EOF} // the client left; the replies ended
	}
	if ss.draining.Load() && ss.idleNow() {
		return errGoingAway
	}
	return nil
}

// fanOutDue gives the followers the frames just written, if the backend
// pump owes them (fanDue); cmu is not held.
func (ss *session) fanOutDue() {
	if ss.fanDue {
		ss.fanDue = false
		ss.fan = ss.room.fanOut(ss.fan)
	}
}

// moreUpstream is an Upstream that can tell whether its next Receive has
// something already (a socket's buffer, a queue): the session then holds
// its writes to the client for it.
type moreUpstream interface {
	more() bool
}

// moreWaiting reports whether m, which may be nil, has more waiting.
func moreWaiting(m moreUpstream) bool { return m != nil && m.more() }

// relayEvents normalizes the backend's events through the Turn and queues
// them for the client, writing when the backend has nothing more buffered
// (more false), so a burst of backend frames leaves in one write.
func (ss *session) relayEvents(evs []translators.Event, more bool) error {
	ss.cmu.Lock()
	defer ss.cmu.Unlock()
	if ss.normalize(evs, more) {
		return nil
	}
	return ss.flushLocked()
}

// normalize passes the backend's events through the Turn and queues them
// for the client. It reports true when the frames are held back, the
// backend having more buffered (more); otherwise they are to be written
// now. cmu is held.
func (ss *session) normalize(evs []translators.Event, more bool) bool {
	b := ss.backendBufs()
	for i := range evs {
		var err error
		b.norm, err = ss.turn.Apply(b.norm[:0], &evs[i])
		for j := range b.norm {
			ev := &b.norm[j]
			switch ev.Kind {
			case translators.KindTurnStart:
				ss.busy.Store(true)
			case translators.KindTurnEnd, translators.KindError, translators.KindCancel:
				ss.busy.Store(false)
				if ss.keep && ev.Kind == translators.KindTurnEnd {
					ss.s.transcripts.add(ss.conv, true, ev.ID, ev.Full)
				}
			case translators.KindReady, translators.KindReply, translators.KindOpen:
				continue
			}
			before := len(ss.pend)
			ss.queue(ev)
			if ss.room != nil {
				ss.shareTurn(ev, before)
			}
		}
		if err != nil {
			ss.busy.Store(false)
			// Made here, not kept in the session: a reply cut is rare.
			errEv := &translators.Event{Kind: translators.KindError, ID: ss.turn.ID(), Code: []byte("reply_too_large"),
				Text: []byte("the reply exceeded the proxy's size limit and was cut")}
			before := len(ss.pend)
			ss.queue(errEv)
			if ss.room != nil {
				ss.shareTurn(errEv, before)
			}
		}
	}
	if more && len(ss.pend) < 32<<10 {
		return true
	}
	// The followers get the frames written, once cmu is let go (fanDue).
	ss.fanDue = ss.sharing || ss.shared
	ss.shared = false
	return false
}

// abandonShared ends, for its followers, a reply the session was keeping
// and never ended (its backend went away): they get the error the client
// would have.
func (ss *session) abandonShared() {
	ss.cmu.Lock()
	if !ss.sharing {
		// A reply that ended whose last frames were held back (more was
		// waiting) and never handed out: they go now.
		shared := ss.shared
		ss.shared = false
		ss.cmu.Unlock()
		if shared {
			ss.fan = ss.room.fanOut(ss.fan)
		}
		return
	}
	errEv := &translators.Event{Kind: translators.KindError, ID: ss.room.id, Code: []byte("backend_unavailable"),
		Text: []byte("the connection to the agent was lost")}
	before := len(ss.pend)
	ss.queue(errEv)
	ss.shareTurn(errEv, before)
	ss.pend = ss.pend[:before] // the client has had its close already
	ss.cmu.Unlock()
	ss.fan = ss.room.fanOut(ss.fan)
}

// answerResume answers a client's probe for a reply to resume on its path
// (KindResume): the reply streaming there that it does not have, if any.
func (ss *session) answerResume(ev *translators.Event) error {
	ans := translators.Event{Kind: translators.KindResume, Ref: ev.Ref}
	if ss.room != nil {
		ans.ID = ss.room.inProgress(ss)
	}
	return ss.emit(ans)
}

// replay writes the client the frames of the reply id streaming on its path
// so far, then the rest as they come (KindReplay, the client's ack). A reply
// that ended meanwhile is not answered: the client's history has it.
func (ss *session) replay(id []byte) error {
	if ss.room == nil {
		return nil
	}
	ss.cmu.Lock()
	defer ss.cmu.Unlock()
	if !ss.room.replay(ss, id, ss.rt.Client.Replayed) {
		return nil
	}
	ss.queueOwn(translators.Event{Kind: translators.KindReplay, ID: id, Code: []byte("live")})
	return ss.flushLocked()
}

// logEvent keeps for a resuming client the frames queue appended from
// before on, if they carry an event id the last did not. cmu is held.
func (ss *session) logEvent(before int) {
	r := ss.res
	if id := r.seq.LastEventID(); id != r.lastSeq && len(ss.pend) > before {
		r.lastSeq = id
		r.elog.add(id, ss.pend[before:], ss.rt.Session.ResumeEvents, ss.rt.Session.ResumeBytes)
	}
}

// errClientWrite wraps a failure to write to the client from the backend
// pump: the client is gone or not reading.
type errClientWrite struct{ error }

func (ss *session) idleNow() bool { return !ss.busy.Load() && ss.pending.Len() == 0 }

// emit encodes ev, an event the session makes itself (queueOwn), for the
// client and writes it, with any frames the backend pump held back.
func (ss *session) emit(ev translators.Event) error {
	ss.cmu.Lock()
	defer ss.cmu.Unlock()
	ss.queueOwn(ev)
	return ss.flushLocked()
}

// queue encodes ev into the pending client frames, straight after room
// for its frame header (see frameAt): the payload is not copied. cmu is
// held.
func (ss *session) queue(ev *translators.Event) {
	ss.lendPend()
	if ss.res != nil {
		before := len(ss.pend)
		defer ss.logEvent(before)
	}
	for {
		start := len(ss.pend)
		out, err := ss.ccodec.Encode(append(ss.pend, make([]byte, wsconn.HeaderRoom)...), ev)
		more := err == translators.ErrMore
		if (err != nil && !more) || len(out) == start+wsconn.HeaderRoom {
			ss.pend = out[:start] // the dialect cannot carry ev: nothing to send
			if ev.Kind == translators.KindFrame {
				ss.s.frameDropped(ss.rt, ev)
			}
			return
		}
		ss.pend = wsconn.FrameAt(out, start, ss.cop)
		if !more {
			return
		}
	}
}

// flushLocked writes the pending frames in one write. cmu is held.
func (ss *session) flushLocked() error {
	if len(ss.pend) == 0 {
		return nil
	}
	if ss.gone.Load() {
		ss.pend = ss.pend[:0] // the client left: the reply goes on for its followers
		return nil
	}
	err := ss.client.WriteRaw(ss.pend)
	ss.written()
	return err
}

// written empties pend once its frames were written. cmu is held.
func (ss *session) written() {
	if cap(ss.pend) > 256<<10 {
		// Batches stay near 32 KiB; only a burst of large messages grows
		// the buffer past this, and it is not kept for the session's life.
		ss.pend = nil
	} else {
		ss.pend = ss.pend[:0]
	}
}

// queueAck queues an ack for the client pump's next flushAcks (or for any
// earlier write to the client).
func (ss *session) queueAck(ev translators.Event) {
	ss.cmu.Lock()
	ss.queueOwn(ev)
	ss.cmu.Unlock()
	ss.acked = true
}

// flushAcks writes the acks queued since the client pump last read.
func (ss *session) flushAcks() error {
	if !ss.acked {
		return nil
	}
	ss.acked = false
	ss.cmu.Lock()
	defer ss.cmu.Unlock()
	return ss.flushLocked()
}

// sendError sends the client dialect's error message.
func (ss *session) sendError(code, msg string) error {
	return ss.sendErrorFor(nil, code, msg)
}

// sendErrorFor sends an error about the user message id (refused before it
// reached the backend), so that a dialect that correlates replies (a chat
// request of the Agents SDK, a Connic message id) ends that message's reply.
func (ss *session) sendErrorFor(id []byte, code, msg string) error {
	return ss.emit(translators.Event{Kind: translators.KindError, ID: id, Code: []byte(code), Text: []byte(msg)})
}

// writeClient sends a message the client codec made itself (a dialect-level
// pong), in order with the frames pending.
func (ss *session) writeClient(raw []byte) error {
	ss.cmu.Lock()
	defer ss.cmu.Unlock()
	ss.lendPend()
	ss.pend = wsconn.AppendHeader(ss.pend, ws.Header{Fin: true, OpCode: ss.cop, Length: int64(len(raw))})
	ss.pend = append(ss.pend, raw...)
	return ss.flushLocked()
}

// finish decides, once, how both legs close after one side ended with err,
// and unblocks the pump still running.
func (ss *session) finish(err error, fromClient bool) {
	ss.finished.Do(func() {
		ss.stopTicks()
		client, backend := ss.closeCodes(err, fromClient)
		if client.Code == 1014 {
			_ = ss.sendError("backend_unavailable", "the connection to the agent was lost")
		}
		ss.umu.Lock()
		ss.over = true // a reset under way closes the leg it opens; no socket takes the session over
		up, c := ss.up, ss.client
		ss.umu.Unlock()
		if client != closePeerVanished {
			_ = c.SendClose(client.Code, client.Reason)
		}
		up.Close(int(backend.Code), backend.Reason)
		if !wsconn.Violation(client.Code) { // sendClose already bounded the client's reading
			c.InterruptRead(time.Now().Add(closeGrace))
		}
	})
}

func (ss *session) closeCodes(err error, fromClient bool) (client, backend *CloseError) {
	var (
		bc *BackendClosed
		bw errBackendWrite
		cw errClientWrite
	)
	switch {
	case errors.As(err, &bc):
		code := &CloseError{Code: passCode(ws.StatusCode(bc.Code)), Reason: bc.Reason}
		if code.Code == ws.StatusNormalClosure && ss.busy.Load() {
			// The backend hung up in the middle of a reply.
			return closeBackendGone, code
		}
		return code, code
	case errors.As(err, &bw):
		return closeBackendGone, closePeerVanished
	case errors.As(err, &cw):
		return closePeerVanished, &CloseError{Code: ws.StatusGoingAway, Reason: "client went away"}
	case errors.Is(err, io.EOF) && !fromClient:
		return closeBackendGone, closePeerVanished
	}
	return closeCodes(err, fromClient)
}

// IdleTimeout ends a session with no user message for Session.Timeout.
func (ss *session) IdleTimeout() {
	_ = ss.sendError("session_timeout", "the session timed out after inactivity")
	ss.finish(closeIdle, true)
}

func (ss *session) drain() {
	ss.draining.Store(true)
	if ss.idleNow() {
		ss.finish(errGoingAway, true)
	}
}

func (ss *session) forceClose() { ss.finish(errGoingAway, true) }

// startTicks arms the timers the dialects of both legs declare
// (Dialect.TickEvery), if any. Each fires once per interval on a goroutine
// of the runtime's timer and is re-armed from there: no goroutine waits
// between ticks.
func (ss *session) startTicks() {
	opts := ss.rt.ClientOptions
	opts.Role = translators.Client
	ss.cticker, ss.cevery = ticker(ss.rt.Client, opts, ss.ccodec)
	backend := ss.su != nil && ss.su.ticker != nil
	if ss.cticker == nil && !backend {
		return
	}
	ss.tmu.Lock()
	defer ss.tmu.Unlock()
	if ss.ticksOff { // finished already
		return
	}
	if ss.cticker != nil {
		ss.ctimer = time.AfterFunc(ss.cevery, ss.clientTick)
	}
	if backend {
		ss.btimer = time.AfterFunc(ss.su.tickEvery, ss.backendTick)
	}
}

// stopTicks stops both timers for good; the session is finishing.
func (ss *session) stopTicks() {
	ss.tmu.Lock()
	defer ss.tmu.Unlock()
	ss.ticksOff = true
	if ss.ctimer != nil {
		ss.ctimer.Stop()
	}
	if ss.btimer != nil {
		ss.btimer.Stop()
	}
}

// rearm sets the client's timer (client) or the backend's for the next
// tick, unless the session finished meanwhile.
func (ss *session) rearm(client bool) {
	ss.tmu.Lock()
	defer ss.tmu.Unlock()
	switch {
	case ss.ticksOff:
	case client:
		ss.ctimer.Reset(ss.cevery)
	default:
		if su := ss.backend(); su != nil && su.ticker != nil {
			ss.btimer.Reset(su.tickEvery)
		}
	}
}

// clientTick writes what the client codec's Tick appends to the client,
// with the frames pending before it. Under cmu, as Tick must not run with
// Encode.
func (ss *session) clientTick() {
	ss.cmu.Lock()
	if ss.gone.Load() {
		// No client: the timer stops; a socket that takes the session
		// over arms it again (adopt).
		ss.cmu.Unlock()
		return
	}
	ss.lendPend()
	start := len(ss.pend)
	buf := append(ss.pend, make([]byte, wsconn.HeaderRoom)...)
	out, err := ss.cticker.Tick(buf)
	var werr error
	if err != nil || len(out) == len(buf) {
		ss.pend = buf[:start] // nothing due now
	} else {
		ss.pend = wsconn.FrameAt(out, start, ss.cop)
	}
	if err == nil {
		werr = ss.flushLocked()
	}
	if ss.idleNow() {
		ss.releasePend() // the session may stay idle long after the tick
	}
	ss.cmu.Unlock()
	switch {
	case err != nil:
		ss.tickFailed(err, true)
	case werr != nil:
		ss.finish(errClientWrite{werr}, false)
	default:
		ss.rearm(true)
	}
}

// backendTick writes what the backend codec's Tick appends to the backend.
func (ss *session) backendTick() {
	su := ss.backend()
	if su == nil {
		return
	}
	err := su.tick()
	if err != nil && ss.changing(su) {
		// A reset closed this leg: the next tick goes to the new one.
		ss.rearm(false)
		return
	}
	var bw errBackendWrite
	switch {
	case errors.As(err, &bw):
		ss.finish(err, false)
	case err != nil:
		ss.tickFailed(err, false)
	default:
		ss.rearm(false)
	}
}

// closeKeepalive closes the leg whose peer failed the dialect's own
// keepalive (a Tick error: it missed its pong).
var closeKeepalive = &CloseError{Code: ws.StatusPolicyViolation, Reason: "keepalive failed"}

// tickFailed ends the session after a codec's Tick failed, like a codec
// error does. The client missed the deadline (client): it gets the
// dialect's error, then 1008, and the backend 1001. The backend did: the
// client gets the dialect's backend_unavailable error and 1014, the
// backend 1008.
func (ss *session) tickFailed(err error, client bool) {
	if !client {
		ss.finish(closeKeepalive, false)
		return
	}
	reason := "the connection missed the dialect's keepalive"
	var me *translators.MalformedError
	if errors.As(err, &me) {
		reason = me.Reason
	}
	_ = ss.sendError("keepalive_failed", reason)
	ss.finish(closeKeepalive, true)
}
