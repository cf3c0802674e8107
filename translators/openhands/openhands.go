// Package openhands is the OpenHands dialect: OpenHands' V0 conversation
// socket, Socket.IO v5 on Engine.IO v4 on a WebSocket, one packet per
// WebSocket message (docs/protocols/openhands-socketio.md). Its framing,
// pings and connect handshake are written here; no Socket.IO library runs
// on the per-frame path.
//
// Client side (the proxy is the OpenHands server; clients reach it at
// /socket.io/). KindReady sends the Engine.IO open packet
// 0{"sid","upgrades":[],"pingInterval","pingTimeout","maxPayload"}, its
// values from the route's keys (OpenHands' defaults: 25s, 20s, 4 MiB), and
// KindOpen the conversation's agent state, awaiting_user_input, as an
// oh_event (socket.io-client keeps events that come before the connect ack
// and delivers them after it, as it does OpenHands' replay). The proxy pings
// (2) on the codec's Tick and a client that misses its pong (3) within
// pingTimeout ends with an error. Socket.IO's connect (40) is answered by
// Decode with 40{"sid"}, or with the connect error 44{"message"} when the
// query the proxy hands over (QueryParams, in Options.Params) has no
// conversation_id. 42["oh_user_action",{"action":"message","args":
// {"content"}}] (or the legacy event name oh_action) is a user message,
// numbered "oh-<n>" as its correlation id; change_agent_state to "stopped"
// is a cancel; every other action, event or namespace is answered at once
// with an oh_event error ({"error":true,"message"}), never dropped in
// silence.
//
// Replies are oh_events as OpenHands' UI renders them, each with the next
// event id (translators.Sequencer): on the ack of a user message, its echo (source
// "user", action "message"); on the turn's start, agent_state_changed
// running; reasoning as a think action before what follows it; tool calls
// as actions (run, edit, ... when the tool is named after one, else
// call_tool_mcp) and their results as observations caused by them; at the
// turn's end the whole answer as one message action (OpenHands never
// streams tokens) with llm_metrics holding the usage accumulated over the
// session, then agent_state_changed awaiting_user_input. An error is
// agent_state_changed error with extras.reason, a cancel
// agent_state_changed stopped.
//
// Backend side (the proxy is OpenHands' UI). The backend's url is the
// server's base (ws://host:3000 or .../socket.io/); Endpoint adds the
// query: conversation_id (a backend key, which may be a route parameter
// "{name}"), latest_event_id=-1, providers_set when configured, EIO=4 and
// transport=websocket, and the backend's session_api_key (never a
// client's). Decode answers the open packet with 40 and pings with pongs
// (KindReply); the connect ack 40{"sid"} is KindReady, a connect error 44
// a KindError (then Encode refuses user messages: ErrRefused). User
// messages encoded before the ack are held and sent with it (a Socket.IO
// server drops events on a namespace not connected yet), so the dialect
// declares no Handshake and a relay forwards the server's open packet
// untouched. Events that come before the ack are the conversation's
// history: the codec reads their ids and usage and emits nothing for them,
// unless the codec resumes (ParamLatestEventID). A user message goes out as
// an oh_user_action message without an id, a cancel as change_agent_state
// stopped. Agent message and finish actions are text, one delta a message;
// think actions reasoning; other agent actions tool calls and the
// observations they cause their results; agent_state_changed running opens
// the turn and awaiting_user_input, finished, paused, rejected or
// awaiting_user_confirmation ends it, with the usage of the turn taken as
// the difference of llm_metrics' cumulative counts; error is a KindError
// (extras.reason) and stopped a KindCancel. What arrives while no message
// of ours waits (another UI's conversation, status updates) is a KindFrame.
// The last event id seen is the codec's LatestEventID, for a reconnect.
//
// A client and a backend of this dialect are relayed untouched.
package openhands

import (
	"bytes"
	"strings"
	"time"

	"github.com/agentbridge/agentbridge/translators"
)

