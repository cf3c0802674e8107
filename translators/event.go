package translators

import "time"

// Kind is the type of a canonical event.
type Kind uint8

// The kinds of canonical events. The comment on each says which way it flows,
// which Event fields it uses, and, for the kinds only some dialects carry,
// which dialects produce it (Decode) and consume it (Encode). The kinds after
// KindSubscribed follow the AI SDK's UIMessageChunk set
// (docs/protocols/cloudflare-agents.md, section 3.2) and the OpenHands
// actions and observations (docs/protocols/openhands-socketio.md, section
// 4.2); today no codec produces them, and a codec with no place for one
// drops it (Encode returns dst unchanged, without an error).
const (
	KindInvalid Kind = iota

	// KindAuth: client to proxy. Text holds an in-band credential (a secret,
	// ticket or token sent in a first frame). Never forwarded.
	KindAuth
	// KindUserMessage: client to backend. One user turn: Text is the message,
	// ID the correlation id (may be empty), Value optional JSON the client
	// attached, its context (kept when the other side can carry it).
	KindUserMessage
	// KindCancel: either way. Client to backend: stop the turn with ID.
	// Backend to client: the turn with ID was cancelled; Text may say why
	// (the AI SDK's abort reason).
	KindCancel

	// KindTurnStart: backend to client. A reply begins. ID correlates it with
	// the user message it answers; Agent names the agent when known.
	KindTurnStart
	// KindTextDelta: backend to client. Text holds only the new answer text.
	KindTextDelta
	// KindThinkingDelta: backend to client. Text holds only new reasoning
	// text ("thinking"), which dialects without a place for it drop.
	KindThinkingDelta
	// KindTextSnapshot: backend to client, as decoded from an accumulated-text
	// dialect. Text holds the whole answer so far. Turn.Apply turns it into a
	// KindTextDelta or a KindTextReplace; encoders never see it.
	KindTextSnapshot
	// KindTextReplace: backend to client. The answer so far is Text, which
	// does not extend what was sent before (a rewrite).
	KindTextReplace
	// KindTurnEnd: backend to client. The reply is complete. Text, when set by
	// a decoder, is the final full answer (Turn.Apply reconciles it); Usage
	// holds the token counts the backend reported (or, when it reported
	// none here, the last counts reported during the turn); Code, when the
	// dialect says, is why the reply ended (the AI SDK's finishReason:
	// "stop", "length", "tool-calls", ...).
	KindTurnEnd
	// KindError: either way. Text is a human-readable message, Code a short
	// machine-readable reason. Backend to client it ends the current turn.
	KindError

	// KindReply: a codec's answer to its own peer (an ack, a dialect-level
	// pong): Raw must be written back, unchanged, to the peer that sent the
	// message being decoded. Never forwarded.
	KindReply
	// KindReady: backend to proxy, and proxy to client. From a backend: it
	// finished its own handshake (Connic's "connected"), and the proxy may
	// send user messages. To a client: the session is open (Connic's
	// "connected"); ID is the session's id, Agent the agent's name.
	KindReady
	// KindOpen: proxy to codec, given to Encode once when a leg is up. A codec
	// that must speak first (a greeting, an in-band secret) encodes it;
	// others return dst unchanged. A client's leg gets it right after its
	// KindReady, for a dialect that greets with more than one message.
	KindOpen
	// KindAck: proxy to client. The user message ID was accepted and sent
	// on; Seq is its number in the session, from 1.
	KindAck
	// KindSubscribe: client to proxy. The client wants the events of the
	// reply ID (Wiro's agent_info with an agenttoken). Never forwarded.
	KindSubscribe
	// KindSubscribed: proxy to client, and backend to proxy. The
	// subscription to ID holds: Code is the reply's status, the canonical
	// name of a ReplyStatus ("queued", "started", "streaming", "ended",
	// "failed", "cancelled" or "unknown"; the codec writes and reads its
	// dialect's words for it), Full its text so far and Thinking its
	// reasoning so far. Produced by: wiro (backend). Consumed by: wiro.
	KindSubscribed

	// KindToolStart: backend to client, within a turn. The model began a
	// tool call: Ref is the call's id, Name the tool's name. Its input
	// follows as KindToolInputDelta events, then KindToolInput (the AI SDK's
	// tool-input-start). Produced by: agents. Consumed by: agents.
	KindToolStart
	// KindToolInputDelta: backend to client, within a turn. Text holds only
	// the new text of the JSON input of the call Ref, as the model writes it
	// (the AI SDK's tool-input-delta). The Turn does not buffer it.
	// Produced by: agents. Consumed by: agents.
	KindToolInputDelta
	// KindToolInput: backend to client, within a turn. The input of the call
	// Ref to the tool Name is complete: Value is the input, a JSON value (the
	// AI SDK's tool-input-available; an OpenHands action such as run or edit,
	// Value its args). It may come without a KindToolStart before it.
	// Produced by: agents, openhands. Consumed by: agents, openhands.
	KindToolInput
	// KindToolOutput: either way. The call Ref returned Value, a JSON value.
	// Backend to client within a turn: a tool the agent ran (the AI SDK's
	// tool-output-available; an OpenHands observation, Ref its cause).
	// Client to backend: the result of a tool the client runs itself
	// (Cloudflare's cf_agent_tool_result); Name is the tool when known.
	// Produced by: agents, openhands. Consumed by: agents, openhands.
	KindToolOutput
	// KindToolError: either way, like KindToolOutput. The call Ref to the
	// tool Name failed: Text is the message. Code is "input" when the
	// model's input was refused before the tool ran (the AI SDK's
	// tool-input-error, Value the input when known), "denied" when the
	// user refused it (tool-output-denied), and empty when the tool itself
	// failed (tool-output-error). It does not end the turn.
	// Produced by: agents, openhands. Consumed by: agents, openhands.
	KindToolError
	// KindStepStart and KindStepEnd: backend to client, within a turn. A step
	// (one model call in a multi-step reply, the AI SDK's start-step and
	// finish-step) begins or ends. They carry no fields of their own.
	// Produced by: agents. Consumed by: agents.
	KindStepStart
	KindStepEnd
	// KindMetadata: backend to client. Value is the metadata of the reply's
	// message, a JSON object that replaces what was sent before (the AI
	// SDK's messageMetadata of start, message-metadata and finish); Usage,
	// when set, is the turn's token counts so far (OpenHands' llm_metrics).
	// Outside a turn it passes the Turn unchanged.
	// Produced by: agents, openhands. Consumed by: agents.
	KindMetadata
	// KindState: either way, outside turns. Value is the whole shared state
	// of the agent, a JSON value (Cloudflare's cf_agent_state), replacing
	// the one before.
	// Produced by: agents. Consumed by: agents.
	KindState
	// KindFrame: either way. A message of the dialect Name that the
	// canonical model has no kind for (Cloudflare's rpc, cf_agent_identity,
	// cf_agent_mcp_servers or a source or file chunk; an OpenHands status
	// update). Raw is the whole wire message: a peer of the same dialect
	// gets it untouched (see PassFrame); any other dialect drops it, and the
	// proxy logs and counts the drop by Name and Code. Code names the
	// message's type from the dialect's own fixed list (never a string
	// copied from the wire, so it can label a metric).
	// Produced by: agents, openhands. Consumed by: the same dialect only.
	KindFrame
	// KindReset: client to proxy. The client starts a new conversation (the
	// Agents SDK's cf_agent_chat_clear): the proxy's translating session
	// cancels the replies in flight (each ends for the client as a
	// KindCancel), closes the backend leg deliberately and opens a new one
	// for the same session, the way its first one was opened (a socket
	// backend is dialed again, an in-process agent re-opened, a REST
	// backend gets a new session key), so the backend forgets the
	// conversation; the client's session goes on. It carries no fields and
	// is never forwarded: every Encode drops it.
	// Produced by: agents (client). Consumed by: the proxy.
	KindReset
	// KindResume: both ways, one leg (a client dialect whose Dialect.Resume
	// is set). Client to proxy: the client, just (re)connected, asks
	// whether a reply is in progress on its path (the Agents SDK's
	// cf_agent_stream_resume_request); Ref is its probe's id, echoed in the
	// answer. Proxy to client: the answer, Ref the probe's id; ID is the
	// reply in progress, or empty when there is none to resume.
	// Produced by: agents (client). Consumed by: agents (client).
	KindResume
	// KindReplay: both ways, one leg, after a KindResume offered a reply.
	// Client to proxy: the client is ready for the reply ID (its ack); the
	// proxy writes it the frames of that reply written so far, each passed
	// through Dialect.Replayed. Proxy to client: Code "live" ends such a
	// replay while the reply still streams: the frames that follow are live.
	// A replay that reaches the reply's end needs none.
	// Produced by: agents (client). Consumed by: agents (client).
	KindReplay
	// KindHistory: both ways, one leg (a client dialect with HTTP
	// endpoints, which the proxy keeps a conversation for). Client to
	// proxy: the client sets the conversation of its path (the Agents SDK's
	// cf_agent_chat_messages): an event with Code "replace" empties it,
	// then one event per message follows, ID its id, Text its text and Name
	// "user" or "assistant". Proxy to client: Value is the conversation, as
	// the dialect's first HTTP endpoint makes its body; the proxy sends it
	// to the other sockets of a path whose conversation changed.
	// Produced by: agents (client). Consumed by: agents (client).
	KindHistory

	// NumKinds is the number of kinds, KindInvalid included: every Kind is
	// below it. Tests range over all kinds with it.
	NumKinds
)

