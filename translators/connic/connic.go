// Package connic is Connic's WebSocket connector dialect: JSON messages with
// delta chunks.
//
// Client side (the proxy is the server): a client authenticates with a first
// message {"secret": "..."} (KindAuth) unless a header or query parameter
// did, sends {"type":"message","id"?,"payload":{"message","context"?}} or
// the bare {"message": ...}, and gets "connected" (KindReady), "ack"
// (KindAck), then either stream_start, stream_chunk... and stream_end with
// full_response and token_usage (ReplyStream, the default), or one
// "response" (ReplyWhole). A message without an id gets "msg-<n>". Errors
// go out as {"type":"error","code","message"} with the id when known.
// Thinking is not sent; a rewrite of the answer (TextReplace) shows in
// full_response; unknown token counts are sent as 0. A client may also send
// {"type":"ping"} and gets {"type":"pong"}.
//
// Backend side (the proxy is the client): the codec sends {"secret"} first
// when Options.Secret is set (secret_in: first_frame; header and query are
// the proxy's), waits for "connected" (KindReady), sends user messages with
// their id and context, and decodes the stream back into events.
package connic

import (
	"bytes"
	"strconv"

	"github.com/valyala/fastjson"

	"github.com/agentbridge/agentbridge/internal/fjson"
	"github.com/agentbridge/agentbridge/internal/jsonx"
	"github.com/agentbridge/agentbridge/translators"
)

// Dialect is the Connic dialect's descriptor. Passthrough needs the same
// streaming mode on both sides.
var Dialect = translators.Dialect{
	Name:      "connic",
	Handshake: true,
	InBand:    true,
	// {"secret": ...}: the key, or a \u escape that could spell it.
	MayBeCredential: func(msg []byte) bool {
		return bytes.Contains(msg, []byte(`"secret"`)) || bytes.Contains(msg, []byte(`\u`))
	},
	New:        New,
	SameShape:  func(client, backend translators.Options) bool { return client.Reply != translators.ReplyWhole },
	AuthHeader: "X-Connic-Secret",
	AuthQuery:  "X-Connic-Secret",

	Title:        "Connic",
	BackendKeys:  backendKeys,
	CheckBackend: checkBackend,
	Endpoint:     endpoint,
}

// MaxIDLength caps a client-chosen message id; longer ids are refused.
const MaxIDLength = 256

// New returns a Connic codec configured by o.
func New(o translators.Options) translators.Codec {
	c := &codec{role: o.Role, reply: o.Reply, named: o.Agent != "", secret: o.Secret, agent: defaultAgent}
	if c.named {
		c.agent = []byte(o.Agent)
	}
	return c
}

// defaultAgent names the agent when neither the route nor the backend
// does. Shared by every codec: agent is replaced, never written into.
var defaultAgent = []byte("assistant")

// codec keeps of its Options only what it reads (a session holds one for
// as long as it lives).
type codec struct {
	role   translators.Role
	reply  translators.ReplyMode
	named  bool   // the route names the agent (Options.Agent): the backend's names do not replace it
	secret string // Options.Secret
	agent  []byte

	// Decode's state. The parser (the arrays its largest message needed)
	// is lent from parsers while the session is busy and given back by
	// Release; the events of a Decode alias it until the next call.
	parser  *fastjson.Parser
	scratch []byte // generated ids and re-serialized context
	count   int64  // messages decoded, for generated ids
}

var (
	_ translators.Codec    = (*codec)(nil)
	_ translators.Releaser = (*codec)(nil)
)

// parsers lend the codecs' Decode their parsers, from a Decode to the
// next Release.
var parsers fastjson.ParserPool

// Release gives the parser back to parsers (translators.Releaser).
func (c *codec) Release() {
	if c.parser != nil {
		parsers.Put(c.parser)
		c.parser = nil
	}
}

