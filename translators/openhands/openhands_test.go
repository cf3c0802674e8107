package openhands_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/translators"
	"github.com/agentbridge/agentbridge/translators/openhands"
	"github.com/agentbridge/agentbridge/translators/translatorstest"
)

func TestGolden(t *testing.T) {
	translatorstest.RunGolden(t, openhands.Dialect, "testdata")
}

var (
	clientOpts = translators.Options{Role: translators.Client, Peer: "demo",
		Params: []translators.Param{{Name: openhands.ParamConversationID, Value: "c1"}}}
	backendOpts = translators.Options{Role: translators.Backend}
	userAction  = `42["oh_user_action",{"action":"message","args":{"content":"Fix the failing test","image_urls":[],"file_urls":[]}}]`
	agentEvent  = `42["oh_event",{"id":20,"timestamp":"2025-11-28T10:00:01","source":"agent","message":"Done.","action":"message","llm_metrics":{"accumulated_token_usage":{"prompt_tokens":18234,"completion_tokens":911}},"args":{"content":"Done.","wait_for_response":true}}]`
)

// event returns the JSON payload of a 42["oh_event",{...}] message, or
// fails t.
func event(t testing.TB, msg string) map[string]any {
	t.Helper()
	var arr []json.RawMessage
	if !strings.HasPrefix(msg, "42") || json.Unmarshal([]byte(msg[2:]), &arr) != nil || len(arr) != 2 || string(arr[0]) != `"oh_event"` {
		t.Fatalf("not an oh_event: %s", msg)
	}
	var m map[string]any
	if err := json.Unmarshal(arr[1], &m); err != nil {
		t.Fatalf("oh_event payload %s: %v", arr[1], err)
	}
	return m
}