// Name is the dialect's name in the configuration.
const Name = "openhands"

// Dialect is the OpenHands dialect's descriptor.
var Dialect = translators.Dialect{
	Name:  Name,
	Title: "OpenHands",
	// No Handshake: the proxy would consume the server's open packet and
	// hand a relayed client only the connect ack. The backend-side codec
	// holds user messages until the ack instead.
	New: New,
	// Browsers cannot set headers on a Socket.IO upgrade: OpenHands' UI
	// sends its key as a query parameter, and SaaS clients as a bearer
	// token (the default header).
	AuthQuery:    "session_api_key",
	RouteKeys:    routeKeys,
	CheckRoute:   checkRoute,
	BackendKeys:  backendKeys,
	CheckBackend: checkBackend,
	Endpoint:     endpoint,
	TickEvery:    tickEvery,
	Query:        QueryParams,
	Resume: &translators.Resume{
		Conversation: ParamConversationID,
		After:        ParamLatestEventID,
		Collapse:     stateChange,
	},
}

// stateChange reports whether msg, an event the client codec encoded, is an
// agent_state_changed observation: a client resuming gets only the last of
// those, after the other events, as OpenHands replays them.
func stateChange(msg []byte) bool {
	return bytes.Contains(msg, []byte(`,"observation":"agent_state_changed",`))
}

// QueryParams are the query parameters of a client's upgrade request that
// the client-side codec reads from Options.Params, by these names
// (Dialect.Query: the proxy adds them, empty when absent).
var QueryParams = []string{ParamConversationID, ParamLatestEventID, "providers_set"}

// The parameters the codecs read from Options.Params.
const (
	// ParamConversationID is the conversation a client joins, from its
	// query. Present with an empty value: the client sent none, and its
	// connect is refused.
	ParamConversationID = "conversation_id"
	// ParamLatestEventID is the id of the last event a client (from its
	// query) or the proxy (for a backend leg it dials again) has seen; -1
	// or absent: none. A backend-side codec given one >= 0 resumes: the
	// events before the connect ack are ones the proxy missed, decoded as
	// live events, not history.
	ParamLatestEventID = "latest_event_id"
)

// New returns an OpenHands codec configured by o.
func New(o translators.Options) translators.Codec {
	if o.Role == translators.Backend {
		return newBackend(o)
	}
	return newClient(o)
}

// The client-side codec is a translators.Sequencer (the id of the last
// oh_event it encoded: a conversation that outlives its socket keeps its
// codec, and the proxy replays what followed a client's latest_event_id),
// and the backend-side codec a translators.Rejoiner (the id of the last
// oh_event decoded, for a leg dialed again). Timestamps come from
// Options.Now; without it they are "".

// The configuration keys of OpenHands routes (the Engine.IO server's
// settings) and backends (the conversation and its key).
var routeKeys = []translators.Key{
	{Name: "ping_interval", Kind: translators.KeyDuration, Default: "25s",
		Doc: "how often the proxy pings an Engine.IO client (pingInterval)"},
	{Name: "ping_timeout", Kind: translators.KeyDuration, Default: "20s",
		Doc: "how long a client has to answer a ping before it is dropped (pingTimeout)"},
	{Name: "max_payload", Kind: translators.KeySize, Default: "4MiB",
		Doc: "the largest message a client may send, as announced in the open packet (maxPayload)"},
}

var backendKeys = []translators.Key{
	{Name: "conversation_id", Kind: translators.KeyString, Required: true,
		Doc: `the OpenHands conversation to join; may name a route parameter ("{name}")`},
	{Name: "session_api_key", Kind: translators.KeySecret,
		Doc: "the server's SESSION_API_KEY, sent as the session_api_key query parameter; never a client's"},
	{Name: "providers_set", Kind: translators.KeyString,
		Doc: "the providers_set query parameter (github,gitlab,...), when the server wants one"},
}

