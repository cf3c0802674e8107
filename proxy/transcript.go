package proxy

import (
	"strings"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/agentbridge/agentbridge/translators"
)

// The conversations the proxy keeps for the HTTP endpoints a client dialect
// declares beside its socket (translators.HTTPEndpoint, the Agents SDK's
// get-messages): per route and matched path, the user messages and the
// replies that ended in its translating sessions. Only routes whose client
// dialect declares an endpoint keep anything; it is written once per user
// message and once per reply, never per frame.

// maxTranscript bounds the bytes of text one conversation keeps (its oldest
// messages go first), and maxTranscripts the conversations kept (the
// least recently written goes first).
const (
	maxTranscript  = 64 << 10
	maxTranscripts = 1024
)

// transcripts holds the conversations of every path.
type transcripts struct {
	mu    sync.Mutex
	convs map[string]*transcript
	clock uint64 // stamps writes, for eviction
}

type transcript struct {
	msgs  []translators.TranscriptMessage
	bytes int
	used  uint64
}

// conversationKey names the conversation of a route's path: the route and
// the values its parameters matched (the agent and the name of
// /agents/:agent/:name), so a socket and an HTTP request of the same
// path share it.
func conversationKey(rt *Route, params []Param) string {
	var b strings.Builder
	b.WriteString(rt.Name)
	for _, p := range params {
		b.WriteByte(0)
		b.WriteString(p.Value)
	}
	return b.String()
}

// add appends a message to the conversation key, making it when new.
func (ts *transcripts) add(key string, assistant bool, id, text []byte) {
	m := translators.TranscriptMessage{Assistant: assistant, ID: string(id), Text: string(text)}
	size := len(m.ID) + len(m.Text) + 32 // the fields' overhead, roughly
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.convs == nil {
		ts.convs = make(map[string]*transcript)
	}
	t := ts.convs[key]
	if t == nil {
		if len(ts.convs) >= maxTranscripts {
			ts.evictLocked()
		}
		t = &transcript{}
		ts.convs[key] = t
	}
	ts.clock++
	t.used = ts.clock
	if size > maxTranscript {
		// One message over the bound: keep its start.
		m.ID = m.ID[:min(len(m.ID), 256)]
		m.Text = m.Text[:maxTranscript-len(m.ID)-32]
		size = maxTranscript
	}
	t.msgs = append(t.msgs, m)
	t.bytes += size
	n := 0
	for t.bytes > maxTranscript {
		t.bytes -= len(t.msgs[n].ID) + len(t.msgs[n].Text) + 32
		n++
	}
	if n > 0 {
		t.msgs = append(t.msgs[:0], t.msgs[n:]...)
	}
}

// evictLocked forgets the conversation written least recently.
func (ts *transcripts) evictLocked() {
	var oldest string
	var at uint64
	first := true
	for k, t := range ts.convs {
		if first || t.used < at {
			oldest, at, first = k, t.used, false
		}
	}
	delete(ts.convs, oldest)
}

// clear forgets the conversation key: its client started a new one.
func (ts *transcripts) clear(key string) {
	ts.mu.Lock()
	delete(ts.convs, key)
	ts.mu.Unlock()
}

// appendBody appends ep's body for the conversation key.
func (ts *transcripts) appendBody(dst []byte, key string, ep *translators.HTTPEndpoint) []byte {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var msgs []translators.TranscriptMessage
	if t := ts.convs[key]; t != nil {
		msgs = t.msgs
	}
	return ep.Body(dst, msgs)
}

// matchHTTP finds the endpoint a path addresses: a route's path followed by
// the suffix of one its client dialect declares.
func (s *Server) matchHTTP(path []byte) (*Route, []Param, *translators.HTTPEndpoint) {
	for _, rt := range s.httpRoutes {
		for i := range rt.Client.HTTP {
			ep := &rt.Client.HTTP[i]
			suffix := ep.Suffix
			if len(path) > len(suffix) && string(path[len(path)-len(suffix):]) == suffix {
				if m, params := s.router.match(path[:len(path)-len(suffix)], nil); m == rt {
					return rt, params, ep
				}
			}
		}
	}
	return nil, nil, nil
}

