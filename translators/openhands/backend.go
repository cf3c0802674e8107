package openhands

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/valyala/fastjson"

	"github.com/agentbridge/agentbridge/internal/fjson"
	"github.com/agentbridge/agentbridge/internal/jsonx"
	"github.com/agentbridge/agentbridge/translators"
)

// backend is the codec of the proxy as a client of an OpenHands server.
type backend struct {
	// Shared by Decode and Encode, which may run on two goroutines.
	mu        sync.Mutex
	joined    bool         // the connect ack came: Encode writes to the socket
	refused   bool         // the server refused the connect (44)
	held      [][]byte     // messages encoded before the ack, for Decode to send
	heldN     int          // bytes in held
	waiting   atomic.Int32 // user messages sent whose turn has not ended
	cancelled atomic.Bool  // a stop was sent for the turn in progress
	latest    atomic.Int64 // the last event id decoded, or -1

	// Decode's state.
	parser  fastjson.Parser
	scratch []byte
	sent    [][]byte // held messages Decode sent at the ack: valid until the next call
	acked   bool     // the connect ack (40) came
	resume  bool     // events before the ack are live (ParamLatestEventID)
	turn    bool     // agent_state_changed running came for the turn
	texts   int      // agent messages of the turn decoded, for separators
	cum     translators.Usage
	base    translators.Usage // cum when the turn began
	metered bool              // llm_metrics came during the turn
}

func newBackend(o translators.Options) *backend {
	b := &backend{}
	b.latest.Store(-1)
	if v := o.Param(ParamLatestEventID); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			b.resume = true
			b.latest.Store(n)
		}
	}
	// A leg that joins the conversation again: the proxy's messages still
	// waiting are answered by what the server sends after latest.
	if n, err := strconv.Atoi(o.Param(translators.PendingParam)); err == nil && n > 0 && b.resume {
		b.waiting.Store(int32(n))
		if t, err := strconv.Atoi(o.Param(translators.TurnTextParam)); err == nil && t > 0 {
			b.turn, b.texts = true, 1 // the reply goes on: its next message after a separator
		}
	}
	return b
}

var (
	_ translators.Codec    = (*backend)(nil)
	_ translators.Rejoiner = (*backend)(nil)
)

// LatestEventID implements translators.Rejoiner.
func (b *backend) LatestEventID() int64 { return b.latest.Load() }

// Static messages, sent as they are.
var (
	msgConnect = []byte("40")
	msgPong    = []byte("3")
)

// ErrRefused is returned by a backend-side codec's Encode for a user
// message after the OpenHands server refused the connect (a 44 packet, which
// Decode reported as a KindError): the message has nowhere to go.
var ErrRefused = errors.New("openhands: the server refused the Socket.IO connect")

// maxHeld bounds the bytes of messages a backend-side codec holds until
// the server's connect ack; past it, Encode refuses them.
const maxHeld = 1 << 20

func (b *backend) Encode(dst []byte, ev *translators.Event) ([]byte, error) {
	switch ev.Kind {
	case translators.KindUserMessage:
		b.mu.Lock()
		defer b.mu.Unlock()
		switch {
		case b.refused:
			return dst, ErrRefused
		case !b.joined:
			// A Socket.IO server drops events on a namespace not connected
			// yet: the message waits for the ack, and Decode sends it then.
			m := appendUserMessage(nil, ev.Text)
			if b.heldN+len(m) > maxHeld {
				return dst, ErrRefused
			}
			b.held, b.heldN = append(b.held, m), b.heldN+len(m)
		default:
			dst = appendUserMessage(dst, ev.Text)
		}
		b.waiting.Add(1)
		b.cancelled.Store(false)
		return dst, nil
	case translators.KindCancel:
		b.mu.Lock()
		joined := b.joined
		b.mu.Unlock()
		if b.waiting.Load() == 0 || !joined {
			return dst, nil // nothing runs for us yet
		}
		b.cancelled.Store(true)
		return append(dst, `42["oh_user_action",{"action":"change_agent_state","args":{"agent_state":"stopped"}}]`...), nil
	case translators.KindFrame:
		return translators.PassFrame(dst, ev, Name), nil
	}
	// The proxy's greeting (KindOpen) needs nothing: the server speaks
	// first, with its open packet.
	return dst, nil
}

