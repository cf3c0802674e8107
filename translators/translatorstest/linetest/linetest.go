// Package linetest is a dialect for tests only: a fifth wire format, kept
// outside proxy/ and config/, that proves a dialect is one package plus one
// line in the dialect table (cmd/agentbridge/dialect_test.go).
//
// Every message is a verb, a space and text. A client sends "say <text>"
// and gets each whole reply as "<tag> <text>", tag being its route's key
// (default "reply"); problems come as "error <text>". To a backend the
// proxy sends "<verb> <text>", verb being the backend's key (say or ask),
// and reads each message "reply <text>" as one whole reply.
//
// It also exercises the parts of the contract the proxy drives for a
// dialect: either peer may send "ping <text>", which the codec answers on
// the same leg with "pong <text>" (a KindReply), and with a heartbeat key
// set the proxy sends "beat <n>" to that peer at that interval (a Ticker).
package linetest

import (
	"bytes"
	"strconv"
	"time"

	"github.com/agentbridge/agentbridge/translators"
)

// Dialect is the line dialect.
var Dialect = translators.Dialect{
	Name: "line",
	New:  New,
	RouteKeys: []translators.Key{
		{Name: "tag", Kind: translators.KeyString, Default: "reply", Doc: "the word that starts each reply to a client"},
		{Name: "heartbeat", Kind: translators.KeyDuration, Default: "0s", Doc: "how often clients get \"beat <n>\"; 0: never"},
	},
	BackendKeys: []translators.Key{
		{Name: "verb", Kind: translators.KeyEnum, Values: []string{"say", "ask"}, Default: "say", Doc: "the word that starts each message to the backend"},
		{Name: "heartbeat", Kind: translators.KeyDuration, Default: "0s", Doc: "how often the backend gets \"beat <n>\"; 0: never"},
	},
	TickEvery: func(o translators.Options) time.Duration { return o.Settings.Duration("heartbeat") },
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
	role  translators.Role
	word  []byte // the route's tag or the backend's verb
	beats int    // heartbeats sent
	reply []byte // scratch for the answer to a ping
}

func (c *codec) Decode(dst []translators.Event, msg []byte) ([]translators.Event, error) {
	verb, text, _ := bytes.Cut(msg, []byte(" "))
	switch {
	case string(verb) == "ping":
		c.reply = append(append(c.reply[:0], "pong "...), text...)
		return append(dst, translators.Event{Kind: translators.KindReply, Raw: c.reply}), nil
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

// Tick sends the next heartbeat.
func (c *codec) Tick(dst []byte) ([]byte, error) {
	c.beats++
	return strconv.AppendInt(append(dst, "beat "...), int64(c.beats), 10), nil
}
