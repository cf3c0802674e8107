package agents

import (
	"bytes"
	"strconv"
	"strings"
	"sync"

	"github.com/valyala/fastjson"

	"github.com/agentbridge/agentbridge/internal/fjson"
	"github.com/agentbridge/agentbridge/internal/jsonx"
	"github.com/agentbridge/agentbridge/translators"
	"github.com/agentbridge/agentbridge/translators/plain"
)

// client is the codec of an Agents SDK client.
//
// It keeps of its Options only what it reads: a session holds one for as
// long as it lives.
type client struct {
	peer  string            // Options.Peer: the backend's dialect
	name  string            // the agent instance's name, for cf_agent_identity
	agent string            // the agent's class, for cf_agent_identity; "" for the backend's
	plain translators.Codec // answers what is not a chat request, as plain does
	chats inflight          // chat requests decoded: request id, user message id

	// Decode's state. Its parsers come from a pool for one call (a parser
	// keeps the arrays its largest message needed, and an idle session
	// should not carry them), so what its events carry is copied here.
	scratch []byte

	// Encode's state.
	turn  chatTurn
	side  chatTurn // a request that ends while turn streams (refused by the proxy)
	chunk []byte   // the UIMessageChunk being written: from chunks, for one call
}

// chatTurn is the state of the chat reply being encoded.
type chatTurn struct {
	active  bool // the reply to p.a is in progress
	p       pair // the request id and its user message id
	seq     int64
	part    int64 // the number of the part open, or last open
	started bool  // "start" sent
	text    bool  // a text part is open
	reason  bool  // a reasoning part is open
	finish  bool  // "finish" sent
	failed  bool  // the error:true frame sent
	replace int8  // steps of a TextReplace done: 1 part closed, 2 new part open
}

func newClient(o translators.Options) *client {
	c := &client{peer: o.Peer, name: o.Param("name"), agent: o.Param("agent")}
	if c.name == "" {
		c.name = "default"
	}
	if c.agent == "" {
		c.agent = routeAgent(o.Route)
	}
	if c.agent == "" {
		c.agent = o.Agent
	}
	po := o
	po.Peer = ""
	c.plain = plain.New(po)
	return c
}

var _ translators.Codec = (*client)(nil)

// parsers lend the client codecs' Decode their parsers, for one call.
var parsers fastjson.ParserPool

// maxScratch bounds the scratch space a client codec keeps between
// messages: a larger one, grown by a long message, is dropped at the next.
const maxScratch = 16 << 10

func (c *client) Decode(dst []translators.Event, msg []byte) ([]translators.Event, error) {
	c.scratch = c.scratch[:0]
	if cap(c.scratch) > maxScratch {
		c.scratch = nil
	}
	if !isObject(msg) {
		return append(dst, translators.Event{Kind: translators.KindUserMessage, Text: msg}), nil
	}
	p := parsers.Get()
	dst, err := c.decode(dst, msg, p)
	parsers.Put(p)
	return dst, err
}

// keep copies b to the end of the codec's scratch, for an event to alias
// after the parser that b points into has gone back to its pool; nil stays
// nil. The copy stays valid when scratch grows later in the same call: it
// keeps the array it was made in.
func (c *client) keep(b []byte) []byte {
	if b == nil {
		return nil
	}
	n := len(c.scratch)
	c.scratch = append(c.scratch, b...)
	return c.scratch[n:len(c.scratch):len(c.scratch)]
}