// appendUserMessage appends an oh_user_action message with text, without
// an id (the server gives events their ids, and refuses an action that
// has one).
func appendUserMessage(dst, text []byte) []byte {
	dst = append(dst, `42["oh_user_action",{"action":"message","args":{"content":`...)
	dst = jsonx.AppendString(dst, text)
	return append(dst, `,"image_urls":[],"file_urls":[]}}]`...)
}

func (b *backend) Decode(dst []translators.Event, msg []byte) ([]translators.Event, error) {
	b.sent = nil
	p, err := parsePacket(msg)
	if err != nil {
		return dst, err
	}
	switch p.eio {
	case eioOpen:
		return append(dst, translators.Event{Kind: translators.KindReply, Raw: msgConnect}), nil
	case eioPing:
		if len(p.data) == 0 {
			return append(dst, translators.Event{Kind: translators.KindReply, Raw: msgPong}), nil
		}
		b.scratch = append(append(b.scratch[:0], eioPong), p.data...)
		return append(dst, translators.Event{Kind: translators.KindReply, Raw: b.scratch}), nil
	case eioMessage:
	default:
		// Close, pong, noop, upgrade: the socket's end follows a close.
		return dst, nil
	}
	if len(p.nsp) > 0 {
		return dst, nil // not the namespace we joined
	}
	switch p.sio {
	case sioConnect:
		if b.acked {
			return dst, nil
		}
		b.acked = true
		b.base, b.metered = b.cum, false // the history's usage is not ours
		dst = append(dst, translators.Event{Kind: translators.KindReady})
		// The messages that came before the ack go now, in order.
		b.mu.Lock()
		b.joined = true
		b.sent, b.held, b.heldN = b.held, nil, 0
		b.mu.Unlock()
		for _, m := range b.sent {
			dst = append(dst, translators.Event{Kind: translators.KindReply, Raw: m})
		}
		return dst, nil
	case sioConnectError:
		b.mu.Lock()
		b.refused = !b.joined
		b.mu.Unlock()
		ev := translators.Event{Kind: translators.KindError, Code: codeConnectError, Text: connectRefused}
		if v, err := b.parser.ParseBytes(p.data); err == nil {
			if m := v.GetStringBytes("message"); len(m) > 0 {
				ev.Text = m
			}
		}
		return append(dst, ev), nil
	case sioDisconnect:
		if b.waiting.Load() > 0 {
			b.endTurn()
			return append(dst, translators.Event{Kind: translators.KindError, Code: codeDisconnected, Text: disconnectedText}), nil
		}
		return dst, nil
	case sioEvent:
		return b.event(dst, msg, p.data)
	}
	return dst, nil // acks and binary packets: OpenHands sends none
}

