package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/agentbridge/agentbridge/auth"
	"github.com/valyala/fasthttp"

	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
	"github.com/agentbridge/agentbridge/translators"
)

// hub serves a route whose client dialect sends messages over REST and
// reads replies by subscribing on the socket (Wiro).
//
// A Send goes to the conversation of its session key: one Upstream per key,
// opened on the first Send and closed after Session.Timeout without a
// message, so sends with one key reach the same backend conversation and
// are answered in order. Each Send creates a reply, named by a random token
// the client subscribes to from any socket, any number of times, early or
// late: a subscriber first gets the reply's status and its text so far, then
// every event after that.
//
// Locking: h.mu guards the maps. Each conversation's mu guards its Turn,
// codec and the state and subscribers of its replies; its pump holds it
// while it normalizes, encodes and writes an event, so a subscriber's
// snapshot and the events after it never interleave wrongly. Writes to
// subscribers are whole frames under each connection's own mutex with a
// write deadline, so a slow subscriber stalls its conversation at most that
// long before it is closed.
type hub struct {
	s  *Server
	rt *Route

	mu      sync.Mutex
	convs   map[string]*conversation
	replies map[string]*reply
	ended   []*reply // finished replies, oldest first, for expiry

	open atomic.Int64 // conversations with a backend leg, keyed or not (see admitConversation)
}

// Replies are kept this long after they end, and at most this many, so a
// late subscriber still gets the whole text.
const (
	replyTTL   = 10 * time.Minute
	maxReplies = 10000
)

func newHub(s *Server, rt *Route) *hub {
	return &hub{s: s, rt: rt, convs: make(map[string]*conversation), replies: make(map[string]*reply)}
}

// reply is one answer in progress or done.
type reply struct {
	token  string
	conv   *conversation
	status string
	start  time.Time
	deltas int64
	subs   []*subscriber
	// Set when the reply ends; until then its text is the conversation's
	// Turn's.
	done          bool
	endedAt       time.Time
	text, thought []byte
}

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
// answers in order.
type queued struct {
	r   *reply
	msg []byte
}

// restError answers a REST call with the dialect's failure body.
func (h *hub) restError(ctx *fasthttp.RequestCtx, status int, msg string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	r := translators.SendResult{Errors: []string{msg}}
	ctx.SetBody(h.rt.Client.REST.AppendSendResult(nil, &r))
}

// serveREST handles POST <path><SendPath> and <path><CancelPath>.
func (h *hub) serveREST(ctx *fasthttp.RequestCtx, send bool) {
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		h.restError(ctx, fasthttp.StatusMethodNotAllowed, "use POST")
		return
	}
	if len(h.rt.Auth) > 0 {
		cred := credential(ctx, h.rt)
		if cred.Value == "" {
			h.restError(ctx, fasthttp.StatusUnauthorized, "missing credentials: "+credentialHint(h.rt))
			return
		}
		if _, err := h.s.authenticate(h.rt, cred); err != nil {
			h.restError(ctx, fasthttp.StatusUnauthorized, "invalid credentials")
			return
		}
	}
	if h.s.draining.Load() {
		h.restError(ctx, fasthttp.StatusServiceUnavailable, "the server is shutting down")
		return
	}
	rest := h.rt.Client.REST
	if !send {
		token, err := rest.ParseCancel(ctx.PostBody())
		if err != nil {
			h.restError(ctx, fasthttp.StatusBadRequest, malformedReason(err))
			return
		}
		if !h.cancel(string(token)) {
			h.restError(ctx, fasthttp.StatusNotFound, "unknown or finished agenttoken")
			return
		}
		ctx.SetContentType("application/json")
		ctx.SetBody(rest.AppendCancelResult(nil, &translators.SendResult{OK: true}))
		return
	}
	req, err := rest.ParseSend(ctx.PostBody())
	if err != nil {
		h.restError(ctx, fasthttp.StatusBadRequest, malformedReason(err))
		return
	}
	if int64(len(req.Message)) > h.rt.Limits.MaxMessage {
		h.restError(ctx, fasthttp.StatusRequestEntityTooLarge, "message too large")
		return
	}
	token, status, err := h.send(string(req.SessionKey), req.Message)
	if err != nil {
		h.restError(ctx, status, err.Error())
		return
	}
	ctx.SetContentType("application/json")
	ctx.SetBody(rest.AppendSendResult(nil, &translators.SendResult{
		OK: true, MessageID: newUUID(), Token: []byte(token), Status: []byte("agent_queue"),
	}))
}