// decode is Decode for an object, parsed with p: the events it appends
// must not alias p.
func (c *client) decode(dst []translators.Event, msg []byte, p *fastjson.Parser) ([]translators.Event, error) {
	v, typ := envelopeType(p, msg)
	if v == nil {
		return append(dst, translators.Event{Kind: translators.KindUserMessage, Text: msg}), nil
	}
	peer := c.peer == Name
	switch string(typ) {
	case "cf_agent_use_chat_request":
		return c.chatRequest(dst, v)
	case "cf_agent_chat_request_cancel":
		id := v.GetStringBytes("id")
		if id == nil {
			return dst, translators.Malformed(`cf_agent_chat_request_cancel without "id"`)
		}
		return append(dst, translators.Event{Kind: translators.KindCancel, ID: c.keep(id)}), nil
	case "cf_agent_stream_resume_request":
		if peer {
			return append(dst, frame(msg, codeStream)), nil
		}
		// The proxy answers (KindResume): the reply in progress on this
		// path, if any, then its replay once the client acks.
		return append(dst, translators.Event{Kind: translators.KindResume, Ref: c.keep(v.GetStringBytes("probeId"))}), nil
	case "cf_agent_stream_resume_ack":
		if peer {
			return append(dst, frame(msg, codeStream)), nil
		}
		id := v.GetStringBytes("id")
		if len(id) == 0 {
			return dst, nil
		}
		return append(dst, translators.Event{Kind: translators.KindReplay, ID: c.keep(id)}), nil
	case "cf_agent_tool_result":
		return c.toolResult(dst, v)
	case "rpc":
		if peer {
			return append(dst, frame(msg, codeRPC)), nil
		}
		id := v.Get("id")
		if id == nil {
			return dst, nil // an answer could not be matched: nothing to say
		}
		c.scratch = append(c.scratch[:0], `{"type":"rpc","id":`...)
		c.scratch = fjson.AppendValue(c.scratch, id)
		c.scratch = append(c.scratch, `,"success":false,"error":`...)
		c.scratch = jsonx.AppendStr(c.scratch, c.unsupported("RPC"))
		return append(dst, translators.Event{Kind: translators.KindReply, Raw: append(c.scratch, '}')}), nil
	case "cf_agent_state":
		if peer {
			s := v.Get("state")
			if s == nil {
				return dst, translators.Malformed(`cf_agent_state without "state"`)
			}
			if fastjson.ValidateBytes(msg) != nil {
				return dst, translators.Malformed("invalid JSON")
			}
			c.scratch = fjson.AppendValue(c.scratch[:0], s)
			return append(dst, translators.Event{Kind: translators.KindState, Value: c.scratch}), nil
		}
		c.scratch = append(c.scratch[:0], `{"type":"cf_agent_state_error","error":`...)
		c.scratch = jsonx.AppendStr(c.scratch, c.unsupported("shared state"))
		return append(dst, translators.Event{Kind: translators.KindReply, Raw: append(c.scratch, '}')}), nil
	case "cf_agent_chat_clear":
		// A new conversation: the proxy replaces the backend leg
		// (KindReset), so any backend forgets what was said. A backend of
		// this dialect gets the frame first, to clear its own store.
		if peer {
			dst = append(dst, frame(msg, codeChatClear))
		}
		return append(dst, translators.Event{Kind: translators.KindReset}), nil
	case "cf_agent_chat_messages":
		// The app set its messages: the conversation the proxy keeps for
		// the path becomes them (a backend of this dialect keeps its own).
		if peer {
			dst = append(dst, frame(msg, frameCode(typ)))
		}
		return c.history(dst, v)
	}
	// cf_agent_tool_approval and the rest: only a backend of this dialect
	// can act on them.
	return append(dst, frame(msg, frameCode(typ))), nil
}

