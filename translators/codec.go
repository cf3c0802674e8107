package translators

import "time"

// Role says which peer a Codec talks to.
type Role uint8

const (
	// Client: the proxy is the server. The codec decodes user input and
	// encodes agent events.
	Client Role = iota + 1
	// Backend: the proxy is the client. The codec encodes user input and
	// decodes agent events.
	Backend
)

// String returns "client" or "backend".
func (r Role) String() string {
	switch r {
	case Client:
		return "client"
	case Backend:
		return "backend"
	}
	return "role(" + itoa(int(r)) + ")"
}

// A Codec translates the messages of one peer of one session. It may hold
// per-session state and scratch space, and each side of a session owns
// exactly one. Decode and Encode keep separate state, so one goroutine may
// Decode while another Encodes; neither is safe for concurrent use with
// itself.
type Codec interface {
	// Decode appends the events carried by one complete WebSocket message
	// to dst. The events alias msg and the codec's scratch space until the
	// next call on the codec. An error that wraps ErrMalformed means msg was
	// refused; the events already appended, if any, are still valid.
	Decode(dst []Event, msg []byte) ([]Event, error)
	// Encode appends at most one wire message for ev to dst and returns it.
	// It returns dst unchanged when the dialect has nothing to send for ev.
	// Encode never keeps ev or dst. A dialect that needs several messages
	// for one event (a part to open before its first delta) appends the
	// first and returns ErrMore: the caller sends it and calls Encode again
	// with the same event for the next, until Encode returns another error
	// or nil.
	Encode(dst []byte, ev *Event) ([]byte, error)
}

// A Releaser is a Codec whose Decode keeps scratch space between calls (a
// parser's arrays) that it can give back while its session is idle, so that
// an idle session does not hold it. The proxy calls Release like Decode,
// never at the same time as Decode, once the events of the last Decode are
// no longer used; Release touches Decode's state only, so Encode may run
// meanwhile. The next Decode takes scratch space again (from a pool: it
// allocates nothing once warm).
type Releaser interface {
	Release()
}

// A Sequencer is a client-side Codec whose dialect numbers the messages it
// sends the client (OpenHands' event ids), so that a client resumes after
// the last it saw (Dialect.Resume). LastEventID is called like Encode,
// never at the same time as Encode or Tick.
type Sequencer interface {
	// LastEventID returns the number of the last message encoded, or -1.
	LastEventID() int64
}

// PendingParam names a parameter the proxy adds to the Params of a backend
// leg that joins its conversation again (Rejoiner): how many of the
// session's user messages still wait for their reply's end, so that the new
// codec knows which of the backend's events answer them.
const PendingParam = "pending_replies"

// TurnTextParam names another: the bytes of text of the reply in progress
// the client has had so far ("0" when none), so that the new codec
// continues the reply as the old one would have (a separator before its
// next message, say).
const TurnTextParam = "turn_text"

// A Rejoiner is a backend-side Codec whose dialect joins its conversation
// again on a new connection after the last event it saw (OpenHands'
// latest_event_id), when its Dialect.Resume is set: if the leg drops, the
// proxy dials again with the Param Resume.After set to LatestEventID, in
// the new codec's Options.Params and in the URL's query, and the new codec
// decodes what the backend sends after that event as the turn's next
// events. LatestEventID is safe to call from any goroutine.
type Rejoiner interface {
	// LatestEventID returns the id of the last event decoded, or -1.
	LatestEventID() int64
}

// Resume describes how a dialect's clients resume (Dialect.Resume).
type Resume struct {
	// Conversation names the Param (often from Dialect.Query) that names
	// the conversation a socket joins; a socket without it starts afresh.
	Conversation string
	// After names the Param holding the id of the last message the client
	// saw; absent, empty or negative: it saw none, and gets every frame
	// kept.
	After string
	// Collapse, when not nil, reports whether a message the proxy replays
	// is one of a kind of which only the last is replayed, after the
	// others (OpenHands' agent_state_changed).
	Collapse func(msg []byte) bool
}

// A Ticker is a Codec whose dialect sends messages of its own on a timer
// (an Engine.IO ping, a heartbeat). Codecs have no clock: the proxy calls
// Tick every Dialect.TickEvery on the leg the codec talks to, never at the
// same time as Encode, and writes what Tick appended.
type Ticker interface {
	// Tick appends the message due now to dst, or nothing. An error ends
	// the session with the dialect's error (a peer that missed its pong);
	// it should wrap ErrMalformed or carry a Code, like Decode's errors.
	Tick(dst []byte) ([]byte, error)
}

