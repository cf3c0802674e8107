package openhands

import (
	"bytes"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fastjson"

	"github.com/agentbridge/agentbridge/internal/jsonx"
	"github.com/agentbridge/agentbridge/translators"
)

// client is the codec of an OpenHands UI (a Socket.IO client): the proxy
// is the OpenHands server.
type client struct {
	backend  string        // Options.Peer: the backend's dialect
	interval time.Duration // pingInterval
	timeout  time.Duration // pingTimeout
	payload  int64         // maxPayload
	tick     time.Duration // Dialect.TickEvery for these options
	// check says the proxy handed over the client's query (QueryParams),
	// so a missing conversation_id can be refused.
	check  bool
	convID string

	// Shared by Decode and Encode.
	mu    sync.Mutex
	sid   []byte    // the Engine.IO session id, from KindReady
	users userQueue // user messages decoded and not echoed yet
	pong  atomic.Bool

	// Decode's state.
	parser    fastjson.Parser
	scratch   []byte
	n         int64 // user messages decoded, for their ids
	connected bool  // the default namespace is connected (40 answered)

	// Tick's state, in units of the tick period's elapsed time.
	clock   time.Duration
	pinged  time.Duration // clock at the last ping
	waiting bool          // a ping is out and its pong has not come

	// Encode's state.
	now     func() time.Time
	next    int64 // the id of the next event
	step    int8  // messages of the current event sent (ErrMore)
	think   int   // bytes of the turn's thinking sent as think actions
	running bool  // agent_state_changed running sent for the turn
	total   translators.Usage
	echo    userMsg // the user message being echoed
	tools   []toolRef
	output  fastjson.Parser // a tool output's content
}

// userMsg is a user message decoded by the client codec, kept until the
// proxy acks it (and its echo goes out) or refuses it.
type userMsg struct{ id, text []byte }

// userQueue holds user messages between Decode and Encode, in order,
// reusing their buffers; at most maxUsers, the oldest dropped first.
type userQueue struct {
	n   int
	ent []userMsg
}

// maxUsers bounds the user messages a client codec keeps for their echo.
const maxUsers = 64

// maxTools bounds the tool calls a client codec remembers for the
// observations that answer them; the oldest is forgotten first.
const maxTools = 32

// toolRef is a tool call encoded as an action: its call id, the event id
// it went out with, and the observation its result goes out as.
type toolRef struct {
	ref []byte
	id  int64
	obs string
}

func newClient(o translators.Options) *client {
	c := &client{backend: o.Peer, next: 1, now: o.Now}
	c.interval, c.timeout = pingSettings(o.Settings)
	c.tick = tickPeriod(c.interval, c.timeout)
	c.payload = o.Settings.Size("max_payload")
	if c.payload <= 0 {
		c.payload = 4 << 20
	}
	for _, p := range o.Params {
		if p.Name == ParamConversationID {
			c.check, c.convID = true, p.Value
		}
	}
	return c
}

var (
	_ translators.Codec     = (*client)(nil)
	_ translators.Ticker    = (*client)(nil)
	_ translators.Sequencer = (*client)(nil)
)

// LastEventID implements translators.Sequencer.
func (c *client) LastEventID() int64 { return c.next - 1 }

// Static answers, sent as they are.
var (
	msgPing = []byte("2")
)

// Decode decodes one Engine.IO packet from the client.
func (c *client) Decode(dst []translators.Event, msg []byte) ([]translators.Event, error) {
	p, err := parsePacket(msg)
	if err != nil {
		return dst, err
	}
	switch p.eio {
	case eioPong:
		c.pong.Store(true)
		return dst, nil
	case eioPing:
		// Engine.IO v4 clients do not ping; answer one anyway.
		c.scratch = append(append(c.scratch[:0], eioPong), p.data...)
		return append(dst, translators.Event{Kind: translators.KindReply, Raw: c.scratch}), nil
	case eioClose, eioNoop, eioUpgrade:
		return dst, nil
	case eioOpen:
		return dst, translators.Malformed("a client does not send an Engine.IO open packet")
	}
	if len(p.nsp) > 0 {
		// Only the default namespace exists, as on OpenHands' server.
		c.scratch = append(c.scratch[:0], "44/"...)
		c.scratch = append(c.scratch, p.nsp...)
		c.scratch = append(c.scratch, `,{"message":"Invalid namespace"}`...)
		return append(dst, translators.Event{Kind: translators.KindReply, Raw: c.scratch}), nil
	}
	switch p.sio {
	case sioConnect:
		if c.check && c.convID == "" {
			return append(dst, translators.Event{Kind: translators.KindReply,
				Raw: []byte(`44{"message":"No conversation_id in query params"}`)}), nil
		}
		c.connected = true
		c.scratch = append(c.scratch[:0], `40{"sid":"io-`...)
		c.mu.Lock()
		c.scratch = append(c.scratch, c.sid...)
		c.mu.Unlock()
		c.scratch = append(c.scratch, `"}`...)
		return append(dst, translators.Event{Kind: translators.KindReply, Raw: c.scratch}), nil
	case sioDisconnect:
		c.connected = false
		return dst, nil
	case sioEvent:
		if !c.connected {
			return dst, translators.Malformed("Socket.IO event before the connect (40)")
		}
		return c.event(dst, p.data)
	}
	return append(dst, c.errorReply("agentbridge: this Socket.IO packet type is not supported")), nil
}