// history decodes the messages of a cf_agent_chat_messages: KindHistory
// "replace", then each user and assistant UIMessage with its text parts
// joined by newlines.
func (c *client) history(dst []translators.Event, v *fastjson.Value) ([]translators.Event, error) {
	msgs := v.Get("messages")
	if msgs == nil || msgs.Type() != fastjson.TypeArray {
		return dst, translators.Malformed(`cf_agent_chat_messages without a "messages" array`)
	}
	dst = append(dst, translators.Event{Kind: translators.KindHistory, Code: []byte("replace")})
	for _, m := range msgs.GetArray() {
		role := string(m.GetStringBytes("role"))
		if role != "user" && role != "assistant" {
			continue
		}
		start := len(c.scratch)
		for i, p := range m.GetArray("parts") {
			if string(p.GetStringBytes("type")) != "text" {
				continue
			}
			if i > 0 && len(c.scratch) > start {
				c.scratch = append(c.scratch, '\n')
			}
			c.scratch = append(c.scratch, p.GetStringBytes("text")...)
		}
		text := c.scratch[start:len(c.scratch):len(c.scratch)]
		dst = append(dst, translators.Event{Kind: translators.KindHistory, ID: c.keep(m.GetStringBytes("id")),
			Text: text, Name: []byte(role)})
	}
	return dst, nil
}

// unsupported says that the backend cannot carry what.
func (c *client) unsupported(what string) string {
	peer := c.peer
	if peer == "" {
		peer = "another dialect"
	}
	return "agentbridge: " + what + " is not available: this agent's backend speaks " + peer + ", not the Cloudflare Agents protocol"
}

// chatRequest decodes a cf_agent_use_chat_request into a user message: the
// text parts of the last user UIMessage of init.body, joined by newlines.
func (c *client) chatRequest(dst []translators.Event, v *fastjson.Value) ([]translators.Event, error) {
	id := v.GetStringBytes("id")
	if len(id) == 0 {
		return dst, translators.Malformed(`cf_agent_use_chat_request without "id"`)
	}
	body := v.GetStringBytes("init", "body")
	if body == nil {
		return dst, translators.Malformed(`"init.body" must be a string`)
	}
	bp := parsers.Get()
	defer parsers.Put(bp)
	b, err := bp.ParseBytes(body)
	if err != nil {
		return dst, translators.Malformed(`"init.body" is not JSON`)
	}
	msgs := b.GetArray("messages")
	var last *fastjson.Value
	for i := len(msgs) - 1; i >= 0; i-- {
		if string(msgs[i].GetStringBytes("role")) == "user" {
			last = msgs[i]
			break
		}
	}
	if last == nil {
		return dst, translators.Malformed(`"init.body" has no user message`)
	}
	c.scratch = c.scratch[:0]
	var text []byte
	n := 0
	for _, p := range last.GetArray("parts") {
		if string(p.GetStringBytes("type")) != "text" {
			continue
		}
		t := p.GetStringBytes("text")
		if n++; n == 1 {
			text = t
			continue
		}
		if n == 2 {
			c.scratch = append(c.scratch, text...)
		}
		c.scratch = append(append(c.scratch, '\n'), t...)
		text = c.scratch[:len(c.scratch):len(c.scratch)]
	}
	if n == 1 {
		text = c.keep(text)
	}
	c.chats.add(id, last.GetStringBytes("id"))
	return append(dst, translators.Event{Kind: translators.KindUserMessage, ID: c.keep(id), Text: text}), nil
}

// toolResult decodes a cf_agent_tool_result: a tool the client ran.
func (c *client) toolResult(dst []translators.Event, v *fastjson.Value) ([]translators.Event, error) {
	ref := v.GetStringBytes("toolCallId")
	if len(ref) == 0 {
		return dst, translators.Malformed(`cf_agent_tool_result without "toolCallId"`)
	}
	ev := translators.Event{Kind: translators.KindToolOutput, Ref: c.keep(ref), Name: c.keep(v.GetStringBytes("toolName"))}
	if string(v.GetStringBytes("state")) == "output-error" {
		ev.Kind, ev.Text = translators.KindToolError, c.keep(v.GetStringBytes("errorText"))
		return append(dst, ev), nil
	}
	n := len(c.scratch)
	if o := v.Get("output"); o != nil {
		c.scratch = fjson.AppendValue(c.scratch, o)
	} else {
		c.scratch = append(c.scratch, "null"...)
	}
	ev.Value = c.scratch[n:]
	return append(dst, ev), nil
}

