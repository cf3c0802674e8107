package proxy

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/agentbridge/agentbridge/translators"
)

// DroppedFrame names what the proxy counts when a codec has no place for
// an opaque frame (a KindFrame) of another dialect: the route, the frame's
// dialect and its type (the event's Name and Code, which come from that
// dialect's fixed list, so the counts stay few).
type DroppedFrame struct {
	Route, Dialect, Type string
}

// drops counts dropped frames by route, then by dialect and type.
type drops struct {
	mu sync.Mutex
	m  map[*Route]map[string]*atomic.Int64 // key: dialect "\x00" type
}

// frameDropped logs and counts ev, a KindFrame that the codec of the other
// leg of a session of rt encoded into nothing. It allocates only the first
// time a route drops a frame of a given dialect and type.
func (s *Server) frameDropped(rt *Route, ev *translators.Event) {
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("frame dropped: the other side's dialect has no place for it",
			"route", rt.Name, "dialect", string(ev.Name), "type", string(ev.Code))
	}
	var kb [64]byte
	key := append(append(append(kb[:0], ev.Name...), 0), ev.Code...)
	d := &s.drops
	d.mu.Lock()
	n := d.m[rt][string(key)] // no allocation: a lookup
	if n == nil {
		if d.m == nil {
			d.m = make(map[*Route]map[string]*atomic.Int64)
		}
		if d.m[rt] == nil {
			d.m[rt] = make(map[string]*atomic.Int64)
		}
		n = new(atomic.Int64)
		d.m[rt][string(key)] = n
	}
	d.mu.Unlock()
	n.Add(1)
}

// Dropped returns how many opaque frames each route dropped so far, by the
// frame's dialect and type (see DroppedFrame).
func (s *Server) Dropped() map[DroppedFrame]int64 {
	d := &s.drops
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[DroppedFrame]int64)
	for rt, m := range d.m {
		for key, n := range m {
			dialect, typ, _ := strings.Cut(key, "\x00")
			out[DroppedFrame{Route: rt.Name, Dialect: dialect, Type: typ}] = n.Load()
		}
	}
	return out
}