// errorReply is an oh_event error ({"error":true,"message"}) answering the
// client at once.
func (c *client) errorReply(text string) translators.Event {
	c.scratch = append(c.scratch[:0], `42["oh_event",{"error":true,"message":`...)
	c.scratch = jsonx.AppendStr(c.scratch, text)
	c.scratch = append(c.scratch, "}]"...)
	return translators.Event{Kind: translators.KindReply, Raw: c.scratch}
}

// event decodes the JSON array of a Socket.IO event.
func (c *client) event(dst []translators.Event, data []byte) ([]translators.Event, error) {
	// A user message's content is passed on: strict JSON first, as the
	// parser lets raw control characters through.
	if fastjson.ValidateBytes(data) != nil {
		return dst, translators.Malformed("invalid JSON")
	}
	v, err := c.parser.ParseBytes(data)
	if err != nil {
		return dst, translators.Malformed("invalid JSON")
	}
	args, _ := v.Array()
	if len(args) == 0 || args[0].Type() != fastjson.TypeString {
		return dst, translators.Malformed("a Socket.IO event is an array starting with its name")
	}
	name := args[0].GetStringBytes()
	if string(name) != "oh_user_action" && string(name) != "oh_action" {
		return append(dst, c.errorReply("agentbridge: unknown event "+clip(name)+": send oh_user_action")), nil
	}
	if len(args) < 2 || args[1].Type() != fastjson.TypeObject {
		return append(dst, c.errorReply("agentbridge: oh_user_action carries an action object")), nil
	}
	a := args[1]
	action := a.GetStringBytes("action")
	switch string(action) {
	case "message":
		content := a.Get("args", "content")
		if content == nil || content.Type() != fastjson.TypeString {
			return append(dst, c.errorReply(`agentbridge: a message action needs "args.content", a string`)), nil
		}
		text := content.GetStringBytes()
		c.n++
		c.scratch = append(c.scratch[:0], "oh-"...)
		c.scratch = strconv.AppendInt(c.scratch, c.n, 10)
		id := c.scratch[:len(c.scratch):len(c.scratch)]
		c.mu.Lock()
		c.users.add(id, text)
		c.mu.Unlock()
		return append(dst, translators.Event{Kind: translators.KindUserMessage, ID: id, Text: text}), nil
	case "change_agent_state":
		state := a.GetStringBytes("args", "agent_state")
		if string(state) == "stopped" {
			return append(dst, translators.Event{Kind: translators.KindCancel}), nil
		}
		return append(dst, c.errorReply("agentbridge: change_agent_state to "+clip(state)+
			" is not available: this agent's backend speaks "+c.peer()+"; only stopped is")), nil
	}
	if action == nil {
		return append(dst, c.errorReply(`agentbridge: an action needs "action"`)), nil
	}
	return append(dst, c.errorReply("agentbridge: the action "+clip(action)+
		" is not available: this agent's backend speaks "+c.peer()+"; only message and change_agent_state stopped are")), nil
}

// peer names the backend's dialect for messages.
func (c *client) peer() string {
	if c.backend == "" {
		return "another dialect"
	}
	return c.backend
}

// Tick sends a ping every pingInterval, and fails when the pong to the
// last one has not come within pingTimeout.
func (c *client) Tick(dst []byte) ([]byte, error) {
	c.clock += c.tick
	if c.waiting {
		if c.pong.Load() {
			c.waiting = false
		} else if c.clock-c.pinged >= c.timeout {
			return dst, translators.Malformed("the client did not answer the Engine.IO ping within pingTimeout (" + c.timeout.String() + ")")
		}
	}
	if !c.waiting && c.clock-c.pinged >= c.interval {
		c.pong.Store(false)
		c.waiting, c.pinged = true, c.clock
		return append(dst, msgPing...), nil
	}
	return dst, nil
}

