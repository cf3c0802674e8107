package agents_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/translators"
	"github.com/agentbridge/agentbridge/translators/agents"
	"github.com/agentbridge/agentbridge/translators/translatorstest"
)

func TestGolden(t *testing.T) {
	translatorstest.RunGolden(t, agents.Dialect, "testdata")
}

var (
	clientOpts = translators.Options{Role: translators.Client, Peer: "demo",
		Params: []translators.Param{{Name: "agent", Value: "my-agent"}, {Name: "name", Value: "room-1"}}}
	backendOpts = translators.Options{Role: translators.Backend,
		Params: []translators.Param{{Name: translators.ConnIDParam, Value: "c"}}}
	chatRequest = `{"id":"V1StGXR8","init":{"method":"POST","body":"{\"messages\":[{\"id\":\"u1\",\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"text\":\"Hi\"}]}],\"trigger\":\"submit-message\"}"},"type":"cf_agent_use_chat_request"}`
)

// TestAllocs: streaming text deltas to a chat client, and decoding them
// from a backend, allocate nothing per frame once warm.
func TestAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are checked in the full run")
	}
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	c := agents.New(clientOpts)
	if _, err := c.Decode(nil, []byte(chatRequest)); err != nil {
		t.Fatal(err)
	}
	id := []byte("V1StGXR8")
	translatorstest.EncodeAll(t, c, translators.Event{Kind: translators.KindTurnStart, ID: id})
	translatorstest.EncodeAll(t, c, translators.Event{Kind: translators.KindTextDelta, ID: id, Text: []byte("first")})
	ev := translators.Event{Kind: translators.KindTextDelta, ID: id, Text: []byte("a chunk of streamed \"text\" of some length")}
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(1000, func() { buf, _ = c.Encode(buf[:0], &ev) }); n > 0.01 {
		t.Errorf("client Encode(text_delta) allocs = %v, want <= 0.01", n)
	}

	b := agents.New(backendOpts)
	if _, err := b.Encode(nil, &translators.Event{Kind: translators.KindUserMessage, Text: []byte("Hi")}); err != nil {
		t.Fatal(err)
	}
	msg := []byte(`{"body":"{\"type\":\"text-delta\",\"id\":\"t0\",\"delta\":\"a chunk of streamed text\"}","done":false,"id":"c-1","type":"cf_agent_use_chat_response","seq":5}`)
	evs := make([]translators.Event, 0, 8)
	evs, _ = b.Decode(evs[:0], msg)
	if len(evs) != 1 || evs[0].Kind != translators.KindTextDelta {
		t.Fatalf("Decode = %v", evs)
	}
	// The backend codec keeps the reply's text for the history: amortized.
	if n := testing.AllocsPerRun(1000, func() { evs, _ = b.Decode(evs[:0], msg) }); n > 0.01 {
		t.Errorf("backend Decode(text-delta) allocs = %v, want <= 0.01", n)
	}
	for _, m := range []string{`hello`, `{"type":"inquiry","q":1}`} {
		if n := translatorstest.DecodeAllocs(agents.Dialect, clientOpts, []byte(m)); n != 0 {
			t.Errorf("client Decode(%s) allocs = %v, want 0", m, n)
		}
	}
}

// TestEncodedJSONIsValid: every message the client codec writes for a chat
// reply is JSON, and so is each body it carries.
func TestEncodedJSONIsValid(t *testing.T) {
	id := []byte("V1StGXR8")
	for k := translators.Kind(1); k < translators.NumKinds; k++ {
		c := agents.New(clientOpts)
		if _, err := c.Decode(nil, []byte(chatRequest)); err != nil {
			t.Fatal(err)
		}
		ev := translatorstest.Every(k, "agents")
		ev.ID, ev.Text = id, []byte("\u2028\x00\"\xff")
		for _, m := range translatorstest.EncodeAll(t, c, ev) {
			var f struct{ Body *string }
			if err := json.Unmarshal([]byte(m), &f); err != nil {
				t.Fatalf("%v: invalid JSON %s: %v", k, m, err)
			}
			if f.Body != nil && strings.HasPrefix(*f.Body, "{") && !json.Valid([]byte(*f.Body)) {
				t.Fatalf("%v: invalid body %q", k, *f.Body)
			}
		}
	}
}

