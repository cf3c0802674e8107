package agents

import (
	"strconv"
	"sync"

	"github.com/valyala/fastjson"

	"github.com/agentbridge/agentbridge/internal/fjson"
	"github.com/agentbridge/agentbridge/internal/jsonx"
	"github.com/agentbridge/agentbridge/translators"
)

// backend is the codec of the proxy as a client of an AIChatAgent.
type backend struct {
	prefix []byte   // of our request ids: the connection's id
	reqs   inflight // our requests: request id, the client's correlation id
	hist   history

	// Decode's state.
	parser  fastjson.Parser
	body    fastjson.Parser // a response's chunk
	cur     pair            // the request whose frames are being decoded
	reason  []byte          // finish's finishReason
	failed  bool            // an error was decoded for cur
	aborted bool            // a cancel was decoded for cur
	text    []byte          // the assistant's text so far, for the history
	msgID   []byte          // the assistant message's id, from the start chunk
	gone    pair
	scratch []byte

	// Encode's state.
	n     int64
	req   pair
	body2 []byte // the request's init.body
	umsg  []byte // the user message, as a UIMessage
}

func newBackend(o translators.Options) *backend {
	b := &backend{prefix: []byte(o.Param(translators.ConnIDParam))}
	if len(b.prefix) == 0 {
		b.prefix = []byte("agentbridge")
	}
	return b
}

var _ translators.Codec = (*backend)(nil)

// history is the conversation so far, as encoded UIMessages, bounded in
// bytes: Encode adds the user's messages and reads it, Decode adds the
// assistant's.
type history struct {
	mu    sync.Mutex
	msgs  [][]byte
	bytes int
}

// add appends one encoded message, dropping the oldest past MaxHistory.
func (h *history) add(msg []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(msg) > MaxHistory {
		return
	}
	for len(h.msgs) > 0 && h.bytes+len(msg) > MaxHistory {
		h.bytes -= len(h.msgs[0])
		h.msgs[0] = nil
		h.msgs = h.msgs[1:]
	}
	h.msgs = append(h.msgs, append([]byte(nil), msg...))
	h.bytes += len(msg)
}

// appendTo appends the messages, comma-separated.
func (h *history) appendTo(dst []byte) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, m := range h.msgs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, m...)
	}
	return dst
}

// appendMessage appends a UIMessage with one text part.
func appendMessage(dst []byte, id []byte, role string, text []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = jsonx.AppendString(dst, id)
	dst = append(dst, `,"role":"`...)
	dst = append(dst, role...)
	dst = append(dst, `","parts":[{"type":"text","text":`...)
	dst = jsonx.AppendString(dst, text)
	return append(dst, "}]}"...)
}

func (b *backend) Encode(dst []byte, ev *translators.Event) ([]byte, error) {
	switch ev.Kind {
	case translators.KindUserMessage:
		b.n++
		b.req.a = append(append(b.req.a[:0], b.prefix...), '-')
		b.req.a = strconv.AppendInt(b.req.a, b.n, 10)
		b.reqs.add(b.req.a, ev.ID)
		b.scratch2(b.req.a, "-u")
		b.umsg = appendMessage(b.umsg[:0], b.req.b, "user", ev.Text)
		b.hist.add(b.umsg)
		b.body2 = append(b.body2[:0], `{"messages":[`...)
		b.body2 = b.hist.appendTo(b.body2)
		b.body2 = append(b.body2, `],"trigger":"submit-message"}`...)
		dst = append(dst, `{"type":"cf_agent_use_chat_request","id":`...)
		dst = jsonx.AppendString(dst, b.req.a)
		dst = append(dst, `,"init":{"method":"POST","body":`...)
		dst = jsonx.AppendString(dst, b.body2)
		return append(dst, "}}"...), nil
	case translators.KindCancel:
		if !b.reqs.findB(ev.ID, &b.req) {
			return dst, nil // no request of ours in flight
		}
		dst = append(dst, `{"type":"cf_agent_chat_request_cancel","id":`...)
		dst = jsonx.AppendString(dst, b.req.a)
		return append(dst, '}'), nil
	case translators.KindToolOutput, translators.KindToolError:
		dst = append(dst, `{"type":"cf_agent_tool_result","toolCallId":`...)
		dst = jsonx.AppendString(dst, ev.Ref)
		dst = append(dst, `,"toolName":`...)
		dst = jsonx.AppendString(dst, ev.Name)
		if ev.Kind == translators.KindToolError {
			dst = append(dst, `,"output":null,"state":"output-error","errorText":`...)
			dst = jsonx.AppendString(dst, ev.Text)
		} else {
			dst = append(dst, `,"output":`...)
			dst = appendJSON(dst, ev.Value)
		}
		return append(dst, '}'), nil
	case translators.KindState:
		dst = append(dst, `{"type":"cf_agent_state","state":`...)
		dst = appendJSON(dst, ev.Value)
		return append(dst, '}'), nil
	case translators.KindFrame:
		return translators.PassFrame(dst, ev, Name), nil
	}
	// The proxy's greeting (KindOpen) needs nothing: the URL carries the
	// connection's id; the other kinds never reach a backend's encoder.
	return dst, nil
}

