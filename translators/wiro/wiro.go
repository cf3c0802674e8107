// Package wiro is Wiro's agent dialect: accumulated text. A client sends a
// message by REST (POST .../UserAgent/Message/Send, answered with an
// agenttoken) and subscribes to the reply on the socket with
// {"type":"agent_info","agenttoken":...}. Every agent_output carries the
// whole text so far, with thinking split out of <think>...</think> and live
// metrics.
//
// Client side (the proxy serves Wiro): Decode reads subscriptions
// (KindSubscribe). Encode writes agent_subscribed (KindSubscribed, whose
// Code is a translators.ReplyStatus name, written as Wiro's status word),
// agent_start (TurnStart), agent_output (every text, thinking or replace
// event, from Event.Full and Event.Thinking), agent_end (TurnEnd),
// agent_error (Error) and agent_cancel (Cancel). Metrics: wordCount counts
// the answer's words, tokenCount is Usage.OutputTokens, speed is words per
// second of Event.Elapsed.
//
// Backend side (the proxy is a Wiro client): the proxy routes the shared
// socket's messages by their agenttoken (REST.FrameToken). Decode reads
// agent_subscribed as KindSubscribed with the canonical status, and turns
// agent_output and agent_end into TextSnapshot and TurnEnd events carrying
// the whole answer and thinking, which translators.Turn turns into deltas
// (or a replace when the text was rewritten). Wiro reports no prompt
// tokens: Usage.InputTokens is -1.
package wiro

import (
	"bytes"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/agentbridge/agentbridge/internal/jsonx"
	"github.com/agentbridge/agentbridge/translators"
)

// Dialect is the Wiro dialect's descriptor.
var Dialect = translators.Dialect{
	Name:       "wiro",
	New:        New,
	AuthHeader: "x-api-key",
	AuthQuery:  "x-api-key",
	REST:       &rest,

	Title:       "Wiro",
	BackendKeys: backendKeys,
	Endpoint:    endpoint,
}

// New returns a Wiro codec configured by o.
func New(o translators.Options) translators.Codec { return &codec{role: o.Role} }

type codec struct {
	role    translators.Role
	parser  fastjson.Parser
	answer  []byte // Decode's scratch: joined answer segments
	think   []byte // Decode's scratch: joined thinking segments
	escaped []byte // Encode's scratch: the raw text with tags

	// Encode's memory of the answer text it last wrote (ans, a copy of
	// Event.Full), escaped (ansEsc, no quotes) and its words counted
	// (ansWords; ansIn: it ends inside a word). Every agent_output carries
	// the whole answer so far, twice: the next message of the same reply
	// escapes and counts only what was added to it.
	ans      []byte
	ansEsc   []byte
	ansWords int
	ansIn    bool
}

var _ translators.Codec = (*codec)(nil)

func (c *codec) Decode(dst []translators.Event, msg []byte) ([]translators.Event, error) {
	v, err := c.parser.ParseBytes(msg)
	if err != nil {
		return dst, translators.Malformed("invalid JSON")
	}
	if v.Type() != fastjson.TypeObject {
		return dst, translators.Malformed("expected a JSON object")
	}
	t := v.Get("type")
	if t == nil {
		return dst, translators.Malformed(`missing "type"`)
	}
	typ, err := t.StringBytes()
	if err != nil {
		return dst, translators.Malformed(`"type" must be a string`)
	}
	token := v.GetStringBytes("agenttoken")
	if c.role == translators.Client {
		if string(typ) != "agent_info" {
			return dst, translators.Malformed(`unknown type "` + clip(typ) + `"`)
		}
		if len(token) == 0 {
			return dst, translators.Malformed(`"agenttoken" must be a non-empty string`)
		}
		return append(dst, translators.Event{Kind: translators.KindSubscribe, ID: token}), nil
	}
	switch string(typ) {
	case "agent_subscribed":
		ev := translators.Event{Kind: translators.KindSubscribed, ID: token, Code: statusOf(v.GetStringBytes("status")).Code()}
		c.answer, c.think = splitThink(c.answer[:0], c.think[:0], v.GetStringBytes("debugoutput"))
		ev.Full, ev.Thinking = c.answer, c.think
		return append(dst, ev), nil
	case "agent_start":
		return append(dst, translators.Event{Kind: translators.KindTurnStart, ID: token}), nil
	case "agent_output", "agent_end":
		m := v.Get("message")
		if m == nil || m.Type() != fastjson.TypeObject {
			return dst, translators.Malformed(`"message" must be an object`)
		}
		c.progress(m)
		ev := translators.Event{Kind: translators.KindTextSnapshot, ID: token, Text: c.answer, Thinking: c.think}
		if string(typ) == "agent_end" {
			ev.Kind = translators.KindTurnEnd
			ev.Usage = translators.Usage{InputTokens: -1, OutputTokens: m.GetInt64("tokenCount")}
		}
		return append(dst, ev), nil
	case "agent_error":
		ev := translators.Event{Kind: translators.KindError, ID: token, Code: []byte("agent_error")}
		m := v.Get("message")
		switch {
		case m == nil:
		case m.Type() == fastjson.TypeString:
			ev.Text, _ = m.StringBytes()
		case m.Type() == fastjson.TypeObject:
			// A structured error: the reply itself says it failed.
			c.progress(m)
			ev.Text = c.answer
		}
		return append(dst, ev), nil
	case "agent_cancel":
		return append(dst, translators.Event{Kind: translators.KindCancel, ID: token, Text: v.GetStringBytes("message")}), nil
	}
	return dst, nil // task events and types this proxy does not know
}