func (c *client) Encode(dst []byte, ev *translators.Event) ([]byte, error) {
	switch ev.Kind {
	case translators.KindReady:
		dst = append(dst, `{"type":"cf_agent_identity","name":`...)
		dst = jsonx.AppendStr(dst, c.name)
		dst = append(dst, `,"agent":`...)
		if c.agent != "" {
			dst = jsonx.AppendStr(dst, c.agent)
		} else {
			dst = jsonx.AppendString(dst, ev.Agent)
		}
		return append(dst, '}'), nil
	case translators.KindOpen:
		// No MCP servers: AgentClient's ready waits for identity only, but
		// apps read the set.
		return append(dst, `{"type":"cf_agent_mcp_servers","mcp":{"servers":{},"tools":[],"prompts":[],"resources":[]}}`...), nil
	case translators.KindState:
		dst = append(dst, `{"type":"cf_agent_state","state":`...)
		dst = appendJSON(dst, ev.Value)
		return append(dst, '}'), nil
	case translators.KindFrame:
		return translators.PassFrame(dst, ev, Name), nil
	case translators.KindResume:
		if len(ev.ID) == 0 {
			dst = append(dst, `{"type":"cf_agent_stream_resume_none","reason":"idle"`...)
		} else {
			dst = append(dst, `{"type":"cf_agent_stream_resuming","id":`...)
			dst = jsonx.AppendString(dst, ev.ID)
		}
		if ev.Ref != nil {
			dst = jsonx.AppendField(dst, "probeId")
			dst = jsonx.AppendString(dst, ev.Ref)
		}
		return append(dst, '}'), nil
	case translators.KindReplay:
		return replayComplete(dst, ev), nil
	case translators.KindHistory:
		if len(ev.Value) == 0 {
			return dst, nil
		}
		dst = append(dst, `{"type":"cf_agent_chat_messages","messages":`...)
		dst = append(dst, ev.Value...)
		return append(dst, '}'), nil
	case translators.KindTurnStart, translators.KindTextDelta, translators.KindThinkingDelta,
		translators.KindTextReplace, translators.KindTurnEnd, translators.KindError, translators.KindCancel,
		translators.KindToolStart, translators.KindToolInputDelta, translators.KindToolInput,
		translators.KindToolOutput, translators.KindToolError, translators.KindStepStart,
		translators.KindStepEnd, translators.KindMetadata:
		if c.sideError(ev) {
			// Its frames are written with its own turn state, and the reply
			// in progress goes on where it was.
			c.turn, c.side = c.side, c.turn
			if c.chat(ev.ID) {
				dst, err := c.encodeChat(dst, ev)
				c.turn, c.side = c.side, c.turn
				return dst, err
			}
			c.turn, c.side = c.side, c.turn
		}
		if c.chat(ev.ID) {
			return c.encodeChat(dst, ev)
		}
		return c.plain.Encode(dst, ev)
	}
	// Acks, KindReset (the proxy's) and the other kinds have no place in
	// this protocol.
	return dst, nil
}

// sideError reports whether ev is an error about a chat request other than
// the one whose reply is in progress: a request the proxy refused before it
// reached the backend (too many waiting), which ends at once.
func (c *client) sideError(ev *translators.Event) bool {
	if ev.Kind != translators.KindError || !c.turn.active || len(ev.ID) == 0 || bytes.Equal(ev.ID, c.turn.p.a) {
		return false
	}
	if c.side.active && bytes.Equal(ev.ID, c.side.p.a) {
		return true // the second of its frames
	}
	var p pair
	return c.chats.findA(ev.ID, &p)
}

// replayComplete appends the frame that ends the replay of the reply ev.ID
// while it still streams (KindReplay, Code "live"): live frames follow.
func replayComplete(dst []byte, ev *translators.Event) []byte {
	if string(ev.Code) != "live" || len(ev.ID) == 0 {
		return dst
	}
	dst = append(dst, `{"type":"cf_agent_use_chat_response","id":`...)
	dst = jsonx.AppendString(dst, ev.ID)
	return append(dst, `,"body":"","done":false,"replay":true,"replayComplete":true}`...)
}

