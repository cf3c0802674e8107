package proxy

import (
	"time"

	"github.com/gobwas/ws"
)

// startKeepalive pings the peer every interval until the connection closes.
// The reader's deadline (readIdle) finds a peer that stopped answering: any
// frame, a pong included, moves it. No goroutine waits between pings.
func (c *conn) startKeepalive(interval time.Duration) {
	if interval <= 0 {
		return
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.pinger = time.AfterFunc(interval, func() {
		if c.closed.Load() || c.closeSent.Load() {
			return
		}
		if err := c.writeControl(ws.OpPing, nil); err != nil {
			return
		}
		c.wmu.Lock()
		if c.pinger != nil {
			c.pinger.Reset(interval)
		}
		c.wmu.Unlock()
	})
}

// stopKeepalive stops the pings.
func (c *conn) stopKeepalive() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.pinger != nil {
		c.pinger.Stop()
		c.pinger = nil
	}
}
