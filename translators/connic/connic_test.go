package connic_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/translators"
	"github.com/agentbridge/agentbridge/translators/connic"
	"github.com/agentbridge/agentbridge/translators/translatorstest"
)

func TestGolden(t *testing.T) {
	translatorstest.RunGolden(t, connic.Dialect, "testdata")
}

// TestEncodedJSONIsValid decodes every client-side message with
// encoding/json, so escaping mistakes cannot hide in the goldens.
func TestEncodedJSONIsValid(t *testing.T) {
	c := connic.New(translators.Options{Role: translators.Client})
	evs := []translators.Event{
		{Kind: translators.KindReady, ID: []byte("r\"1")},
		{Kind: translators.KindAck, ID: []byte("a\nb"), Seq: 3},
		{Kind: translators.KindTurnStart, ID: []byte("x")},
		{Kind: translators.KindTextDelta, ID: []byte("x"), Text: []byte("\u2028\x00\"")},
		{Kind: translators.KindTurnEnd, ID: []byte("x"), Full: []byte("done\xff")},
		{Kind: translators.KindError, Text: []byte("e")},
	}
	for _, ev := range evs {
		out, err := c.Encode(nil, &ev)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Errorf("%v: invalid JSON %s: %v", ev.Kind, out, err)
		}
	}
}

// TestContextStaysJSON: a client's context reaches the backend as valid
// JSON with the same value, whatever its strings hold (escaped control
// characters came out as Go escapes such as \x01).
func TestContextStaysJSON(t *testing.T) {
	for _, ctx := range []string{
		`"\u0001"`, `"\u0007\u000b\u007f"`, `"\udb40\udc01"`, `"a\"b\\c\/d"`,
		`{"\u0001":["\u001f",{"k\n":"v\t"}],"n":-1.5e3,"t":true,"f":false,"z":null}`,
		`[]`, `{}`, `12`,
	} {
		in := `{"message":"m","context":` + ctx + `}`
		evs, err := connic.New(translators.Options{Role: translators.Client}).Decode(nil, []byte(in))
		if err != nil {
			t.Fatalf("Decode(%s): %v", in, err)
		}
		out, err := connic.New(translators.Options{Role: translators.Backend}).Encode(nil, &evs[0])
		if err != nil {
			t.Fatal(err)
		}
		var got, want struct{ Payload struct{ Context any } }
		if err := json.Unmarshal(out, &got); err != nil {
			t.Errorf("context %s: invalid JSON to the backend %s: %v", ctx, out, err)
			continue
		}
		_ = json.Unmarshal([]byte(`{"payload":{"context":`+ctx+`}}`), &want)
		if g, w := fmt.Sprint(got.Payload.Context), fmt.Sprint(want.Payload.Context); g != w {
			t.Errorf("context %s reached the backend as %s (%s), want %s", ctx, out, g, w)
		}
	}
}

func TestAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	client := translators.Options{Role: translators.Client}
	backend := translators.Options{Role: translators.Backend}
	msgs := []struct {
		o   translators.Options
		msg string
	}{
		{client, `{"type":"message","id":"msg-001","payload":{"message":"What is the weather like today?","context":{"location":"New York"}}}`},
		{client, `{"message":"Hello!"}`},
		{backend, `{"type":"stream_chunk","id":"msg-001","agent":"assistant","chunk":"New York is sunny."}`},
		{backend, `{"type":"stream_end","id":"msg-001","agent":"assistant","full_response":"x","token_usage":{"prompt_tokens":45,"candidates_tokens":15}}`},
	}
	for _, m := range msgs {
		if n := translatorstest.DecodeAllocs(connic.Dialect, m.o, []byte(m.msg)); n != 0 {
			t.Errorf("Decode(%s) allocs = %v, want 0", m.msg, n)
		}
	}
	evs := []struct {
		o  translators.Options
		ev translators.Event
	}{
		{client, translators.Event{Kind: translators.KindTextDelta, ID: []byte("msg-001"), Text: []byte("chunk of text")}},
		{client, translators.Event{Kind: translators.KindTurnEnd, ID: []byte("msg-001"), Full: []byte("full"), Usage: translators.Usage{InputTokens: 1, OutputTokens: 2}}},
		{client, translators.Event{Kind: translators.KindAck, ID: []byte("msg-001"), Seq: 7}},
		{backend, translators.Event{Kind: translators.KindUserMessage, ID: []byte("msg-001"), Text: []byte("hi"), Value: []byte(`{"a":1}`)}},
		{client, translators.Event{Kind: translators.KindToolInput, Ref: []byte("c1"), Name: []byte("t"), Value: []byte(`{}`)}},
		{client, translators.Event{Kind: translators.KindFrame, Name: []byte("connic"), Code: []byte("x"), Raw: []byte(`{"type":"x"}`)}},
	}
	for _, e := range evs {
		if n := translatorstest.EncodeAllocs(connic.Dialect, e.o, e.ev); n != 0 {
			t.Errorf("Encode(%v) allocs = %v, want 0", e.ev.Kind, n)
		}
	}
}

