package proxy

import (
	"errors"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
	"github.com/agentbridge/agentbridge/translators"
)

// Upstream is the backend leg of a translating session: a WebSocket with
// its codec, or an in-process agent such as the demo.
//
// A session calls Send only from the goroutine that reads the client, and
// Receive only from one other goroutine; Close may come from any goroutine,
// more than once.
type Upstream interface {
	// Send delivers one client event (KindUserMessage, KindCancel,
	// KindToolOutput, KindToolError, KindState or KindFrame) to the
	// backend; one the backend's dialect has no place for is dropped. It
	// does not keep ev or the slices it holds.
	Send(ev *translators.Event) error
	// Receive blocks until the backend has something to say and appends
	// the events to dst; it may append none, when the session should
	// write what it holds back (see moreUpstream). The events are valid
	// until the next Receive. After Close, or when the backend ends the
	// leg, it returns an error: a *BackendClosed for a clean close, io.EOF
	// after Close, anything else for a leg that broke.
	Receive(dst []translators.Event) ([]translators.Event, error)
	// Close ends the leg. code is the WebSocket close code a socket leg
	// sends (1000 when the client left normally).
	Close(code int, reason string)
}

// BackendClosed is returned by Upstream.Receive when the backend closed the
// leg cleanly with Code.
type BackendClosed struct {
	Code   int
	Reason string
}

func (e *BackendClosed) Error() string { return "backend closed the connection" }

// socketUpstream is an Upstream over a WebSocket to the backend.
type socketUpstream struct {
	s       *Server
	rt      *Route
	c       *wsconn.Conn
	codec   translators.Codec
	op      ws.OpCode
	max     int64
	out     []byte   // Send's and tick's encode buffer (under emu when ticker is set)
	rb      *legBufs // the backend pump's: lent while it reads (borrow), given back when it parks (putScratch)
	gap     time.Duration
	inReply bool // a chunked reply without end marker is in progress

	// ticker is codec when its dialect sends messages on a timer, and nil
	// otherwise. emu then keeps Tick (the session's timer) and Encode
	// (Send, on the client pump) from running at the same time; without
	// a ticker, Send alone encodes and takes no lock.
	ticker    translators.Ticker
	tickEvery time.Duration
	emu       sync.Mutex
}

var _ Upstream = (*socketUpstream)(nil)

func (u *socketUpstream) Send(ev *translators.Event) error {
	if u.ticker != nil {
		u.emu.Lock()
		defer u.emu.Unlock()
	}
	var err error
	u.out, err = u.codec.Encode(u.out[:0], ev)
	if len(u.out) == 0 && ev.Kind == translators.KindFrame {
		u.s.frameDropped(u.rt, ev) // another dialect's frame: no place for it
	}
	if err != nil || len(u.out) == 0 {
		return err
	}
	return u.c.WriteFrame(u.op, u.out)
}

// tick writes to the backend what the codec's Tick appends, if anything.
// The session's timer calls it; ticker is set.
func (u *socketUpstream) tick() error {
	u.emu.Lock()
	defer u.emu.Unlock()
	var err error
	u.out, err = u.ticker.Tick(u.out[:0])
	if err != nil || len(u.out) == 0 {
		return err
	}
	if err := u.c.WriteFrame(u.op, u.out); err != nil {
		return errBackendWrite{err}
	}
	return nil
}

// Receive may also return wsconn.ErrParked, with no events: the socket parked
// (wsconn.Conn.AwaitMessage), and the owner calls Receive again once it is readable.
func (u *socketUpstream) Receive(dst []translators.Event) ([]translators.Event, error) {
	for {
		if !(u.inReply && u.gap > 0) {
			if err := u.c.AwaitMessage(); err != nil {
				if err == wsconn.ErrParked {
					return dst, err
				}
				return dst, u.readError(err)
			}
		}
		if u.inReply && u.gap > 0 && len(u.c.Buffered()) == 0 {
			timedOut, err := u.c.FillWithin(u.gap)
			if err != nil {
				return dst, u.readError(err)
			}
			if timedOut {
				u.inReply = false
				return append(dst, translators.Event{Kind: translators.KindTurnEnd, Usage: translators.UnknownUsage}), nil
			}
		}
		n := len(dst)
		var err error
		if dst, err = u.decodeNext(dst); err != nil {
			return dst, err
		}
		if dst, err = u.scan(dst, n); err != nil {
			return dst, err
		}
		if len(dst) > n {
			return dst, nil
		}
	}
}