// progress reads a progressGenerate object into c.answer and c.think:
// the answer and thinking arrays when present, else raw split at its
// <think> tags.
func (c *codec) progress(m *fastjson.Value) {
	c.answer, c.think = c.answer[:0], c.think[:0]
	answer, thinking := m.GetArray("answer"), m.GetArray("thinking")
	if answer == nil && thinking == nil {
		c.answer, c.think = splitThink(c.answer, c.think, m.GetStringBytes("raw"))
		return
	}
	for _, a := range answer {
		b, _ := a.StringBytes()
		c.answer = append(c.answer, b...)
	}
	for _, t := range thinking {
		b, _ := t.StringBytes()
		c.think = append(c.think, b...)
	}
}

var (
	openTag  = []byte("<think>")
	closeTag = []byte("</think>")
)

// splitThink appends raw's text outside <think>...</think> blocks to answer
// and the text inside them to thinking. An unclosed block is thinking in
// progress.
func splitThink(answer, thinking, raw []byte) ([]byte, []byte) {
	for len(raw) > 0 {
		i := bytes.Index(raw, openTag)
		if i < 0 {
			return append(answer, raw...), thinking
		}
		answer = append(answer, raw[:i]...)
		raw = raw[i+len(openTag):]
		j := bytes.Index(raw, closeTag)
		if j < 0 {
			return answer, append(thinking, raw...)
		}
		thinking = append(thinking, raw[:j]...)
		raw = raw[j+len(closeTag):]
	}
	return answer, thinking
}

func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

func (c *codec) Encode(dst []byte, ev *translators.Event) ([]byte, error) {
	if c.role == translators.Backend {
		// A Wiro backend is spoken to over REST; the socket only carries
		// subscriptions, which the proxy's subscriber writes.
		switch ev.Kind {
		case translators.KindSubscribe:
			dst = append(dst, `{"type":"agent_info","agenttoken":`...)
			dst = jsonx.AppendString(dst, ev.ID)
			return append(dst, '}'), nil
		case translators.KindFrame:
			return translators.PassFrame(dst, ev, Dialect.Name), nil
		}
		// User messages and cancellations go by REST; a client's tool
		// results and state have no place in Wiro.
		return dst, nil
	}
	switch ev.Kind {
	case translators.KindSubscribed:
		dst = head(dst, "agent_subscribed", ev.ID)
		// Code is the reply's canonical status (translators.ReplyStatus).
		status := translators.ReplyStatusOf(ev.Code)
		dst = append(dst, `,"status":`...)
		dst = jsonx.AppendStr(dst, statusWord(status))
		dst = append(dst, `,"debugoutput":`...)
		c.escaped = appendRaw(c.escaped[:0], ev.Full, ev.Thinking, len(ev.Full) == 0 && status == translators.ReplyStreaming)
		dst = jsonx.AppendString(dst, c.escaped)
		return append(dst, `,"result":true}`...), nil
	case translators.KindTurnStart:
		return append(head(dst, "agent_start", ev.ID), `,"message":"","result":true}`...), nil
	case translators.KindTextDelta, translators.KindThinkingDelta, translators.KindTextReplace:
		return c.output(dst, "agent_output", ev, true), nil
	case translators.KindTurnEnd:
		return c.output(dst, "agent_end", ev, true), nil
	case translators.KindError:
		dst = head(dst, "agent_error", ev.ID)
		dst = append(dst, `,"message":`...)
		dst = jsonx.AppendString(dst, ev.Text)
		return append(dst, `,"result":false}`...), nil
	case translators.KindCancel:
		dst = head(dst, "agent_cancel", ev.ID)
		dst = append(dst, `,"message":`...)
		text := ev.Text
		if len(text) == 0 {
			text = []byte("The operation was aborted.")
		}
		dst = jsonx.AppendString(dst, text)
		return append(dst, `,"result":false}`...), nil
	case translators.KindToolStart, translators.KindToolInputDelta, translators.KindToolInput,
		translators.KindToolOutput, translators.KindToolError, translators.KindStepStart,
		translators.KindStepEnd, translators.KindMetadata, translators.KindState:
		// agent_output carries text, thinking and metrics only: tool calls,
		// steps, metadata and state are dropped.
		return dst, nil
	case translators.KindFrame:
		return translators.PassFrame(dst, ev, Dialect.Name), nil
	}
	// The other kinds never reach a client's encoder.
	return dst, nil
}

