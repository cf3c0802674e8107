//go:build !linux

package wsconn

import "github.com/agentbridge/agentbridge/proxy/internal/netpoll"

// Connections park only on Linux (epoll); elsewhere a quiet connection's
// reader blocks as usual.

func (c *Conn) AwaitData() error { return nil }

func (c *Conn) unpark() {}

func getPoller() *netpoll.Poller { return nil }

func (c *Conn) Forget() {}

func (c *Conn) unslot() {}

func (c *Conn) AwaitInline(bool, bool) error { return ErrHandoff }

func ClosedInSlots() int { return 0 }

// PollStats returns no parked connections: they do not park here.
func PollStats() (parked int, handed int64) { return 0, 0 }