// serveHTTP answers a request to a dialect's HTTP endpoint: admitted as the
// route's socket is (401 without a valid credential, 403 for an origin it
// refuses), 405 for another method, else 200 with the body the dialect
// makes from the conversation (an empty one for a path never seen). The
// answer is always whole: a client may crash on a partial one.
func (s *Server) serveHTTP(ctx *fasthttp.RequestCtx, rt *Route, params []Param, ep *translators.HTTPEndpoint) {
	if badParam(params, ctx.Request.URI().PathOriginal()) {
		jsonError(ctx, fasthttp.StatusBadRequest, "bad_parameter", "a path parameter may not hold /, \\, ?, #, control characters, or be . or ..")
		return
	}
	if string(ctx.Method()) != ep.Method {
		ctx.Response.Header.Set("Allow", ep.Method)
		jsonError(ctx, fasthttp.StatusMethodNotAllowed, "method_not_allowed", "use "+ep.Method)
		return
	}
	origin := ctx.Request.Header.Peek("Origin")
	if len(ctx.Request.Header.PeekAll("Origin")) > 1 || !originAllowed(rt.Origins, origin) {
		jsonError(ctx, fasthttp.StatusForbidden, "forbidden_origin", "origin not allowed")
		return
	}
	_, inBand, ok := s.admit(ctx, rt)
	if !ok {
		return // admit answered 401
	}
	if inBand {
		// No first message to authenticate with here.
		httpError(ctx, fasthttp.StatusUnauthorized, "unauthorized", "missing credentials: "+credentialHint(rt))
		return
	}
	if len(origin) > 0 {
		// A browser app's fetch reads the answer only with this.
		ctx.Response.Header.SetBytesV("Access-Control-Allow-Origin", origin)
		ctx.Response.Header.Set("Vary", "Origin")
	}
	if ep.ContentType != "" {
		ctx.SetContentType(ep.ContentType)
	}
	ctx.SetBody(s.transcripts.appendBody(nil, conversationKey(rt, params), ep))
}

// The replies in progress a client can resume (a client dialect with
// Dialect.Resume): per path, the canonical events of the reply its
// translating sessions are streaming, so a client that connects to the path
// again (a tab reloaded mid-reply) can ask for it (KindResume), and, once it
// acks (KindReplay), get them replayed and the rest live. One reply per
// path is kept: the first to start while none streams there. An ended
// reply stays (for a client whose ack crosses the end) until the next reply
// on the path replaces it, a reset clears it, or room is needed.

// maxLive bounds the bytes of events one reply keeps (past it the reply is
// not resumable), and maxLiveTotal those of every reply kept (ended ones go
// first to make room).
const (
	maxLive      = 1 << 20
	maxLiveTotal = 64 << 20
)

// lives holds the resumable replies of every path. mu is taken after a
// session's cmu, never before one.
type lives struct {
	mu    sync.Mutex
	m     map[string]*liveReply
	bytes int
}

// liveReply is one reply's events, guarded by lives.mu.
type liveReply struct {
	key   string
	owner *session
	id    []byte
	evs   []translators.Event // deep copies, never changed once appended
	arena []byte              // their bytes
	bytes int
	over  bool // past maxLive: not resumable
	ended bool
	subs  map[*session]int // sessions streaming the rest: the next event each gets
}

// eventSize is what a copy of ev costs, roughly.
func eventSize(ev *translators.Event) int {
	return 96 + len(ev.ID) + len(ev.Agent) + len(ev.Text) + len(ev.Full) + len(ev.Thinking) +
		len(ev.Value) + len(ev.Name) + len(ev.Ref) + len(ev.Code) + len(ev.Raw)
}

// start begins keeping the reply id of owner on key, unless another session's
// reply streams there; it returns the record, or nil.
func (ls *lives) start(key string, owner *session, id []byte) *liveReply {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if old := ls.m[key]; old != nil {
		if !old.ended {
			return nil
		}
		ls.dropLocked(old)
	}
	if ls.m == nil {
		ls.m = make(map[string]*liveReply)
	}
	lr := &liveReply{key: key, owner: owner, id: append([]byte(nil), id...)}
	ls.m[key] = lr
	return lr
}

func (ls *lives) dropLocked(lr *liveReply) {
	if ls.m[lr.key] == lr {
		delete(ls.m, lr.key)
	}
	ls.bytes -= lr.bytes
	lr.bytes = 0
}