func head(dst []byte, typ string, token []byte) []byte {
	dst = append(dst, `{"type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, `","agenttoken":`...)
	return jsonx.AppendString(dst, token)
}

// appendRaw appends the raw text: thinking in <think> tags, then the answer.
// While the model is still thinking the tag stays open, as a model's raw
// output has it, so each raw text extends the one before.
func appendRaw(dst, answer, thinking []byte, thinkingNow bool) []byte {
	if len(thinking) > 0 {
		dst = append(dst, openTag...)
		dst = append(dst, thinking...)
		if !thinkingNow {
			dst = append(dst, closeTag...)
		}
	}
	return append(dst, answer...)
}

// output appends an agent_output or agent_end message with the whole text
// so far and the metrics.
func (c *codec) output(dst []byte, typ string, ev *translators.Event, result bool) []byte {
	esc, words := c.answerOf(ev.Full)
	dst = head(dst, typ, ev.ID)
	dst = append(dst, `,"message":{"type":"progressGenerate","task":"Generate","speed":"`...)
	speed := 0.0
	if s := ev.Elapsed.Seconds(); s > 0 {
		speed = float64(words) / s
	}
	dst = strconv.AppendFloat(dst, speed, 'f', 1, 64)
	dst = append(dst, `","speedType":"words/s","elapsedTime":"`...)
	dst = strconv.AppendFloat(dst, ev.Elapsed.Round(100*time.Millisecond).Seconds(), 'f', 1, 64)
	dst = append(dst, `s","tokenCount":`...)
	dst = jsonx.AppendInt(dst, max(ev.Usage.OutputTokens, 0))
	dst = append(dst, `,"wordCount":`...)
	dst = jsonx.AppendInt(dst, int64(words))
	dst = append(dst, `,"raw":`...)
	if len(ev.Thinking) == 0 {
		dst = appendQuoted(dst, esc) // the raw text is the answer
	} else {
		c.escaped = appendRaw(c.escaped[:0], ev.Full, ev.Thinking, ev.Kind == translators.KindThinkingDelta)
		dst = jsonx.AppendString(dst, c.escaped)
	}
	dst = append(dst, `,"thinking":[`...)
	if len(ev.Thinking) > 0 {
		dst = jsonx.AppendString(dst, ev.Thinking)
	}
	dst = append(dst, `],"answer":[`...)
	if len(ev.Full) > 0 {
		dst = appendQuoted(dst, esc)
	}
	dst = append(dst, `],"isThinking":`...)
	dst = jsonx.AppendBool(dst, ev.Kind == translators.KindThinkingDelta)
	dst = append(dst, `},"result":`...)
	dst = jsonx.AppendBool(dst, result)
	return append(dst, '}')
}

// answerOf returns full escaped (no quotes) and its word count. When full
// extends the answer the last call saw, only the added bytes are escaped
// and counted; escaping in parts gives the same bytes when the added part
// begins where a UTF-8 sequence may (jsonx.AppendEscaped). The result is
// valid until the next call.
func (c *codec) answerOf(full []byte) ([]byte, int) {
	n := len(c.ans)
	if n > len(full) || (n < len(full) && !utf8.RuneStart(full[n])) || !bytes.Equal(full[:n], c.ans) {
		c.ans, c.ansEsc, c.ansWords, c.ansIn = c.ans[:0], c.ansEsc[:0], 0, false
		n = 0
	}
	add := full[n:]
	c.ans = append(translators.Reserve(c.ans, len(add), 1<<10), add...)
	c.ansEsc = jsonx.AppendEscaped(translators.Reserve(c.ansEsc, len(add), 1<<10), add)
	c.ansWords, c.ansIn = countWords(add, c.ansWords, c.ansIn)
	return c.ansEsc, c.ansWords
}

func appendQuoted(dst, escaped []byte) []byte {
	dst = append(dst, '"')
	dst = append(dst, escaped...)
	return append(dst, '"')
}

// countWords adds to n the words that b begins (in: the text before b
// ended inside a word), and reports whether b ends inside one.
func countWords(b []byte, n int, in bool) (int, bool) {
	for _, c := range b {
		space := c == ' ' || c == '\n' || c == '\t' || c == '\r'
		if !space && !in {
			n++
		}
		in = !space
	}
	return n, in
}