func (c *codec) Decode(dst []translators.Event, msg []byte) ([]translators.Event, error) {
	// The parser is lenient (it lets raw control characters and odd numbers
	// through), and a client's context is passed on as it is: a client's
	// message must be strict JSON first. Backend messages are only read,
	// and everything taken from them is escaped again.
	if c.role == translators.Client && fastjson.ValidateBytes(msg) != nil {
		return dst, translators.Malformed("invalid JSON")
	}
	if c.parser == nil {
		c.parser = parsers.Get()
	}
	v, err := c.parser.ParseBytes(msg)
	if err != nil {
		return dst, translators.Malformed("invalid JSON")
	}
	if v.Type() != fastjson.TypeObject {
		return dst, translators.Malformed("expected a JSON object")
	}
	if c.role == translators.Backend {
		return c.decodeBackend(dst, v)
	}
	typ := v.Get("type")
	if typ == nil {
		if s := v.Get("secret"); s != nil {
			b, err := s.StringBytes()
			if err != nil {
				return dst, translators.Malformed(`"secret" must be a string`)
			}
			return append(dst, translators.Event{Kind: translators.KindAuth, Text: b}), nil
		}
		if v.Get("message") != nil {
			return c.decodeMessage(dst, v, v)
		}
		return dst, translators.Malformed(`missing "type"`)
	}
	t, err := typ.StringBytes()
	if err != nil {
		return dst, translators.Malformed(`"type" must be a string`)
	}
	switch string(t) {
	case "message":
		p := v.Get("payload")
		if p == nil || p.Type() != fastjson.TypeObject {
			return dst, translators.Malformed(`"payload" must be an object`)
		}
		return c.decodeMessage(dst, v, p)
	case "ping":
		return append(dst, translators.Event{Kind: translators.KindReply, Raw: pong}), nil
	case "auth":
		b := v.GetStringBytes("secret")
		if b == nil {
			return dst, translators.Malformed(`"secret" must be a string`)
		}
		return append(dst, translators.Event{Kind: translators.KindAuth, Text: b}), nil
	}
	return dst, translators.Malformed(`unknown type "` + clip(t) + `"`)
}

var pong = []byte(`{"type":"pong"}`)

// decodeMessage reads a user message: the id from top, the message and
// context from body (the payload, or top itself for the bare form).
func (c *codec) decodeMessage(dst []translators.Event, top, body *fastjson.Value) ([]translators.Event, error) {
	m := body.Get("message")
	if m == nil {
		return dst, translators.Malformed(`missing "payload.message"`)
	}
	text, err := m.StringBytes()
	if err != nil {
		return dst, translators.Malformed(`"message" must be a string`)
	}
	c.count++
	c.scratch = c.scratch[:0]
	var id []byte
	switch idv := top.Get("id"); {
	case idv == nil || idv.Type() == fastjson.TypeNull:
		c.scratch = append(c.scratch, "msg-"...)
		c.scratch = strconv.AppendInt(c.scratch, c.count, 10)
	case idv.Type() == fastjson.TypeString:
		b, _ := idv.StringBytes()
		c.scratch = append(c.scratch, b...)
	case idv.Type() == fastjson.TypeNumber:
		c.scratch = idv.MarshalTo(c.scratch)
	default:
		return dst, translators.Malformed(`"id" must be a string or a number`)
	}
	if len(c.scratch) > MaxIDLength {
		return dst, translators.Malformed(`"id" is too long`)
	}
	idEnd := len(c.scratch)
	var ctx []byte
	if cv := body.Get("context"); cv != nil && cv.Type() != fastjson.TypeNull {
		c.scratch = fjson.AppendValue(c.scratch, cv)
		ctx = c.scratch[idEnd:]
	}
	id = c.scratch[:idEnd:idEnd]
	return append(dst, translators.Event{Kind: translators.KindUserMessage, ID: id, Text: text, Value: ctx}), nil
}