// Encode writes oh_events, the open packet, and nothing else: OpenHands'
// UI has no place for acks, text deltas or steps.
func (c *client) Encode(dst []byte, ev *translators.Event) ([]byte, error) {
	switch ev.Kind {
	case translators.KindReady:
		// A new Engine.IO session (the first socket, or one that took the
		// conversation over): its ping cycle starts now.
		c.mu.Lock()
		c.sid = append(c.sid[:0], ev.ID...)
		c.mu.Unlock()
		c.waiting, c.pinged = false, c.clock
		dst = append(dst, `0{"sid":`...)
		dst = jsonx.AppendString(dst, ev.ID)
		dst = append(dst, `,"upgrades":[],"pingInterval":`...)
		dst = strconv.AppendInt(dst, c.interval.Milliseconds(), 10)
		dst = append(dst, `,"pingTimeout":`...)
		dst = strconv.AppendInt(dst, c.timeout.Milliseconds(), 10)
		dst = append(dst, `,"maxPayload":`...)
		dst = strconv.AppendInt(dst, c.payload, 10)
		return append(dst, '}'), nil
	case translators.KindOpen:
		// The state a new conversation's UI waits for before it enables
		// its input; socket.io-client delivers it after the connect ack.
		return c.agentState(dst, "awaiting_user_input", nil), nil
	case translators.KindAck:
		c.mu.Lock()
		ok := c.users.take(ev.ID, &c.echo)
		c.mu.Unlock()
		if !ok {
			return dst, nil
		}
		dst = c.head(dst, "user", c.echo.text)
		dst = append(dst, `,"action":"message","args":{"content":`...)
		dst = jsonx.AppendString(dst, c.echo.text)
		return append(dst, `,"image_urls":[],"file_urls":[],"wait_for_response":false,"security_risk":-1}}]`...), nil
	case translators.KindTurnStart:
		c.think = 0
		return c.start(dst), nil
	case translators.KindTextDelta, translators.KindTextReplace, translators.KindStepStart, translators.KindStepEnd:
		// The answer goes out whole at the turn's end; reasoning before it
		// goes out now.
		if out, ok := c.thought(dst, ev); ok {
			return out, nil
		}
		return dst, nil
	case translators.KindTurnEnd:
		return c.end(dst, ev)
	case translators.KindError:
		// A message refused before it reached the backend is not echoed.
		c.mu.Lock()
		c.users.take(ev.ID, &c.echo)
		c.mu.Unlock()
		c.running, c.step = false, 0
		reason := ev.Text
		if len(reason) == 0 {
			reason = ev.Code
		}
		return c.agentState(dst, "error", reason), nil
	case translators.KindCancel:
		c.running, c.step = false, 0
		return c.agentState(dst, "stopped", nil), nil
	case translators.KindToolInput, translators.KindToolOutput, translators.KindToolError:
		return c.tool(dst, ev)
	case translators.KindFrame:
		return translators.PassFrame(dst, ev, Name), nil
	}
	return dst, nil
}

// start appends agent_state_changed running, once a turn.
func (c *client) start(dst []byte) []byte {
	if c.running {
		return dst
	}
	c.running = true
	return c.agentState(dst, "running", nil)
}

// thought appends a think action with the reasoning of ev's turn not sent
// yet; ok is false when there is none.
func (c *client) thought(dst []byte, ev *translators.Event) ([]byte, bool) {
	if len(ev.Thinking) <= c.think {
		if len(ev.Thinking) < c.think {
			c.think = len(ev.Thinking) // the reasoning was rewritten
		}
		return dst, false
	}
	t := ev.Thinking[c.think:]
	c.think = len(ev.Thinking)
	dst = c.head(dst, "agent", t)
	dst = append(dst, `,"action":"think","args":{"thought":`...)
	dst = jsonx.AppendString(dst, t)
	return append(dst, `}}]`...), true
}

