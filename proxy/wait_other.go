//go:build !linux

package proxy

import "net"

// newReadWaiter returns nil off Linux: connections keep their read buffer.
func newReadWaiter(net.Conn) readWaiter { return nil }
