package proxy

import (
	"slices"
	"sync"
	"time"

	"github.com/agentbridge/agentbridge/auth"
	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
	"github.com/agentbridge/agentbridge/translators"
)

// conversation is one session key's backend conversation.
type conversation struct {
	h   *hub
	key string
	up  Upstream

	mu       sync.Mutex
	turn     translators.Turn
	pending  *translators.IDQueue
	codec    translators.Codec // client role, Encode only
	out      []byte
	current  *reply   // the reply streaming now
	inflight *reply   // the reply sent to the backend and not ended
	queue    []queued // messages waiting for inflight to end
	closed   bool
	idle     *time.Timer
	done     chan struct{}
	sendEv   translators.Event // dispatch's event: passed to the Upstream, it would escape from a local

	// The pump's state, kept across parks of a socket backend's leg.
	sock    *wsconn.Conn // the backend socket when up is one; nil otherwise
	evs     []translators.Event
	norm    []translators.Event
	more    moreUpstream  // up, when it can tell that more is waiting
	holding bool          // the pump queues frames for one write per burst (under mu)
	dirty   []*subscriber // subscribers with frames queued and not written (under mu)
}

// queued is a message waiting for its turn: a conversation sends one
// message at a time, so a backend that would answer two at once still
// answers in order. msg is a copy from queuedMsgPool (copyQueuedMsg),
// given back by dispatch once sent, or by cancel when it drops it; one a
// closed conversation never sends is left to the collector.
type queued struct {
	r   *reply
	msg *[]byte
}

var queuedMsgPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// copyQueuedMsg returns a copy of msg in a buffer from queuedMsgPool.
func copyQueuedMsg(msg []byte) *[]byte {
	bp := queuedMsgPool.Get().(*[]byte)
	*bp = append((*bp)[:0], msg...)
	return bp
}

// release gives q's buffer back; a large one is left to the collector.
func (q *queued) release() {
	if q.msg != nil && cap(*q.msg) <= 64<<10 {
		queuedMsgPool.Put(q.msg)
	}
	q.msg = nil
}

// dispatch sends the next queued message when none is in flight. c.mu is
// held.
func (c *conversation) dispatch() error {
	if c.inflight != nil || len(c.queue) == 0 || c.closed {
		return nil
	}
	q := c.queue[0]
	// Shift rather than reslice: the queue keeps its array, appends do
	// not grow a new one as its front moves on.
	n := copy(c.queue, c.queue[1:])
	c.queue[n] = queued{}
	c.queue = c.queue[:n]
	c.inflight = q.r
	c.pending.Push(q.r.token[:])
	c.sendEv = translators.Event{Kind: translators.KindUserMessage, ID: q.r.token[:], Text: *q.msg}
	err := c.up.Send(&c.sendEv)
	c.sendEv = translators.Event{}
	q.release() // Send keeps nothing of the event
	if err != nil {
		c.h.s.log.Warn("backend send failed", "route", c.h.rt.Name, "backend", c.h.rt.Backend.Name, "err", err)
		go c.close(closeBackendGone)
		return err
	}
	return nil
}