// Replayed appends msg, a chat response frame the proxy wrote for a reply,
// marked as replayed ("replay":true), as the SDK's server marks the stored
// chunks it sends a resuming client. Any other message is appended as it is.
func Replayed(dst, msg []byte) []byte {
	if len(msg) < 2 || msg[len(msg)-1] != '}' || !bytes.HasPrefix(msg, []byte(`{"type":"cf_agent_use_chat_response"`)) {
		return append(dst, msg...)
	}
	dst = append(dst, msg[:len(msg)-1]...)
	return append(dst, `,"replay":true}`...)
}

// chat reports whether id is the chat request whose reply is in progress,
// or one decoded and not answered yet (which then begins).
func (c *client) chat(id []byte) bool {
	if c.turn.active && bytes.Equal(id, c.turn.p.a) {
		return true
	}
	if len(id) == 0 || !c.chats.take(id, &c.turn.p) {
		return false
	}
	p := c.turn.p
	c.turn = chatTurn{active: true, p: p}
	return true
}

// chunks lend Encode the buffer of the chunk it writes, for one call.
var chunks = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// maxChunk bounds the chunk buffers given back to chunks.
const maxChunk = 64 << 10

// encodeChat appends the next cf_agent_use_chat_response for ev, and says
// ErrMore while ev needs more of them.
func (c *client) encodeChat(dst []byte, ev *translators.Event) ([]byte, error) {
	b := chunks.Get().(*[]byte)
	c.chunk = (*b)[:0]
	dst, err := c.encodeChunk(dst, ev)
	if cap(c.chunk) <= maxChunk {
		*b = c.chunk[:0]
		chunks.Put(b)
	}
	c.chunk = nil
	return dst, err
}

