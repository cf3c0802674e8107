//go:build !linux

package proxy

// Connections park only on Linux (epoll); elsewhere a quiet connection's
// reader blocks as usual.

func (c *conn) awaitData() error { return nil }

func (c *conn) unpark() {}

func (c *conn) stopPark() {}

type poller struct{}

func getPoller() *poller { return nil }