// ReplyMode says how a client-side codec delivers an agent's reply.
type ReplyMode uint8

const (
	// ReplyDefault is the dialect's own default.
	ReplyDefault ReplyMode = iota
	// ReplyStream sends text as it arrives (chunks, accumulated frames).
	ReplyStream
	// ReplyWhole sends one message with the whole reply when the turn ends.
	ReplyWhole
)

// Options configure one codec. The zero value asks for the dialect's
// defaults; each dialect documents which fields it reads. A codec lives as
// long as its session, idle or not: it keeps of its Options the fields it
// reads, not a copy of the whole (136 bytes per session).
type Options struct {
	// Role is the peer the codec talks to. Required.
	Role Role
	// Reply is how a client-side codec delivers replies.
	Reply ReplyMode
	// Agent names the agent a client-side codec announces ("assistant"
	// when empty, for dialects that need a name).
	Agent string
	// Secret is the credential a backend-side codec presents in-band, taken
	// from the backend's configuration. Never the client's.
	Secret string
	// EndMarker, when not empty, is a message that ends a reply sent in
	// several messages (plain backends and clients in ReplyStream mode).
	EndMarker string
	// Chunked says a backend sends one reply in several messages (plain):
	// the reply ends at EndMarker, or when the proxy sees an idle gap.
	Chunked bool
	// Settings are the values of the dialect's own configuration keys for
	// the route or backend the codec serves (RouteKeys or BackendKeys).
	Settings Settings
	// Params are the parameters the route's path matched for this session
	// (":agent" in "/agents/:agent/:name"), in the order of the path. A
	// backend-side codec also finds ConnIDParam among them.
	Params []Param
	// Route is the path pattern of the route a client-side codec serves
	// ("/agents/:agent/:name"): its literal segments name what the client
	// addressed when no parameter does.
	Route string
	// Peer names the dialect of the session's other leg: the backend's, for
	// a client-side codec ("demo" for the built-in agent). A codec may answer
	// on its own leg what that dialect has no place for.
	Peer string
	// Now is the proxy's clock, for a codec whose dialect stamps the
	// messages it makes (OpenHands' event timestamps); nil in tests that
	// want none. Codecs read no other clock.
	Now func() time.Time
}

// Param is one parameter of a route's path and the value it matched.
type Param struct{ Name, Value string }

// ConnIDParam names a parameter the proxy adds to a backend leg's: a random
// UUID made for each backend connection. A backend URL may use it as
// "{conn_id}" (a connection id the backend requires unique), and the
// backend-side codec finds it in Options.Params. A route parameter of the
// same name comes first and wins.
const ConnIDParam = "conn_id"