// FuzzDecode: any message, in either role, decodes or is refused with
// ErrMalformed, and what it decodes re-encodes to valid JSON in the other
// role; a client's non-envelope message is carried whole.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		chatRequest, `hello`, `{"type":"inquiry"}`, `{"type":"rpc","id":"1","method":"m","args":[]}`,
		`{"type":"cf_agent_state","state":{"a":[1,"\u0001"]}}`, `{"type":"cf_agent_chat_request_cancel","id":"x"}`,
		`{"type":"cf_agent_identity","name":"n","agent":"a"}`,
		`{"body":"{\"type\":\"text-delta\",\"id\":\"t0\",\"delta\":\"x\"}","done":false,"id":"c-1","type":"cf_agent_use_chat_response"}`,
		`{"body":"{\"type\":\"tool-input-available\",\"toolCallId\":\"c\",\"input\":{\"k\":\"\\u0007\"}}","done":false,"id":"c-1","type":"cf_agent_use_chat_response"}`,
		`{"body":"","done":true,"id":"c-1","type":"cf_agent_use_chat_response","outcome":"aborted"}`,
		`{"type":"cf_agent_tool_result","toolCallId":"c","output":[1,{"x":null}]}`, `[`, `null`,
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, msg string, backend bool) {
		role, other := clientOpts, backendOpts
		if backend {
			role, other = other, role
		}
		dec := agents.New(role)
		if backend {
			// A request of ours is in flight, so responses are decoded.
			_, _ = dec.Encode(nil, &translators.Event{Kind: translators.KindUserMessage, Text: []byte("x")})
		}
		evs, err := dec.Decode(nil, []byte(msg))
		if err != nil {
			if !errors.Is(err, translators.ErrMalformed) {
				t.Fatalf("Decode(%q): %v", msg, err)
			}
			return
		}
		enc := agents.New(other)
		for i := range evs {
			ev := evs[i]
			if !backend && ev.Kind == translators.KindUserMessage && len(ev.ID) == 0 && string(ev.Text) != msg {
				t.Fatalf("Decode(%q) text = %q", msg, ev.Text)
			}
			if ev.Kind == translators.KindReply && !json.Valid(ev.Raw) {
				t.Fatalf("Decode(%q) reply = invalid JSON %q", msg, ev.Raw)
			}
			for _, out := range translatorstest.EncodeAll(t, enc, ev) {
				if ev.Kind != translators.KindFrame && !json.Valid([]byte(out)) {
					t.Fatalf("Encode(%v) = invalid JSON %q from %q", ev.Kind, out, msg)
				}
			}
		}
	})
}

// TestEncodeEveryKind: every kind, in every role, encodes without an error
// or a panic; only the kinds this dialect has a place for produce a
// message. A client's turn kinds go out as chat frames when they answer a
// chat request, else as plain does.
func TestEncodeEveryKind(t *testing.T) {
	tests := []struct {
		name string
		o    translators.Options
		want string
	}{
		{"client (plain replies)", clientOpts, "cancel turn_end error ready open state frame resume history"},
		{"client stream (plain replies)", translators.Options{Role: translators.Client, Reply: translators.ReplyStream},
			"cancel text_delta text_replace error ready open state frame resume history"},
		{"backend", backendOpts, "user_message cancel tool_output tool_error state frame"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := translatorstest.EncodeKinds(t, agents.Dialect, tt.o, "agents"); got != tt.want {
				t.Errorf("kinds encoded = %q, want %q", got, tt.want)
			}
			if got := translatorstest.EncodeKinds(t, agents.Dialect, tt.o, "connic"); strings.Contains(got, "frame") {
				t.Errorf("a frame of another dialect was encoded: %q", got)
			}
		})
	}
	// A chat client: every kind of a reply goes out.
	c := agents.New(clientOpts)
	var sent []string
	for k := translators.Kind(1); k < translators.NumKinds; k++ {
		if _, err := c.Decode(nil, []byte(chatRequest)); err != nil {
			t.Fatal(err)
		}
		ev := translatorstest.Every(k, "agents")
		ev.ID = []byte("V1StGXR8")
		if len(translatorstest.EncodeAll(t, c, ev)) > 0 {
			sent = append(sent, k.String())
		}
	}
	want := "cancel turn_start text_delta thinking_delta text_replace turn_end error ready open tool_start tool_input_delta tool_input tool_output tool_error step_start step_end metadata state frame resume history"
	if got := strings.Join(sent, " "); got != want {
		t.Errorf("chat kinds encoded = %q, want %q", got, want)
	}
}

