package wsconn

import (
	"container/heap"
	"sync"
	"time"
)

// timers keeps the time every Conn wants its kick (keepalive.go) and one
// runtime timer for all of them, set for the earliest: a min-heap of
// (time, Conn) entries (container/heap), each Conn knowing its entry's
// place (hIdx). A runtime timer per Conn is 112 bytes, and every idle
// connection has one for its pings; an entry is 16 bytes.
//
// mu is held only for the heap's work and to start the due kicks'
// goroutines, and nothing else is locked under it: callers hold their
// Conn's tmu (Conn.arm, Conn.stopKeepalive), and fire takes no Conn's lock.
var timers timerHeap

type timerHeap struct {
	mu  sync.Mutex
	h   timerEntries
	t   *time.Timer // made at the first schedule; set for h[0].at when tAt != 0
	tAt mono
}

// minHeapCap is the heap's capacity below which it is never shrunk.
const minHeapCap = 1024

type timerEntry struct {
	at mono
	c  *Conn
}

// timerEntries is the heap's heap.Interface: Swap keeps each Conn's hIdx.
// schedule appends and calls heap.Fix, so Push, which would box the entry
// (an allocation), is never called; Pop returns nothing, for the same
// reason (heap.Remove drops what it returns).
type timerEntries []timerEntry

func (h timerEntries) Len() int           { return len(h) }
func (h timerEntries) Less(i, j int) bool { return h[i].at < h[j].at }

func (h timerEntries) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].c.hIdx, h[j].c.hIdx = i+1, j+1
}

func (h *timerEntries) Push(x any) { panic("wsconn: timers: Push is not used") }

func (h *timerEntries) Pop() any {
	last := len(*h) - 1
	(*h)[last].c.hIdx = 0
	(*h)[last] = timerEntry{}
	*h = (*h)[:last]
	return nil
}

// schedule makes c's kick due at at, in place of what c had scheduled.
// With try it only tries the lock, and reports false when it is busy (the
// poller's goroutine waits for no lock). c.tmu is held.
func (th *timerHeap) schedule(c *Conn, at mono, try bool) bool {
	if !try {
		th.mu.Lock()
	} else if !th.mu.TryLock() {
		return false
	}
	i := c.hIdx - 1
	if i >= 0 {
		th.h[i].at = at
	} else {
		th.h = append(th.h, timerEntry{at, c})
		i, c.hIdx = len(th.h)-1, len(th.h)
	}
	heap.Fix(&th.h, i)
	th.setTimer()
	th.mu.Unlock()
	return true
}

// cancel forgets what c had scheduled. c.tmu is held.
func (th *timerHeap) cancel(c *Conn) {
	th.mu.Lock()
	if i := c.hIdx - 1; i >= 0 {
		th.remove(i)
	}
	th.mu.Unlock()
}

// fire runs on the runtime timer's goroutine: it starts the kick of every
// Conn now due, each on a goroutine of its own (a kick may write a ping,
// which may wait for its write deadline), and sets the timer for the next.
func (th *timerHeap) fire() {
	th.mu.Lock()
	now := monoNow()
	for len(th.h) > 0 && th.h[0].at <= now {
		c := th.h[0].c
		th.remove(0)
		go c.kick()
	}
	th.tAt = 0
	th.setTimer()
	th.mu.Unlock()
}

// setTimer sets the runtime timer for the earliest entry, unless it is set
// for that time already. mu is held.
func (th *timerHeap) setTimer() {
	if len(th.h) == 0 {
		return // a timer set earlier fires, finds nothing due and is not set again
	}
	at := th.h[0].at
	if th.tAt != 0 && th.tAt <= at {
		return
	}
	th.tAt = at
	d := at.sub(monoNow())
	if th.t == nil {
		th.t = time.AfterFunc(d, th.fire)
		return
	}
	th.t.Reset(d)
}

// remove takes entry i out of the heap, and gives back the room of the
// connections that left. mu is held.
func (th *timerHeap) remove(i int) {
	heap.Remove(&th.h, i)
	if cap(th.h) > minHeapCap && len(th.h) < cap(th.h)/4 {
		th.h = append(make(timerEntries, 0, cap(th.h)/2), th.h...)
	}
}