// TestAllocs: a turn's messages to an OpenHands UI, the user actions from
// it, pings and pongs, and the agent's events from a server allocate
// nothing per frame once warm.
func TestAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are checked in the full run")
	}
	c := openhands.New(clientOpts)
	translatorstest.EncodeAll(t, c, translators.Event{Kind: translators.KindReady, ID: []byte("sid")})
	if _, err := c.Decode(nil, []byte("40")); err != nil {
		t.Fatal(err)
	}
	evs := make([]translators.Event, 0, 8)
	buf := make([]byte, 0, 4096)
	id := []byte("oh-1")
	full := []byte("a whole answer of some length, \"quoted\"")
	turn := []translators.Event{
		{Kind: translators.KindAck, ID: id, Seq: 1},
		{Kind: translators.KindTurnStart, ID: id},
		{Kind: translators.KindThinkingDelta, ID: id, Text: []byte("hmm"), Thinking: []byte("hmm")},
		{Kind: translators.KindTextDelta, ID: id, Text: full, Full: full, Thinking: []byte("hmm")},
		{Kind: translators.KindTurnEnd, ID: id, Full: full, Thinking: []byte("hmm"), Usage: translators.Usage{InputTokens: 3, OutputTokens: 5}},
	}
	msg := []byte(userAction)
	frames := 0
	round := func() {
		evs, _ = c.Decode(evs[:0], msg)
		frames++
		for i := range turn {
			for {
				var err error
				buf, err = c.Encode(buf[:0], &turn[i])
				frames++
				if err != translators.ErrMore {
					break
				}
			}
		}
	}
	round()
	if n := testing.AllocsPerRun(200, round); n/float64(frames/201) > 0.01 {
		t.Errorf("client turn allocs = %v per %d frames, want <= 0.01 a frame", n, frames/201)
	}
	tk := c.(translators.Ticker)
	pong := []byte("3")
	for _, m := range [][]byte{pong, []byte("2")} {
		if n := testing.AllocsPerRun(200, func() { evs, _ = c.Decode(evs[:0], m) }); n != 0 {
			t.Errorf("client Decode(%s) allocs = %v, want 0", m, n)
		}
	}
	if n := testing.AllocsPerRun(200, func() { buf, _ = tk.Tick(buf[:0]); evs, _ = c.Decode(evs[:0], pong) }); n != 0 {
		t.Errorf("client Tick allocs = %v, want 0", n)
	}

	b := openhands.New(backendOpts)
	for _, m := range []string{`0{"sid":"s"}`, `40{"sid":"x"}`} {
		if _, err := b.Decode(nil, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	translatorstest.EncodeAll(t, b, translators.Event{Kind: translators.KindUserMessage, Text: []byte("Hi")})
	running := []byte(`42["oh_event",{"id":13,"source":"agent","message":"","observation":"agent_state_changed","content":"","extras":{"agent_state":"running","reason":""}}]`)
	if evs, _ = b.Decode(evs[:0], running); len(evs) != 1 || evs[0].Kind != translators.KindTurnStart {
		t.Fatalf("Decode(running) = %v", evs)
	}
	amsg := []byte(agentEvent)
	evs, _ = b.Decode(evs[:0], amsg)
	if len(evs) != 1 || evs[0].Kind != translators.KindTextDelta {
		t.Fatalf("Decode(agent message) = %v", evs)
	}
	for _, m := range [][]byte{amsg, running, []byte("2")} {
		if n := testing.AllocsPerRun(200, func() { evs, _ = b.Decode(evs[:0], m) }); n > 0.01 {
			t.Errorf("backend Decode(%.30s) allocs = %v, want <= 0.01", m, n)
		}
	}
	ev := translators.Event{Kind: translators.KindUserMessage, Text: []byte("a user message")}
	if n := testing.AllocsPerRun(200, func() { buf, _ = b.Encode(buf[:0], &ev) }); n != 0 {
		t.Errorf("backend Encode(user_message) allocs = %v, want 0", n)
	}
}

// TestEncodedJSONIsValid: every message the client codec writes is an
// Engine.IO packet whose JSON is valid, whatever the text it carries, and
// the oh_events' ids increase from 1, stamped with Options.Now.
func TestEncodedJSONIsValid(t *testing.T) {
	o := clientOpts
	o.Now = func() time.Time { return time.Date(2025, 11, 28, 10, 0, 0, 412311000, time.UTC) }
	c := openhands.New(o)
	connect(t, c)
	if _, err := c.Decode(nil, []byte(userAction)); err != nil {
		t.Fatal(err)
	}
	next := 1.0
	for k := translators.Kind(1); k < translators.NumKinds; k++ {
		ev := translatorstest.Every(k, "openhands")
		ev.ID, ev.Text, ev.Full, ev.Thinking = []byte("oh-1"), []byte("\u2028\x00\"\xff"), []byte("a\x01b"), []byte("t\"")
		if k == translators.KindFrame {
			continue // passed as it is
		}
		for _, m := range translatorstest.EncodeAll(t, c, ev) {
			switch m[0] {
			case '0':
				if !json.Valid([]byte(m[1:])) {
					t.Fatalf("%v: invalid open packet %s", k, m)
				}
			case '4':
				e := event(t, m)
				if e["id"] != next {
					t.Fatalf("%v: id %v, want %v: %s", k, e["id"], next, m)
				}
				if e["timestamp"] != "2025-11-28T10:00:00.412311" {
					t.Fatalf("%v: timestamp %v", k, e["timestamp"])
				}
				next++
			default:
				t.Fatalf("%v: not an Engine.IO packet: %s", k, m)
			}
		}
	}
	if got := c.(translators.Sequencer).LastEventID(); got != int64(next)-1 {
		t.Errorf("LastEventID = %d, want %v", got, next-1)
	}
}

// TestEncodeEveryKind: every kind, in every role, encodes without an error
// or a panic; only the kinds this dialect has a place for produce a
// message.
func TestEncodeEveryKind(t *testing.T) {
	tests := []struct {
		name string
		o    translators.Options
		want string
	}{
		{"client", clientOpts, "cancel turn_start text_delta turn_end error ready open tool_input tool_output tool_error frame"},
		{"backend", backendOpts, "frame"}, // a user message before the connect ack is held
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := translatorstest.EncodeKinds(t, openhands.Dialect, tt.o, "openhands"); got != tt.want {
				t.Errorf("kinds encoded = %q, want %q", got, tt.want)
			}
			if got := translatorstest.EncodeKinds(t, openhands.Dialect, tt.o, "connic"); strings.Contains(got, "frame") {
				t.Errorf("a frame of another dialect was encoded: %q", got)
			}
		})
	}
}

