package proxy

import (
	"errors"
	"strconv"
	"time"

	"github.com/gobwas/ws"

	"github.com/agentbridge/agentbridge/auth"
	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
	"github.com/agentbridge/agentbridge/translators"
)

// Resumable sessions (a client dialect with translators.Dialect.Resume,
// OpenHands): a conversation outlives its socket. The session keeps the
// frames it writes that carry an event id (its client codec is a
// translators.Sequencer), bounded by the route's session.resume_events and
// session.resume_bytes. When its client leaves (not for a violation or a
// limit), the session stays, backend leg and turn included, for
// session.resume_window, writing nothing. A socket that names the same
// conversation within that time takes it over (adopt): it gets the
// dialect's greeting, the kept frames after the id it names (of the kinds
// the dialect collapses, only the last), then the live ones. The session's
// client codec stays, with the conversation's state (its ids, the turn,
// usage so far); its KindReady starts the dialect's transport afresh (an
// Engine.IO session: a new ping cycle). Nothing is lost or repeated: the frames
// after the id are taken, and the new socket becomes the one written to,
// under the session's cmu, the lock every write to the client takes.
//
// The conversations are keyed by route and the dialect's conversation
// parameter (Resume.Conversation); a conversation has at most one session
// that a socket can take over: the newest.

// resumable is a resumable session's state (a client dialect with
// Dialect.Resume): key names the conversation, seq is the client codec's
// numbering, elog the frames with an event id it wrote and lastSeq the
// last id kept (these three under the session's cmu), detached is closed
// when a claimed session's old client pump let go (orphan; under umu).
type resumable struct {
	key      string
	seq      translators.Sequencer
	elog     eventLog
	lastSeq  int64
	detached chan struct{}
}

// eventLog is the frames a resumable session wrote that carry an event id,
// oldest first, in two segments: prev, then cur. New events go to cur; when
// cur holds half of the bounds, it becomes prev and the old prev, emptied,
// the new cur. So between half the bounds and the bounds are kept, and
// nothing is ever moved: a segment's buffers are reused once they have
// grown. Guarded by the session's cmu.
type eventLog struct {
	prev, cur logSegment
}

// logSegment is whole WebSocket frames one after the other in buf, and
// each event's id and end in ents.
type logSegment struct {
	buf  []byte
	ents []logEntry
}

type logEntry struct {
	id  int64
	end int // where the event's frames end in buf
}

// add keeps frames, those written for the event id, within maxEvents
// events and maxBytes bytes (at least the last half of each).
func (l *eventLog) add(id int64, frames []byte, maxEvents int, maxBytes int64) {
	c := &l.cur
	if len(c.ents) > 0 && (2*len(c.ents) >= maxEvents || 2*int64(len(c.buf)+len(frames)) > maxBytes) {
		l.prev, l.cur = l.cur, logSegment{buf: l.prev.buf[:0], ents: l.prev.ents[:0]}
		c = &l.cur
	}
	c.buf = append(c.buf, frames...)
	c.ents = append(c.ents, logEntry{id: id, end: len(c.buf)})
}

// appendAfter appends the frames of the events after id to dst, in order;
// of the events whose message collapse reports, only the last, after the
// others.
func (l *eventLog) appendAfter(dst []byte, after int64, collapse func([]byte) bool) []byte {
	var last []byte // the last collapsed event after id
	for _, g := range [2]*logSegment{&l.prev, &l.cur} {
		for i, e := range g.ents {
			if e.id <= after {
				continue
			}
			frames := g.buf[g.start(i):e.end]
			if collapse != nil && collapsed(frames, collapse) {
				last = frames
				continue
			}
			dst = append(dst, frames...)
		}
	}
	return append(dst, last...)
}

func (g *logSegment) start(i int) int {
	if i == 0 {
		return 0
	}
	return g.ents[i-1].end
}

// collapsed reports whether the first message of frames is one collapse
// names.
func collapsed(frames []byte, collapse func([]byte) bool) bool {
	h, n, err := wsconn.ParseHeader(frames)
	if err != nil || n+int(h.Length) > len(frames) {
		return false
	}
	return collapse(frames[n : n+int(h.Length)])
}

// resumeKey names the conversation params name on rt, or "" when they name
// none (the client starts afresh).
func resumeKey(rt *Route, params []Param) string {
	r := rt.Client.Resume
	if r == nil || rt.Session.ResumeWindow <= 0 {
		return ""
	}
	v := paramValue(params, r.Conversation)
	if v == "" {
		return ""
	}
	return rt.Name + "\x00" + v
}