// encodeChunk is encodeChat, with c.chunk lent.
func (c *client) encodeChunk(dst []byte, ev *translators.Event) ([]byte, error) {
	t := &c.turn
	switch ev.Kind {
	case translators.KindError:
		if !t.failed {
			t.failed = true
			dst = c.head(dst)
			dst = append(dst, `,"body":`...)
			dst = jsonx.AppendString(dst, ev.Text)
			return append(dst, `,"done":false,"error":true}`...), translators.ErrMore
		}
		return c.terminal(dst, "error"), nil
	case translators.KindCancel:
		return c.terminal(dst, "aborted"), nil
	case translators.KindTextDelta, translators.KindThinkingDelta, translators.KindToolInputDelta:
		if len(ev.Text) == 0 {
			return dst, nil
		}
	}
	if !t.started {
		t.started = true
		c.chunk = append(c.chunk[:0], `{"type":"start","messageId":`...)
		c.chunk = c.messageID(c.chunk)
		dst = c.emit(dst, '}')
		if ev.Kind == translators.KindTurnStart {
			return dst, nil
		}
		return dst, translators.ErrMore
	}
	switch ev.Kind {
	case translators.KindTurnStart:
		return dst, nil
	case translators.KindTextDelta:
		if out, ok := c.open(dst, true); ok {
			return out, translators.ErrMore
		}
		return c.delta(dst, "text-delta", ev.Text), nil
	case translators.KindThinkingDelta:
		if out, ok := c.open(dst, false); ok {
			return out, translators.ErrMore
		}
		return c.delta(dst, "reasoning-delta", ev.Text), nil
	case translators.KindTextReplace:
		// The AI SDK has no rewrite: the text part so far ends, and the
		// new text goes out whole in a part of its own.
		if t.replace == 0 {
			t.replace = 1
			if out, ok := c.closeParts(dst); ok {
				return out, translators.ErrMore
			}
		}
		if t.replace == 1 {
			t.replace = 2
			out, _ := c.open(dst, true)
			return out, translators.ErrMore
		}
		t.replace = 0
		return c.delta(dst, "text-delta", ev.Text), nil
	case translators.KindTurnEnd:
		if out, ok := c.closeParts(dst); ok {
			return out, translators.ErrMore
		}
		if !t.finish {
			t.finish = true
			c.chunk = append(c.chunk[:0], `{"type":"finish","finishReason":`...)
			if len(ev.Code) > 0 {
				c.chunk = jsonx.AppendString(c.chunk, ev.Code)
			} else {
				c.chunk = append(c.chunk, `"stop"`...)
			}
			return c.emit(dst, '}'), translators.ErrMore
		}
		return c.terminal(dst, ""), nil
	case translators.KindStepStart:
		c.chunk = append(c.chunk[:0], `{"type":"start-step"`...)
		return c.emit(dst, '}'), nil
	case translators.KindMetadata:
		c.chunk = append(c.chunk[:0], `{"type":"message-metadata","messageMetadata":`...)
		c.chunk = appendJSON(c.chunk, ev.Value)
		return c.emit(dst, '}'), nil
	}
	// Tool calls and the end of a step close the text or reasoning part.
	if out, ok := c.closeParts(dst); ok {
		return out, translators.ErrMore
	}
	switch ev.Kind {
	case translators.KindStepEnd:
		c.chunk = append(c.chunk[:0], `{"type":"finish-step"`...)
	case translators.KindToolStart:
		c.tool("tool-input-start", ev.Ref)
		c.chunk = jsonx.AppendField(c.chunk, "toolName")
		c.chunk = jsonx.AppendString(c.chunk, ev.Name)
	case translators.KindToolInputDelta:
		c.tool("tool-input-delta", ev.Ref)
		c.chunk = jsonx.AppendField(c.chunk, "inputTextDelta")
		c.chunk = jsonx.AppendString(c.chunk, ev.Text)
	case translators.KindToolInput:
		c.tool("tool-input-available", ev.Ref)
		c.chunk = jsonx.AppendField(c.chunk, "toolName")
		c.chunk = jsonx.AppendString(c.chunk, ev.Name)
		c.chunk = jsonx.AppendField(c.chunk, "input")
		c.chunk = appendJSON(c.chunk, ev.Value)
	case translators.KindToolOutput:
		c.tool("tool-output-available", ev.Ref)
		c.chunk = jsonx.AppendField(c.chunk, "output")
		c.chunk = appendJSON(c.chunk, ev.Value)
	case translators.KindToolError:
		switch string(ev.Code) {
		case "input":
			c.tool("tool-input-error", ev.Ref)
			c.chunk = jsonx.AppendField(c.chunk, "toolName")
			c.chunk = jsonx.AppendString(c.chunk, ev.Name)
			c.chunk = jsonx.AppendField(c.chunk, "input")
			c.chunk = appendJSON(c.chunk, ev.Value)
			c.chunk = jsonx.AppendField(c.chunk, "errorText")
			c.chunk = jsonx.AppendString(c.chunk, ev.Text)
		case "denied":
			c.tool("tool-output-denied", ev.Ref)
		default:
			c.tool("tool-output-error", ev.Ref)
			c.chunk = jsonx.AppendField(c.chunk, "errorText")
			c.chunk = jsonx.AppendString(c.chunk, ev.Text)
		}
	}
	return c.emit(dst, '}'), nil
}

// head appends the start of a response frame, up to its id.
func (c *client) head(dst []byte) []byte {
	dst = append(dst, `{"type":"cf_agent_use_chat_response","id":`...)
	return jsonx.AppendString(dst, c.turn.p.a)
}

// emit appends the frame carrying c.chunk, closed with end.
func (c *client) emit(dst []byte, end byte) []byte {
	c.chunk = append(c.chunk, end)
	dst = c.head(dst)
	dst = append(dst, `,"body":`...)
	dst = jsonx.AppendString(dst, c.chunk)
	dst = append(dst, `,"done":false,"seq":`...)
	dst = strconv.AppendInt(dst, c.turn.seq, 10)
	c.turn.seq++
	return append(dst, '}')
}