// decodeNext reads the next message and appends the codec's events for it
// to dst, not yet scanned. Run inline (session.RunInline) it is called with
// the whole message buffered, and reads nothing from the socket.
func (u *socketUpstream) decodeNext(dst []translators.Event) ([]translators.Event, error) {
	b := u.borrow()
	op, msg, err := u.c.ReadMessage(b.msg, u.max)
	b.msg = msg
	if err != nil {
		return dst, u.readError(err)
	}
	if op == ws.OpBinary && u.op == ws.OpText {
		// A text dialect's backend sent binary: take it as text if it
		// is valid UTF-8, as plain agents sending Uint8Arrays do.
		if !utf8.Valid(msg) {
			return dst, errBadBackendMessage
		}
	}
	dst, err = u.codec.Decode(dst, msg)
	if err != nil {
		return dst, errBadBackendMessage
	}
	if cap(b.msg) > maxPooledMessage {
		// The events alias msg until the next Receive; after that the
		// large buffer is let go.
		b.msg = nil
	}
	return dst, nil
}

// scan looks at the events Decode appended from dst[n:]: it writes each
// KindReply's Raw back to the backend and leaves it out of dst (it is the
// codec's answer on its own leg, never forwarded), and tracks whether a
// chunked reply is in progress.
func (u *socketUpstream) scan(dst []translators.Event, n int) ([]translators.Event, error) {
	k := n
	for i := n; i < len(dst); i++ {
		ev := &dst[i]
		switch ev.Kind {
		case translators.KindReply:
			if err := u.reply(ev.Raw); err != nil {
				return dst[:k], err
			}
			continue
		case translators.KindTextDelta:
			u.inReply = u.gap > 0
		case translators.KindTurnEnd:
			u.inReply = false
		}
		if k != i {
			dst[k] = *ev
		}
		k++
	}
	return dst[:k], nil
}

// reply writes raw, a message the backend codec made to answer the backend
// (a dialect-level pong), to the backend. raw is copied first: WriteFrame
// masks in place, and raw belongs to the codec.
func (u *socketUpstream) reply(raw []byte) error {
	b := u.borrow()
	b.rep = append(b.rep[:0], raw...)
	return u.c.WriteFrame(u.op, b.rep)
}

// borrow returns the leg's read scratch, lent from the pool if it holds
// none. Backend pump only.
func (u *socketUpstream) borrow() *legBufs {
	if u.rb == nil {
		u.rb = legBufPool.Get().(*legBufs)
	}
	return u.rb
}

// idle gives back what the backend pump holds between replies: the leg's
// read scratch and its codec's (translators.Releaser). Backend pump only,
// with the reader held, or once it ended.
func (u *socketUpstream) idle() {
	u.putScratch()
	if r, ok := u.codec.(translators.Releaser); ok {
		r.Release()
	}
}

// putScratch gives back the leg's read scratch: the events of the last
// Receive are no longer used. Backend pump only, with the reader held, or
// once it ended.
func (u *socketUpstream) putScratch() {
	if u.rb != nil {
		putLegBufs(u.rb)
		u.rb = nil
	}
}

// more reports whether the next data message is already buffered whole
// (wsconn.Conn.MessageBuffered), so the session may hold its writes to the
// client for it. A control frame, or a message not yet whole, says no: the
// session writes now. A backend that answers a ping once its reply is out
// sends the pong right behind the reply's end, and nothing more until the
// client's next message, which waits for that end.
func (u *socketUpstream) more() bool { return u.c.MessageBuffered() }

// errBadBackendMessage: the backend sent something its dialect forbids.
var errBadBackendMessage = errors.New("backend sent a malformed message")

func (u *socketUpstream) readError(err error) error {
	var pc *wsconn.PeerClosed
	if errors.As(err, &pc) {
		_ = u.c.WriteClose(pc.Code, "")
		return &BackendClosed{Code: int(pc.Code), Reason: pc.Reason}
	}
	if u.c.Closed() || u.c.CloseSent() {
		return io.EOF
	}
	return err
}

func (u *socketUpstream) Close(code int, reason string) {
	_ = u.c.WriteClose(ws.StatusCode(code), reason)
	// The backend pump may be blocked reading: close the socket so it
	// returns. The backend has the close frame already.
	u.c.Close()
}

// release gives back buffers and the poller's slot; called once the
// backend pump has returned.
func (u *socketUpstream) release() {
	u.c.Forget()
	u.c.FreeRead()
	u.idle()
}
