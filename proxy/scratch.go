package proxy

import (
	"sync"

	"github.com/agentbridge/agentbridge/translators"
)

// A translating session keeps its working buffers only while it has
// something to do: each is lent from a pool when a pump needs it and given
// back when the pump parks, so that an idle session holds none of them (as
// a parked wsconn.Conn holds no read buffer). Each pool lends a holder (a
// pointer), so that lending and giving back allocate nothing once the
// pools are warm. A buffer given back at every park, even mid-reply, is
// also a warm one: sync.Pool keeps one item per P, so a thousand slow
// streams served in turn by one poller share one set of scratch lines in
// the CPU's cache rather than each touching its own, long evicted, for
// every chunk.
//
//   - clientBufs: the client pump's. Taken at the top of clientPump, given
//     back when the client pump parks (session.clientParked) or the session
//     ends: a message's events are handled before the pump reads the next.
//   - backendBufs: the backend pump's, and a socket leg's legBufs. Taken by
//     the backend pump (or by reset, which runs the backend's side while
//     no backend pump runs), given back when the backend pump parks
//     (session.backendParked), or the session ends: a batch's events are
//     relayed before the pump parks. What a reply keeps from one chunk to
//     the next is the Turn's and the codecs', given back when the pump
//     parks with no reply in progress or waited for.
//   - the pending client frames (session.pend, holder pendh): under cmu,
//     taken by queue, writeClient, clientTick and a leader's fan-out (room),
//     given back when empty by the backend pump's park, by the client
//     pump's when no reply is in progress, and after a tick or a fan-out
//     has written.

// clientBufs is the client pump's scratch: the message it read and the
// events its codec decoded from it.
type clientBufs struct {
	msg []byte
	evs []translators.Event
}

// backendBufs is the backend pump's scratch: the events the backend leg
// returned, and the Turn's normalized events for one of them.
type backendBufs struct {
	evs  []translators.Event
	norm []translators.Event
}

// legBufs is a socket leg's read scratch (backend pump only): the message
// read, and the codec's answer to the backend being written.
type legBufs struct {
	msg []byte
	rep []byte
}

var (
	clientBufPool  = sync.Pool{New: func() any { return new(clientBufs) }}
	backendBufPool = sync.Pool{New: func() any { return new(backendBufs) }}
	legBufPool     = sync.Pool{New: func() any { return new(legBufs) }}
	bytesPool      = sync.Pool{New: func() any { return new([]byte) }}
)

// maxPooledMessage bounds the message buffers given back to the pools: one
// large message must not pin a large buffer to a pool either.
const maxPooledMessage = 64 << 10

// maxPooledEvents bounds the event slices given back to the pools.
const maxPooledEvents = 64

func putClientBufs(b *clientBufs) {
	b.msg, b.evs = pooledBytes(b.msg), pooledEvents(b.evs)
	clientBufPool.Put(b)
}

func putBackendBufs(b *backendBufs) {
	b.evs, b.norm = pooledEvents(b.evs), pooledEvents(b.norm)
	backendBufPool.Put(b)
}

func putLegBufs(b *legBufs) {
	b.msg, b.rep = pooledBytes(b.msg), pooledBytes(b.rep)
	legBufPool.Put(b)
}

// pooledBytes returns b emptied for a pool, or nil when it grew past
// maxPooledMessage.
func pooledBytes(b []byte) []byte {
	if cap(b) > maxPooledMessage {
		return nil
	}
	return b[:0]
}

// pooledEvents returns evs emptied and cleared for a pool (clearEvents),
// or nil when it grew past maxPooledEvents.
func pooledEvents(evs []translators.Event) []translators.Event {
	if cap(evs) > maxPooledEvents {
		return nil
	}
	return clearEvents(evs)
}

// clearEvents zeroes the events evs held, so that a pooled slice does not
// keep the buffers they pointed into (a session's message, a codec's
// parser) alive, and returns it empty.
func clearEvents(evs []translators.Event) []translators.Event {
	clear(evs[:cap(evs)])
	return evs[:0]
}