// scratch2 sets b.req.b to id+suffix (the id of a message of the request).
func (b *backend) scratch2(id []byte, suffix string) {
	b.req.b = append(append(b.req.b[:0], id...), suffix...)
}

func (b *backend) Decode(dst []translators.Event, msg []byte) ([]translators.Event, error) {
	b.scratch = b.scratch[:0]
	v, typ := envelopeType(&b.parser, msg)
	if v == nil {
		// A message of the app's own (AgentClient's onMessage): only an
		// Agents client has a place for it.
		return append(dst, frame(msg, codeApp)), nil
	}
	switch string(typ) {
	case "cf_agent_identity":
		return append(dst, translators.Event{Kind: translators.KindReady, Agent: v.GetStringBytes("agent")}), nil
	case "cf_agent_state":
		s := v.Get("state")
		if s == nil {
			return dst, translators.Malformed(`cf_agent_state without "state"`)
		}
		b.scratch = fjson.AppendValue(b.scratch[:0], s)
		return append(dst, translators.Event{Kind: translators.KindState, Value: b.scratch}), nil
	case "cf_agent_use_chat_response":
		return b.response(dst, msg, v)
	}
	return append(dst, frame(msg, frameCode(typ))), nil
}

// response decodes one cf_agent_use_chat_response of ours; those of other
// clients' requests are ignored.
func (b *backend) response(dst []translators.Event, msg []byte, v *fastjson.Value) ([]translators.Event, error) {
	id := v.GetStringBytes("id")
	if v.GetBool("replay") || !b.ours(id) {
		return dst, nil
	}
	corr := b.cur.b
	if v.GetBool("error") {
		if b.failed {
			return dst, nil
		}
		b.failed = true
		return append(dst, translators.Event{Kind: translators.KindError, ID: corr, Code: codeAgentError,
			Text: v.GetStringBytes("body")}), nil
	}
	if v.GetBool("done") {
		return b.end(dst, v), nil
	}
	body := v.GetStringBytes("body")
	if len(body) == 0 {
		return dst, nil
	}
	c, err := b.body.ParseBytes(body)
	if err != nil || c.Type() != fastjson.TypeObject {
		return dst, translators.Malformed(`"body" is not a JSON object`)
	}
	ev := translators.Event{ID: corr}
	switch string(c.GetStringBytes("type")) {
	case "start":
		// The agent persists the assistant message under this id: the
		// history sent back must use it, or the agent stores it twice.
		b.msgID = append(b.msgID[:0], c.GetStringBytes("messageId")...)
		dst = append(dst, translators.Event{Kind: translators.KindTurnStart, ID: corr})
		return b.metadata(dst, c), nil
	case "text-delta":
		ev.Kind, ev.Text = translators.KindTextDelta, c.GetStringBytes("delta")
		b.text = append(b.text, ev.Text...)
		if len(b.text) > MaxHistory {
			b.text = b.text[:0] // too long to send back: it will not be kept
		}
	case "reasoning-delta":
		ev.Kind, ev.Text = translators.KindThinkingDelta, c.GetStringBytes("delta")
	case "tool-input-start":
		ev.Kind, ev.Ref, ev.Name = translators.KindToolStart, c.GetStringBytes("toolCallId"), c.GetStringBytes("toolName")
	case "tool-input-delta":
		ev.Kind, ev.Ref, ev.Text = translators.KindToolInputDelta, c.GetStringBytes("toolCallId"), c.GetStringBytes("inputTextDelta")
	case "tool-input-available":
		ev.Kind, ev.Ref, ev.Name = translators.KindToolInput, c.GetStringBytes("toolCallId"), c.GetStringBytes("toolName")
		ev.Value = b.value(c.Get("input"))
	case "tool-input-error":
		ev.Kind, ev.Ref, ev.Name, ev.Code = translators.KindToolError, c.GetStringBytes("toolCallId"), c.GetStringBytes("toolName"), codeInput
		ev.Text = c.GetStringBytes("errorText")
		ev.Value = b.value(c.Get("input"))
	case "tool-output-available":
		ev.Kind, ev.Ref = translators.KindToolOutput, c.GetStringBytes("toolCallId")
		ev.Value = b.value(c.Get("output"))
	case "tool-output-error":
		ev.Kind, ev.Ref, ev.Text = translators.KindToolError, c.GetStringBytes("toolCallId"), c.GetStringBytes("errorText")
	case "tool-output-denied":
		ev.Kind, ev.Ref, ev.Code = translators.KindToolError, c.GetStringBytes("toolCallId"), codeDenied
		ev.Text = deniedText
	case "start-step":
		ev.Kind = translators.KindStepStart
	case "finish-step":
		ev.Kind = translators.KindStepEnd
	case "message-metadata":
		return b.metadata(dst, c), nil
	case "finish":
		b.reason = append(b.reason[:0], c.GetStringBytes("finishReason")...)
		return b.metadata(dst, c), nil
	case "error":
		b.failed = true
		ev.Kind, ev.Code, ev.Text = translators.KindError, codeAgentError, c.GetStringBytes("errorText")
	case "abort":
		b.aborted = true
		ev.Kind, ev.Text = translators.KindCancel, c.GetStringBytes("reason")
	case "text-start", "text-end", "reasoning-start", "reasoning-end":
		return dst, nil // parts open and close on their own in the model
	default:
		// Sources, files, data-* parts: only an Agents client can show them.
		return append(dst, frame(msg, codeChunk)), nil
	}
	return append(dst, ev), nil
}