func malformedReason(err error) string {
	var me *translators.MalformedError
	if errors.As(err, &me) {
		return me.Reason
	}
	return "malformed request"
}

var (
	errConvBusy    = errors.New("too many messages waiting for a reply in this session")
	errBackendDown = errors.New("the backend for this route is unavailable")
	errRouteFull   = errors.New("too many conversations are open on this route: try again later, or reuse a sessionkey")
	errServerFull  = errors.New("too many conversations are open on this server: try again later")
)

// admitConversation counts a new conversation against the route's
// Limits.MaxConversations and the server's MaxConversations (the sum over
// its hubs), or returns the error to answer. It counts first and checks
// after, without a lock (conversations end under the server's lock, at
// shutdown): racing sends may both be refused near a limit, never both
// admitted past it.
func (h *hub) admitConversation() error {
	if h.open.Add(1) > int64(h.rt.Limits.MaxConversations) {
		h.open.Add(-1)
		return errRouteFull
	}
	var total int64
	for _, o := range h.s.hubs { // fixed after New
		total += o.open.Load()
	}
	if total > int64(h.s.cfg.MaxConversations) {
		h.open.Add(-1)
		return errServerFull
	}
	return nil
}

// releaseConversation gives back what admitConversation counted.
func (h *hub) releaseConversation() { h.open.Add(-1) }

// send starts a reply to msg in the conversation of key and returns its
// token, or an error with the HTTP status to answer.
func (h *hub) send(key string, msg []byte) (string, int, error) {
	conv, err := h.conversation(key)
	switch {
	case err == errRouteFull:
		return "", fasthttp.StatusTooManyRequests, err
	case err == errServerFull:
		return "", fasthttp.StatusServiceUnavailable, err
	case err != nil:
		return "", fasthttp.StatusBadGateway, errBackendDown
	}
	token := newToken()
	r := &reply{token: token, conv: conv, status: "agent_queue", start: time.Now()}
	conv.mu.Lock()
	defer conv.mu.Unlock()
	if conv.closed {
		return "", fasthttp.StatusBadGateway, errBackendDown
	}
	if len(conv.queue) >= h.rt.Limits.MaxPending {
		return "", fasthttp.StatusTooManyRequests, errConvBusy
	}
	h.mu.Lock()
	h.replies[token] = r
	h.expireLocked(time.Now())
	h.mu.Unlock()
	conv.idle.Reset(h.rt.Session.Timeout)
	conv.queue = append(conv.queue, queued{r: r, msg: append([]byte(nil), msg...)})
	if err := conv.dispatch(); err != nil {
		return "", fasthttp.StatusBadGateway, errBackendDown
	}
	return token, 0, nil
}

// dispatch sends the next queued message when none is in flight. c.mu is
// held.
func (c *conversation) dispatch() error {
	if c.inflight != nil || len(c.queue) == 0 || c.closed {
		return nil
	}
	q := c.queue[0]
	c.queue[0] = queued{}
	c.queue = c.queue[1:]
	c.inflight = q.r
	c.pending.Push([]byte(q.r.token))
	ev := translators.Event{Kind: translators.KindUserMessage, ID: []byte(q.r.token), Text: q.msg}
	if err := c.up.Send(&ev); err != nil {
		c.h.s.log.Warn("backend send failed", "route", c.h.rt.Name, "backend", c.h.rt.Backend.Name, "err", err)
		go c.close(closeBackendGone)
		return err
	}
	return nil
}

