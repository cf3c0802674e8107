package proxy

import "net/netip"

// admitConn counts a new client connection from peer against
// MaxConnections and MaxConnectionsPerIP. It returns the HTTP status to
// refuse with (503 when the server is full, 429 when the address is), or 0
// and the connection's slot, which whoever ends the connection releases,
// once.
func (s *Server) admitConn(peer netip.Addr) (status int, slot connSlot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if max := s.cfg.MaxConnections; max > 0 && s.conns >= max {
		return 503, connSlot{}
	}
	if max := s.cfg.MaxConnectionsPerIP; max > 0 && s.perIP[peer] >= max {
		return 429, connSlot{}
	}
	s.conns++
	s.perIP[peer]++
	return 0, connSlot{s: s, peer: peer}
}

// connSlot is one admitted client connection (a value: no allocation per
// connection).
type connSlot struct {
	s    *Server
	peer netip.Addr
}

// release gives the slot back; call it exactly once.
func (c connSlot) release() {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns--
	if s.perIP[c.peer]--; s.perIP[c.peer] <= 0 {
		delete(s.perIP, c.peer)
	}
}