// TestEndpoint: a backend's URL gets a _pk per connection unless it has one.
func TestEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"ws://h/agents/a/{name}":       "ws://h/agents/a/{name}?_pk={conn_id}",
		"ws://h/agents/a/b?token=x":    "ws://h/agents/a/b?token=x&_pk={conn_id}",
		"ws://h/agents/a/b?_pk=fixed":  "ws://h/agents/a/b?_pk=fixed",
		"ws://h/agents/a/b?x=1&_pk=f2": "ws://h/agents/a/b?x=1&_pk=f2",
	} {
		if got := agents.Dialect.Endpoint(in, nil).URL; got != want {
			t.Errorf("Endpoint(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHistoryAssistantID: the history a backend codec sends with its next
// request holds the assistant's reply under the id of the reply's start
// chunk, the id the agent persisted it under (an AIChatAgent merges
// messages by id: another id would store the reply twice), and under
// "<request id>-a" when the start chunk named none.
func TestHistoryAssistantID(t *testing.T) {
	for _, c := range []struct{ start, want string }{
		{`{\"type\":\"start\",\"messageId\":\"assistant_1\"}`, "assistant_1"},
		{`{\"type\":\"start\"}`, "c-1-a"},
	} {
		b := agents.New(backendOpts)
		translatorstest.EncodeAll(t, b, translators.Event{Kind: translators.KindUserMessage, ID: []byte("m1"), Text: []byte("Hi")})
		for _, body := range []string{c.start, `{\"type\":\"text-delta\",\"id\":\"t0\",\"delta\":\"Hello\"}`} {
			if _, err := b.Decode(nil, []byte(`{"body":"`+body+`","done":false,"id":"c-1","type":"cf_agent_use_chat_response"}`)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := b.Decode(nil, []byte(`{"body":"","done":true,"id":"c-1","type":"cf_agent_use_chat_response"}`)); err != nil {
			t.Fatal(err)
		}
		out := translatorstest.EncodeAll(t, b, translators.Event{Kind: translators.KindUserMessage, ID: []byte("m2"), Text: []byte("Again")})
		var req struct{ Init struct{ Body string } }
		if len(out) != 1 || json.Unmarshal([]byte(out[0]), &req) != nil {
			t.Fatalf("second request: %q", out)
		}
		var body struct {
			Messages []struct{ ID, Role string }
		}
		if err := json.Unmarshal([]byte(req.Init.Body), &body); err != nil {
			t.Fatalf("body %q: %v", req.Init.Body, err)
		}
		if len(body.Messages) != 3 || body.Messages[1].Role != "assistant" || body.Messages[1].ID != c.want {
			t.Errorf("start %s: history %+v, want the assistant's reply second with id %q", c.start, body.Messages, c.want)
		}
	}
}

// TestGetMessages: the body of get-messages is a JSON array of UIMessages,
// [] when the conversation is empty, with text escaped and ids made from
// the turn's.
func TestGetMessages(t *testing.T) {
	if got := string(agents.GetMessages(nil, nil)); got != "[]" {
		t.Errorf("empty = %s, want []", got)
	}
	got := agents.GetMessages(nil, []translators.TranscriptMessage{
		{ID: "r1", Text: "say \"hi\"\n"}, {Assistant: true, ID: "r1", Text: "hi <3"}, {Text: "no id"},
	})
	var msgs []struct {
		ID, Role string
		Parts    []struct{ Type, Text string }
	}
	if err := json.Unmarshal(got, &msgs); err != nil {
		t.Fatalf("invalid JSON %s: %v", got, err)
	}
	want := `[{user-r1 user [{text say "hi"
}]} {assistant-r1 assistant [{text hi <3}]} {user-2 user [{text no id}]}]`
	if s := fmt.Sprint(msgs); s != want {
		t.Errorf("GetMessages = %s\nparsed %s", got, s)
	}
}

// TestRefusedRequestBesideReply: an error about another chat request while
// a reply streams (the proxy refused it: too many waiting) ends that
// request, and the reply in progress goes on as a chat reply.
func TestRefusedRequestBesideReply(t *testing.T) {
	c := agents.New(clientOpts)
	for _, id := range []string{"r1", "r2"} {
		if _, err := c.Decode(nil, []byte(strings.Replace(chatRequest, "V1StGXR8", id, 1))); err != nil {
			t.Fatal(err)
		}
	}
	var out []string
	for _, ev := range []translators.Event{
		{Kind: translators.KindTurnStart, ID: []byte("r1")},
		{Kind: translators.KindTextDelta, ID: []byte("r1"), Text: []byte("one ")},
		{Kind: translators.KindError, ID: []byte("r2"), Code: []byte("too_many_pending"), Text: []byte("too many")},
		{Kind: translators.KindTextDelta, ID: []byte("r1"), Text: []byte("two")},
		{Kind: translators.KindTurnEnd, ID: []byte("r1"), Full: []byte("one two"), Usage: translators.UnknownUsage},
	} {
		out = append(out, translatorstest.EncodeAll(t, c, ev)...)
	}
	var r1Text string
	var r1Done, r2Error bool
	var r2Outcome string
	for _, f := range out {
		var m struct {
			Type, ID, Body, Outcome string
			Done, Error             bool
		}
		if err := json.Unmarshal([]byte(f), &m); err != nil || m.Type != "cf_agent_use_chat_response" {
			t.Fatalf("not a chat response frame: %s", f)
		}
		switch {
		case m.ID == "r2" && m.Error:
			r2Error = true
		case m.ID == "r2" && m.Done:
			r2Outcome = m.Outcome
		case m.ID == "r1" && m.Done:
			r1Done = m.Outcome == ""
		case m.ID == "r1":
			var chunk struct{ Type, Delta string }
			_ = json.Unmarshal([]byte(m.Body), &chunk)
			if chunk.Type == "text-delta" {
				r1Text += chunk.Delta
			}
		}
	}
	if !r2Error || r2Outcome != "error" || r1Text != "one two" || !r1Done {
		t.Errorf("r2 error frame %v, outcome %q; r1 text %q, completed %v:\n%s", r2Error, r2Outcome, r1Text, r1Done, strings.Join(out, "\n"))
	}
}

func TestReplayed(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"type":"cf_agent_use_chat_response","id":"r1","body":"{\"type\":\"start\"}","done":false,"seq":0}`,
			`{"type":"cf_agent_use_chat_response","id":"r1","body":"{\"type\":\"start\"}","done":false,"seq":0,"replay":true}`},
		{`{"type":"cf_agent_use_chat_response","id":"r1","body":"","done":true,"messageIds":["u1"]}`,
			`{"type":"cf_agent_use_chat_response","id":"r1","body":"","done":true,"messageIds":["u1"],"replay":true}`},
		{`plain text`, `plain text`},
		{`{"type":"cf_agent_identity","name":"a"}`, `{"type":"cf_agent_identity","name":"a"}`},
		{``, ``},
	}
	for _, tt := range tests {
		if got := string(agents.Replayed([]byte("x"), []byte(tt.in))); got != "x"+tt.want {
			t.Errorf("Replayed(%s) = %s, want x%s", tt.in, got, tt.want)
		}
	}
}