// end appends the messages that end a turn, one a call: agent_state_changed
// running when the turn never said it started, the reasoning not sent yet,
// the answer as a message action with the session's llm_metrics, then
// agent_state_changed awaiting_user_input.
func (c *client) end(dst []byte, ev *translators.Event) ([]byte, error) {
	for {
		c.step++
		switch c.step {
		case 1:
			if !c.running {
				return c.start(dst), translators.ErrMore
			}
		case 2:
			if out, ok := c.thought(dst, ev); ok {
				return out, translators.ErrMore
			}
		case 3:
			if ev.Usage.Known() {
				c.total.InputTokens += max(ev.Usage.InputTokens, 0)
				c.total.OutputTokens += max(ev.Usage.OutputTokens, 0)
			}
			if len(ev.Full) > 0 {
				dst = c.head(dst, "agent", ev.Full)
				dst = append(dst, `,"action":"message","llm_metrics":`...)
				dst = c.metrics(dst, ev.Usage)
				dst = append(dst, `,"args":{"content":`...)
				dst = jsonx.AppendString(dst, ev.Full)
				return append(dst, `,"file_urls":null,"image_urls":null,"wait_for_response":true,"security_risk":-1}}]`...), translators.ErrMore
			}
		default:
			c.step, c.running, c.think = 0, false, 0
			return c.agentState(dst, "awaiting_user_input", nil), nil
		}
	}
}

// metrics appends the llm_metrics of OpenHands' frontend: the usage
// accumulated over the session, and this turn's total as per_turn_token.
func (c *client) metrics(dst []byte, turn translators.Usage) []byte {
	dst = append(dst, `{"accumulated_cost":0,"max_budget_per_task":null,"accumulated_token_usage":{"model":"","prompt_tokens":`...)
	dst = strconv.AppendInt(dst, c.total.InputTokens, 10)
	dst = append(dst, `,"completion_tokens":`...)
	dst = strconv.AppendInt(dst, c.total.OutputTokens, 10)
	dst = append(dst, `,"cache_read_tokens":0,"cache_write_tokens":0,"context_window":0,"per_turn_token":`...)
	var per int64
	if turn.Known() {
		per = max(turn.InputTokens, 0) + max(turn.OutputTokens, 0)
	}
	dst = strconv.AppendInt(dst, per, 10)
	return append(dst, `,"response_id":""},"costs":[],"response_latencies":[],"token_usages":[]}`...)
}

// agentState appends an agent_state_changed observation, with reason in
// extras.
func (c *client) agentState(dst []byte, state string, reason []byte) []byte {
	dst = c.head(dst, "agent", nil)
	dst = append(dst, `,"observation":"agent_state_changed","content":"","extras":{"agent_state":"`...)
	dst = append(dst, state...)
	dst = append(dst, `","reason":`...)
	dst = jsonx.AppendString(dst, reason)
	return append(dst, "}}]"...)
}

// head appends the start of an oh_event, up to its message: the event's
// id (the next one), timestamp and source.
func (c *client) head(dst []byte, source string, message []byte) []byte {
	dst = append(dst, `42["oh_event",{"id":`...)
	dst = strconv.AppendInt(dst, c.next, 10)
	c.next++
	dst = append(dst, `,"timestamp":"`...)
	if c.now != nil {
		// OpenHands' timestamps are naive ISO 8601, in microseconds.
		dst = c.now().UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000")
	}
	dst = append(dst, `","source":"`...)
	dst = append(dst, source...)
	dst = append(dst, `","message":`...)
	return jsonx.AppendString(dst, message)
}

// OpenHands' actions whose shape a tool call may take: a tool named after
// one goes out as that action with its input as args, and its result as
// the observation named here.
var toolActions = map[string]string{
	"run":                "run",
	"run_ipython":        "run_ipython",
	"read":               "read",
	"write":              "write",
	"edit":               "edit",
	"browse":             "browse",
	"browse_interactive": "browse",
	"call_tool_mcp":      "mcp",
	"task_tracking":      "task_tracking",
}

// tool appends a tool call as an action, and its result as an
// observation caused by it.
func (c *client) tool(dst []byte, ev *translators.Event) ([]byte, error) {
	if ev.Kind == translators.KindToolInput {
		if out, ok := c.thought(dst, ev); ok {
			return out, translators.ErrMore
		}
		if out := c.start(dst); len(out) > len(dst) {
			return out, translators.ErrMore
		}
		obs, known := toolActions[string(ev.Name)]
		input := bytes.TrimSpace(ev.Value)
		if !known || len(input) == 0 || input[0] != '{' {
			obs = "mcp"
		}
		c.remember(ev.Ref, c.next, obs)
		dst = c.head(dst, "agent", nil)
		if obs == "mcp" && string(ev.Name) != "call_tool_mcp" {
			dst = append(dst, `,"action":"call_tool_mcp","args":{"name":`...)
			dst = jsonx.AppendString(dst, ev.Name)
			dst = append(dst, `,"arguments":`...)
			dst = appendJSON(dst, input)
			dst = append(dst, '}')
		} else {
			dst = append(dst, `,"action":`...)
			dst = jsonx.AppendString(dst, ev.Name)
			dst = append(dst, `,"args":`...)
			dst = append(dst, input...)
		}
		if len(ev.Ref) > 0 {
			dst = append(dst, `,"tool_call_metadata":{"function_name":`...)
			dst = jsonx.AppendString(dst, ev.Name)
			dst = append(dst, `,"tool_call_id":`...)
			dst = jsonx.AppendString(dst, ev.Ref)
			dst = append(dst, '}')
		}
		return append(dst, "}]"...), nil
	}
	cause, obs := c.recall(ev.Ref)
	if ev.Kind == translators.KindToolError {
		obs = "error"
		if string(ev.Code) == "denied" {
			obs = "user_rejected"
		}
	}
	dst = c.head(dst, "agent", nil)
	dst = append(dst, `,"observation":"`...)
	dst = append(dst, obs...)
	dst = append(dst, '"')
	if cause >= 0 {
		dst = append(dst, `,"cause":`...)
		dst = strconv.AppendInt(dst, cause, 10)
	}
	dst = append(dst, `,"content":`...)
	if ev.Kind == translators.KindToolError {
		dst = jsonx.AppendString(dst, ev.Text)
	} else {
		dst = c.content(dst, ev.Value)
	}
	return append(dst, `,"extras":{}}]`...), nil
}

