package translators

import (
	"bytes"
	"sync"
)

// DefaultMaxTurnText is the Turn.MaxText used when it is zero: 1 MiB.
const DefaultMaxTurnText = 1 << 20

// Turn normalizes the backend-to-client events of one session and keeps the
// text of the reply in progress. It is the one place a reply is buffered.
//
// Apply does five things:
//   - it opens a turn when a backend sends text, a tool call or a step
//     without a TurnStart, and stamps every event of a turn with the turn's
//     correlation id, taken from the backend or, when the backend has none,
//     from Pending;
//   - it turns TextSnapshot (accumulated text) into a TextDelta of what is
//     new, or a TextReplace when the snapshot does not extend the text so far;
//   - it reconciles the final text a TurnEnd may carry the same way;
//   - it fills Event.Full and Event.Thinking with the whole text so far;
//   - it keeps the last Usage reported during the turn (by a KindMetadata,
//     say) and puts it on a TurnEnd that reports none.
//
// Tool calls, steps and metadata pass through in order, stamped like text;
// they are not buffered and leave the text so far as it is.
//
// A Turn is owned by the goroutine that reads the backend; it is not safe for
// concurrent use. The zero value is ready to use.
type Turn struct {
	// MaxText caps the answer and the thinking text of one turn, in bytes.
	// Zero means DefaultMaxTurnText.
	MaxText int
	// Pending, when not nil, supplies correlation ids for turns whose
	// backend does not send one: the ids of the user messages, in order.
	Pending *IDQueue

	open  bool
	usage Usage // the last Usage reported during the turn

	// b holds the turn's id, agent and texts, lent from turnBufPool at the
	// first Apply after a Release and given back by the next Release: an
	// idle session keeps an 8-byte pointer, not the four slices.
	b *turnBufs
}

// turnBufs are a Turn's buffers: its own while lent to it, turnBufPool's
// after a Release.
type turnBufs struct{ id, agent, text, thinking []byte }

var turnBufPool = sync.Pool{New: func() any { return new(turnBufs) }}

// maxPooledTurnText bounds the text buffers a Release puts in the pool: a
// long reply's are dropped.
const maxPooledTurnText = 64 << 10

// Release gives the turn's buffers back to a pool when no turn is open, so
// that an idle session does not hold them; the next Apply takes buffers
// from the pool again. ID, Text and Thinking return nil meanwhile. A turn
// in progress keeps its buffers.
func (t *Turn) Release() {
	b := t.b
	if t.open || b == nil {
		return
	}
	b.id, b.agent, b.text, b.thinking = b.id[:0], b.agent[:0], b.text[:0], b.thinking[:0]
	if cap(b.text) > maxPooledTurnText {
		b.text = nil
	}
	if cap(b.thinking) > maxPooledTurnText {
		b.thinking = nil
	}
	turnBufPool.Put(b)
	t.b = nil
}

// Open reports whether a turn is in progress.
func (t *Turn) Open() bool { return t.open }

// ID returns the correlation id of the current or last turn. It is valid
// until the next call to Apply.
func (t *Turn) ID() []byte {
	if t.b == nil {
		return nil
	}
	return t.b.id
}

// Text returns the answer text of the current or last turn. It is valid
// until the next call to Apply.
func (t *Turn) Text() []byte {
	if t.b == nil {
		return nil
	}
	return t.b.text
}

// Thinking returns the reasoning text of the current or last turn. It is
// valid until the next call to Apply.
func (t *Turn) Thinking() []byte {
	if t.b == nil {
		return nil
	}
	return t.b.thinking
}

// Apply appends to dst the normalized events for ev and returns dst. The
// events alias ev's slices and t's buffers, valid until the next call to
// Apply. Events that are not part of a reply (Reply, Ready, Auth, ...) are
// appended unchanged, and so are State and Frame, which belong to the
// session rather than to a reply. When the reply would grow past MaxText,
// Apply returns ErrTurnTooLarge and the turn is closed: the caller should
// send an error.
func (t *Turn) Apply(dst []Event, ev *Event) ([]Event, error) {
	if t.b == nil {
		t.b = turnBufPool.Get().(*turnBufs)
	}
	switch ev.Kind {
	case KindTurnStart:
		dst = t.start(dst, ev, false)
		return dst, nil

	case KindTextDelta, KindThinkingDelta:
		if len(ev.Text) == 0 {
			return dst, nil
		}
		dst = t.ensureOpen(dst, ev)
		t.keepUsage(ev)
		var err error
		if ev.Kind == KindTextDelta {
			t.b.text, err = t.grow(t.b.text, ev.Text)
		} else {
			t.b.thinking, err = t.grow(t.b.thinking, ev.Text)
		}
		if err != nil {
			return dst, err
		}
		return append(dst, t.stamp(ev)), nil

	case KindTextSnapshot, KindTextReplace:
		dst = t.ensureOpen(dst, ev)
		t.keepUsage(ev)
		return t.snapshot(dst, ev, ev.Kind == KindTextReplace)

	case KindTurnEnd:
		dst = t.ensureOpen(dst, ev)
		var err error
		if len(ev.Text) > 0 || len(ev.Thinking) > 0 {
			if dst, err = t.snapshot(dst, ev, false); err != nil {
				return dst, err
			}
		}
		e := t.stamp(ev)
		e.Text = nil
		if !e.Usage.Known() && t.usage.Known() {
			e.Usage = t.usage
		}
		t.open = false
		return append(dst, e), nil

	case KindToolStart, KindToolInputDelta, KindToolInput, KindToolOutput, KindToolError, KindStepStart:
		// Parts of a reply: a reply may begin with a tool call.
		dst = t.ensureOpen(dst, ev)
		t.keepUsage(ev)
		return append(dst, t.stamp(ev)), nil

	case KindStepEnd, KindMetadata:
		// They close or describe what is already there, so they open no
		// turn (which would take a waiting message's id): outside a turn
		// they pass unchanged.
		if !t.open {
			return append(dst, *ev), nil
		}
		t.keepUsage(ev)
		return append(dst, t.stamp(ev)), nil

	case KindError, KindCancel:
		// An error ends the turn in progress; outside a turn it answers the
		// oldest message still waiting.
		if !t.open {
			t.b.text, t.b.thinking = t.b.text[:0], t.b.thinking[:0]
			t.takeID(ev.ID)
		}
		e := t.stamp(ev)
		if len(ev.ID) > 0 {
			e.ID = ev.ID
		}
		t.open = false
		return append(dst, e), nil
	}
	return append(dst, *ev), nil
}

