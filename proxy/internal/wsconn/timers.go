package wsconn

import (
	"sync"
	"time"
)

// timers keeps the time every Conn wants its kick (keepalive.go) and one
// runtime timer for all of them, set for the earliest: a min-heap of
// (time, Conn) entries, each Conn knowing its entry's place (hIdx). A
// runtime timer per Conn is 112 bytes, and every idle connection has one
// for its pings; an entry is 16 bytes.
//
// mu is held only for the heap's work and to start the due kicks'
// goroutines, and nothing else is locked under it: callers hold their
// Conn's tmu (Conn.arm, Conn.stopKeepalive), and fire takes no Conn's lock.
var timers timerHeap

type timerHeap struct {
	mu  sync.Mutex
	h   []timerEntry
	t   *time.Timer // made at the first schedule; set for h[0].at when tAt != 0
	tAt mono
}

// minHeapCap is the heap's capacity below which it is never shrunk.
const minHeapCap = 1024

type timerEntry struct {
	at mono
	c  *Conn
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
	if i := c.hIdx - 1; i >= 0 {
		th.h[i].at = at
		if !th.up(i) {
			th.down(i)
		}
	} else {
		th.h = append(th.h, timerEntry{at, c})
		c.hIdx = len(th.h)
		th.up(len(th.h) - 1)
	}
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

// remove takes entry i out of the heap. mu is held.
func (th *timerHeap) remove(i int) {
	h := th.h
	last := len(h) - 1
	h[i].c.hIdx = 0
	if i != last {
		h[i] = h[last]
		h[i].c.hIdx = i + 1
	}
	h[last] = timerEntry{}
	th.h = h[:last]
	if cap(th.h) > minHeapCap && len(th.h) < cap(th.h)/4 {
		th.h = append(make([]timerEntry, 0, cap(th.h)/2), th.h...) // the connections left
	}
	if i != last && !th.up(i) {
		th.down(i)
	}
}

// up moves entry i towards the root while it is earlier than its parent,
// and reports whether it moved. mu is held.
func (th *timerHeap) up(i int) bool {
	h, moved := th.h, false
	for i > 0 {
		p := (i - 1) / 2
		if h[p].at <= h[i].at {
			break
		}
		th.swap(i, p)
		i, moved = p, true
	}
	return moved
}

// down moves entry i towards the leaves while a child is earlier. mu is
// held.
func (th *timerHeap) down(i int) {
	h := th.h
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].at < h[l].at {
			m = r
		}
		if h[i].at <= h[m].at {
			return
		}
		th.swap(i, m)
		i = m
	}
}

func (th *timerHeap) swap(i, j int) {
	h := th.h
	h[i], h[j] = h[j], h[i]
	h[i].c.hIdx, h[j].c.hIdx = i+1, j+1
}