func (c *codec) decodeBackend(dst []translators.Event, v *fastjson.Value) ([]translators.Event, error) {
	t := v.GetStringBytes("type")
	id := v.GetStringBytes("id")
	agent := v.GetStringBytes("agent")
	switch string(t) {
	case "connected":
		if a := v.GetArray("agents"); len(a) > 0 {
			agent, _ = a[0].StringBytes()
		}
		return append(dst, translators.Event{Kind: translators.KindReady, Agent: agent, ID: v.GetStringBytes("connector_run_id")}), nil
	case "stream_start":
		return append(dst, translators.Event{Kind: translators.KindTurnStart, ID: id, Agent: agent}), nil
	case "stream_chunk":
		chunk := v.Get("chunk")
		if chunk == nil {
			return dst, translators.Malformed(`stream_chunk without "chunk"`)
		}
		b, err := chunk.StringBytes()
		if err != nil {
			return dst, translators.Malformed(`"chunk" must be a string`)
		}
		return append(dst, translators.Event{Kind: translators.KindTextDelta, ID: id, Agent: agent, Text: b}), nil
	case "stream_end":
		return append(dst, translators.Event{Kind: translators.KindTurnEnd, ID: id, Agent: agent,
			Text: v.GetStringBytes("full_response"), Usage: usage(v)}), nil
	case "response":
		return append(dst, translators.Event{Kind: translators.KindTurnEnd, ID: id, Agent: agent,
			Text: v.GetStringBytes("response"), Usage: usage(v)}), nil
	case "error":
		msg := v.GetStringBytes("message")
		if msg == nil {
			msg = v.GetStringBytes("error")
		}
		return append(dst, translators.Event{Kind: translators.KindError, ID: id, Text: msg, Code: v.GetStringBytes("code")}), nil
	}
	// ack, pong and types this proxy does not know carry nothing to relay.
	return dst, nil
}

func usage(v *fastjson.Value) translators.Usage {
	u := translators.UnknownUsage
	tu := v.Get("token_usage")
	if tu == nil {
		return u
	}
	if p := tu.Get("prompt_tokens"); p != nil {
		u.InputTokens = p.GetInt64()
	}
	if c := tu.Get("candidates_tokens"); c != nil {
		u.OutputTokens = c.GetInt64()
	}
	return u
}

// clip shortens an echoed value for an error message.
func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

