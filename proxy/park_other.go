//go:build !linux

package proxy

// Connections park only on Linux (epoll); elsewhere a quiet connection's
// reader blocks as usual.

func (c *conn) awaitData() error { return nil }

func (c *conn) unpark() {}

type poller struct{}

func getPoller() *poller { return nil }

var thePoller *poller

func (p *poller) clear(int, *conn) {}

func (c *conn) forget() {}

func (c *conn) unslot() {}

func (c *conn) awaitInline(bool, bool) error { return errHandoff }
