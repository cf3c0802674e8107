package translatorstest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/translators"
)

// Canonical is a test dialect whose wire is the canonical model itself: a
// message is one event written as an encode directive's key=value pairs
// (kind=tool_start ref="c1" name="search"), and Encode writes FormatEvent.
// Its transcripts test translators.Turn on kinds no dialect decodes yet.
var Canonical = translators.Dialect{Name: "canonical", New: newCanonical}

func newCanonical(translators.Options) translators.Codec { return canonical{} }

type canonical struct{}

func (canonical) Decode(dst []translators.Event, msg []byte) ([]translators.Event, error) {
	kv, err := parseKV(string(msg))
	if err != nil {
		return dst, translators.Malformed(err.Error())
	}
	ev, err := eventFromKV(kv)
	if err != nil {
		return dst, translators.Malformed(err.Error())
	}
	return append(dst, ev), nil
}

func (canonical) Encode(dst []byte, ev *translators.Event) ([]byte, error) {
	return append(dst, FormatEvent(ev)...), nil
}

// Every returns an event of kind k with every field set, so that an
// encoder reading any field finds something there; Name is dialect.
func Every(k translators.Kind, dialect string) translators.Event {
	b := func(s string) []byte { return []byte(s) }
	return translators.Event{
		Kind: k, ID: b("id-1"), Agent: b("agent"), Text: b("text \"quoted\""), Full: b("full text"),
		Thinking: b("thinking"), Value: b(`{"k":[1,"v"]}`), Name: b(dialect), Ref: b("call-1"),
		Code: b("code"), Raw: b(`{"raw":true}`), Usage: translators.Usage{InputTokens: 3, OutputTokens: 5},
		Seq: 2, Elapsed: 1500 * time.Millisecond,
	}
}

// EncodeKinds encodes Every(k, dialect) for every kind with a codec made
// from o, and returns the kinds that produced a message, in order, by name. It
// fails t when an Encode returns an error, panics, or changes what dst
// held before: a dialect with no place for a kind returns dst unchanged.
func EncodeKinds(t testing.TB, d translators.Dialect, o translators.Options, dialect string) string {
	t.Helper()
	var sent []string
	c := d.New(o)
	for k := translators.Kind(0); k < translators.NumKinds; k++ {
		ev := Every(k, dialect)
		out, err := encodeNoPanic(c, []byte("prefix"), &ev)
		for n := 0; err == translators.ErrMore && n < 64; n++ {
			out, err = encodeNoPanic(c, out, &ev)
		}
		switch {
		case err != nil:
			t.Errorf("%s %v Encode(%v): %v", d.Name, o.Role, k, err)
		case !strings.HasPrefix(string(out), "prefix"):
			t.Errorf("%s %v Encode(%v) changed dst: %q", d.Name, o.Role, k, out)
		case len(out) > len("prefix"):
			sent = append(sent, k.String())
		}
	}
	return strings.Join(sent, " ")
}

func encodeNoPanic(c translators.Codec, dst []byte, ev *translators.Event) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return c.Encode(dst, ev)
}

// EncodeAll encodes ev with c, following ErrMore, and returns the
// messages; it fails t on an error or an Encode that never ends.
func EncodeAll(t testing.TB, c translators.Codec, ev translators.Event) []string {
	t.Helper()
	var out []string
	for n := 0; n < 16; n++ {
		b, err := c.Encode(nil, &ev)
		if len(b) > 0 {
			out = append(out, string(b))
		}
		if err == translators.ErrMore {
			continue
		}
		if err != nil {
			t.Fatalf("Encode(%v): %v", ev.Kind, err)
		}
		return out
	}
	t.Fatalf("Encode(%v) never ended", ev.Kind)
	return nil
}
