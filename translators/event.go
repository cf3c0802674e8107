package translators

import "time"

// Kind is the type of a canonical event.
type Kind uint8

// The kinds of canonical events. The comment on each says which way it flows
// and which Event fields it uses.
const (
	KindInvalid Kind = iota

	// KindAuth: client to proxy. Text holds an in-band credential (a secret,
	// ticket or token sent in a first frame). Never forwarded.
	KindAuth
	// KindUserMessage: client to backend. One user turn: Text is the message,
	// ID the correlation id (may be empty), Context optional JSON the client
	// attached (kept when the other side can carry it).
	KindUserMessage
	// KindCancel: either way. Client to backend: stop the turn with ID.
	// Backend to client: the turn with ID was cancelled; Text may say why.
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
	// holds the token counts the backend reported.
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
	// others return dst unchanged.
	KindOpen
	// KindAck: proxy to client. The user message ID was accepted and sent
	// on; Seq is its number in the session, from 1.
	KindAck
	// KindSubscribe: client to proxy. The client wants the events of the
	// reply ID (Wiro's agent_info with an agenttoken). Never forwarded.
	KindSubscribe
	// KindSubscribed: proxy to client, and backend to proxy. The
	// subscription to ID holds: Code is the reply's status (Wiro's
	// agent_queue, agent_start, ... or unknown), Full its text so far and
	// Thinking its reasoning so far.
	KindSubscribed
)

var kindNames = [...]string{
	KindInvalid:       "invalid",
	KindAuth:          "auth",
	KindUserMessage:   "user_message",
	KindCancel:        "cancel",
	KindTurnStart:     "turn_start",
	KindTextDelta:     "text_delta",
	KindThinkingDelta: "thinking_delta",
	KindTextSnapshot:  "text_snapshot",
	KindTextReplace:   "text_replace",
	KindTurnEnd:       "turn_end",
	KindError:         "error",
	KindReply:         "reply",
	KindReady:         "ready",
	KindOpen:          "open",
	KindAck:           "ack",
	KindSubscribe:     "subscribe",
	KindSubscribed:    "subscribed",
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

// Event is one canonical event.
//
// Its byte slices alias the message given to Codec.Decode, the codec's
// scratch space or the Turn's buffer, and are valid only until the next call
// on that codec or Turn. Copy them to keep them. The zero Event is invalid.
type Event struct {
	Kind Kind
	// ID correlates a reply with the user message it answers ("id" in
	// Connic, "agenttoken" in Wiro). Empty when the dialect has none.
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
	// Context is optional client-supplied JSON (an object) that travels with
	// a user message.
	Context []byte
	// Code is a short machine-readable error reason for KindError.
	Code []byte
	// Raw is the wire message of a KindReply.
	Raw []byte
	// Usage holds the token counts reported with KindTurnEnd.
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