// ours reports whether id is one of our requests, and makes it the current
// one.
func (b *backend) ours(id []byte) bool {
	if len(id) == 0 {
		return false
	}
	if string(id) == string(b.cur.a) {
		return true
	}
	if !b.reqs.findA(id, &b.cur) {
		return false
	}
	b.reason, b.text, b.msgID = b.reason[:0], b.text[:0], b.msgID[:0]
	b.failed, b.aborted = false, false
	return true
}

// end decodes the terminal frame of the current request.
func (b *backend) end(dst []translators.Event, v *fastjson.Value) []translators.Event {
	b.reqs.take(b.cur.a, &b.gone)
	corr := b.cur.b
	outcome := v.GetStringBytes("outcome")
	switch string(outcome) {
	case "", "completed":
		if !b.failed && !b.aborted {
			if len(b.msgID) > 0 {
				b.gone.b = append(b.gone.b[:0], b.msgID...)
			} else {
				b.gone.b = append(append(b.gone.b[:0], b.cur.a...), "-a"...)
			}
			b.scratch = appendMessage(b.scratch[:0], b.gone.b, "assistant", b.text)
			b.hist.add(b.scratch)
			ev := translators.Event{Kind: translators.KindTurnEnd, ID: corr, Usage: translators.UnknownUsage}
			if len(b.reason) > 0 {
				ev.Code = b.reason
			}
			dst = append(dst, ev)
		}
	case "aborted":
		if !b.aborted && !b.failed {
			dst = append(dst, translators.Event{Kind: translators.KindCancel, ID: corr, Text: abortedText})
		}
	case "skipped":
		dst = append(dst, translators.Event{Kind: translators.KindError, ID: corr, Code: codeSkipped, Text: skippedText})
	default: // error, recovering, and what a later SDK may add
		if !b.failed {
			dst = append(dst, translators.Event{Kind: translators.KindError, ID: corr, Code: codeAgentError, Text: failedText})
		}
	}
	b.cur.a = b.cur.a[:0] // the corr slice stays valid until the next Decode
	return dst
}

// metadata appends a KindMetadata for the chunk's messageMetadata, if any.
func (b *backend) metadata(dst []translators.Event, c *fastjson.Value) []translators.Event {
	m := c.Get("messageMetadata")
	if m == nil {
		return dst
	}
	return append(dst, translators.Event{Kind: translators.KindMetadata, ID: b.cur.b, Value: b.value(m)})
}

// value re-encodes v (JSON from the backend) into the scratch space.
func (b *backend) value(v *fastjson.Value) []byte {
	if v == nil {
		return nil
	}
	start := len(b.scratch)
	b.scratch = fjson.AppendValue(b.scratch, v)
	return b.scratch[start:len(b.scratch):len(b.scratch)]
}

var (
	codeAgentError = []byte("agent_error")
	codeSkipped    = []byte("skipped")
	codeInput      = []byte("input")
	codeDenied     = []byte("denied")
	deniedText     = []byte("the user denied the tool call")
	abortedText    = []byte("the agent aborted the reply")
	skippedText    = []byte("the agent skipped this request")
	failedText     = []byte("the agent's reply failed")
)
