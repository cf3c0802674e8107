package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

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
	replies map[replyToken]*reply
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
	return &hub{s: s, rt: rt, convs: make(map[string]*conversation), replies: make(map[replyToken]*reply)}
}

// replyToken is a reply's token (newToken), the key of the hub's replies:
// an array, so that a reply costs no string.
type replyToken [tokenLen]byte

// tokenLen is the length of the reply tokens the hub makes.
const tokenLen = 30

// reply returns the reply token names, or nil.
func (h *hub) reply(token []byte) *reply {
	if len(token) != tokenLen {
		return nil // not one of the hub's tokens
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.replies[replyToken(token)]
}

// reply is one answer in progress or done.
type reply struct {
	token  replyToken
	conv   *conversation
	status translators.ReplyStatus
	start  time.Time
	deltas int64
	subs   []*subscriber
	sub1   [1]*subscriber // subs' first backing array: most replies have one subscriber
	// Set when the reply ends; until then its text is the conversation's
	// Turn's.
	done          bool
	endedAt       time.Time
	text, thought []byte
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
		if !h.cancel(token) {
			h.restError(ctx, fasthttp.StatusNotFound, "unknown or finished "+tokenName(rest))
			return
		}
		ctx.SetContentType("application/json")
		ctx.SetBody(rest.AppendCancelResult(nil, &translators.SendResult{OK: true}))
		return
	}
	call := restCalls.Get().(*restCall)
	defer call.release()
	req, parsed, err := rest.ParseSend(call.parsed[:0], ctx.PostBody())
	call.parsed = parsed
	if err != nil {
		h.restError(ctx, fasthttp.StatusBadRequest, malformedReason(err))
		return
	}
	if int64(len(req.Message)) > h.rt.Limits.MaxMessage {
		h.restError(ctx, fasthttp.StatusRequestEntityTooLarge, "message too large")
		return
	}
	token, status, err := h.send(req.SessionKey, req.Message)
	if err != nil {
		h.restError(ctx, status, err.Error())
		return
	}
	call.token = token
	putUUID(call.uuid[:])
	call.res = translators.SendResult{OK: true, MessageID: call.uuid[:], Token: call.token[:], Status: translators.ReplyQueued}
	call.out = rest.AppendSendResult(call.out[:0], &call.res)
	ctx.SetContentType("application/json")
	ctx.SetBody(call.out) // a copy: call goes back to the pool
}

// restCall is the scratch of one REST send the hub serves, from
// restCalls: serveREST takes one and gives it back (release) when it
// returns, after ctx.SetBody copied the answer.
type restCall struct {
	parsed []byte // ParseSend's buffer: the request's fields alias it
	out    []byte // the answer's body
	// The answer: passed to the dialect's function, it would escape from
	// a local. Its slices alias token and uuid.
	res   translators.SendResult
	token replyToken
	uuid  [36]byte
}

var restCalls = sync.Pool{New: func() any { return new(restCall) }}

// release gives c back to restCalls; a large buffer is left to the
// collector.
func (c *restCall) release() {
	if cap(c.parsed) > 64<<10 {
		c.parsed = nil
	}
	if cap(c.out) > 64<<10 {
		c.out = nil
	}
	c.res = translators.SendResult{}
	restCalls.Put(c)
}

// tokenName is what the dialect's clients call a reply's token.
func tokenName(rest *translators.REST) string {
	if rest.TokenName != "" {
		return rest.TokenName
	}
	return "reply token"
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
	for _, o := range h.s.table.Load().hubs { // the hubs of the current routes
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
func (h *hub) send(key, msg []byte) (replyToken, int, error) {
	conv, err := h.conversation(key)
	switch {
	case err == errRouteFull:
		return replyToken{}, fasthttp.StatusTooManyRequests, err
	case err == errServerFull:
		return replyToken{}, fasthttp.StatusServiceUnavailable, err
	case err != nil:
		return replyToken{}, fasthttp.StatusBadGateway, errBackendDown
	}
	r := &reply{token: newToken(), conv: conv, status: translators.ReplyQueued, start: time.Now()}
	r.subs = r.sub1[:0]
	conv.mu.Lock()
	defer conv.mu.Unlock()
	if conv.closed {
		return replyToken{}, fasthttp.StatusBadGateway, errBackendDown
	}
	if len(conv.queue) >= h.rt.Limits.MaxPending {
		return replyToken{}, fasthttp.StatusTooManyRequests, errConvBusy
	}
	h.mu.Lock()
	h.replies[r.token] = r
	h.expireLocked(time.Now())
	h.mu.Unlock()
	conv.idle.Reset(h.rt.Session.Timeout)
	conv.queue = append(conv.queue, queued{r: r, msg: copyQueuedMsg(msg)})
	if err := conv.dispatch(); err != nil {
		return replyToken{}, fasthttp.StatusBadGateway, errBackendDown
	}
	return r.token, 0, nil
}

// errDrained ends the pump of a conversation the server's drain left idle.
var errDrained = errors.New("drained")

// cancel cancels the reply token: the backend is asked to stop, and the
// reply ends as cancelled at once for its subscribers (a backend that
// cannot cancel keeps generating, unseen).
func (h *hub) cancel(token []byte) bool {
	r := h.reply(token)
	if r == nil {
		return false
	}
	c := r.conv
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.done {
		return false
	}
	ev := translators.Event{Kind: translators.KindCancel, ID: r.token[:]}
	if c.inflight == r {
		_ = c.up.Send(&ev)
	} else {
		for i := range c.queue {
			if c.queue[i].r == r {
				c.queue[i].release()
				c.queue = slices.Delete(c.queue, i, i+1)
				break
			}
		}
	}
	r.status = translators.ReplyCancelled
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
// reply's status and text so far; an unknown token gets ReplyUnknown. The
// status travels as its canonical name in KindSubscribed's Code, which the
// client codec writes in its dialect's words.
func (h *hub) subscribe(sub *subscriber, token []byte) error {
	r := h.reply(token)
	// The subscriber's own event: passed to its codec, a local would
	// escape. Only its reader subscribes.
	ev := &sub.subEv
	defer func() { *ev = translators.Event{} }()
	*ev = translators.Event{Kind: translators.KindSubscribed, ID: token, Code: translators.ReplyUnknown.Code()}
	if r == nil {
		return sub.send(ev)
	}
	c := r.conv
	c.mu.Lock()
	defer c.mu.Unlock()
	ev.Code = r.status.Code()
	switch {
	case r.done:
		ev.Full, ev.Thinking = r.text, r.thought
	case c.current == r:
		ev.Full, ev.Thinking = c.turn.Text(), c.turn.Thinking()
	}
	if err := sub.send(ev); err != nil {
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

// newToken returns a reply token: tokenLen (30) random characters from
// [A-Za-z0-9] (about 178 bits).
func newToken() replyToken {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var b replyToken
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return b
}

// newUUID returns a random (version 4) UUID.
func newUUID() []byte {
	out := make([]byte, 36)
	putUUID(out)
	return out
}

// putUUID writes a random (version 4) UUID to out, which holds 36 bytes.
func putUUID(out []byte) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
}