// Param returns the value of the parameter name, or "" when there is none.
func (o *Options) Param(name string) string {
	for _, p := range o.Params {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// Dialect names a wire format and makes per-session codecs for it. The
// program's dialect table (cmd/agentbridge/dialects.go) lists one per
// line; the configuration and the proxy know dialects only through it.
type Dialect struct {
	// Name is the dialect's name in the configuration.
	Name string
	// Title names the dialect in prose ("Wiro"); Name when empty.
	Title string
	// Binary says the dialect's messages go out as binary frames.
	Binary bool
	// Handshake says a backend speaking this dialect sends a KindReady event
	// before it accepts user messages; the proxy waits for it.
	Handshake bool
	// InBand says a client may authenticate with its first message (a
	// KindAuth event) instead of a header or query parameter.
	InBand bool
	// MayBeCredential, when not nil, is a cheap look at a whole client
	// message that rules out an in-band credential without decoding it
	// (false: certainly not one). The proxy decodes the messages it lets
	// through on a relay and consumes the credentials, so that a client's
	// credential never reaches the backend; nil: the dialect has none.
	MayBeCredential func(msg []byte) bool
	// AuthHeader names the request header a client's secret comes in
	// ("X-Connic-Secret"); empty means "Authorization: Bearer <secret>".
	AuthHeader string
	// AuthQuery names the query parameter a client's secret may come in;
	// empty means none.
	AuthQuery string
	// REST, when not nil, says clients send messages with REST calls and
	// subscribe to replies on the socket.
	REST *REST
	// HTTP lists the HTTP requests beside the socket that the proxy
	// answers for a route whose clients speak the dialect, from the
	// conversation it keeps for the route's path (the Agents SDK's GET
	// <path>/get-messages). Empty: none, and the proxy keeps nothing.
	HTTP []HTTPEndpoint
	// Replayed, when not nil, says the clients of the dialect on one path
	// of a route share replies and can resume them (the Agents SDK's
	// multi-tab broadcast and stream resume): the proxy writes the frames of
	// a reply to a user message that carried an id to every socket of the
	// path, keeps them while the reply streams, answers a client's probe
	// (KindResume) and, on its ack (KindReplay), writes it the kept frames,
	// each message appended to dst by Replayed, then the rest. A session
	// whose client left mid-reply keeps its backend leg until the reply
	// ends (bounded), so a reloaded client can pick it up.
	Replayed func(dst, msg []byte) []byte
	// Query names the query parameters of a client's upgrade request that
	// the proxy adds to the session's Params, after the path's, with an
	// empty value when the request has none: the client-side codec reads
	// them (OpenHands' conversation_id), and a backend URL may use them as
	// placeholders.
	Query []string
	// Resume, when not nil, says a client of the dialect resumes a
	// conversation on a new socket after its last event (OpenHands'
	// latest_event_id). The client-side codec is a Sequencer. The proxy
	// keeps the session of a client that left (its backend leg, its turn)
	// for the route's session.resume_window, and the frames it wrote with
	// their ids (session.resume_events, session.resume_bytes); a new socket
	// naming the same conversation takes the session over: it gets the
	// dialect's greeting (KindReady, encoded by the session's client codec,
	// which keeps the conversation's state and must start its transport
	// afresh on it), the frames after the id it names, then the live ones.
	Resume *Resume
	// New returns a codec for one side of one session.
	New func(Options) Codec
	// SameShape, when not nil, reports whether a client and a backend of
	// this dialect, configured with these options, exchange the very same
	// messages, so the proxy may relay frames without translating. Nil
	// means any two configurations do.
	SameShape func(client, backend Options) bool

	// RouteKeys declare the configuration keys of a route whose clients
	// speak the dialect, and BackendKeys those of a backend that speaks it,
	// besides the keys every route or backend has (path, auth, url,
	// dial_timeout, ...). A key no dialect of the route or backend
	// declares is refused.
	RouteKeys, BackendKeys []Key
	// CheckRoute and CheckBackend, when not nil, report problems with a
	// combination of the dialect's settings, each key having passed its own
	// check. A key whose written value was refused holds its default and is
	// not Written.
	CheckRoute, CheckBackend func(Settings) []KeyError
	// ClientOptions, when not nil, completes the options of a route's
	// client-side codec from o.Settings. o arrives with the route's reply
	// mode (session.streaming: ReplyStream, or ReplyWhole when false).
	// Nil keeps o as it is.
	ClientOptions func(o Options) Options
	// Endpoint, when not nil, resolves a backend's settings into how the
	// proxy reaches it; url is the backend's url key (empty for a REST
	// dialect, whose backends have none). Nil means the socket at url and
	// codec Options carrying s.
	Endpoint func(url string, s Settings) Endpoint
	// TickEvery, when not nil, is how often the proxy calls Tick on a codec
	// of this dialect made with o (which must then be a Ticker); zero
	// means never. Relayed sessions have no codec and no timer: their
	// peers speak the dialect to each other.
	TickEvery func(o Options) time.Duration
}

// Display returns the name of d in prose: Title, else Name.
func (d Dialect) Display() string {
	if d.Title != "" {
		return d.Title
	}
	return d.Name
}

// HTTPEndpoint is an HTTP request a client dialect makes beside its socket
// that the proxy answers from the conversation of the socket's path. The
// proxy matches it, admits it as it admits the socket (same route, same
// credentials: 401 without), and keeps the conversation itself: the user
// messages and the replies that end (KindTurnEnd) in the translating
// sessions of that path, bounded in bytes, oldest first out.
type HTTPEndpoint struct {
	// Suffix follows the route's path ("/get-messages" after
	// "/agents/a/b").
	Suffix string
	// Method is the request's method ("GET"); another gets 405.
	Method string
	// ContentType is the response's Content-Type ("application/json").
	ContentType string
	// Body appends the response's body for msgs, the conversation, oldest
	// first (none for a path the proxy has not seen). It must be pure and
	// always make a whole, valid body: the answer is 200.
	Body func(dst []byte, msgs []TranscriptMessage) []byte
}

// TranscriptMessage is one message of a conversation the proxy keeps for
// an HTTPEndpoint.
type TranscriptMessage struct {
	// Assistant says the agent said it; otherwise the user did.
	Assistant bool
	// ID is the turn's correlation id (the user message's, which its reply
	// shares); empty when the client gave none.
	ID string
	// Text is the user's message, or the reply's whole answer text.
	Text string
}