// add appends a copy of ev to lr; end says it ends the reply. It reports
// whether lr has subscribers to catch up.
func (ls *lives) add(lr *liveReply, ev *translators.Event, end bool) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if !lr.over {
		n := eventSize(ev)
		for ls.bytes+n > maxLiveTotal && ls.evictLocked() {
		}
		if lr.bytes+n > maxLive || ls.bytes+n > maxLiveTotal {
			lr.over = true // what was kept stays for the subscribers; no new one
		} else {
			lr.evs = append(lr.evs, lr.copyEvent(ev, n))
			lr.bytes += n
			ls.bytes += n
		}
	}
	if end {
		lr.ended = true
		if lr.over {
			ls.dropLocked(lr)
		}
	}
	return len(lr.subs) > 0
}

// evictLocked drops one ended reply; false when none is left to drop.
func (ls *lives) evictLocked() bool {
	for _, lr := range ls.m {
		if lr.ended {
			ls.dropLocked(lr)
			return true
		}
	}
	return false
}

// copyEvent copies ev and the n bytes it points to (at most) into lr's
// arena, which grows by chunks: a reply of many small deltas allocates
// once per chunk, not per event. What was copied is never written again.
func (lr *liveReply) copyEvent(ev *translators.Event, n int) translators.Event {
	if cap(lr.arena)-len(lr.arena) < n {
		lr.arena = make([]byte, 0, max(n, 16<<10))
	}
	c := *ev
	cp := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		i := len(lr.arena)
		lr.arena = append(lr.arena, b...)
		return lr.arena[i:len(lr.arena):len(lr.arena)]
	}
	c.ID, c.Agent, c.Text, c.Full, c.Thinking = cp(ev.ID), cp(ev.Agent), cp(ev.Text), cp(ev.Full), cp(ev.Thinking)
	c.Value, c.Name, c.Ref, c.Code, c.Raw = cp(ev.Value), cp(ev.Name), cp(ev.Ref), cp(ev.Code), cp(ev.Raw)
	return c
}

// inProgress returns the id of the reply streaming on key that a client
// can resume, or nil.
func (ls *lives) inProgress(key string) []byte {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if lr := ls.m[key]; lr != nil && !lr.ended && !lr.over {
		return lr.id
	}
	return nil
}

// subscribe returns the events kept of the reply id on key for sub to
// replay, and whether the reply still streams, in which case sub gets the
// rest (catchUp) until it ends. ok is false when no such reply is kept.
func (ls *lives) subscribe(key string, id []byte, sub *session) (evs []translators.Event, live, ok bool) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	lr := ls.m[key]
	if lr == nil || lr.over || string(lr.id) != string(id) || lr.owner == sub {
		return nil, false, false
	}
	if !lr.ended {
		if sub.sub != nil && sub.sub != lr {
			delete(sub.sub.subs, sub)
		}
		if lr.subs == nil {
			lr.subs = make(map[*session]int)
		}
		lr.subs[sub] = len(lr.evs)
		sub.sub = lr
	}
	return lr.evs, !lr.ended, true
}

// since returns the events of lr that sub has not had yet; once lr ended
// and sub has them all, sub is no longer a subscriber.
func (ls *lives) since(lr *liveReply, sub *session) []translators.Event {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	at, ok := lr.subs[sub]
	if !ok {
		return nil
	}
	evs := lr.evs[at:]
	lr.subs[sub] = len(lr.evs)
	if lr.ended || lr.over {
		delete(lr.subs, sub)
		if sub.sub == lr {
			sub.sub = nil
		}
	}
	return evs
}

// subscribers appends lr's subscribers to dst.
func (ls *lives) subscribers(dst []*session, lr *liveReply) []*session {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for s := range lr.subs {
		dst = append(dst, s)
	}
	return dst
}

// leave forgets what ss keeps or follows: a session that ended. A reply it
// was streaming and never ended is dropped (its subscribers get an error
// first, from the caller).
func (ls *lives) leave(ss *session) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if lr := ss.sub; lr != nil {
		delete(lr.subs, ss)
		ss.sub = nil
	}
	if lr := ss.live; lr != nil && !lr.ended {
		lr.ended = true
		ls.dropLocked(lr)
	}
}

// clear forgets the reply kept on key: its conversation started over.
func (ls *lives) clear(key string) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if lr := ls.m[key]; lr != nil {
		ls.dropLocked(lr)
	}
}
