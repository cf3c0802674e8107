package wiro_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/translators"
	"github.com/agentbridge/agentbridge/translators/translatorstest"
	"github.com/agentbridge/agentbridge/translators/wiro"
)

func TestGolden(t *testing.T) {
	translatorstest.RunGolden(t, wiro.Dialect, "testdata")
}

func TestREST(t *testing.T) {
	r := wiro.Dialect.REST
	req, _, err := r.ParseSend(nil, []byte(`{"useragentguid":"g","message":"Explain quantum computing","sessionkey":"user-42"}`))
	if err != nil || string(req.Message) != "Explain quantum computing" || string(req.SessionKey) != "user-42" || string(req.Agent) != "g" {
		t.Fatalf("ParseSend = %+v, %v", req, err)
	}
	for _, bad := range []string{`{}`, `{"message":5}`, `[]`, `nope`, `{"message":"x","sessionkey":1}`} {
		if _, _, err := r.ParseSend(nil, []byte(bad)); err == nil {
			t.Errorf("ParseSend(%s) accepted", bad)
		}
	}
	out := r.AppendSendResult(nil, &translators.SendResult{OK: true, MessageID: []byte("m"), Token: []byte("t"), Status: translators.ReplyQueued})
	if got, want := string(out), `{"result":true,"errors":[],"messageguid":"m","agenttoken":"t","status":"agent_queue"}`; got != want {
		t.Errorf("AppendSendResult = %s, want %s", got, want)
	}
	out = r.AppendSendResult(nil, &translators.SendResult{Errors: []string{`"message" is required`}})
	if got, want := string(out), `{"result":false,"errors":["\"message\" is required"]}`; got != want {
		t.Errorf("AppendSendResult error = %s, want %s", got, want)
	}
	// The proxy as a client: what it sends parses back, what Wiro answers
	// is read.
	body := r.AppendSend(nil, &translators.SendRequest{Agent: []byte("g"), Message: []byte("hi \"x\""), SessionKey: []byte("k")})
	if back, _, err := r.ParseSend(nil, body); err != nil || string(back.Message) != `hi "x"` {
		t.Errorf("round trip %s: %+v %v", body, back, err)
	}
	res, _, err := r.ParseSendResult(nil, []byte(`{"result":true,"errors":[],"messageguid":"c3d4","agenttoken":"aB3x","status":"agent_queue"}`))
	if err != nil || string(res.Token) != "aB3x" || !res.OK || res.Status != translators.ReplyQueued {
		t.Errorf("ParseSendResult = %+v, %v", res, err)
	}
	if _, _, err := r.ParseSendResult(nil, []byte(`{"result":true}`)); err == nil {
		t.Errorf("a success without agenttoken was accepted")
	}
	tok, err := r.ParseCancel([]byte(`{"agenttoken":"aB3x"}`))
	if err != nil || string(tok) != "aB3x" {
		t.Errorf("ParseCancel = %q, %v", tok, err)
	}
}

func TestEncodedJSONIsValid(t *testing.T) {
	c := wiro.New(translators.Options{Role: translators.Client})
	text := []byte("a \"quoted\" <think>\n\x00 ✓")
	for _, k := range []translators.Kind{translators.KindSubscribed, translators.KindTurnStart, translators.KindTextDelta,
		translators.KindThinkingDelta, translators.KindTurnEnd, translators.KindError, translators.KindCancel} {
		ev := translators.Event{Kind: k, ID: []byte("t\"1"), Text: text, Full: text, Thinking: text}
		out, _ := c.Encode(nil, &ev)
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Errorf("%v: invalid JSON %s", k, out)
		}
	}
}

func TestAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	out := `{"type":"agent_output","agenttoken":"tok","message":{"type":"progressGenerate","speed":"12.5","raw":"` +
		strings.Repeat("word ", 100) + `","thinking":[],"answer":["` + strings.Repeat("word ", 100) + `"],"isThinking":false,"tokenCount":35},"result":true}`
	if n := translatorstest.DecodeAllocs(wiro.Dialect, translators.Options{Role: translators.Backend}, []byte(out)); n != 0 {
		t.Errorf("backend Decode allocs = %v, want 0", n)
	}
	ev := translators.Event{Kind: translators.KindTextDelta, ID: []byte("tok"), Text: []byte("x"), Full: []byte(strings.Repeat("word ", 100)), Elapsed: 1e9}
	if n := translatorstest.EncodeAllocs(wiro.Dialect, translators.Options{Role: translators.Client}, ev); n != 0 {
		t.Errorf("client Encode allocs = %v, want 0", n)
	}
}