// terminal appends the done:true frame that ends the reply, with outcome
// when it did not complete, and forgets the reply.
func (c *client) terminal(dst []byte, outcome string) []byte {
	dst = c.head(dst)
	dst = append(dst, `,"body":"","done":true,"messageIds":[`...)
	if len(c.turn.p.b) > 0 {
		dst = jsonx.AppendString(dst, c.turn.p.b)
	}
	dst = append(dst, ']')
	if outcome != "" {
		dst = append(dst, `,"outcome":"`...)
		dst = append(dst, outcome...)
		dst = append(dst, '"')
	}
	c.turn.active = false
	return append(dst, '}')
}

// messageID appends the assistant message's id, made from the request's:
// "assistant-" and the request's id, escaped, less its opening quote.
func (c *client) messageID(dst []byte) []byte {
	dst = append(dst, `"assistant-`...)
	n := len(dst)
	dst = jsonx.AppendString(dst, c.turn.p.a)
	copy(dst[n:], dst[n+1:])
	return dst[:len(dst)-1]
}

// open appends the chunks that make a text (text) or reasoning part the
// open one, one per call; ok is false when it is open already.
func (c *client) open(dst []byte, text bool) ([]byte, bool) {
	t := &c.turn
	if text && t.text || !text && t.reason {
		return dst, false
	}
	if out, ok := c.closeParts(dst); ok {
		return out, true
	}
	t.part++
	if text {
		t.text = true
		c.part("text-start")
	} else {
		t.reason = true
		c.part("reasoning-start")
	}
	return c.emit(dst, '}'), true
}

// closeParts appends the end of the open text or reasoning part; ok is
// false when none is open.
func (c *client) closeParts(dst []byte) ([]byte, bool) {
	t := &c.turn
	switch {
	case t.text:
		t.text = false
		c.part("text-end")
	case t.reason:
		t.reason = false
		c.part("reasoning-end")
	default:
		return dst, false
	}
	return c.emit(dst, '}'), true
}

// part starts a chunk of type typ for the current part.
func (c *client) part(typ string) {
	c.chunk = append(c.chunk[:0], `{"type":"`...)
	c.chunk = append(c.chunk, typ...)
	c.chunk = append(c.chunk, `","id":"`...)
	if typ[0] == 'r' {
		c.chunk = append(c.chunk, 'r')
	} else {
		c.chunk = append(c.chunk, 't')
	}
	c.chunk = strconv.AppendInt(c.chunk, c.turn.part, 10)
	c.chunk = append(c.chunk, '"')
}

// delta appends a text-delta or reasoning-delta frame.
func (c *client) delta(dst []byte, typ string, text []byte) []byte {
	c.part(typ)
	c.chunk = append(c.chunk, `,"delta":`...)
	c.chunk = jsonx.AppendString(c.chunk, text)
	return c.emit(dst, '}')
}

// tool starts a tool chunk of type typ for the call ref.
func (c *client) tool(typ string, ref []byte) {
	c.chunk = append(c.chunk[:0], `{"type":"`...)
	c.chunk = append(c.chunk, typ...)
	c.chunk = append(c.chunk, `","toolCallId":`...)
	c.chunk = jsonx.AppendString(c.chunk, ref)
}

// routeAgent returns the agent a route's pattern names as a literal
// segment after "agents", as the SDK's servers route
// /agents/<agent>/<name> ("fixed-agent" in "/agents/fixed-agent/:name"),
// or "" when the pattern names none.
func routeAgent(pattern string) string {
	_, rest, ok := strings.Cut(pattern, "/agents/")
	if !ok {
		return ""
	}
	seg, _, _ := strings.Cut(rest, "/")
	if seg == "" || seg[0] == ':' {
		return ""
	}
	return seg
}
