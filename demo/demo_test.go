package demo

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/translators"
)

// collect reads one whole reply from s.
func collect(t *testing.T, s *Session) (kinds []string, text, thinking string, last translators.Event) {
	t.Helper()
	for {
		evs, err := s.Receive(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			kinds = append(kinds, ev.Kind.String())
			switch ev.Kind {
			case translators.KindTextDelta:
				text += string(ev.Text)
			case translators.KindThinkingDelta:
				thinking += string(ev.Text)
			case translators.KindTurnEnd, translators.KindCancel:
				return kinds, text, thinking, ev
			}
		}
	}
}

func TestReplyIsDeterministic(t *testing.T) {
	s := (&Agent{Name: "helper"}).NewSession()
	_ = s.Send(&translators.Event{Kind: translators.KindUserMessage, ID: []byte("m1"), Text: []byte("one  two three")})
	kinds, text, _, end := collect(t, s)
	if text != "You said: one  two three" {
		t.Errorf("text %q", text)
	}
	if kinds[0] != "turn_start" || string(end.ID) != "m1" {
		t.Errorf("kinds %v, end id %q", kinds, end.ID)
	}
	if end.Usage.InputTokens != 3 || end.Usage.OutputTokens != 5 {
		t.Errorf("usage %+v, want words in and out", end.Usage)
	}
}

func TestThinkingComesFirst(t *testing.T) {
	s := (&Agent{Thinking: true, Prefix: "Echo: "}).NewSession()
	_ = s.Send(&translators.Event{Kind: translators.KindUserMessage, Text: []byte("a b")})
	kinds, text, thinking, _ := collect(t, s)
	if !strings.HasPrefix(thinking, "The user wrote 2 words") || text != "Echo: a b" {
		t.Errorf("thinking %q, text %q", thinking, text)
	}
	firstText := strings.Index(strings.Join(kinds, ","), "text_delta")
	lastThink := strings.LastIndex(strings.Join(kinds, ","), "thinking_delta")
	if lastThink > firstText {
		t.Errorf("thinking after the answer: %v", kinds)
	}
}

func TestCancelAndClose(t *testing.T) {
	s := (&Agent{Pace: 20 * time.Millisecond}).NewSession()
	_ = s.Send(&translators.Event{Kind: translators.KindUserMessage, ID: []byte("x"), Text: []byte("a long message to cut")})
	if evs, _ := s.Receive(nil); evs[0].Kind != translators.KindTurnStart {
		t.Fatalf("first %v", evs[0].Kind)
	}
	_ = s.Send(&translators.Event{Kind: translators.KindCancel, ID: []byte("x")})
	_, _, _, end := collect(t, s)
	if end.Kind != translators.KindCancel || string(end.ID) != "x" {
		t.Errorf("after cancel: %v %q", end.Kind, end.ID)
	}
	done := make(chan error, 1)
	go func() { _, err := s.Receive(nil); done <- err }()
	s.Close(1000, "")
	select {
	case err := <-done:
		if !errors.Is(err, io.EOF) {
			t.Errorf("Receive after Close = %v, want io.EOF", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Receive did not return after Close")
	}
}

func TestInboxIsBounded(t *testing.T) {
	s := (&Agent{Inbox: 2}).NewSession()
	for i := range 3 {
		err := s.Send(&translators.Event{Kind: translators.KindUserMessage, Text: []byte("m")})
		if (i < 2) != (err == nil) {
			t.Errorf("send %d: %v", i, err)
		}
	}
}
