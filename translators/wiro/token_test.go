package wiro_test

import (
	"strings"
	"testing"

	"github.com/valyala/fastjson"

	"github.com/agentbridge/agentbridge/translators"
	"github.com/agentbridge/agentbridge/translators/wiro"
)

// parsedToken is what FrameToken must agree with on valid JSON: the codec's
// own reading of the token.
func parsedToken(frame []byte) ([]byte, bool) {
	var p fastjson.Parser
	v, err := p.ParseBytes(frame)
	if err != nil {
		return nil, false
	}
	return v.GetStringBytes("agenttoken"), true
}

var tokenFrames = []string{
	`{"type":"agent_output","agenttoken":"aB3x","message":{"raw":"x"},"result":true}`,
	`{"type":"agent_output","message":{"agenttoken":"inner","a":[1,{"b":"}"}],"s":"\"{"},"agenttoken":"outer"}`,
	` { "agenttoken" : "spaced" } `,
	`{"agenttoken":"a\u0062c"}`,
	`{"agenttoken":"a\"b"}`,
	`{"agenttoken":null}`,
	`{"agenttoken":5}`,
	`{"agenttoken":""}`,
	`{"type":"task_output","taskid":"x"}`,
	`{"n":-1.5e3,"t":true,"f":false,"z":null,"agenttoken":"after literals"}`,
	`{"agenttoken":"first","agenttoken":"second"}`,
	`{}`,
	`[]`,
	`"agenttoken"`,
}

func TestFrameToken(t *testing.T) {
	tok := wiro.Dialect.REST.FrameToken
	for _, f := range tokenFrames {
		want, _ := parsedToken([]byte(f))
		if got := tok([]byte(f)); string(got) != string(want) {
			t.Errorf("FrameToken(%s) = %q, want %q", f, got, want)
		}
	}
	// Broken messages name no token, or one the codec then refuses.
	for _, f := range []string{``, `{`, `{"agenttoken"`, `{"agenttoken":`, `{"agenttoken":"open`, `{"a":"\`, `{"a":{"b":[}`, `not json`} {
		if got := tok([]byte(f)); got != nil {
			t.Errorf("FrameToken(%q) = %q, want nil", f, got)
		}
	}
}

func TestFrameTokenAllocs(t *testing.T) {
	frame := []byte(`{"type":"agent_output","agenttoken":"aB3xK9mR2pLqWzVn7tYhCd5sFgJkNb","message":{"raw":"` +
		strings.Repeat("word ", 100) + `"},"result":true}`)
	tok := wiro.Dialect.REST.FrameToken
	if n := testing.AllocsPerRun(100, func() { _ = tok(frame) }); n != 0 {
		t.Errorf("FrameToken allocs = %v, want 0", n)
	}
}

// FuzzFrameToken: on any valid JSON, FrameToken reads the token the codec
// reads.
func FuzzFrameToken(f *testing.F) {
	for _, s := range tokenFrames {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		got := wiro.Dialect.REST.FrameToken([]byte(msg))
		want, ok := parsedToken([]byte(msg))
		if ok && string(got) != string(want) {
			t.Fatalf("FrameToken(%q) = %q, want %q", msg, got, want)
		}
	})
}

func TestStatusWords(t *testing.T) {
	r := wiro.Dialect.REST
	for s, word := range map[translators.ReplyStatus]string{
		translators.ReplyQueued: "agent_queue", translators.ReplyStarted: "agent_start",
		translators.ReplyStreaming: "agent_output", translators.ReplyEnded: "agent_end",
		translators.ReplyFailed: "agent_error", translators.ReplyCancelled: "agent_cancel",
		translators.ReplyUnknown: "unknown",
	} {
		body := r.AppendSendResult(nil, &translators.SendResult{OK: true, Token: []byte("t"), Status: s})
		if !strings.Contains(string(body), `"status":"`+word+`"`) {
			t.Errorf("%v: %s, want status %q", s, body, word)
		}
		back, _, err := r.ParseSendResult(nil, body)
		if err != nil || back.Status != s {
			t.Errorf("%v: read back %v, %v", s, back.Status, err)
		}
	}
}

// BenchmarkFrameToken is the shared socket's routing cost per message,
// beside BenchmarkFrameTokenParse, a full parse as the reader did before.
func BenchmarkFrameToken(b *testing.B) {
	frame := benchFrame()
	tok := wiro.Dialect.REST.FrameToken
	b.ReportAllocs()
	for b.Loop() {
		_ = tok(frame)
	}
}

func BenchmarkFrameTokenParse(b *testing.B) {
	frame := benchFrame()
	var p fastjson.Parser
	b.ReportAllocs()
	for b.Loop() {
		v, _ := p.ParseBytes(frame)
		_ = v.GetStringBytes("agenttoken")
	}
}

func benchFrame() []byte {
	text := strings.Repeat("word ", 400)
	return []byte(`{"type":"agent_output","agenttoken":"aB3xK9mR2pLqWzVn7tYhCd5sFgJkNb","message":{"type":"progressGenerate","raw":"` +
		text + `","thinking":[],"answer":["` + text + `"],"isThinking":false,"tokenCount":35},"result":true}`)
}
