package plain_test

import (
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/translators"
	"github.com/agentbridge/agentbridge/translators/plain"
	"github.com/agentbridge/agentbridge/translators/translatorstest"
)

func TestGolden(t *testing.T) {
	translatorstest.RunGolden(t, plain.Dialect, "testdata")
}

func TestAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are checked in the full run")
	}
	msg := []byte("a user message of some length")
	for _, role := range []translators.Role{translators.Client, translators.Backend} {
		if n := translatorstest.DecodeAllocs(plain.Dialect, translators.Options{Role: role, Chunked: true}, msg); n != 0 {
			t.Errorf("%v Decode allocs = %v, want 0", role, n)
		}
	}
	evs := []translators.Event{
		{Kind: translators.KindTurnEnd, Full: msg},
		{Kind: translators.KindError, Text: msg, Code: []byte("x")},
	}
	for _, ev := range evs {
		if n := translatorstest.EncodeAllocs(plain.Dialect, translators.Options{Role: translators.Client}, ev); n != 0 {
			t.Errorf("client Encode(%v) allocs = %v, want 0", ev.Kind, n)
		}
	}
	ev := translators.Event{Kind: translators.KindUserMessage, Text: msg}
	if n := translatorstest.EncodeAllocs(plain.Dialect, translators.Options{Role: translators.Backend}, ev); n != 0 {
		t.Errorf("backend Encode allocs = %v, want 0", n)
	}
}

// FuzzDecode checks that decoding any message, in every role and mode,
// neither panics nor loses bytes: a plain message is always carried whole.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"", "hello", "[DONE]", "{\"type\":\"x\"}", "\xff"} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, msg string, mode uint8) {
		o := translators.Options{Role: translators.Role(mode%2 + 1), Chunked: mode&2 != 0}
		if mode&4 != 0 {
			o.EndMarker = "[DONE]"
		}
		evs, err := plain.New(o).Decode(nil, []byte(msg))
		if err != nil || len(evs) != 1 {
			t.Fatalf("Decode(%q) = %d events, %v", msg, len(evs), err)
		}
		if evs[0].Kind != translators.KindTurnEnd && string(evs[0].Text) != msg {
			t.Fatalf("Decode(%q) text = %q", msg, evs[0].Text)
		}
	})
}

func BenchmarkDecodeEncode(b *testing.B) {
	// The per-frame cost of plain translation in the backend-to-client
	// direction: decode a chunk, normalize it, encode it for the client.
	back := plain.New(translators.Options{Role: translators.Backend, Chunked: true})
	cli := plain.New(translators.Options{Role: translators.Client, Reply: translators.ReplyStream})
	var turn translators.Turn
	msg := []byte("a sixty-four byte chunk of streamed agent text, more or less...")
	evs := make([]translators.Event, 0, 4)
	norm := make([]translators.Event, 0, 4)
	out := make([]byte, 0, 256)
	end := translators.Event{Kind: translators.KindTurnEnd}
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	i := 0
	for b.Loop() {
		evs, _ = back.Decode(evs[:0], msg)
		norm, _ = turn.Apply(norm[:0], &evs[0])
		for j := range norm {
			out, _ = cli.Encode(out[:0], &norm[j])
		}
		if i++; i%1000 == 0 { // keep the turn buffer bounded
			norm, _ = turn.Apply(norm[:0], &end)
		}
	}
}

// TestEncodeEveryKind: every kind, in every role and mode, encodes without
// an error or a panic, and only the kinds plain has a place for produce a
// message; the others leave dst as it was.
func TestEncodeEveryKind(t *testing.T) {
	tests := []struct {
		name string
		o    translators.Options
		want string
	}{
		{"client whole", translators.Options{Role: translators.Client}, "cancel turn_end error frame"},
		{"client stream", translators.Options{Role: translators.Client, Reply: translators.ReplyStream}, "cancel text_delta text_replace error frame"},
		{"client stream with marker", translators.Options{Role: translators.Client, Reply: translators.ReplyStream, EndMarker: "[END]"}, "cancel text_delta text_replace turn_end error frame"},
		{"backend", translators.Options{Role: translators.Backend}, "user_message frame"},
		{"backend chunked", translators.Options{Role: translators.Backend, Chunked: true, EndMarker: "[END]"}, "user_message frame"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := translatorstest.EncodeKinds(t, plain.Dialect, tt.o, "plain"); got != tt.want {
				t.Errorf("kinds encoded = %q, want %q", got, tt.want)
			}
			if got := translatorstest.EncodeKinds(t, plain.Dialect, tt.o, "agents"); strings.Contains(got, "frame") {
				t.Errorf("a frame of another dialect was encoded: %q", got)
			}
		})
	}
}
