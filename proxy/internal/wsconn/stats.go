package wsconn

import (
	"time"

	"github.com/gobwas/ws"
)

// Stats is what a connection moved and how it closed, for access logs and
// metrics. The counters are plain fields, each kept by the side that owns
// it (the reader the bytes read, the write lock the bytes written), so
// counting adds nothing atomic to the per-frame path; they are read
// exactly once both pumps have ended (Stats); while the connection is
// live, only the bytes written, under the write lock (TryBytesOut).
type Stats struct {
	BytesIn  int64 // bytes read from the socket, frame headers included
	BytesOut int64 // bytes written to the socket, frame headers included

	// SentCode and SentReason are the close frame sent (0: none);
	// RecvCode and RecvReason the one read (0: none). RecvFirst says the
	// peer's close came before ours: the peer closed.
	SentCode   ws.StatusCode
	SentReason string
	RecvCode   ws.StatusCode
	RecvReason string
	RecvFirst  bool
}

// stats are a Conn's Stats as its reader and writer keep them: in (the
// reader's) and out (under wmu).
type stats struct {
	start time.Time // when the Conn was made: the session's start
	in    statsIn
	out   statsOut
}

// Started returns when c was made (its handshake's end).
func (c *Conn) Started() time.Time { return c.st.start }

type statsIn struct {
	bytes      int64
	recvCode   ws.StatusCode
	recvReason string
	recvFirst  bool
}

type statsOut struct {
	bytes      int64
	sentCode   ws.StatusCode
	sentReason string
}

// Stats returns what c moved and how it closed. Call it only once no
// goroutine reads or writes c any more (both pumps ended).
func (c *Conn) Stats() Stats {
	c.wmu.Lock()
	out := c.st.out
	c.wmu.Unlock()
	return c.st.in.with(out)
}

func (in statsIn) with(out statsOut) Stats {
	return Stats{
		BytesIn: in.bytes, BytesOut: out.bytes,
		SentCode: out.sentCode, SentReason: out.sentReason,
		RecvCode: in.recvCode, RecvReason: in.recvReason, RecvFirst: in.recvFirst,
	}
}

// TryBytesOut returns the bytes written to c so far, if no write holds c
// at this moment; ok false means try later. Any goroutine may call it.
func (c *Conn) TryBytesOut() (n int64, ok bool) {
	if !c.wmu.TryLock() {
		return 0, false
	}
	n = c.st.out.bytes
	c.wmu.Unlock()
	return n, true
}