// event decodes an oh_event; other event names are frames.
func (b *backend) event(dst []translators.Event, msg, data []byte) ([]translators.Event, error) {
	// The parser is lenient (odd numbers, raw control characters), and
	// tool inputs and outputs are passed on: strict JSON first.
	if fastjson.ValidateBytes(data) != nil {
		return dst, translators.Malformed("invalid JSON")
	}
	v, err := b.parser.ParseBytes(data)
	if err != nil {
		return dst, translators.Malformed("invalid JSON")
	}
	args, _ := v.Array()
	if len(args) < 2 || string(args[0].GetStringBytes()) != "oh_event" || args[1].Type() != fastjson.TypeObject {
		return append(dst, frame(msg, codeOther)), nil
	}
	e := args[1]
	live := b.acked || b.resume
	if id := e.Get("id"); id != nil && id.Type() == fastjson.TypeNumber {
		if n := id.GetInt64(); n > b.latest.Load() {
			b.latest.Store(n)
		}
	}
	b.meter(e)
	if !live {
		// The conversation's history, replayed before the ack: nothing in
		// it answers a message of ours.
		return dst, nil
	}
	mine := b.waiting.Load() > 0
	switch {
	case e.GetBool("status_update"):
		return append(dst, frame(msg, codeStatus)), nil
	case e.GetBool("error"):
		if !mine {
			return append(dst, frame(msg, codeError)), nil
		}
		b.endTurn()
		return append(dst, translators.Event{Kind: translators.KindError, Code: codeAgentError,
			Text: orDefault(e.GetStringBytes("message"), failedText)}), nil
	}
	source := e.GetStringBytes("source")
	if action := e.GetStringBytes("action"); action != nil {
		if !mine || string(source) == "user" {
			if string(action) == "message" && string(source) == "user" {
				return append(dst, frame(msg, codeUserMessage)), nil
			}
			return append(dst, frame(msg, codeAction)), nil
		}
		return b.action(dst, msg, e, action)
	}
	obs := e.GetStringBytes("observation")
	if obs == nil {
		return append(dst, frame(msg, codeOther)), nil
	}
	if string(obs) == "agent_state_changed" {
		return b.agentState(dst, msg, e, mine)
	}
	cause := e.Get("cause")
	if !mine || cause == nil || cause.Type() != fastjson.TypeNumber {
		return append(dst, frame(msg, codeObservation)), nil
	}
	b.scratch = strconv.AppendInt(b.scratch[:0], cause.GetInt64(), 10)
	ref := b.scratch[:len(b.scratch):len(b.scratch)]
	switch string(obs) {
	case "error":
		return append(dst, translators.Event{Kind: translators.KindToolError, Ref: ref,
			Text: e.GetStringBytes("content")}), nil
	case "user_rejected":
		return append(dst, translators.Event{Kind: translators.KindToolError, Ref: ref, Code: codeDenied,
			Text: orDefault(e.GetStringBytes("content"), deniedText)}), nil
	}
	// The output: the observation's content, and its extras.
	n := len(b.scratch)
	b.scratch = append(b.scratch, `{"content":`...)
	b.scratch = jsonx.AppendString(b.scratch, e.GetStringBytes("content"))
	if x := e.Get("extras"); x != nil {
		b.scratch = append(b.scratch, `,"extras":`...)
		b.scratch = fjson.AppendValue(b.scratch, x)
	}
	b.scratch = append(b.scratch, '}')
	return append(dst, translators.Event{Kind: translators.KindToolOutput, Ref: ref, Name: obs, Value: b.scratch[n:]}), nil
}

// action decodes an agent's action within a turn of ours.
func (b *backend) action(dst []translators.Event, msg []byte, e *fastjson.Value, action []byte) ([]translators.Event, error) {
	switch string(action) {
	case "message":
		return b.text(dst, e.GetStringBytes("args", "content")), nil
	case "finish":
		t := e.GetStringBytes("args", "final_thought")
		if len(t) == 0 {
			t = e.GetStringBytes("message")
		}
		return b.text(dst, t), nil
	case "think":
		t := e.GetStringBytes("args", "thought")
		if len(t) == 0 {
			return dst, nil
		}
		return append(dst, translators.Event{Kind: translators.KindThinkingDelta, Text: t}), nil
	case "system", "recall", "condensation", "condensation_request", "change_agent_state", "null",
		"pause", "resume", "stop", "start", "reject", "delegate", "loop_recovery":
		return append(dst, frame(msg, codeAction)), nil
	}
	// run, edit, read, write, browse, call_tool_mcp, ...: a tool call,
	// its id the event's.
	id := e.Get("id")
	if id == nil || id.Type() != fastjson.TypeNumber {
		return append(dst, frame(msg, codeAction)), nil
	}
	b.scratch = strconv.AppendInt(b.scratch[:0], id.GetInt64(), 10)
	ref := b.scratch[:len(b.scratch):len(b.scratch)]
	n := len(b.scratch)
	if a := e.Get("args"); a != nil {
		b.scratch = fjson.AppendValue(b.scratch, a)
	} else {
		b.scratch = append(b.scratch, "{}"...)
	}
	return append(dst, translators.Event{Kind: translators.KindToolInput, Ref: ref, Name: action, Value: b.scratch[n:]}), nil
}

