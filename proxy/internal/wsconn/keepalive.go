package wsconn

import (
	"time"

	"github.com/gobwas/ws"
)

// Each connection is kicked at the earliest of the next ping (keepalive),
// the read deadline of a parked reader and the owner's idle deadline (a
// session with no client message for its timeout), by the timers heap
// (timers.go), which has one runtime timer for every connection. The kick
// is also what a parked connection is resumed on (see park_linux.go), so a
// connection costs a heap entry and one func value however it is used.

// StartKeepalive pings the peer every interval until the connection closes.
// The reader's deadline (readIdle) finds a peer that stopped answering: any
// frame, a pong included, moves it. No goroutine waits between pings.
func (c *Conn) StartKeepalive(interval time.Duration) {
	if interval <= 0 {
		return
	}
	c.tmu.Lock()
	defer c.tmu.Unlock()
	c.pingEvery = interval
	c.nextPing = monoNow().add(interval)
	c.armLocked()
}

// StartIdle makes the timer call the owner's IdleTimeout once d passes
// without TouchIdle.
func (c *Conn) StartIdle(d time.Duration) {
	if d <= 0 {
		return
	}
	c.idleFor = d
	c.idleAt.Store(int64(monoNow().add(d)))
	c.tmu.Lock()
	defer c.tmu.Unlock()
	c.armLocked()
}

// TouchIdle moves the idle deadline to idleFor from now. The timer is not
// touched: when it fires at the old deadline, it finds the new one and
// waits for that.
func (c *Conn) TouchIdle() {
	if c.idleFor > 0 {
		c.idleAt.Store(int64(monoNow().add(c.idleFor)))
	}
}

// stopKeepalive stops the pings, and the timer with them.
func (c *Conn) stopKeepalive() {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	c.nextPing = 0
	timers.cancel(c)
	c.timerAt = 0
}

// armLocked schedules the kick for the next ping or the parked reader's
// deadline, whichever comes first. tmu is held. A kick already scheduled
// for that time or earlier is left alone: when it comes early, onKick finds
// nothing due and schedules it again. So a reader that parks after every
// frame, moving its deadline later each time, costs no heap change and no
// clock read per frame.
func (c *Conn) armLocked() { c.arm(false) }

// arm is armLocked; with try (on the poller's goroutine) it waits for no
// lock, and reports false when the timers heap's is busy.
func (c *Conn) arm(try bool) bool {
	next := c.nextPing // 0 = nothing to wait for
	for _, dl := range [2]mono{mono(c.parkDL.Load()), mono(c.idleAt.Load())} {
		if dl != 0 && (next == 0 || dl < next) {
			next = dl
		}
	}
	if next == 0 || c.closed.Load() {
		return true
	}
	if c.timerAt != 0 && c.timerAt <= next {
		return true
	}
	if c.kick == nil {
		c.kick = c.onKick
	}
	if !timers.schedule(c, next, try) {
		return false
	}
	c.timerAt = next
	return true
}

// onKick runs on the timer's goroutine, or on a new one when a parked
// connection was woken (woken set): it resumes the owner, or sends the ping
// due, ends a parked wait whose deadline passed and tells the owner its idle
// deadline passed.
func (c *Conn) onKick() {
	if c.woken.Swap(false) {
		c.unslot()
		c.own.Unparked(c, false)
		return
	}
	if c.closed.Load() {
		return
	}
	now := monoNow()
	c.tmu.Lock()
	c.timerAt = 0 // fired (or about to): armLocked below sets it for what is next
	ping := c.nextPing != 0 && now >= c.nextPing
	if ping {
		c.nextPing = now.add(c.pingEvery)
	}
	dl := c.parkDL.Load()
	expired := dl != 0 && int64(now) >= dl && c.parked.CompareAndSwap(true, false)
	if expired {
		c.parkDL.Store(0)
	}
	ia := c.idleAt.Load()
	idle := ia != 0 && int64(now) >= ia && c.idleAt.CompareAndSwap(ia, 0)
	c.armLocked()
	c.tmu.Unlock()
	if idle {
		c.own.IdleTimeout()
	}
	if ping && !c.closeSent.Load() {
		_ = c.WriteControl(ws.OpPing, nil)
	}
	if expired {
		c.unslot()
		c.own.Unparked(c, true)
	}
}
