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

// transcript is one conversation: its messages' ids and texts one after
// the other in buf, and their lengths in msgs, oldest first. Both keep
// their capacity when the oldest messages go, so a conversation that has
// reached its bound is written without allocating.
type transcript struct {
	buf  []byte
	msgs []tmsg
	used uint64
}

type tmsg struct {
	assistant bool
	id, text  int // lengths in buf
}

// msgOverhead is what a message counts against maxTranscript besides its
// bytes, roughly its fields.
const msgOverhead = 32

func (t *transcript) size() int { return len(t.buf) + msgOverhead*len(t.msgs) }

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
	if len(id)+len(text)+msgOverhead > maxTranscript {
		// One message over the bound: keep its start.
		id = id[:min(len(id), 256)]
		text = text[:maxTranscript-len(id)-msgOverhead]
	}
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
	// Make room first, so that buf does not grow past the bound.
	need := len(id) + len(text) + msgOverhead
	n, cut := 0, 0
	for t.size()-cut-msgOverhead*n+need > maxTranscript && n < len(t.msgs) {
		cut += t.msgs[n].id + t.msgs[n].text
		n++
	}
	if n > 0 {
		t.buf = t.buf[:copy(t.buf, t.buf[cut:])]
		t.msgs = t.msgs[:copy(t.msgs, t.msgs[n:])]
	}
	t.buf = append(append(t.buf, id...), text...)
	t.msgs = append(t.msgs, tmsg{assistant: assistant, id: len(id), text: len(text)})
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
		msgs = make([]translators.TranscriptMessage, len(t.msgs))
		off := 0
		for i, m := range t.msgs {
			msgs[i] = translators.TranscriptMessage{Assistant: m.assistant,
				ID: string(t.buf[off : off+m.id]), Text: string(t.buf[off+m.id : off+m.id+m.text])}
			off += m.id + m.text
		}
	}
	return ep.Body(dst, msgs)
}

// matchHTTP finds the endpoint a path addresses: a route's path followed by
// the suffix of one its client dialect declares.
func (s *Server) matchHTTP(path []byte) (*Route, []Param, *translators.HTTPEndpoint) {
	tb := s.table.Load()
	for _, rt := range tb.httpRoutes {
		for i := range rt.Client.HTTP {
			ep := &rt.Client.HTTP[i]
			suffix := ep.Suffix
			if len(path) > len(suffix) && string(path[len(path)-len(suffix):]) == suffix {
				if m, params := tb.router.match(path[:len(path)-len(suffix)], nil); m == rt {
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
// makes from the conversation (an empty one for a path never seen), or, on
// a passthrough route, the backend's own answer (forwardHTTP). The
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
	id, inBand, ok := s.admit(ctx, rt, ep.Suffix)
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
	if passthrough(rt) && rt.Backend.URL != "" {
		s.forwardHTTP(ctx, rt, params, id, ep)
		return
	}
	if ep.ContentType != "" {
		ctx.SetContentType(ep.ContentType)
	}
	ctx.SetBody(s.transcripts.appendBody(nil, conversationKey(rt, params), ep))
}
