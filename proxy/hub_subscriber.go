package proxy

import (
	"errors"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
	"github.com/agentbridge/agentbridge/translators"
)

// subscriber is one client socket on a hub route.
type subscriber struct {
	h      *hub
	c      *wsconn.Conn
	codec  translators.Codec
	mu     sync.Mutex // guards codec.Encode, out, pend and failed
	out    []byte
	pend   []byte   // whole frames queued by conversations, not yet written
	failed bool     // a write failed: the socket is gone
	slot   connSlot // given back when the socket ends

	// The reader's state, kept across parks.
	msg   []byte
	evs   []translators.Event
	subEv translators.Event // hub.subscribe's answer: passed to the codec, it would escape from a local
}

// send encodes ev and writes it, after the frames queued before it.
func (sub *subscriber) send(ev *translators.Event) error {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	var err error
	sub.out, err = sub.codec.Encode(sub.out[:0], ev)
	if err != nil || len(sub.out) == 0 {
		return err
	}
	sub.pend = wsconn.AppendHeader(sub.pend, ws.Header{Fin: true, OpCode: opcode(sub.h.rt.Client), Length: int64(len(sub.out))})
	sub.pend = append(sub.pend, sub.out...)
	return sub.flushLocked()
}

// queue appends a whole frame for the next flush, and returns the bytes
// queued; ok is false once a write to the subscriber failed.
func (sub *subscriber) queue(frame []byte) (queued int, ok bool) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.failed {
		return 0, false
	}
	sub.pend = append(sub.pend, frame...)
	return len(sub.pend), true
}

// flush writes the queued frames in one write.
func (sub *subscriber) flush() error {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.flushLocked()
}

func (sub *subscriber) flushLocked() error {
	if len(sub.pend) == 0 {
		return nil
	}
	err := sub.c.WriteRaw(sub.pend)
	if err != nil {
		sub.failed = true
	}
	if cap(sub.pend) > 256<<10 {
		sub.pend = nil
	} else {
		sub.pend = sub.pend[:0]
	}
	return err
}

// start reads the subscriber's socket on the calling goroutine until it
// parks or ends (the socket is quiet between subscriptions most of its
// life, and then holds no goroutine); the socket's slot is released when it
// ends.
func (sub *subscriber) start(slot connSlot) {
	sub.slot = slot
	sub.c.StartKeepalive(sub.h.s.cfg.PingInterval)
	sub.c.SetOwner(sub)
	sub.drive(false)
}

// Unparked resumes reading the subscriber's socket.
func (sub *subscriber) Unparked(_ *wsconn.Conn, expired bool) { sub.drive(expired) }

// IdleTimeout: a subscriber socket has no session timeout (its replies
// have theirs).
func (sub *subscriber) IdleTimeout() {}

func (sub *subscriber) drive(expired bool) {
	c := sub.c
	c.LockReader(expired)
	err := sub.read()
	if err == wsconn.ErrParked {
		c.UnlockReader()
		return
	}
	sub.finish(err)
	c.UnlockReader()
	sub.h.s.unregister(sub)
	sub.slot.release()
}

// read takes subscriptions until an error, or until the socket parks.
func (sub *subscriber) read() error {
	for {
		if err := sub.c.AwaitMessage(); err != nil {
			return err
		}
		_, msg, err := sub.c.ReadMessage(sub.msg, sub.h.rt.Limits.MaxMessage)
		sub.msg = msg
		if err != nil {
			return err
		}
		evs, err := sub.codec.Decode(sub.evs[:0], msg)
		sub.evs = evs
		if err != nil {
			ev := translators.Event{Kind: translators.KindError, Code: []byte("bad_request"), Text: []byte(malformedReason(err))}
			if err := sub.send(&ev); err != nil {
				return err
			}
			continue
		}
		for _, ev := range evs {
			if ev.Kind == translators.KindSubscribe {
				if err := sub.h.subscribe(sub, ev.ID); err != nil {
					return err
				}
			}
		}
	}
}

func (sub *subscriber) finish(err error) {
	var pc *wsconn.PeerClosed
	var ce *CloseError
	switch {
	case errors.As(err, &pc):
		_ = sub.c.WriteClose(passCode(pc.Code), "")
	case errors.Is(err, errGoingAway):
		_ = sub.c.WriteClose(ws.StatusGoingAway, "server shutting down")
	case errors.As(err, &ce):
		_ = sub.c.WriteClose(ce.Code, ce.Reason)
	}
	sub.c.DrainUntilClose()
	sub.c.Close()
	sub.c.FreeRead()
}

// drain closes the socket with 1001; replies keep running and a client can
// subscribe again elsewhere. Subscribers hold no reply state of their own.
func (sub *subscriber) drain() { sub.forceClose() }

func (sub *subscriber) forceClose() {
	_ = sub.c.WriteClose(ws.StatusGoingAway, "server shutting down")
	sub.c.InterruptRead(time.Now().Add(closeGrace))
}