func checkRoute(s translators.Settings) []translators.KeyError {
	if s.Duration("ping_interval") < time.Millisecond {
		return []translators.KeyError{{Key: "ping_interval", Msg: "must be at least 1ms"}}
	}
	if s.Duration("ping_timeout") < time.Millisecond {
		return []translators.KeyError{{Key: "ping_timeout", Msg: "must be at least 1ms"}}
	}
	return nil
}

func checkBackend(s translators.Settings) []translators.KeyError {
	if strings.ContainsAny(s.String("conversation_id"), "&#?") {
		return []translators.KeyError{{Key: "conversation_id", Msg: `must not contain "&", "#" or "?"`}}
	}
	return nil
}

// endpoint makes the backend's Socket.IO URL: the server's /socket.io/
// path (unless url names a path already) and the query OpenHands' UI sends.
func endpoint(url string, s translators.Settings) translators.Endpoint {
	base, query, _ := strings.Cut(url, "?")
	if _, rest, ok := strings.Cut(base, "://"); ok {
		switch i := strings.IndexByte(rest, '/'); {
		case i < 0:
			base += "/socket.io/"
		case rest[i:] == "/":
			base += "socket.io/"
		}
	}
	var b strings.Builder
	b.WriteString(base)
	b.WriteByte('?')
	if query != "" {
		b.WriteString(query)
		b.WriteByte('&')
	}
	b.WriteString("latest_event_id=-1&conversation_id=")
	b.WriteString(queryEscape(s.String("conversation_id")))
	if p := s.String("providers_set"); p != "" {
		b.WriteString("&providers_set=")
		b.WriteString(queryEscape(p))
	}
	b.WriteString("&EIO=4&transport=websocket")
	e := translators.Endpoint{URL: b.String(), Options: translators.Options{Settings: s}}
	if k := s.String("session_api_key"); k != "" {
		e.Secret, e.SecretIn = k, "query"
	}
	return e
}

// queryEscape escapes s for a query value, as encodeURIComponent does, but
// keeps the braces of "{param}" placeholders, which the proxy fills in
// (escaped) per session.
func queryEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '!', c == '~', c == '*', c == '\'', c == '(', c == ')',
			c == '{', c == '}':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// tickEvery is how often the proxy calls Tick on a client-side codec: the
// greatest common divisor of the ping interval and timeout (5s for
// OpenHands' defaults), so that both fall on a tick, but at least a
// twentieth of the shorter one (a ping or a timeout is then at most that
// late). A backend-side codec has no timer: the server pings.
func tickEvery(o translators.Options) time.Duration {
	if o.Role != translators.Client {
		return 0
	}
	return tickPeriod(pingSettings(o.Settings))
}

func tickPeriod(interval, timeout time.Duration) time.Duration {
	a, b := interval/time.Millisecond, timeout/time.Millisecond
	for b != 0 {
		a, b = b, a%b
	}
	g := a * time.Millisecond
	if floor := min(interval, timeout) / 20; g < floor {
		g = floor
	}
	return max(g, time.Millisecond)
}

// pingSettings returns a route's ping interval and timeout, OpenHands'
// defaults when unset.
func pingSettings(s translators.Settings) (interval, timeout time.Duration) {
	interval, timeout = s.Duration("ping_interval"), s.Duration("ping_timeout")
	if interval <= 0 {
		interval = 25 * time.Second
	}
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	return interval, timeout
}

// Codes of the messages this dialect passes as KindFrame: a fixed list, so
// that they can label a metric.
var (
	codeStatus      = []byte("status")
	codeAgentState  = []byte("agent_state")
	codeUserMessage = []byte("user_message")
	codeAction      = []byte("action")
	codeObservation = []byte("observation")
	codeError       = []byte("error")
	codeOther       = []byte("other")
	nameOpenHands   = []byte(Name)
)

func frame(msg, code []byte) translators.Event {
	return translators.Event{Kind: translators.KindFrame, Name: nameOpenHands, Code: code, Raw: msg}
}