// start opens a new turn for ev. When implicit, the TurnStart was not sent by
// the backend but is made here for a reply that began without one.
func (t *Turn) start(dst []Event, ev *Event, implicit bool) []Event {
	t.open = true
	t.b.text = t.b.text[:0]
	t.b.thinking = t.b.thinking[:0]
	t.usage = Usage{}
	t.b.agent = append(t.b.agent[:0], ev.Agent...)
	t.takeID(ev.ID)
	e := Event{Kind: KindTurnStart, ID: t.b.id, Agent: t.b.agent}
	if implicit {
		e.Full, e.Thinking = t.b.text, t.b.thinking
	}
	return append(dst, e)
}

// takeID sets the turn's correlation id: the backend's when it sent one (the
// message it answers stops waiting), else the oldest waiting message's.
func (t *Turn) takeID(id []byte) {
	switch {
	case len(id) > 0:
		t.b.id = append(t.b.id[:0], id...)
		if t.Pending != nil {
			t.Pending.PopIf(id)
		}
	case t.Pending != nil:
		t.b.id = t.Pending.Pop(t.b.id[:0])
	default:
		t.b.id = t.b.id[:0]
	}
}

// keepUsage remembers the token counts an event within the turn reports.
func (t *Turn) keepUsage(ev *Event) {
	if ev.Usage.Known() {
		t.usage = ev.Usage
	}
}

func (t *Turn) ensureOpen(dst []Event, ev *Event) []Event {
	if t.open {
		return dst
	}
	return t.start(dst, ev, true)
}

// snapshot reconciles the accumulated answer (ev.Text) and thinking
// (ev.Thinking) of a snapshot-like event with what the turn holds, appending
// a delta, a replace, or nothing when nothing changed.
func (t *Turn) snapshot(dst []Event, ev *Event, replace bool) ([]Event, error) {
	if th := ev.Thinking; len(th) > len(t.b.thinking) || (len(th) > 0 && !bytes.Equal(th, t.b.thinking)) {
		var delta []byte
		if bytes.HasPrefix(th, t.b.thinking) {
			delta = th[len(t.b.thinking):]
		} else {
			// Reasoning was rewritten: restart it. Dialects show thinking as
			// a side channel, so the new text is sent whole as a delta.
			t.b.thinking = t.b.thinking[:0]
			delta = th
		}
		var err error
		if t.b.thinking, err = t.grow(t.b.thinking, delta); err != nil {
			return dst, err
		}
		e := t.stamp(ev)
		e.Kind, e.Text, e.Usage = KindThinkingDelta, delta, Usage{}
		dst = append(dst, e)
	}
	if !replace && bytes.HasPrefix(ev.Text, t.b.text) {
		delta := ev.Text[len(t.b.text):]
		if len(delta) == 0 {
			return dst, nil
		}
		var err error
		if t.b.text, err = t.grow(t.b.text, delta); err != nil {
			return dst, err
		}
		e := t.stamp(ev)
		e.Kind, e.Text, e.Usage = KindTextDelta, delta, Usage{}
		return append(dst, e), nil
	}
	if len(ev.Text) > t.max() {
		t.open = false
		return dst, ErrTurnTooLarge
	}
	t.b.text = append(t.b.text[:0], ev.Text...)
	e := t.stamp(ev)
	e.Kind, e.Text, e.Usage = KindTextReplace, t.b.text, Usage{}
	return append(dst, e), nil
}

// stamp returns a copy of ev carrying the turn's id, agent and text so far.
func (t *Turn) stamp(ev *Event) Event {
	e := *ev
	e.ID, e.Full, e.Thinking = t.b.id, t.b.text, t.b.thinking
	if len(e.Agent) == 0 {
		e.Agent = t.b.agent
	}
	return e
}

func (t *Turn) grow(buf, more []byte) ([]byte, error) {
	if len(buf)+len(more) > t.max() {
		t.open = false
		return buf, ErrTurnTooLarge
	}
	return append(Reserve(buf, len(more), minTurnText), more...), nil
}

// minTurnText is the least a turn's text buffer is made with.
const minTurnText = 1 << 10

func (t *Turn) max() int {
	if t.MaxText > 0 {
		return t.MaxText
	}
	return DefaultMaxTurnText
}
