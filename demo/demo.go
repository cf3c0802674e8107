// Package demo is the built-in demo agent: an in-process backend that
// streams a deterministic reply word by word, so the proxy runs with no other
// service. The reply echoes the user's message after Prefix; with Thinking,
// a short reasoning block streams first. It reports token usage as word
// counts.
//
// A Session satisfies proxy.Upstream (structurally; this package imports
// only translators).
package demo

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/agentbridge/agentbridge/translators"
)

// Agent configures the demo agent. The zero value streams "You said: ..."
// with no pause between words.
type Agent struct {
	// Name is the agent's name in replies. Default "demo".
	Name string
	// Pace is the pause before each word. Zero sends words back to back.
	Pace time.Duration
	// Thinking streams a short reasoning block before each answer.
	Thinking bool
	// Prefix comes before the echoed message. Default "You said: ".
	Prefix string
	// Inbox caps the user messages waiting for a reply. Default 64.
	Inbox int
}

// NewSession returns the agent's side of one session.
func (a *Agent) NewSession() *Session {
	s := &Session{a: *a, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if s.a.Name == "" {
		s.a.Name = "demo"
	}
	if s.a.Prefix == "" {
		s.a.Prefix = "You said: "
	}
	if s.a.Inbox <= 0 {
		s.a.Inbox = 64
	}
	return s
}

// ErrInboxFull is returned by Send when too many messages wait for a reply.
var ErrInboxFull = errors.New("demo: too many messages waiting")

// Session is one conversation with the demo agent. Send is called by one
// goroutine and Receive by another; Close by any.
type Session struct {
	a    Agent
	wake chan struct{}
	done chan struct{}
	once sync.Once

	mu       sync.Mutex
	inbox    []job  // waiting user messages
	cancelID []byte // a cancel for this id arrived

	// Receive's state (backend pump only).
	cur    *job
	words  [][]byte
	next   int
	phase  int // 0 start, 1 thinking, 2 answer, 3 end
	timer  *time.Timer
	thinkN int
}

type job struct {
	id    []byte
	text  []byte
	reply []byte
	think []byte
}

// Send takes a user message or a cancel.
func (s *Session) Send(ev *translators.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch ev.Kind {
	case translators.KindUserMessage:
		if len(s.inbox) >= s.a.Inbox {
			return ErrInboxFull
		}
		s.inbox = append(s.inbox, job{id: bytes.Clone(ev.ID), text: bytes.Clone(ev.Text)})
	case translators.KindCancel:
		s.cancelID = append(s.cancelID[:0], ev.ID...)
		if s.cancelID == nil {
			s.cancelID = []byte{}
		}
	default:
		return nil
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// Receive returns the next event of the reply in progress, pausing Pace
// before each word, or waits for the next user message.
func (s *Session) Receive(dst []translators.Event) ([]translators.Event, error) {
	for s.cur == nil {
		s.mu.Lock()
		if len(s.inbox) > 0 {
			j := s.inbox[0]
			s.inbox = s.inbox[1:]
			s.mu.Unlock()
			s.begin(j)
			break
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-s.done:
			return dst, io.EOF
		}
	}
	if s.cancelled() {
		ev := translators.Event{Kind: translators.KindCancel, ID: s.cur.id, Text: []byte("cancelled by the user")}
		s.cur = nil
		return append(dst, ev), nil
	}
	j := s.cur
	switch s.phase {
	case 0:
		s.phase = 1
		if !s.a.Thinking {
			s.phase = 2
		}
		return append(dst, translators.Event{Kind: translators.KindTurnStart, ID: j.id, Agent: []byte(s.a.Name)}), nil
	case 1, 2:
		if err := s.pause(); err != nil {
			return dst, err
		}
		words := s.words
		kind := translators.KindTextDelta
		if s.phase == 1 {
			kind = translators.KindThinkingDelta
			words = words[:s.thinkN]
		}
		w := words[s.next]
		s.next++
		if s.next == len(words) {
			if s.phase == 1 {
				s.phase = 2
			} else {
				s.phase = 3
			}
		}
		return append(dst, translators.Event{Kind: kind, ID: j.id, Text: w}), nil
	}
	s.cur = nil
	in, out := int64(len(bytes.Fields(j.text))), int64(len(bytes.Fields(j.reply)))
	return append(dst, translators.Event{
		Kind:  translators.KindTurnEnd,
		ID:    j.id,
		Usage: translators.Usage{InputTokens: in, OutputTokens: out},
	}), nil
}

// begin prepares the reply to j: its words, each with the space before it,
// so the deltas join into the reply exactly.
func (s *Session) begin(j job) {
	j.reply = append([]byte(s.a.Prefix), j.text...)
	s.words = s.words[:0]
	s.thinkN = 0
	if s.a.Thinking {
		j.think = []byte("The user wrote " + strconv.Itoa(len(bytes.Fields(j.text))) + " words; I will echo them. ")
		s.words = splitWords(s.words, j.think)
		s.thinkN = len(s.words)
	}
	s.words = splitWords(s.words, j.reply)
	s.cur, s.next, s.phase = &j, 0, 0
}

// splitWords appends the pieces of b that each hold one word and the spaces
// after it.
func splitWords(dst [][]byte, b []byte) [][]byte {
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != ' ' {
			i++
		}
		for i < len(b) && b[i] == ' ' {
			i++
		}
		dst = append(dst, b[:i])
		b = b[i:]
	}
	return dst
}

func (s *Session) cancelled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancelID == nil || s.cur == nil {
		return false
	}
	hit := len(s.cancelID) == 0 || bytes.Equal(s.cancelID, s.cur.id)
	s.cancelID = nil
	return hit
}

func (s *Session) pause() error {
	if s.a.Pace <= 0 {
		select {
		case <-s.done:
			return io.EOF
		default:
			return nil
		}
	}
	if s.timer == nil {
		s.timer = time.NewTimer(s.a.Pace)
	} else {
		s.timer.Reset(s.a.Pace)
	}
	select {
	case <-s.timer.C:
		return nil
	case <-s.done:
		s.timer.Stop()
		return io.EOF
	}
}

// Close ends the session; Receive returns io.EOF.
func (s *Session) Close(code int, reason string) {
	s.once.Do(func() { close(s.done) })
}