// resumeAfter is the id of the last event the client saw, from params; -1
// when it names none.
func resumeAfter(rt *Route, params []Param) int64 {
	n, err := strconv.ParseInt(paramValue(params, rt.Client.Resume.After), 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

func paramValue(params []Param, name string) string {
	for _, p := range params {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// addResumable makes ss the session of its conversation that a socket can
// take over.
func (s *Server) addResumable(ss *session) {
	s.mu.Lock()
	if s.resumes == nil {
		s.resumes = make(map[string]*session)
	}
	s.resumes[ss.res.key] = ss
	s.mu.Unlock()
}

// dropResumable forgets ss, which ended, unless a newer session holds its
// conversation.
func (s *Server) dropResumable(ss *session) {
	s.mu.Lock()
	if s.resumes[ss.res.key] == ss {
		delete(s.resumes, ss.res.key)
	}
	s.mu.Unlock()
}

// claim returns the session of the conversation key on rt whose client
// left, reserved for the socket about to take it over, or nil. A claimed
// session's window no longer runs; release gives it back if the socket
// does not come.
func (s *Server) claim(rt *Route, key string) *session {
	if key == "" {
		return nil
	}
	s.mu.Lock()
	ss := s.resumes[key]
	s.mu.Unlock()
	if ss == nil || ss.rt != rt {
		return nil // a reload changed the route: the new socket starts afresh
	}
	ss.umu.Lock()
	defer ss.umu.Unlock()
	if ss.over || ss.claimed {
		return nil // ending, or being taken by another socket
	}
	if !ss.gone.Load() {
		// Its client is still there as far as the proxy knows (a client
		// that reconnects at once, its old socket not yet found dead):
		// the new socket takes over, and the old one is closed. adopt
		// waits for the client pump to let go of it (detached).
		ss.claimed = true
		ss.res.detached = make(chan struct{})
		ss.client.Close()
		return ss
	}
	if ss.grace == nil || !ss.grace.Stop() {
		return nil // its window ran out
	}
	ss.claimed = true
	return ss
}

// detachWait bounds how long a socket taking a session over waits for the
// session's old client pump to end.
const detachWait = 5 * time.Second

// release gives back a session claimed for a socket that did not come:
// its window starts again.
func (ss *session) release() {
	ss.umu.Lock()
	ss.claimed, ss.res.detached = false, nil
	if !ss.over {
		if ss.grace != nil {
			ss.grace.Stop()
		}
		ss.grace = time.AfterFunc(ss.rt.Session.ResumeWindow, ss.orphanEnded)
	}
	ss.umu.Unlock()
}

// adopt makes c, a new socket of ss's conversation, the session's client
// (ss was claimed for it), and runs its client pump. It writes c the
// dialect's greeting, then the frames after the event id params name, then
// whatever the session writes next.
func (ss *session) adopt(c *wsconn.Conn, params []Param, id auth.Identity, slot connSlot) {
	rt := ss.rt
	after := resumeAfter(rt, params)

	ss.umu.Lock()
	detached := ss.res.detached
	ss.umu.Unlock()
	if detached != nil {
		select {
		case <-detached:
		case <-time.After(detachWait):
		}
	}

	ss.umu.Lock()
	if ss.over || !ss.gone.Load() {
		ss.umu.Unlock()
		// The session ended between the claim and now: the client
		// reconnects and starts afresh.
		c.CloseGracefully(closeBackendGone.Code, "the conversation ended; connect again", closeGrace)
		slot.release()
		return
	}
	ss.claimed = false
	ss.res.detached = nil
	if ss.grace != nil {
		ss.grace.Stop()
		ss.grace = nil
	}
	ss.alive.Add(1) // the session cannot end before this pump does
	ss.cmu.Lock()
	old := ss.client
	ss.client = c
	ss.umu.Unlock()

	// The codec stays: it holds the conversation (its ids, its turn, usage
	// so far); the greeting starts its transport over on the new socket.
	ss.pend = ss.pend[:0]
	ss.queueOwn(translators.Event{Kind: translators.KindReady, ID: appendSessionID(ss.sid[:0])})
	ss.pend = ss.res.elog.appendAfter(ss.pend, after, rt.Client.Resume.Collapse)
	ss.gone.Store(false)
	err := ss.flushLocked()
	ss.cmu.Unlock()
	ss.s.metrics.relegged(ss, old, c)
	old.FreeRead() // its pump ended when its client left

	ss.slot.release()
	ss.slot = slot
	ss.id = id
	if ss.expiry != nil {
		ss.expiry.Stop()
	}
	if !id.Expires.IsZero() {
		ss.expiry = time.AfterFunc(time.Until(id.Expires), ss.expireCredential)
	}
	c.StartKeepalive(ss.s.cfg.PingInterval)
	c.SetOwner(ss)
	c.StartIdle(rt.Session.Timeout)
	ss.restartClientTicks()
	if err != nil {
		ss.finish(errClientWrite{err}, false)
	}
	ss.drive(true, false)
}

// restartClientTicks arms the client's timer again for the new client
// (clientTick stops while the session has none).
func (ss *session) restartClientTicks() {
	ss.tmu.Lock()
	defer ss.tmu.Unlock()
	if ss.ctimer != nil && !ss.ticksOff {
		ss.ctimer.Reset(ss.cevery)
	}
}

// rejoinBackoff is the wait before each attempt to join a dropped backend
// leg's conversation again; its length bounds the attempts.
var rejoinBackoff = []time.Duration{50 * time.Millisecond, 250 * time.Millisecond, time.Second}

// rejoin reports whether the backend leg that ended with err was replaced
// by a new one in the same conversation, on the backend pump: the
// backend's dialect rejoins (Dialect.Resume, a translators.Rejoiner codec),
// the leg dropped (its connection failed, or the backend closed it other
// than normally or for a policy: a restart, say), and a new leg, dialed
// with the last event id seen, opened within len(rejoinBackoff) attempts.
// The turn goes on: the backend sends the events after that id. When it
// reports false the session ends as it would have, the client told the
// agent is unavailable.
func (ss *session) rejoin(err error) bool {
	r := ss.rt.Backend.Dialect.Resume
	su := ss.backend()
	if r == nil || su == nil || ss.draining.Load() || !dropped(err) {
		return false
	}
	rj, ok := su.codec.(translators.Rejoiner)
	if !ok {
		return false
	}
	ss.umu.Lock()
	if ss.over || ss.resetting {
		ss.umu.Unlock()
		return false
	}
	ss.resetting = true // the client pump's sends fail meanwhile, as to a dead leg
	ss.umu.Unlock()
	after := rj.LatestEventID()
	pending := ss.pending.Len()
	if ss.busy.Load() && pending == 0 {
		pending = 1 // the reply in progress has left the queue
	}
	params := append(ss.params[:len(ss.params):len(ss.params)],
		Param{Name: r.After, Value: strconv.FormatInt(after, 10)},
		Param{Name: translators.PendingParam, Value: strconv.Itoa(pending)},
		Param{Name: translators.TurnTextParam, Value: strconv.Itoa(len(ss.turn.Text()))})
	for i, wait := range rejoinBackoff {
		time.Sleep(wait)
		if ss.draining.Load() {
			break
		}
		lg, derr := ss.s.openLeg(ss.rt, params, ss.id)
		if derr != nil {
			ss.s.log.Warn("backend leg dropped; joining again failed", "route", ss.rt.Name, "backend", ss.rt.Backend.Name,
				"attempt", i+1, "err", derr)
			continue
		}
		if lg.up == nil || !ss.useLeg(lg, su) {
			lg.close()
			break
		}
		ss.s.log.Info("backend leg dropped and joined again", "route", ss.rt.Name, "backend", ss.rt.Backend.Name,
			"after_event", after, "attempt", i+1)
		return true
	}
	ss.umu.Lock()
	ss.resetting = false
	ss.umu.Unlock()
	return false
}

// dropped reports whether a backend pump's err is a leg lost rather than
// ended: not the proxy's own close, not a protocol violation, not a close
// frame with 1000 (the backend ended it) or 1008 (it refused us).
func dropped(err error) bool {
	var cw errClientWrite
	var ce *CloseError
	var bc *BackendClosed
	switch {
	case err == nil, errors.Is(err, errGoingAway), errors.As(err, &cw), errors.As(err, &ce):
		return false
	case errors.As(err, &bc):
		return bc.Code != int(ws.StatusNormalClosure) && bc.Code != int(ws.StatusPolicyViolation)
	}
	return true // the connection failed (a proxy's own close is told apart by the session: over, resetting)
}