var kindNames = [NumKinds]string{
	KindInvalid:        "invalid",
	KindAuth:           "auth",
	KindUserMessage:    "user_message",
	KindCancel:         "cancel",
	KindTurnStart:      "turn_start",
	KindTextDelta:      "text_delta",
	KindThinkingDelta:  "thinking_delta",
	KindTextSnapshot:   "text_snapshot",
	KindTextReplace:    "text_replace",
	KindTurnEnd:        "turn_end",
	KindError:          "error",
	KindReply:          "reply",
	KindReady:          "ready",
	KindOpen:           "open",
	KindAck:            "ack",
	KindSubscribe:      "subscribe",
	KindSubscribed:     "subscribed",
	KindToolStart:      "tool_start",
	KindToolInputDelta: "tool_input_delta",
	KindToolInput:      "tool_input",
	KindToolOutput:     "tool_output",
	KindToolError:      "tool_error",
	KindStepStart:      "step_start",
	KindStepEnd:        "step_end",
	KindMetadata:       "metadata",
	KindState:          "state",
	KindResume:         "resume",
	KindReplay:         "replay",
	KindHistory:        "history",
	KindFrame:          "frame",
	KindReset:          "reset",
}

// String returns the kind's name as used in golden transcripts.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + itoa(int(k)) + ")"
}