func (c *codec) Encode(dst []byte, ev *translators.Event) ([]byte, error) {
	if c.role == translators.Backend {
		return c.encodeBackend(dst, ev), nil
	}
	stream := c.reply != translators.ReplyWhole
	switch ev.Kind {
	case translators.KindReady:
		dst = append(dst, `{"type":"connected","connector_run_id":`...)
		dst = jsonx.AppendString(dst, ev.ID)
		dst = append(dst, `,"session_id":`...)
		dst = jsonx.AppendString(dst, ev.ID)
		dst = append(dst, `,"agents":[`...)
		dst = jsonx.AppendString(dst, c.agentOf(ev))
		if !c.named && len(ev.Agent) > 0 {
			// The agent announced here names the session's replies too,
			// when the backend's reply events do not name one.
			c.agent = append(c.agent[:0:0], ev.Agent...)
		}
		return append(dst, "]}"...), nil
	case translators.KindAck:
		dst = c.head(dst, "ack", ev.ID, nil)
		dst = jsonx.AppendField(dst, "message_number")
		dst = jsonx.AppendInt(dst, ev.Seq)
		return append(dst, '}'), nil
	case translators.KindTurnStart:
		if stream {
			return append(c.head(dst, "stream_start", ev.ID, c.agentOf(ev)), '}'), nil
		}
	case translators.KindTextDelta:
		if stream {
			dst = c.head(dst, "stream_chunk", ev.ID, c.agentOf(ev))
			dst = jsonx.AppendField(dst, "chunk")
			dst = jsonx.AppendString(dst, ev.Text)
			return append(dst, '}'), nil
		}
	case translators.KindTurnEnd:
		if stream {
			dst = c.head(dst, "stream_end", ev.ID, c.agentOf(ev))
			dst = jsonx.AppendField(dst, "full_response")
		} else {
			dst = c.head(dst, "response", ev.ID, c.agentOf(ev))
			dst = jsonx.AppendField(dst, "response")
		}
		dst = jsonx.AppendString(dst, ev.Full)
		dst = jsonx.AppendField(dst, "token_usage")
		dst = append(dst, `{"prompt_tokens":`...)
		dst = jsonx.AppendInt(dst, max(ev.Usage.InputTokens, 0))
		dst = append(dst, `,"candidates_tokens":`...)
		dst = jsonx.AppendInt(dst, max(ev.Usage.OutputTokens, 0))
		return append(dst, "}}"...), nil
	case translators.KindError, translators.KindCancel:
		dst = c.head(dst, "error", ev.ID, nil)
		dst = jsonx.AppendField(dst, "code")
		switch {
		case len(ev.Code) > 0:
			dst = jsonx.AppendString(dst, ev.Code)
		case ev.Kind == translators.KindCancel:
			dst = jsonx.AppendStr(dst, "cancelled")
		default:
			dst = jsonx.AppendStr(dst, "agent_error")
		}
		dst = jsonx.AppendField(dst, "message")
		dst = jsonx.AppendString(dst, ev.Text)
		return append(dst, '}'), nil
	case translators.KindToolStart, translators.KindToolInputDelta, translators.KindToolInput,
		translators.KindToolOutput, translators.KindToolError, translators.KindStepStart,
		translators.KindStepEnd, translators.KindMetadata, translators.KindState:
		// Connic streams text only: tool calls, steps, metadata and state
		// have no place in it and are dropped.
		return dst, nil
	case translators.KindFrame:
		return translators.PassFrame(dst, ev, Dialect.Name), nil
	}
	// Thinking and rewrites are not sent (see the package doc); the other
	// kinds never reach a client's encoder.
	return dst, nil
}

// head appends {"type":typ and, when set, "id" and "agent".
func (c *codec) head(dst []byte, typ string, id, agent []byte) []byte {
	dst = append(dst, `{"type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, '"')
	if len(id) > 0 {
		dst = jsonx.AppendField(dst, "id")
		dst = jsonx.AppendString(dst, id)
	}
	if agent != nil {
		dst = jsonx.AppendField(dst, "agent")
		dst = jsonx.AppendString(dst, agent)
	}
	return dst
}

func (c *codec) agentOf(ev *translators.Event) []byte {
	if !c.named && len(ev.Agent) > 0 {
		return ev.Agent
	}
	return c.agent
}

func (c *codec) encodeBackend(dst []byte, ev *translators.Event) []byte {
	switch ev.Kind {
	case translators.KindOpen:
		if c.secret != "" {
			dst = append(dst, `{"secret":`...)
			dst = jsonx.AppendStr(dst, c.secret)
			return append(dst, '}')
		}
	case translators.KindUserMessage:
		dst = append(dst, `{"type":"message"`...)
		if len(ev.ID) > 0 {
			dst = jsonx.AppendField(dst, "id")
			dst = jsonx.AppendString(dst, ev.ID)
		}
		dst = append(dst, `,"payload":{"message":`...)
		dst = jsonx.AppendString(dst, ev.Text)
		if len(ev.Value) > 0 {
			dst = append(dst, `,"context":`...)
			dst = append(dst, ev.Value...)
		}
		return append(dst, "}}"...)
	case translators.KindToolOutput, translators.KindToolError, translators.KindState:
		// A Connic backend runs its own tools and keeps no shared state:
		// a client's tool results and state have no place.
		return dst
	case translators.KindFrame:
		return translators.PassFrame(dst, ev, Dialect.Name)
	}
	// Cancellations cannot be carried; the other kinds never reach a
	// backend's encoder.
	return dst
}
