package proxy

import (
	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
	"github.com/agentbridge/agentbridge/translators"
)

// A translating session's backend pump is served as a relay's pumps are
// (relay.RunInline): when both legs are raw sockets, the backend's socket
// is registered edge-triggered and the poller runs the pump on its own
// goroutine when it is readable. Messages already whole in the buffer are
// decoded, normalized and encoded there, and written if the client's
// socket takes them at once; no goroutine is woken per message. Whatever
// could block moves the pump to a goroutine of its own first (handoff):
// a lock another goroutine holds, a partial write, a message not yet whole
// or bigger than the buffer, a control frame, a codec's answer to the
// backend, a reply timed by its chunks' gap, followers to write to, the
// pump's end. The locks it does take guard memory only, never I/O (a
// path's room, the transcripts).

// handoff is what an inline backend pump leaves for the goroutine it
// moves to (resumeBackend).
type handoff uint8

const (
	handNone   handoff = iota // nothing: relayed, then the pump goes on
	handScan                  // bevs were decoded, not scanned: a codec's answer is to be written to the backend
	handEvents                // bevs were scanned, not relayed: cmu was busy
	handFlush                 // pend is to be written: the client's write lock was busy
	handRest                  // pend is the rest of a partial write: cmu and the client's write lock are held
	handEnded                 // the pump ended with the error it hands over
)

// inline makes su's socket served from the poller's goroutine (RunInline)
// when both legs are raw sockets. Call it before su's pump runs.
func (ss *session) inline(su *socketUpstream) {
	if su.c.Inlineable() && ss.client.Inlineable() {
		su.c.SetInliner(ss)
	}
}

// RunInline runs the backend pump on the poller's goroutine, c being the
// backend leg's socket. It must not wait there: if the pump that parked c
// still holds its reader, or the leg is being swapped, the pump resumes on
// a goroutine of its own.
func (ss *session) RunInline(c *wsconn.Conn) {
	if !ss.umu.TryLock() {
		go ss.Unparked(c, false)
		return
	}
	su := ss.su
	ss.umu.Unlock()
	if su == nil || su.c != c {
		return // a reset replaced this leg meanwhile (see Unparked)
	}
	if !c.TryLockReader() {
		go ss.Unparked(c, false)
		return
	}
	h, more, err := ss.backendInline(su)
	if err == wsconn.ErrParked {
		ss.backendParked(su)
		c.UnlockReader()
		return
	}
	go ss.resumeBackend(su, h, more, err)
}

// backendInline is backendPump on the poller's goroutine. It returns
// wsconn.ErrParked when the socket has no more for now; otherwise what the
// goroutine it hands off to must do (h), whether the backend had more
// buffered, and the write's error (h not handEnded) or the pump's end.
func (ss *session) backendInline(su *socketUpstream) (h handoff, more bool, err error) {
	c := su.c
	for {
		if su.inReply && su.gap > 0 {
			return handNone, false, nil // the next read waits at most the gap (FillWithin)
		}
		if err := c.AwaitInline(true, false); err != nil {
			switch err {
			case wsconn.ErrParked:
				return handNone, false, err
			case wsconn.ErrHandoff:
				return handNone, false, nil
			}
			return handEnded, false, su.readError(err) // a read failed: no close frame to answer
		}
		b := ss.backendBufs()
		evs, err := su.decodeNext(b.evs[:0])
		b.evs = evs
		if err != nil {
			return handEnded, false, err
		}
		for i := range evs {
			if evs[i].Kind == translators.KindReply {
				return handScan, su.more(), nil
			}
		}
		evs, _ = su.scan(evs, 0) // no answer to write: no error
		b.evs = evs
		if len(evs) == 0 {
			continue
		}
		more = su.more()
		if !ss.cmu.TryLock() {
			return handEvents, more, nil
		}
		if ss.normalize(evs, more) {
			ss.cmu.Unlock()
			continue
		}
		if h, err := ss.flushInline(); h != handNone || err != nil {
			return h, more, err
		}
		if ss.fanDue {
			if !ss.room.fanOutAlone() {
				return handNone, more, nil // relayed writes to the followers
			}
			ss.fanDue = false
		}
		if err := ss.relayed(nil); err != nil {
			return handEnded, false, err
		}
	}
}

// flushInline is flushLocked without waiting: for the client's write lock,
// or for its socket to take the frames. It lets go of cmu, which is held,
// unless it returns handRest.
func (ss *session) flushInline() (handoff, error) {
	cl := ss.client
	if len(ss.pend) == 0 || ss.gone.Load() {
		err := ss.flushLocked() // nothing to write, or no client to write to
		ss.cmu.Unlock()
		return handNone, err
	}
	if !cl.Inlineable() {
		ss.cmu.Unlock()
		return handFlush, nil
	}
	ok, err := cl.TryLockWrite()
	switch {
	case err != nil:
		ss.written()
		ss.cmu.Unlock()
		return handNone, err
	case !ok:
		ss.cmu.Unlock()
		return handFlush, nil
	}
	n, err := cl.WriteNow(ss.pend)
	if err == nil && n < len(ss.pend) {
		ss.pend = ss.pend[:copy(ss.pend, ss.pend[n:])]
		return handRest, nil
	}
	cl.UnlockWrite()
	ss.written()
	ss.cmu.Unlock()
	return handNone, err
}

// resumeBackend does, on a goroutine of its own, what the inline backend
// pump handed off (h, more and err as backendInline returned them), then
// runs the pump as usual. The backend's reader is held.
func (ss *session) resumeBackend(su *socketUpstream, h handoff, more bool, err error) {
	b := ss.backendBufs()
	if h == handScan {
		if b.evs, err = su.scan(b.evs, 0); err != nil {
			h = handEnded
		} else {
			h = handEvents
		}
	}
	if h != handEnded {
		switch h {
		case handEvents:
			err = ss.relayEvents(b.evs, more)
		case handFlush:
			ss.cmu.Lock()
			err = ss.flushLocked()
			ss.cmu.Unlock()
		case handRest:
			err = ss.client.WriteLocked(ss.pend)
			ss.client.UnlockWrite()
			ss.written()
			ss.cmu.Unlock()
		}
		if err = ss.relayed(err); err == nil {
			err = ss.backendPump()
		}
	}
	ss.pumped(false, su.c, su, err)
}
