package wsconn

import (
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// Stats is what a connection moved and how it closed, for access logs and
// metrics. The counters are plain fields, each kept by the side that owns
// it (the reader the bytes read, the write lock the close sent), read
// exactly once both pumps have ended (Stats); the bytes written are an
// atomic counter, added to once per write (a batch of frames), so that a
// scrape reads them while the connection is live (BytesOut).
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
	start    time.Time // when the Conn was made: the session's start
	in       statsIn
	out      statsOut
	outBytes atomic.Int64
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
	sentCode   ws.StatusCode
	sentReason string
}

// Stats returns what c moved and how it closed. Call it only once no
// goroutine reads or writes c any more (both pumps ended).
func (c *Conn) Stats() Stats {
	c.wmu.Lock()
	out := c.st.out
	c.wmu.Unlock()
	return c.st.in.with(out, c.st.outBytes.Load())
}

func (in statsIn) with(out statsOut, outBytes int64) Stats {
	return Stats{
		BytesIn: in.bytes, BytesOut: outBytes,
		SentCode: out.sentCode, SentReason: out.sentReason,
		RecvCode: in.recvCode, RecvReason: in.recvReason, RecvFirst: in.recvFirst,
	}
}

// BytesOut returns the bytes written to c so far. Any goroutine may call
// it.
func (c *Conn) BytesOut() int64 { return c.st.outBytes.Load() }
