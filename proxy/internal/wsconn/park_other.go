//go:build !linux

package wsconn

// Connections park only on Linux (epoll); elsewhere a quiet connection's
// reader blocks as usual.

func (c *Conn) AwaitData() error { return nil }

func (c *Conn) unpark() {}

type poller struct{}

func getPoller() *poller { return nil }

var thePoller *poller

func (p *poller) clear(int, *Conn) {}

func (c *Conn) Forget() {}

func (c *Conn) unslot() {}

func (c *Conn) AwaitInline(bool, bool) error { return ErrHandoff }

func ClosedInSlots() int { return 0 }