// BenchmarkAccumulatedToDelta is the Wiro backend path: decode an
// agent_output holding the whole text so far, turn it into a delta, encode
// that as a Connic-style delta would be (here: re-encode as Wiro output for
// a Wiro client, the accumulated direction). Reported per frame.
func BenchmarkAccumulatedToDelta(b *testing.B) {
	back := wiro.New(translators.Options{Role: translators.Backend})
	cli := wiro.New(translators.Options{Role: translators.Client})
	var turn translators.Turn
	frames := make([][]byte, 50)
	text := ""
	for i := range frames {
		text += "word "
		frames[i] = []byte(`{"type":"agent_output","agenttoken":"tok","message":{"raw":"` + text + `","answer":["` + text + `"],"thinking":[]},"result":true}`)
	}
	end := translators.Event{Kind: translators.KindTurnEnd}
	evs := make([]translators.Event, 0, 4)
	norm := make([]translators.Event, 0, 4)
	out := make([]byte, 0, 4096)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		evs, _ = back.Decode(evs[:0], frames[i%len(frames)])
		norm, _ = turn.Apply(norm[:0], &evs[0])
		for j := range norm {
			out, _ = cli.Encode(out[:0], &norm[j])
		}
		if i++; i%len(frames) == 0 {
			norm, _ = turn.Apply(norm[:0], &end)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"agent_info","agenttoken":"t"}`,
		`{"type":"agent_output","agenttoken":"t","message":{"raw":"<think>a</think>b"}}`,
		`{"type":"agent_end","agenttoken":"t","message":{"answer":["x"],"thinking":["y"],"tokenCount":3}}`,
		`{"type":"agent_error","agenttoken":"t","message":{"raw":"..."}}`, `{"type":"agent_subscribed","debugoutput":"<think>"}`,
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, msg string, backend bool) {
		role, other := translators.Client, translators.Backend
		if backend {
			role, other = other, role
		}
		evs, err := wiro.New(translators.Options{Role: role}).Decode(nil, []byte(msg))
		if err != nil {
			return
		}
		var turn translators.Turn
		enc := wiro.New(translators.Options{Role: other})
		for i := range evs {
			norm, _ := turn.Apply(nil, &evs[i])
			for j := range norm {
				out, _ := enc.Encode(nil, &norm[j])
				if len(out) > 0 && !json.Valid(out) {
					t.Fatalf("invalid JSON %q from %q", out, msg)
				}
			}
		}
	})
}

// TestEncodeEveryKind: every kind, in both roles, encodes without an error
// or a panic, and only the kinds Wiro has a place for produce a message;
// the others leave dst as it was.
func TestEncodeEveryKind(t *testing.T) {
	tests := []struct {
		name string
		o    translators.Options
		want string
	}{
		{"client", translators.Options{Role: translators.Client}, "cancel turn_start text_delta thinking_delta text_replace turn_end error subscribed frame"},
		{"backend", translators.Options{Role: translators.Backend}, "subscribe frame"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := translatorstest.EncodeKinds(t, wiro.Dialect, tt.o, "wiro"); got != tt.want {
				t.Errorf("kinds encoded = %q, want %q", got, tt.want)
			}
			if got := translatorstest.EncodeKinds(t, wiro.Dialect, tt.o, "agents"); strings.Contains(got, "frame") {
				t.Errorf("a frame of another dialect was encoded: %q", got)
			}
		})
	}
}

// TestRESTParsersKeepTheirResults: what ParseSend and ParseSendResult
// return lives in the caller's buffer, not in a parser that the next call
// reuses, and with a reused buffer they allocate nothing.
func TestRESTParsersKeepTheirResults(t *testing.T) {
	r := wiro.Dialect.REST
	var buf []byte
	req, buf, err := r.ParseSend(buf, []byte(`{"useragentguid":"g","message":"first \"one\"","sessionkey":"k1"}`))
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := r.ParseSendResult(nil, []byte(`{"result":true,"errors":[],"messageguid":"m2","agenttoken":"t2","status":"agent_queue"}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(req.Message) != `first "one"` || string(req.Agent) != "g" || string(req.SessionKey) != "k1" {
		t.Errorf("ParseSend's result changed after another parse: %q %q %q", req.Message, req.Agent, req.SessionKey)
	}
	if string(res.Token) != "t2" || string(res.MessageID) != "m2" {
		t.Errorf("ParseSendResult = %q %q", res.Token, res.MessageID)
	}
	if req, _, _ := r.ParseSend(buf[:0], []byte(`{"message":"m"}`)); req.Agent != nil || req.SessionKey != nil {
		t.Errorf("absent fields: %q %q, want nil", req.Agent, req.SessionKey)
	}

	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	send := []byte(`{"useragentguid":"g","message":"Explain quantum computing","sessionkey":"user-42"}`)
	result := []byte(`{"result":true,"errors":[],"messageguid":"c3d4","agenttoken":"aB3x","status":"agent_queue"}`)
	if n := testing.AllocsPerRun(100, func() { _, buf, _ = r.ParseSend(buf[:0], send) }); n != 0 {
		t.Errorf("ParseSend: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, buf, _ = r.ParseSendResult(buf[:0], result) }); n != 0 {
		t.Errorf("ParseSendResult: %v allocations, want 0", n)
	}
}

// TestEncodeRemembersAnswer: a client codec that escapes and counts only
// what was added to the answer since its last message writes the bytes a
// codec with no memory writes, through escapes, runes cut between deltas,
// invalid UTF-8, a rewritten answer, thinking and a new reply.
func TestEncodeRemembersAnswer(t *testing.T) {
	type step struct {
		kind  translators.Kind
		full  string
		think string
	}
	steps := []step{
		{translators.KindTextDelta, "Hello", ""},
		{translators.KindTextDelta, "Hello, \"world\"", ""},
		{translators.KindTextDelta, "Hello, \"world\"\n\tand é", ""},
		{translators.KindTextDelta, "Hello, \"world\"\n\tand é\xe2\x80", ""},        // a rune cut short...
		{translators.KindTextDelta, "Hello, \"world\"\n\tand é\xe2\x80\xa8 ok", ""}, // ...then whole (U+2028)
		{translators.KindTextDelta, "Hello, \"world\"\n\tand é\xe2\x80\xa8 ok \xff", ""},
		{translators.KindTextReplace, "Rewritten", ""},
		{translators.KindTextDelta, "Rewritten  twice", ""},
		{translators.KindTextReplace, "REWRITTEN  TWICE, longer", ""}, // no shorter, but not an extension
		{translators.KindThinkingDelta, "REWRITTEN  TWICE, longer", "hmm"},
		{translators.KindTurnEnd, "REWRITTEN  TWICE, longer words", "hmm"},
		{translators.KindTextDelta, "Next", ""},
		{translators.KindTurnEnd, "Next reply", ""},
	}
	kept := wiro.New(translators.Options{Role: translators.Client})
	for i, s := range steps {
		ev := translators.Event{Kind: s.kind, ID: []byte("tok"), Full: []byte(s.full), Thinking: []byte(s.think), Elapsed: time.Second}
		got, err := kept.Encode(nil, &ev)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := wiro.New(translators.Options{Role: translators.Client}).Encode(nil, &ev)
		if string(got) != string(want) {
			t.Fatalf("step %d: the codec that remembers wrote\n%s\nwant\n%s", i, got, want)
		}
	}
}

// TestEncodeAnswerGrowsInFewSteps: the answer a client codec keeps grows to
// a long reply's size in a few allocations (doubling), not one per quarter
// of its size.
func TestEncodeAnswerGrowsInFewSteps(t *testing.T) {
	full := []byte(strings.Repeat("word ", 1600)) // 8,000 bytes, in 200 deltas
	dst := make([]byte, 0, 64<<10)
	n := testing.AllocsPerRun(20, func() {
		c := wiro.New(translators.Options{Role: translators.Client})
		for i := 1; i <= 200; i++ {
			ev := translators.Event{Kind: translators.KindTextDelta, ID: []byte("tok"), Full: full[:40*i], Elapsed: time.Second}
			dst, _ = c.Encode(dst[:0], &ev)
		}
	})
	// The codec, and 1, 2, 4 and 8 KiB for each of the answer and its
	// escaped form (append's growth: 24 in all).
	if n > 9 {
		t.Fatalf("a 200-delta reply took %v allocations, want at most 9", n)
	}
}
