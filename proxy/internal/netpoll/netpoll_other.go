//go:build !linux

package netpoll

// Handler is what a registered socket calls back (Linux only).
type Handler interface {
	Ready(hup bool)
}

// Poller is the process's epoll instance; there is none here.
type Poller struct{}

// Get returns nil: connections park only on Linux (epoll).
func Get() *Poller { return nil }

func (*Poller) Failed() bool              { return true }
func (*Poller) Set(int, Handler)          {}
func (*Poller) Clear(int, Handler)        {}
func (*Poller) Arm(int, bool, bool) error { return nil }
func (*Poller) Each(func(Handler))        {}
