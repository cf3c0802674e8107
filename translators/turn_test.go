package translators_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/translators"
	"github.com/agentbridge/agentbridge/translators/translatorstest"
)

func ev(k translators.Kind, text string) translators.Event {
	return translators.Event{Kind: k, Text: []byte(text)}
}

func TestTurnApply(t *testing.T) {
	tests := []struct {
		name    string
		pending bool // ids p1, p2 wait for replies
		in      []translators.Event
		want    []string
	}{
		{
			name: "snapshots become deltas",
			in: []translators.Event{
				ev(translators.KindTextSnapshot, "Quantum"),
				ev(translators.KindTextSnapshot, "Quantum computing"),
				ev(translators.KindTextSnapshot, "Quantum computing"),
				ev(translators.KindTurnEnd, "Quantum computing uses qubits"),
			},
			want: []string{
				`turn_start`,
				`text_delta text="Quantum" full="Quantum"`,
				`text_delta text=" computing" full="Quantum computing"`,
				`text_delta text=" uses qubits" full="Quantum computing uses qubits"`,
				`turn_end full="Quantum computing uses qubits"`,
			},
		},
		{
			name: "a rewrite is a replace, never dropped",
			in: []translators.Event{
				ev(translators.KindTurnStart, ""),
				ev(translators.KindTextSnapshot, "Hello wrld"),
				ev(translators.KindTextSnapshot, "Hello world"),
				ev(translators.KindTurnEnd, ""),
			},
			want: []string{
				`turn_start`,
				`text_delta text="Hello wrld" full="Hello wrld"`,
				`text_replace text="Hello world" full="Hello world"`,
				`turn_end full="Hello world"`,
			},
		},
		{
			name: "thinking snapshots split from the answer",
			in: []translators.Event{
				{Kind: translators.KindTextSnapshot, Thinking: []byte("Let me")},
				{Kind: translators.KindTextSnapshot, Thinking: []byte("Let me think."), Text: []byte("Yes")},
			},
			want: []string{
				`turn_start`,
				`thinking_delta text="Let me" thinking="Let me"`,
				`thinking_delta text=" think." thinking="Let me think."`,
				`text_delta text="Yes" full="Yes" thinking="Let me think."`,
			},
		},
		{
			name:    "ids from the backend win and consume the pending one",
			pending: true,
			in: []translators.Event{
				{Kind: translators.KindTurnStart, ID: []byte("p1")},
				ev(translators.KindTextDelta, "a"),
				ev(translators.KindTurnEnd, ""),
				ev(translators.KindTextDelta, "b"),
				ev(translators.KindError, "boom"),
			},
			want: []string{
				`turn_start id="p1"`,
				`text_delta id="p1" text="a" full="a"`,
				`turn_end id="p1" full="a"`,
				`turn_start id="p2"`,
				`text_delta id="p2" text="b" full="b"`,
				`error id="p2" text="boom" full="b"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var turn translators.Turn
			if tt.pending {
				turn.Pending = translators.NewIDQueue(4)
				turn.Pending.Push([]byte("p1"))
				turn.Pending.Push([]byte("p2"))
			}
			var got []string
			var out []translators.Event
			for i := range tt.in {
				var err error
				out, err = turn.Apply(out[:0], &tt.in[i])
				if err != nil {
					t.Fatal(err)
				}
				for j := range out {
					got = append(got, translatorstest.FormatEvent(&out[j]))
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestTurnLimit(t *testing.T) {
	turn := translators.Turn{MaxText: 4}
	e := ev(translators.KindTextSnapshot, "12345")
	if _, err := turn.Apply(nil, &e); !errors.Is(err, translators.ErrTurnTooLarge) {
		t.Fatalf("snapshot over limit: err = %v, want ErrTurnTooLarge", err)
	}
	if turn.Open() {
		t.Errorf("turn still open after the limit was hit")
	}
}

func TestIDQueueBounded(t *testing.T) {
	q := translators.NewIDQueue(2)
	if !q.Push([]byte("a")) || !q.Push([]byte("b")) || q.Push([]byte("c")) {
		t.Fatalf("push results wrong: a queue of 2 must refuse the third")
	}
	if got := string(q.Pop(nil)); got != "a" {
		t.Errorf("Pop = %q, want a", got)
	}
	q.PopIf([]byte("x"))
	if q.Len() != 1 {
		t.Errorf("PopIf with a non-matching id removed something")
	}
}

func TestTurnAllocs(t *testing.T) {
	var turn translators.Turn
	snap := ev(translators.KindTextSnapshot, strings.Repeat("x", 100))
	end := ev(translators.KindTurnEnd, "")
	out := make([]translators.Event, 0, 4)
	out, _ = turn.Apply(out[:0], &snap)
	out, _ = turn.Apply(out[:0], &end)
	n := testing.AllocsPerRun(100, func() {
		out, _ = turn.Apply(out[:0], &snap)
		out, _ = turn.Apply(out[:0], &end)
	})
	if n != 0 {
		t.Fatalf("Turn.Apply allocs = %v, want 0", n)
	}
}

func TestIDQueueGrowsInOrder(t *testing.T) {
	q := translators.NewIDQueue(10)
	for round := range 3 {
		for i := range 10 {
			if !q.Push([]byte{byte('a' + i)}) {
				t.Fatalf("round %d: push %d refused", round, i)
			}
		}
		if q.Push([]byte("x")) {
			t.Fatalf("round %d: an 11th id was accepted", round)
		}
		for i := range 10 {
			if got := string(q.Pop(nil)); got != string(rune('a'+i)) {
				t.Fatalf("round %d: pop %d = %q", round, i, got)
			}
		}
		q.Push([]byte("skew")) // move the head so the next round wraps
		q.Pop(nil)
	}
}

func TestGolden(t *testing.T) {
	translatorstest.RunGolden(t, translatorstest.Canonical, "testdata")
}

// TestTurnToolAllocs: tool events and metadata cost a Turn nothing either.
func TestTurnToolAllocs(t *testing.T) {
	var turn translators.Turn
	in := []translators.Event{
		{Kind: translators.KindToolStart, Ref: []byte("c1"), Name: []byte("search")},
		{Kind: translators.KindToolInputDelta, Ref: []byte("c1"), Text: []byte(`{"q":"x"}`)},
		{Kind: translators.KindToolOutput, Ref: []byte("c1"), Value: []byte(`{"hits":3}`)},
		{Kind: translators.KindMetadata, Value: []byte(`{}`), Usage: translators.Usage{InputTokens: 1, OutputTokens: 2}},
		ev(translators.KindTextDelta, "answer"),
		ev(translators.KindTurnEnd, ""),
	}
	out := make([]translators.Event, 0, 4)
	apply := func() {
		for i := range in {
			out, _ = turn.Apply(out[:0], &in[i])
		}
	}
	apply()
	if n := testing.AllocsPerRun(100, apply); n != 0 {
		t.Fatalf("Turn.Apply allocs = %v, want 0", n)
	}
}

// TestTurnTextGrowsInFewSteps: a fresh turn's text grows to a long reply's
// size in a few allocations (doubling), not one per quarter of its size.
func TestTurnTextGrowsInFewSteps(t *testing.T) {
	delta := ev(translators.KindTextDelta, strings.Repeat("x", 40))
	end := ev(translators.KindTurnEnd, "")
	out := make([]translators.Event, 0, 4)
	n := testing.AllocsPerRun(20, func() {
		// Never released: its buffers are its own. 200 deltas of 40
		// bytes: 8,000.
		var turn translators.Turn
		for range 200 {
			out, _ = turn.Apply(out[:0], &delta)
		}
		out, _ = turn.Apply(out[:0], &end)
	})
	// 1, 2, 4 and 8 KiB and the pooled holder (append's growth: 13).
	if n > 6 {
		t.Fatalf("a 200-delta reply took %v allocations, want at most 6", n)
	}
}