// conversation returns the conversation of key, opening its backend leg
// when there is none and the limits allow one more (errRouteFull,
// errServerFull). An empty key is a conversation of its own.
func (h *hub) conversation(key string) (*conversation, error) {
	if key != "" {
		h.mu.Lock()
		c := h.convs[key]
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
		h: h, key: key, up: lg.up,
		pending: translators.NewIDQueue(h.rt.Limits.MaxPending),
		codec:   h.rt.Client.New(opts),
		done:    make(chan struct{}),
	}
	c.turn = translators.Turn{MaxText: h.rt.Limits.MaxTurnText, Pending: c.pending}
	c.more, _ = c.up.(moreUpstream)
	c.idle = time.AfterFunc(h.rt.Session.Timeout, func() { c.close(closeNormal) })
	if key != "" {
		h.mu.Lock()
		if other := h.convs[key]; other != nil {
			// Another Send opened it meanwhile: use theirs.
			h.mu.Unlock()
			c.idle.Stop()
			lg.close()
			h.releaseConversation()
			return other, nil
		}
		h.convs[key] = c
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

// errDrained ends the pump of a conversation the server's drain left idle.
var errDrained = errors.New("drained")

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
	c.h.mu.Lock()
	r := c.h.replies[string(ev.ID)]
	c.h.mu.Unlock()
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
		r.status, r.start, c.current = "agent_start", time.Now(), r
	case translators.KindTextDelta, translators.KindThinkingDelta, translators.KindTextReplace:
		r.status = "agent_output"
		r.deltas++
	case translators.KindTurnEnd:
		r.status = "agent_end"
	case translators.KindError:
		r.status = "agent_error"
	case translators.KindCancel:
		r.status = "agent_cancel"
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
		r.status = "agent_error"
		ev := translators.Event{Kind: translators.KindError, ID: []byte(r.token), Code: []byte("backend_unavailable"), Text: []byte(msg)}
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

// cancel cancels the reply token: the backend is asked to stop, and the
// reply ends as cancelled at once for its subscribers (a backend that
// cannot cancel keeps generating, unseen).
func (h *hub) cancel(token string) bool {
	h.mu.Lock()
	r := h.replies[token]
	h.mu.Unlock()
	if r == nil {
		return false
	}
	c := r.conv
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.done {
		return false
	}
	ev := translators.Event{Kind: translators.KindCancel, ID: []byte(token)}
	if c.inflight == r {
		_ = c.up.Send(&ev)
	} else {
		for i, q := range c.queue {
			if q.r == r {
				c.queue = append(c.queue[:i], c.queue[i+1:]...)
				break
			}
		}
	}
	r.status = "agent_cancel"
	text, thought := []byte(nil), []byte(nil)
	if c.current == r {
		text, thought = c.turn.Text(), nil
	}
	// Subscribers see the cancel now. A backend that cannot cancel still
	// answers: the next message waits for that answer's end, so replies
	// keep their order.
	c.end(r, text, thought)
	c.broadcast(r, &ev)
	return true
}

// subscribe adds sub to the reply token's subscribers after sending it the
// reply's status and text so far; an unknown token gets status "unknown".
func (h *hub) subscribe(sub *subscriber, token []byte) error {
	h.mu.Lock()
	r := h.replies[string(token)]
	h.mu.Unlock()
	ev := translators.Event{Kind: translators.KindSubscribed, ID: token, Code: []byte("unknown")}
	if r == nil {
		return sub.send(&ev)
	}
	c := r.conv
	c.mu.Lock()
	defer c.mu.Unlock()
	ev.Code = []byte(r.status)
	switch {
	case r.done:
		ev.Full, ev.Thinking = r.text, r.thought
	case c.current == r:
		ev.Full, ev.Thinking = c.turn.Text(), c.turn.Thinking()
	}
	if err := sub.send(&ev); err != nil {
		return err
	}
	if !r.done {
		r.subs = append(r.subs, sub)
	}
	return nil
}

// expireLocked forgets finished replies past replyTTL, and the oldest ones
// past maxReplies. h.mu is held.
func (h *hub) expireLocked(now time.Time) {
	n := 0
	for n < len(h.ended) && (now.Sub(h.ended[n].endedAt) > replyTTL || len(h.replies) > maxReplies) {
		delete(h.replies, h.ended[n].token)
		h.ended[n] = nil
		n++
	}
	h.ended = h.ended[n:]
}

// subscriber is one client socket on a hub route.
type subscriber struct {
	h      *hub
	c      *wsconn.Conn
	codec  translators.Codec
	mu     sync.Mutex // guards codec.Encode, out, pend and failed
	out    []byte
	pend   []byte   // whole frames queued by conversations, not yet written
	failed bool     // a write failed: the socket is gone
	slot   connSlot // given back when the socket ends

	// The reader's state, kept across parks.
	msg []byte
	evs []translators.Event
}

// send encodes ev and writes it, after the frames queued before it.
func (sub *subscriber) send(ev *translators.Event) error {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	var err error
	sub.out, err = sub.codec.Encode(sub.out[:0], ev)
	if err != nil || len(sub.out) == 0 {
		return err
	}
	sub.pend = wsconn.AppendHeader(sub.pend, ws.Header{Fin: true, OpCode: opcode(sub.h.rt.Client), Length: int64(len(sub.out))})
	sub.pend = append(sub.pend, sub.out...)
	return sub.flushLocked()
}

// queue appends a whole frame for the next flush, and returns the bytes
// queued; ok is false once a write to the subscriber failed.
func (sub *subscriber) queue(frame []byte) (queued int, ok bool) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.failed {
		return 0, false
	}
	sub.pend = append(sub.pend, frame...)
	return len(sub.pend), true
}

// flush writes the queued frames in one write.
func (sub *subscriber) flush() error {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.flushLocked()
}

func (sub *subscriber) flushLocked() error {
	if len(sub.pend) == 0 {
		return nil
	}
	err := sub.c.WriteRaw(sub.pend)
	if err != nil {
		sub.failed = true
	}
	if cap(sub.pend) > 256<<10 {
		sub.pend = nil
	} else {
		sub.pend = sub.pend[:0]
	}
	return err
}

// run reads subscriptions until the client leaves.
// start reads the subscriber's socket on the calling goroutine until it
// parks or ends (the socket is quiet between subscriptions most of its
// life, and then holds no goroutine); the socket's slot is released when it
// ends.
func (sub *subscriber) start(slot connSlot) {
	sub.slot = slot
	sub.c.StartKeepalive(sub.h.s.cfg.PingInterval)
	sub.c.SetOwner(sub)
	sub.drive(false)
}

// Unparked resumes reading the subscriber's socket.
func (sub *subscriber) Unparked(_ *wsconn.Conn, expired bool) { sub.drive(expired) }

// IdleTimeout: a subscriber socket has no session timeout (its replies
// have theirs).
func (sub *subscriber) IdleTimeout() {}

func (sub *subscriber) drive(expired bool) {
	c := sub.c
	c.LockReader(expired)
	err := sub.read()
	if err == wsconn.ErrParked {
		c.UnlockReader()
		return
	}
	sub.finish(err)
	c.UnlockReader()
	sub.h.s.unregister(sub)
	sub.slot.release()
}

// read takes subscriptions until an error, or until the socket parks.
func (sub *subscriber) read() error {
	for {
		if len(sub.c.Buffered()) == 0 {
			if err := sub.c.AwaitData(); err != nil {
				return err
			}
		}
		_, msg, err := sub.c.ReadMessage(sub.msg, sub.h.rt.Limits.MaxMessage)
		sub.msg = msg
		if err != nil {
			return err
		}
		evs, err := sub.codec.Decode(sub.evs[:0], msg)
		sub.evs = evs
		if err != nil {
			ev := translators.Event{Kind: translators.KindError, Code: []byte("bad_request"), Text: []byte(malformedReason(err))}
			if err := sub.send(&ev); err != nil {
				return err
			}
			continue
		}
		for _, ev := range evs {
			if ev.Kind == translators.KindSubscribe {
				if err := sub.h.subscribe(sub, ev.ID); err != nil {
					return err
				}
			}
		}
	}
}

func (sub *subscriber) finish(err error) {
	var pc *wsconn.PeerClosed
	var ce *CloseError
	switch {
	case errors.As(err, &pc):
		_ = sub.c.WriteClose(passCode(pc.Code), "")
	case errors.Is(err, errGoingAway):
		_ = sub.c.WriteClose(ws.StatusGoingAway, "server shutting down")
	case errors.As(err, &ce):
		_ = sub.c.WriteClose(ce.Code, ce.Reason)
	}
	sub.c.DrainUntilClose()
	sub.c.Close()
	sub.c.FreeRead()
}

// drain closes the socket with 1001; replies keep running and a client can
// subscribe again elsewhere. Subscribers hold no reply state of their own.
func (sub *subscriber) drain() { sub.forceClose() }

func (sub *subscriber) forceClose() {
	_ = sub.c.WriteClose(ws.StatusGoingAway, "server shutting down")
	sub.c.InterruptRead(time.Now().Add(closeGrace))
}

// newToken returns a reply token: 30 random characters from [A-Za-z0-9],
// like Wiro's agenttokens (about 178 bits).
func newToken() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var b [30]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}

// newUUID returns a random (version 4) UUID.
func newUUID() []byte {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	out := make([]byte, 36)
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return out
}