// TestTurn: what an OpenHands UI gets for one reply, in order: the echo of
// the user's message, running, the reply as one message action with the
// session's accumulated usage, awaiting_user_input.
func TestTurn(t *testing.T) {
	c := openhands.New(clientOpts)
	connect(t, c)
	evs, err := c.Decode(nil, []byte(userAction))
	if err != nil || len(evs) != 1 || evs[0].Kind != translators.KindUserMessage {
		t.Fatalf("Decode = %v, %v", evs, err)
	}
	id := append([]byte(nil), evs[0].ID...)
	var out []string
	for i, u := range []translators.Usage{{InputTokens: 10, OutputTokens: 2}, translators.UnknownUsage, {InputTokens: 5, OutputTokens: 1}} {
		for _, ev := range []translators.Event{
			{Kind: translators.KindAck, ID: id},
			{Kind: translators.KindTurnStart, ID: id},
			{Kind: translators.KindTextDelta, ID: id, Text: []byte("Hel"), Full: []byte("Hel")},
			{Kind: translators.KindTextDelta, ID: id, Text: []byte("lo"), Full: []byte("Hello")},
			{Kind: translators.KindTurnEnd, ID: id, Full: []byte("Hello"), Usage: u},
		} {
			out = append(out, translatorstest.EncodeAll(t, c, ev)...)
		}
		if _, err := c.Decode(nil, []byte(userAction)); err != nil {
			t.Fatal(err)
		}
		id = []byte("oh-" + string(rune('2'+i)))
	}
	var got []string
	for _, m := range out {
		e := event(t, m)
		switch {
		case e["action"] == "message" && e["source"] == "user":
			got = append(got, "user:"+e["args"].(map[string]any)["content"].(string))
		case e["action"] == "message":
			u := e["llm_metrics"].(map[string]any)["accumulated_token_usage"].(map[string]any)
			got = append(got, "agent:"+e["args"].(map[string]any)["content"].(string)+":"+
				strings.Trim(strings.Join([]string{jsonNum(u["prompt_tokens"]), jsonNum(u["completion_tokens"])}, "/"), ""))
		case e["observation"] == "agent_state_changed":
			got = append(got, e["extras"].(map[string]any)["agent_state"].(string))
		default:
			got = append(got, m)
		}
	}
	want := "user:Fix the failing test running agent:Hello:10/2 awaiting_user_input " +
		"user:Fix the failing test running agent:Hello:10/2 awaiting_user_input " +
		"user:Fix the failing test running agent:Hello:15/3 awaiting_user_input"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("turns =\n%s\nwant\n%s", s, want)
	}
}

// connect sends a client codec Socket.IO's connect.
func connect(t testing.TB, c translators.Codec) {
	t.Helper()
	if evs, err := c.Decode(nil, []byte("40")); err != nil || len(evs) != 1 || evs[0].Kind != translators.KindReply {
		t.Fatalf("Decode(40) = %v, %v", evs, err)
	}
}