// conversation returns the conversation of key, opening its backend leg
// when there is none and the limits allow one more (errRouteFull,
// errServerFull). An empty key is a conversation of its own.
func (h *hub) conversation(key []byte) (*conversation, error) {
	if len(key) > 0 {
		h.mu.Lock()
		c := h.convs[string(key)]
		h.mu.Unlock()
		if c != nil {
			return c, nil
		}
	}
	if err := h.admitConversation(); err != nil {
		return nil, err
	}
	lg, err := h.s.openLeg(h.rt, nil, auth.Identity{})
	if err != nil {
		h.releaseConversation()
		h.s.log.Warn("backend unavailable", "route", h.rt.Name, "backend", h.rt.Backend.Name, "err", err)
		return nil, err
	}
	opts := h.rt.ClientOptions
	opts.Role = translators.Client
	c := &conversation{
		h: h, key: string(key), up: lg.up,
		pending: translators.NewIDQueue(h.rt.Limits.MaxPending),
		codec:   h.rt.Client.New(opts),
		done:    make(chan struct{}),
	}
	c.turn = translators.Turn{MaxText: h.rt.Limits.MaxTurnText, Pending: c.pending}
	c.more, _ = c.up.(moreUpstream)
	c.idle = time.AfterFunc(h.rt.Session.Timeout, func() { c.close(closeNormal) })
	if c.key != "" {
		h.mu.Lock()
		if other := h.convs[c.key]; other != nil {
			// Another Send opened it meanwhile: use theirs.
			h.mu.Unlock()
			c.idle.Stop()
			lg.close()
			h.releaseConversation()
			return other, nil
		}
		h.convs[c.key] = c
		h.mu.Unlock()
	}
	if !h.s.register(c) {
		c.close(closeGoingAway)
		return nil, errBackendDown
	}
	if su, ok := c.up.(*socketUpstream); ok {
		c.sock = su.c
		su.c.SetOwner(c)
	}
	go c.drive(false)
	return c, nil
}

// Unparked resumes the pump of a conversation whose backend socket parked.
func (c *conversation) Unparked(_ *wsconn.Conn, expired bool) { c.drive(expired) }

// IdleTimeout: a conversation keeps its own idle timer (c.idle).
func (c *conversation) IdleTimeout() {}

// drive runs the pump, holding the backend socket's reader, until the
// socket parks (an idle conversation holds no goroutine) or the leg ends.
func (c *conversation) drive(expired bool) {
	if c.sock != nil {
		c.sock.LockReader(expired)
	}
	err := c.pump()
	if c.sock != nil {
		c.sock.UnlockReader()
	}
	if err == wsconn.ErrParked {
		return
	}
	close(c.done)
	c.h.s.unregister(c)
}

// pump reads the backend and delivers its events to the replies'
// subscribers until the leg ends, or until its socket parks (wsconn.ErrParked).
func (c *conversation) pump() error {
	for {
		evs, err := c.up.Receive(c.evs[:0])
		c.evs = evs
		if err == wsconn.ErrParked {
			return err
		}
		if err != nil {
			c.close(closeBackendGone)
			c.failAll("the connection to the agent was lost")
			return err
		}
		c.mu.Lock()
		// A burst of backend frames leaves in one write per subscriber:
		// frames are queued while the backend has more buffered.
		c.holding = moreWaiting(c.more)
		for i := range evs {
			c.norm, err = c.turn.Apply(c.norm[:0], &evs[i])
			for j := range c.norm {
				c.deliver(&c.norm[j])
			}
			if err != nil {
				ev := translators.Event{Kind: translators.KindError, ID: c.turn.ID(), Code: []byte("reply_too_large"),
					Text: []byte("the reply exceeded the proxy's size limit and was cut")}
				c.deliver(&ev)
			}
		}
		c.holding = false
		if !moreWaiting(c.more) {
			c.flushLocked()
		}
		drain := c.h.s.draining.Load() && c.inflight == nil && len(c.queue) == 0
		c.mu.Unlock()
		if drain {
			c.close(closeGoingAway)
			return errDrained
		}
	}
}

// deliver updates the reply ev belongs to and writes ev to its
// subscribers. c.mu is held.
func (c *conversation) deliver(ev *translators.Event) {
	r := c.h.reply(ev.ID)
	if r == nil || r.done {
		// Expired, or cancelled by the proxy already: the backend's last
		// words on it are dropped, but its end frees the conversation.
		switch ev.Kind {
		case translators.KindTurnEnd, translators.KindError, translators.KindCancel:
			if r != nil && c.inflight == r {
				c.inflight = nil
				_ = c.dispatch()
			}
		}
		return
	}
	switch ev.Kind {
	case translators.KindTurnStart:
		r.status, r.start, c.current = translators.ReplyStarted, time.Now(), r
	case translators.KindTextDelta, translators.KindThinkingDelta, translators.KindTextReplace:
		r.status = translators.ReplyStreaming
		r.deltas++
	case translators.KindTurnEnd:
		r.status = translators.ReplyEnded
	case translators.KindError:
		r.status = translators.ReplyFailed
	case translators.KindCancel:
		r.status = translators.ReplyCancelled
	default:
		return
	}
	ev.Elapsed = time.Since(r.start)
	if ev.Usage.OutputTokens <= 0 {
		ev.Usage.OutputTokens = r.deltas
	}
	switch ev.Kind {
	case translators.KindTurnEnd, translators.KindError, translators.KindCancel:
		c.end(r, ev.Full, ev.Thinking)
	}
	c.broadcast(r, ev)
	if r.done && c.inflight == r {
		c.inflight = nil
		_ = c.dispatch()
	}
}

