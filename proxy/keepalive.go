package proxy

import (
	"time"

	"github.com/gobwas/ws"
)

// Each connection has one timer, made on first use. It fires at the
// earlier of the next ping (keepalive) and the read deadline of a parked
// reader; its callback, kick, is also what a parked connection is resumed
// on (see park_linux.go), so a connection costs one timer and one func
// value however it is used.

// startKeepalive pings the peer every interval until the connection closes.
// The reader's deadline (readIdle) finds a peer that stopped answering: any
// frame, a pong included, moves it. No goroutine waits between pings.
func (c *conn) startKeepalive(interval time.Duration) {
	if interval <= 0 {
		return
	}
	c.tmu.Lock()
	defer c.tmu.Unlock()
	c.pingEvery = interval
	c.nextPing = time.Now().Add(interval)
	c.armLocked()
}

// stopKeepalive stops the pings, and the timer with them.
func (c *conn) stopKeepalive() {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	c.nextPing = time.Time{}
	if c.timer != nil {
		c.timer.Stop()
	}
}

// armLocked sets the timer for the next ping or the parked reader's
// deadline, whichever comes first. tmu is held.
func (c *conn) armLocked() {
	next := c.nextPing
	if dl := c.parkDL.Load(); dl != 0 {
		if t := time.Unix(0, dl); next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if next.IsZero() || c.closed.Load() {
		return
	}
	d := time.Until(next)
	if c.timer == nil {
		if c.kick == nil {
			c.kick = c.onKick
		}
		c.timer = time.AfterFunc(d, c.kick)
		return
	}
	c.timer.Reset(d)
}

// onKick runs on the timer's goroutine, or on a new one when a parked
// connection was woken (woken set): it resumes the owner, or sends the ping
// due and ends a parked wait whose deadline passed.
func (c *conn) onKick() {
	if c.woken.Swap(false) {
		c.own.unparked(c, false)
		return
	}
	if c.closed.Load() {
		return
	}
	now := time.Now()
	c.tmu.Lock()
	ping := !c.nextPing.IsZero() && !now.Before(c.nextPing)
	if ping {
		c.nextPing = now.Add(c.pingEvery)
	}
	dl := c.parkDL.Load()
	expired := dl != 0 && now.UnixNano() >= dl && c.parked.CompareAndSwap(true, false)
	if expired {
		c.parkDL.Store(0)
	}
	c.armLocked()
	c.tmu.Unlock()
	if ping && !c.closeSent.Load() {
		_ = c.writeControl(ws.OpPing, nil)
	}
	if expired {
		thePoller.clear(c.pfd, c)
		c.own.unparked(c, true)
	}
}
