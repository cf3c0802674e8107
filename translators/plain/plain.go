// Package plain is the Cloudflare-Agents-style plain dialect: one text
// message in is one user message, and text messages out are the agent's
// reply.
//
// Client side (the proxy is the server): every message a client sends,
// whatever its content, is one user message. Replies go out as one message
// holding the whole answer when the turn ends (ReplyWhole, the default), or
// as one message per text chunk followed by Options.EndMarker when set
// (ReplyStream). Thinking is not sent. Errors and cancellations go out as
// {"type":"error","code":...,"message":...}, since a plain client has no
// other way to tell them from text.
//
// Backend side (the proxy is the client): a user message goes out as its
// text; context and cancellations cannot be carried. By default each message
// the backend sends is one whole reply. With Options.Chunked a reply is
// several messages ending with Options.EndMarker, or, when there is no
// marker, with an idle gap the proxy detects.
package plain

import (
	"github.com/agentbridge/agentbridge/internal/jsonx"
	"github.com/agentbridge/agentbridge/translators"
)

// Dialect is the plain dialect's descriptor.
var Dialect = translators.Dialect{
	Name:          "plain",
	New:           New,
	SameShape:     sameShape,
	RouteKeys:     routeKeys,
	BackendKeys:   backendKeys,
	CheckRoute:    checkRoute,
	CheckBackend:  checkBackend,
	ClientOptions: clientOptions,
	Endpoint:      endpoint,
}

// sameShape: frames can be relayed as they are when the client gets replies
// the way the backend sends them: whole, or chunked with the same marker.
func sameShape(client, backend translators.Options) bool {
	stream := client.Reply == translators.ReplyStream
	return stream == backend.Chunked && client.EndMarker == backend.EndMarker
}

// New returns a plain codec configured by o.
func New(o translators.Options) translators.Codec {
	c := &codec{role: o.Role, reply: o.Reply, chunked: o.Chunked, marker: o.EndMarker}
	if c.reply == translators.ReplyDefault {
		c.reply = translators.ReplyWhole
	}
	return c
}

// codec keeps of its Options only what it reads (a session holds one for
// as long as it lives).
type codec struct {
	role    translators.Role
	reply   translators.ReplyMode
	chunked bool
	marker  string
}

var _ translators.Codec = (*codec)(nil)

func (c *codec) Decode(dst []translators.Event, msg []byte) ([]translators.Event, error) {
	if c.role == translators.Client {
		return append(dst, translators.Event{Kind: translators.KindUserMessage, Text: msg}), nil
	}
	switch {
	case !c.chunked:
		return append(dst, translators.Event{Kind: translators.KindTurnEnd, Text: msg, Usage: translators.UnknownUsage}), nil
	case len(c.marker) > 0 && string(msg) == c.marker:
		return append(dst, translators.Event{Kind: translators.KindTurnEnd, Usage: translators.UnknownUsage}), nil
	default:
		return append(dst, translators.Event{Kind: translators.KindTextDelta, Text: msg}), nil
	}
}

func (c *codec) Encode(dst []byte, ev *translators.Event) ([]byte, error) {
	if c.role == translators.Backend {
		switch ev.Kind {
		case translators.KindUserMessage:
			return append(dst, ev.Text...), nil
		case translators.KindFrame:
			return translators.PassFrame(dst, ev, Dialect.Name), nil
		}
		// Cancellations, a client's tool results and state have no place
		// in a plain frame; the other kinds never reach a backend's
		// encoder.
		return dst, nil
	}
	switch ev.Kind {
	case translators.KindTextDelta:
		if c.reply == translators.ReplyStream {
			return append(dst, ev.Text...), nil
		}
	case translators.KindTextReplace:
		// A rewrite of the answer: a streaming client gets the new whole
		// text; a whole-reply client gets it at the end anyway.
		if c.reply == translators.ReplyStream {
			return append(dst, ev.Text...), nil
		}
	case translators.KindTurnEnd:
		if c.reply == translators.ReplyWhole {
			return append(dst, ev.Full...), nil
		}
		if len(c.marker) > 0 {
			return append(dst, c.marker...), nil
		}
	case translators.KindError:
		return appendError(dst, ev.Code, ev.Text, "error"), nil
	case translators.KindCancel:
		return appendError(dst, ev.Code, ev.Text, "cancelled"), nil
	case translators.KindToolStart, translators.KindToolInputDelta, translators.KindToolInput,
		translators.KindToolOutput, translators.KindToolError, translators.KindStepStart,
		translators.KindStepEnd, translators.KindMetadata, translators.KindState:
		// A plain client gets the answer's text only: tool calls, steps,
		// metadata and state are dropped.
		return dst, nil
	case translators.KindFrame:
		return translators.PassFrame(dst, ev, Dialect.Name), nil
	}
	// Thinking is not sent, and a whole-reply client gets the text at the
	// end; the other kinds never reach a client's encoder.
	return dst, nil
}

func appendError(dst, code, text []byte, defaultCode string) []byte {
	dst = append(dst, `{"type":"error","code":`...)
	if len(code) > 0 {
		dst = jsonx.AppendString(dst, code)
	} else {
		dst = jsonx.AppendStr(dst, defaultCode)
	}
	dst = append(dst, `,"message":`...)
	dst = jsonx.AppendString(dst, text)
	return append(dst, '}')
}