// text appends one agent message as a text delta: the messages of a turn
// are separated by a blank line.
func (b *backend) text(dst []translators.Event, t []byte) []translators.Event {
	if len(t) == 0 {
		return dst
	}
	if b.texts++; b.texts > 1 {
		b.scratch = append(append(b.scratch[:0], "\n\n"...), t...)
		t = b.scratch
	}
	return append(dst, translators.Event{Kind: translators.KindTextDelta, Text: t})
}

// agentState decodes agent_state_changed: running opens a turn of ours,
// the states that wait for the user end it.
func (b *backend) agentState(dst []translators.Event, msg []byte, e *fastjson.Value, mine bool) ([]translators.Event, error) {
	state := e.GetStringBytes("extras", "agent_state")
	if !mine {
		return append(dst, frame(msg, codeAgentState)), nil
	}
	switch string(state) {
	case "running":
		if b.turn {
			return dst, nil
		}
		b.turn, b.texts, b.base, b.metered = true, 0, b.cum, false
		return append(dst, translators.Event{Kind: translators.KindTurnStart}), nil
	case "awaiting_user_input", "finished", "paused", "rejected", "awaiting_user_confirmation":
		usage := translators.UnknownUsage
		if b.metered { // the counts moved during the turn
			usage = translators.Usage{InputTokens: b.cum.InputTokens - b.base.InputTokens,
				OutputTokens: b.cum.OutputTokens - b.base.OutputTokens}
		}
		if b.cancelled.Load() {
			b.endTurn()
			return append(dst, translators.Event{Kind: translators.KindCancel}), nil
		}
		b.endTurn()
		return append(dst, translators.Event{Kind: translators.KindTurnEnd, Usage: usage}), nil
	case "stopped":
		b.endTurn()
		return append(dst, translators.Event{Kind: translators.KindCancel, Text: stoppedText}), nil
	case "error":
		b.endTurn()
		return append(dst, translators.Event{Kind: translators.KindError, Code: codeAgentError,
			Text: orDefault(e.GetStringBytes("extras", "reason"), failedText)}), nil
	}
	// loading, user_confirmed, user_rejected, rate_limited: the turn goes on.
	return append(dst, frame(msg, codeAgentState)), nil
}

// endTurn forgets the turn in progress: its message no longer waits.
func (b *backend) endTurn() {
	if b.waiting.Add(-1) < 0 {
		b.waiting.Store(0)
	}
	b.cancelled.Store(false)
	b.turn, b.texts = false, 0
	b.base, b.metered = b.cum, false
}

// meter reads llm_metrics' cumulative token counts, if the event has them.
func (b *backend) meter(e *fastjson.Value) {
	u := e.Get("llm_metrics", "accumulated_token_usage")
	if u == nil {
		return
	}
	in, out := u.GetInt64("prompt_tokens"), u.GetInt64("completion_tokens")
	if in < b.cum.InputTokens || out < b.cum.OutputTokens {
		// A new conversation's counts (the server restarted it): the
		// turn's usage counts from here.
		b.base = translators.Usage{}
	}
	b.cum = translators.Usage{InputTokens: in, OutputTokens: out}
	b.metered = true
}

func orDefault(b, def []byte) []byte {
	if len(b) == 0 {
		return def
	}
	return b
}

var (
	codeConnectError = []byte("connect_error")
	codeDisconnected = []byte("disconnected")
	codeAgentError   = []byte("agent_error")
	codeDenied       = []byte("denied")
	connectRefused   = []byte("the OpenHands server refused the connection")
	disconnectedText = []byte("the OpenHands server disconnected the socket")
	failedText       = []byte("the OpenHands agent failed")
	deniedText       = []byte("the user rejected the action")
	stoppedText      = []byte("the OpenHands agent was stopped")
)