// content appends a tool's output as an observation's content, a string:
// a JSON string as it is, an object's "content" string when it has one
// (what this codec's backend side decodes observations into), anything
// else as its JSON text.
func (c *client) content(dst, v []byte) []byte {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0:
		return append(dst, `""`...)
	case v[0] == '"':
		return append(dst, v...)
	case v[0] == '{':
		if pv, err := c.output.ParseBytes(v); err == nil {
			if s := pv.Get("content"); s != nil && s.Type() == fastjson.TypeString {
				return jsonx.AppendString(dst, s.GetStringBytes())
			}
		}
	}
	return jsonx.AppendString(dst, v)
}

// remember records the tool call ref as the event id.
func (c *client) remember(ref []byte, id int64, obs string) {
	if len(c.tools) == maxTools {
		gone := c.tools[0]
		copy(c.tools, c.tools[1:])
		c.tools[len(c.tools)-1] = toolRef{ref: gone.ref[:0]}
		c.tools = c.tools[:len(c.tools)-1]
	}
	if len(c.tools) < cap(c.tools) {
		c.tools = c.tools[:len(c.tools)+1]
	} else {
		c.tools = append(c.tools, toolRef{})
	}
	t := &c.tools[len(c.tools)-1]
	t.ref, t.id, t.obs = append(t.ref[:0], ref...), id, obs
}

// recall returns the event id of the tool call ref and the observation
// its result goes out as; -1 and "mcp" for a call never seen.
func (c *client) recall(ref []byte) (int64, string) {
	for i := len(c.tools) - 1; i >= 0; i-- {
		if bytes.Equal(c.tools[i].ref, ref) {
			return c.tools[i].id, c.tools[i].obs
		}
	}
	return -1, "mcp"
}

// add records a user message, dropping the oldest when full. mu is held.
func (q *userQueue) add(id, text []byte) {
	if q.n == maxUsers {
		q.removeAt(0)
	}
	if q.n == len(q.ent) {
		q.ent = append(q.ent, userMsg{})
	}
	e := &q.ent[q.n]
	e.id, e.text = append(e.id[:0], id...), append(e.text[:0], text...)
	q.n++
}

// take removes the message id, copying it into *dst; it reports whether
// there was one. mu is held.
func (q *userQueue) take(id []byte, dst *userMsg) bool {
	if len(id) == 0 {
		return false
	}
	for i := 0; i < q.n; i++ {
		if bytes.Equal(q.ent[i].id, id) {
			dst.id, dst.text = append(dst.id[:0], q.ent[i].id...), append(dst.text[:0], q.ent[i].text...)
			q.removeAt(i)
			return true
		}
	}
	return false
}

// removeAt drops message i, keeping the order and the buffers.
func (q *userQueue) removeAt(i int) {
	gone := q.ent[i]
	copy(q.ent[i:q.n], q.ent[i+1:q.n])
	q.n--
	q.ent[q.n] = userMsg{id: gone.id[:0], text: gone.text[:0]}
}

// appendJSON appends v, a JSON value an event carries, or null when empty.
func appendJSON(dst, v []byte) []byte {
	if len(v) == 0 {
		return append(dst, "null"...)
	}
	return append(dst, v...)
}

// clip shortens an echoed value for an error message.
func clip(b []byte) string {
	if len(b) > 40 {
		return strconv.Quote(string(b[:40]) + "...")
	}
	return strconv.Quote(string(b))
}