// eventPool lends the events a session makes itself (a greeting, an ack,
// the answer to a probe): an event given to a codec escapes, so a local
// would be an allocation, and a session keeping one for the purpose would
// hold its 280 bytes while idle.
var eventPool = sync.Pool{New: func() any { return new(translators.Event) }}

// queueOwn queues ev, an event the session makes itself, through a copy
// lent from eventPool: codecs never keep the event they encode. cmu is
// held.
func (ss *session) queueOwn(ev translators.Event) {
	p := eventPool.Get().(*translators.Event)
	*p = ev
	ss.queue(p)
	*p = translators.Event{}
	eventPool.Put(p)
}

// lendPend makes the pending client frames a pooled buffer if the session
// holds none. cmu is held.
func (ss *session) lendPend() {
	if cap(ss.pend) == 0 {
		h := bytesPool.Get().(*[]byte)
		if cap(*h) == 0 {
			*h = make([]byte, 0, minPend) // new to the pool: not grown frame by frame
		}
		ss.pend, ss.pendh = (*h)[:0], h
	}
}

// minPend is the least the pending client frames' buffer is made with: a
// few encoded chunks.
const minPend = 512

// releasePend gives the pending client frames' buffer back to the pool if
// it holds nothing. cmu is held.
func (ss *session) releasePend() {
	if len(ss.pend) > 0 || cap(ss.pend) == 0 {
		return
	}
	h := ss.pendh
	if h == nil {
		h = new([]byte) // a buffer not lent (grown from nil by a follower's fan-out)
	}
	*h = pooledBytes(ss.pend)
	bytesPool.Put(h)
	ss.pend, ss.pendh = nil, nil
}

// clientBufs returns the client pump's scratch, lent from the pool if the
// session holds none. Client pump only.
func (ss *session) clientBufs() *clientBufs {
	if ss.cb == nil {
		ss.cb = clientBufPool.Get().(*clientBufs)
	}
	return ss.cb
}

// backendBufs returns the backend pump's scratch, lent from the pool if the
// session holds none. Backend pump only (or reset, while none runs).
func (ss *session) backendBufs() *backendBufs {
	if ss.bb == nil {
		ss.bb = backendBufPool.Get().(*backendBufs)
	}
	return ss.bb
}

// clientParked gives back what the client pump holds once it parked: its
// scratch and its codec's, and what both pumps use when no reply is in
// progress (idleShared). The client's reader is held.
func (ss *session) clientParked() {
	if ss.cb != nil {
		putClientBufs(ss.cb)
		ss.cb = nil
	}
	if r, ok := ss.ccodec.(translators.Releaser); ok {
		r.Release()
	}
	ss.idleShared()
}

// backendParked gives back what the backend pump holds once it parked on
// leg su: its scratch, the leg's and the pending frames' buffer (if empty
// and cmu is free) always; the Turn's, the codec's and the pending ids'
// when no reply is in progress or waited for. The backend's reader is held.
func (ss *session) backendParked(su *socketUpstream) {
	if ss.bb != nil {
		putBackendBufs(ss.bb)
		ss.bb = nil
	}
	if su != nil {
		su.putScratch()
	}
	if ss.idleNow() {
		ss.turn.Release()
		if su != nil {
			su.idle()
		}
		ss.idleShared()
	} else if ss.cmu.TryLock() {
		ss.releasePend()
		ss.cmu.Unlock()
	}
}

// freeBackend gives the backend pump's scratch and the Turn's buffers
// back. Backend pump only, or once it ended.
func (ss *session) freeBackend() {
	if ss.bb != nil {
		putBackendBufs(ss.bb)
		ss.bb = nil
	}
	ss.turn.Release()
}

// idleShared gives back, when no reply is in progress or waited for, what
// both pumps use: the ring of the pending ids, and the pending frames'
// buffer if cmu is free (a writer holds it: the next park will).
func (ss *session) idleShared() {
	if !ss.idleNow() {
		return
	}
	ss.pending.Release()
	if !ss.cmu.TryLock() {
		return
	}
	ss.releasePend()
	ss.cmu.Unlock()
}