// KindByName returns the Kind whose String is name, or KindInvalid.
func KindByName(name string) Kind {
	for k, n := range kindNames {
		if n == name {
			return Kind(k)
		}
	}
	return KindInvalid
}

// Event is one canonical event. Each Kind says which fields it uses; a field
// is reused across kinds rather than added per kind, so that an Event stays
// small enough to copy (the Turn stamps copies of it).
//
// Its byte slices alias the message given to Codec.Decode, the codec's
// scratch space or the Turn's buffer, and are valid only until the next call
// on that codec or Turn: a decoder may reuse its scratch for the next
// message, so an event kept past that (queued, compared with a later one)
// must be copied. Encoders never keep them. The zero Event is invalid.
type Event struct {
	Kind Kind
	// ID correlates a reply with the user message it answers ("id" in
	// Connic, "agenttoken" in Wiro). Empty when the dialect has none. The
	// Turn sets it on every event of a reply.
	ID []byte
	// Agent names the agent speaking, when the dialect says.
	Agent []byte
	// Text is the event's text; see each Kind for its meaning.
	Text []byte
	// Full is the whole answer of the current turn so far, filled by
	// Turn.Apply for the backend-to-client kinds. Encoders of accumulated
	// dialects and final replies read it.
	Full []byte
	// Thinking is the whole reasoning text of the current turn so far,
	// filled by Turn.Apply.
	Thinking []byte
	// Value is a JSON value that travels with the event: a user message's
	// context, a tool call's input or output, a message's metadata, the
	// shared state. Codecs pass it on as valid JSON.
	Value []byte
	// Name names what the event is about: the tool of a tool kind, the
	// dialect of a KindFrame.
	Name []byte
	// Ref is the id of the part of a reply the event belongs to, unique
	// within the turn: the tool call's id for the tool kinds (the AI SDK's
	// toolCallId, an OpenHands action's id).
	Ref []byte
	// Code is a short machine-readable word: an error's reason, a
	// subscription's status (a ReplyStatus name), why a turn ended, a tool error's stage, a
	// frame's type. See each Kind.
	Code []byte
	// Raw is a whole wire message: the answer of a KindReply, the message
	// of a KindFrame.
	Raw []byte
	// Usage holds the token counts reported with KindTurnEnd (or
	// KindMetadata).
	Usage Usage
	// Seq numbers a KindAck.
	Seq int64
	// Elapsed is the time since the turn started, filled by the proxy for
	// encoders that report speed (Wiro's metrics).
	Elapsed time.Duration
}

// Usage is the token accounting of one turn. A count of -1 means the backend
// did not report it (Wiro reports no prompt tokens, for example).
type Usage struct {
	InputTokens  int64
	OutputTokens int64
}

// UnknownUsage is the Usage of a turn whose backend reported nothing.
var UnknownUsage = Usage{InputTokens: -1, OutputTokens: -1}

// Reset clears e for reuse, keeping nothing it aliased.
func (e *Event) Reset() { *e = Event{} }

// Known reports whether u holds a count the backend reported: it is neither
// the zero Usage (not set) nor UnknownUsage.
func (u Usage) Known() bool { return u != Usage{} && u != UnknownUsage }

// PassFrame appends ev.Raw to dst when ev is a KindFrame of the dialect
// named dialect, and returns dst unchanged otherwise: an opaque frame
// reaches only a peer that speaks its dialect. Every Encode hands its
// KindFrame events to it.
func PassFrame(dst []byte, ev *Event, dialect string) []byte {
	if ev.Kind == KindFrame && string(ev.Name) == dialect {
		return append(dst, ev.Raw...)
	}
	return dst
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