// FuzzDecode: any input either decodes or is refused with ErrMalformed;
// decoded events re-encode to valid JSON in the other role.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"secret":"x"}`, `{"message":"hi"}`,
		`{"type":"message","id":"1","payload":{"message":"m","context":{"a":[1,2]}}}`,
		`{"type":"stream_chunk","id":"1","chunk":"c"}`, `{"type":"connected","agents":["a"]}`,
		`{"type":"stream_end","full_response":"x","token_usage":{"prompt_tokens":1}}`, `[`, `null`,
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, msg string, backend bool) {
		role, other := translators.Client, translators.Backend
		if backend {
			role, other = other, role
		}
		evs, err := connic.New(translators.Options{Role: role}).Decode(nil, []byte(msg))
		if err != nil {
			return
		}
		enc := connic.New(translators.Options{Role: other})
		for i := range evs {
			out, err := enc.Encode(nil, &evs[i])
			if err != nil {
				t.Fatalf("Encode(%v): %v", evs[i].Kind, err)
			}
			if len(out) > 0 && !json.Valid(out) {
				t.Fatalf("Encode(%v) = invalid JSON %q from %q", evs[i].Kind, out, msg)
			}
		}
	})
}

// TestEncodeEveryKind: every kind, in every role and mode, encodes without
// an error or a panic, and only the kinds Connic has a place for produce a
// message; the others leave dst as it was.
func TestEncodeEveryKind(t *testing.T) {
	tests := []struct {
		name string
		o    translators.Options
		want string
	}{
		{"client stream", translators.Options{Role: translators.Client}, "cancel turn_start text_delta turn_end error ready ack frame"},
		{"client whole", translators.Options{Role: translators.Client, Reply: translators.ReplyWhole}, "cancel turn_end error ready ack frame"},
		{"backend", translators.Options{Role: translators.Backend}, "user_message frame"},
		{"backend with secret", translators.Options{Role: translators.Backend, Secret: "s"}, "user_message open frame"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := translatorstest.EncodeKinds(t, connic.Dialect, tt.o, "connic"); got != tt.want {
				t.Errorf("kinds encoded = %q, want %q", got, tt.want)
			}
			if got := translatorstest.EncodeKinds(t, connic.Dialect, tt.o, "agents"); strings.Contains(got, "frame") {
				t.Errorf("a frame of another dialect was encoded: %q", got)
			}
		})
	}
}

// TestAnnouncedAgentNamesReplies: the agent named in "connected" names the
// replies that follow when the backend's events name none (an agents
// backend), so a client that matches the two sees one agent.
func TestAnnouncedAgentNamesReplies(t *testing.T) {
	c := connic.Dialect.New(translators.Options{Role: translators.Client, Reply: translators.ReplyStream})
	ready, err := c.Encode(nil, &translators.Event{Kind: translators.KindReady, ID: []byte("r1"), Agent: []byte("chat-agent")})
	if err != nil || !strings.Contains(string(ready), `"agents":["chat-agent"]`) {
		t.Fatalf("connected = %s, %v", ready, err)
	}
	start, err := c.Encode(nil, &translators.Event{Kind: translators.KindTurnStart, ID: []byte("m1")})
	if err != nil || !strings.Contains(string(start), `"agent":"chat-agent"`) {
		t.Errorf("stream_start = %s, %v; want the announced agent", start, err)
	}
}