func jsonNum(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestPing: the proxy pings every pingInterval; a pong in time keeps the
// client, none within pingTimeout ends it with an error.
func TestPing(t *testing.T) {
	s := translators.Settings{
		"ping_interval": {Value: 300 * time.Millisecond, Kind: translators.KeyDuration},
		"ping_timeout":  {Value: 200 * time.Millisecond, Kind: translators.KeyDuration},
	}
	o := clientOpts
	o.Settings = s
	every := openhands.Dialect.TickEvery(o)
	if every != 100*time.Millisecond {
		t.Fatalf("TickEvery = %v, want 100ms (the gcd of 300ms and 200ms)", every)
	}
	if d := openhands.Dialect.TickEvery(translators.Options{Role: translators.Backend}); d != 0 {
		t.Errorf("backend TickEvery = %v, want 0", d)
	}
	c := openhands.New(o)
	tk := c.(translators.Ticker)
	var sent []string
	tick := func() error {
		b, err := tk.Tick(nil)
		sent = append(sent, string(b))
		return err
	}
	// 0.1s, 0.2s: nothing; 0.3s: ping; pong; 0.4..0.5: nothing; 0.6s: ping.
	for i := 0; i < 3; i++ {
		if err := tick(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Decode(nil, []byte("3")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := tick(); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(sent, ","); got != ",,2,,,2" {
		t.Errorf("ticks sent %q, want \",,2,,,2\"", got)
	}
	// No pong: 0.7s fine, 0.8s (200ms after the ping) fails.
	if err := tick(); err != nil {
		t.Fatalf("0.7s: %v", err)
	}
	err := tick()
	if !errors.Is(err, translators.ErrMalformed) || !strings.Contains(err.Error(), "pingTimeout") {
		t.Errorf("0.8s without a pong: %v, want an error naming pingTimeout", err)
	}
	if d := openhands.Dialect.TickEvery(translators.Options{Role: translators.Client}); d != 5*time.Second {
		t.Errorf("TickEvery with OpenHands' defaults = %v, want 5s", d)
	}
}

// TestEndpoint: the backend's URL is OpenHands' Socket.IO path with the
// query its UI sends; the key goes in the query, as session_api_key.
func TestEndpoint(t *testing.T) {
	s := translators.Settings{
		"conversation_id": {Value: "{name}", Kind: translators.KeyString},
		"session_api_key": {Value: "k", Kind: translators.KeySecret},
		"providers_set":   {Value: "github,gitlab", Kind: translators.KeyString},
	}
	for in, want := range map[string]string{
		"ws://h:3000":             "ws://h:3000/socket.io/?latest_event_id=-1&conversation_id={name}&providers_set=github%2Cgitlab&EIO=4&transport=websocket",
		"ws://h:3000/":            "ws://h:3000/socket.io/?latest_event_id=-1&conversation_id={name}&providers_set=github%2Cgitlab&EIO=4&transport=websocket",
		"wss://h/rt/socket.io/?x": "wss://h/rt/socket.io/?x&latest_event_id=-1&conversation_id={name}&providers_set=github%2Cgitlab&EIO=4&transport=websocket",
	} {
		e := openhands.Dialect.Endpoint(in, s)
		if e.URL != want || e.Secret != "k" || e.SecretIn != "query" {
			t.Errorf("Endpoint(%q) = %q, %q in %q; want %q, k in query", in, e.URL, e.Secret, e.SecretIn, want)
		}
	}
	if e := openhands.Dialect.Endpoint("ws://h", translators.Settings{}); e.Secret != "" || e.SecretIn != "" {
		t.Errorf("no key: secret %q in %q", e.Secret, e.SecretIn)
	}
	if got := openhands.Dialect.CheckBackend(translators.Settings{"conversation_id": {Value: "a&b"}}); len(got) != 1 {
		t.Errorf("CheckBackend(a&b) = %v, want one problem", got)
	}
}

// TestLatestEventID: the backend codec tracks the last event id it
// decoded, history included, for a reconnect.
func TestLatestEventID(t *testing.T) {
	b := openhands.New(backendOpts)
	r := b.(translators.Rejoiner)
	if r.LatestEventID() != -1 {
		t.Fatalf("LatestEventID = %d before any event, want -1", r.LatestEventID())
	}
	for _, m := range []string{`0{"sid":"s"}`, `42["oh_event",{"id":7,"source":"agent","action":"message","args":{"content":"x"}}]`,
		`40{"sid":"x"}`, `42["oh_event",{"id":9,"source":"agent","observation":"agent_state_changed","extras":{"agent_state":"running"}}]`,
		`42["oh_event",{"id":8,"source":"agent"}]`} {
		if _, err := b.Decode(nil, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if r.LatestEventID() != 9 {
		t.Errorf("LatestEventID = %d, want 9", r.LatestEventID())
	}
	o := backendOpts
	o.Params = []translators.Param{{Name: openhands.ParamLatestEventID, Value: "41"}}
	if got := openhands.New(o).(translators.Rejoiner).LatestEventID(); got != 41 {
		t.Errorf("resumed LatestEventID = %d, want 41", got)
	}
}

// FuzzDecode: any message, in either role, decodes or is refused with
// ErrMalformed, and what it decodes re-encodes in the other role to
// Engine.IO packets with valid JSON; a reply to the peer is one too.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		userAction, agentEvent, "40", "40{}", "2", "3", "2probe", "41", "0{}", `44{"message":"m"}`, "40/admin,",
		`42["oh_user_action",{"action":"change_agent_state","args":{"agent_state":"stopped"}}]`,
		`42["oh_user_action",{"action":"run","args":{"command":"ls"}}]`, `42["x"]`, `42[1,2]`,
		`42["oh_event",{"id":13,"source":"agent","observation":"agent_state_changed","extras":{"agent_state":"running"}}]`,
		`42["oh_event",{"id":15,"source":"agent","action":"run","args":{"command":"ls","k":"\u0007"}}]`,
		`42["oh_event",{"id":16,"source":"agent","observation":"run","cause":15,"content":"a","extras":{"m":[1,{"x":null}]}}]`,
		`42["oh_event",{"id":31,"source":"agent","observation":"agent_state_changed","extras":{"agent_state":"error","reason":"r"}}]`,
		`42["oh_event",{"error":true,"message":"e"}]`, `451-["oh_event",{"_placeholder":true,"num":0}]`, `4212["oh_user_action",{}]`,
		"", "4", "42", "42[", "9",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, msg string, backend bool) {
		role, other := clientOpts, backendOpts
		if backend {
			role, other = other, role
		}
		dec := openhands.New(role)
		if backend {
			// Connected, with a message of ours waiting: events decode.
			_, _ = dec.Decode(nil, []byte(`40{"sid":"x"}`))
			_, _ = dec.Encode(nil, &translators.Event{Kind: translators.KindUserMessage, Text: []byte("x")})
		} else {
			_, _ = dec.Decode(nil, []byte("40"))
		}
		evs, err := dec.Decode(nil, []byte(msg))
		if err != nil {
			if !errors.Is(err, translators.ErrMalformed) {
				t.Fatalf("Decode(%q): %v", msg, err)
			}
			return
		}
		enc := openhands.New(other)
		for i := range evs {
			ev := evs[i]
			if ev.Kind == translators.KindReply {
				validPacket(t, string(ev.Raw), msg)
				continue
			}
			if ev.Kind == translators.KindFrame {
				continue
			}
			for _, out := range translatorstest.EncodeAll(t, enc, ev) {
				validPacket(t, out, msg)
			}
		}
	})
}

// validPacket fails t unless m is an Engine.IO packet whose JSON, if any,
// is valid. A pong's text is the ping's, whatever it is.
func validPacket(t *testing.T, m, from string) {
	t.Helper()
	if m == "" {
		t.Fatalf("empty packet from %q", from)
	}
	if m[0] == '2' || m[0] == '3' {
		return
	}
	body := m[1:]
	if m[0] == '4' && len(m) > 1 {
		body = strings.TrimLeft(m[2:], "0123456789")
		if strings.HasPrefix(body, "/") {
			_, body, _ = strings.Cut(body, ",")
		}
	}
	if body != "" && strings.ContainsAny(body[:1], "[{") && !json.Valid([]byte(body)) {
		t.Fatalf("invalid JSON in %q from %q", m, from)
	}
}