// end marks r finished, keeping a copy of its text for late subscribers.
func (c *conversation) end(r *reply, text, thought []byte) {
	r.done, r.endedAt = true, time.Now()
	r.text, r.thought = append([]byte(nil), text...), append([]byte(nil), thought...)
	if c.current == r {
		c.current = nil
	}
	c.h.mu.Lock()
	c.h.ended = append(c.h.ended, r)
	c.h.mu.Unlock()
}

// broadcast encodes ev and writes it to r's subscribers, dropping those
// that fail; while the pump holds (a burst from the backend), it queues it
// for flushLocked instead. c.mu is held.
func (c *conversation) broadcast(r *reply, ev *translators.Event) {
	var err error
	c.out, err = c.codec.Encode(append(c.out[:0], make([]byte, wsconn.HeaderRoom)...), ev)
	if err != nil || len(c.out) == wsconn.HeaderRoom {
		if ev.Kind == translators.KindFrame {
			c.h.s.frameDropped(c.h.rt, ev)
		}
		return
	}
	c.out = wsconn.FrameAt(c.out, 0, opcode(c.h.rt.Client))
	kept := r.subs[:0]
	for _, sub := range r.subs {
		queued, ok := sub.queue(c.out)
		// Accumulated text makes frames grow with the reply: a burst is
		// held up to 32 KiB a subscriber, like a session's.
		hold := c.holding && queued < 32<<10
		if ok && (hold || sub.flush() == nil) {
			kept = append(kept, sub)
			if hold && !slices.Contains(c.dirty, sub) {
				c.dirty = append(c.dirty, sub)
			}
		}
	}
	clear(r.subs[len(kept):])
	r.subs = kept
	if r.done {
		r.subs = nil // nothing more will come
	}
}

// flushLocked writes what the pump queued for each subscriber. A
// subscriber whose write fails is dropped from its replies by the next
// broadcast (queue refuses it). c.mu is held.
func (c *conversation) flushLocked() {
	for i, sub := range c.dirty {
		_ = sub.flush()
		c.dirty[i] = nil
	}
	c.dirty = c.dirty[:0]
}

// failAll ends every unfinished reply of the conversation with an error.
func (c *conversation) failAll(msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.h.mu.Lock()
	var open []*reply
	for _, r := range c.h.replies {
		if r.conv == c && !r.done {
			open = append(open, r)
		}
	}
	c.h.mu.Unlock()
	for _, r := range open {
		r.status = translators.ReplyFailed
		ev := translators.Event{Kind: translators.KindError, ID: r.token[:], Code: []byte("backend_unavailable"), Text: []byte(msg)}
		c.end(r, nil, nil)
		c.broadcast(r, &ev)
	}
}

// close ends the conversation's backend leg; its pump then fails what is
// left.
func (c *conversation) close(ce *CloseError) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.idle.Stop()
	c.mu.Unlock()
	c.h.mu.Lock()
	if c.key != "" && c.h.convs[c.key] == c {
		delete(c.h.convs, c.key)
	}
	c.h.mu.Unlock()
	c.up.Close(int(ce.Code), ce.Reason)
	c.h.releaseConversation()
}

func (c *conversation) drain() {
	c.mu.Lock()
	idle := c.inflight == nil && len(c.queue) == 0
	c.mu.Unlock()
	if idle {
		c.close(closeGoingAway)
	}
}

func (c *conversation) forceClose() { c.close(closeGoingAway) }
