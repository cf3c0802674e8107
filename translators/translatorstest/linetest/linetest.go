// Package linetest is a dialect for tests only: a fifth wire format, kept
// outside proxy/ and config/, that proves a dialect is one package plus one
// line in the dialect table (cmd/agentbridge/dialect_test.go).
//
// Every message is a verb, a space and text. A client sends "say <text>"
// and gets each whole reply as "<tag> <text>", tag being its route's key
// (default "reply"); problems come as "error <text>". To a backend the
// proxy sends "<verb> <text>", verb being the backend's key (say or ask),
// and reads each message "reply <text>" as one whole reply.
package linetest

import (
	"bytes"

	"github.com/agentbridge/agentbridge/translators"
)

// Dialect is the line dialect.
var Dialect = translators.Dialect{
	Name: "line",
	New:  New,
	RouteKeys: []translators.Key{
		{Name: "tag", Kind: translators.KeyString, Default: "reply", Doc: "the word that starts each reply to a client"},
	},
	BackendKeys: []translators.Key{
		{Name: "verb", Kind: translators.KeyEnum, Values: []string{"say", "ask"}, Default: "say", Doc: "the word that starts each message to the backend"},
	},
}

// New returns a line codec reading its keys from o.Settings.
func New(o translators.Options) translators.Codec {
	c := &codec{role: o.Role}
	if o.Role == translators.Client {
		c.word = []byte(o.Settings.String("tag"))
	} else {
		c.word = []byte(o.Settings.String("verb"))
	}
	return c
}

type codec struct {
	role translators.Role
	word []byte // the route's tag or the backend's verb
}

func (c *codec) Decode(dst []translators.Event, msg []byte) ([]translators.Event, error) {
	verb, text, _ := bytes.Cut(msg, []byte(" "))
	switch {
	case c.role == translators.Client && string(verb) == "say":
		return append(dst, translators.Event{Kind: translators.KindUserMessage, Text: text}), nil
	case c.role == translators.Backend && string(verb) == "reply":
		return append(dst, translators.Event{Kind: translators.KindTurnEnd, Text: text, Usage: translators.UnknownUsage}), nil
	}
	return dst, translators.Malformed("expected a verb and text, like \"say hello\"")
}

func (c *codec) Encode(dst []byte, ev *translators.Event) ([]byte, error) {
	switch {
	case c.role == translators.Backend && ev.Kind == translators.KindUserMessage:
		return append(append(append(dst, c.word...), ' '), ev.Text...), nil
	case c.role == translators.Client && ev.Kind == translators.KindTurnEnd:
		return append(append(append(dst, c.word...), ' '), ev.Full...), nil
	case c.role == translators.Client && ev.Kind == translators.KindError:
		return append(append(dst, "error "...), ev.Text...), nil
	}
	return dst, nil
}
