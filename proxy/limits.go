package proxy

import (
	"net/netip"
	"time"
)

// bucket is a token bucket: rate tokens a second, at most burst at once.
// The zero bucket allows everything. It is owned by one goroutine, and
// lives inside its owner (no allocation per connection).
type bucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

// makeBucket returns a bucket for rate a second (none when rate <= 0).
func makeBucket(rate, burst int) bucket {
	if rate <= 0 {
		return bucket{}
	}
	if burst < rate {
		burst = rate
	}
	return bucket{rate: float64(rate), burst: float64(burst), tokens: float64(burst)}
}

// allow takes a token if there is one.
func (b *bucket) allow() bool {
	if b.rate == 0 {
		return true
	}
	now := now()
	if !b.last.IsZero() {
		b.tokens += now.Sub(b.last).Seconds() * b.rate
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// The closes limits decide.
var (
	closeRateLimited = &CloseError{Code: 1008, Reason: "message rate limit exceeded"}
	closeFlood       = &CloseError{Code: 1008, Reason: "too many control frames"}
)

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
