package wsconn

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// Conn is one WebSocket leg: the client's socket (the proxy is the server)
// or a backend's (the proxy is the client).
//
// Reading is owned by exactly one goroutine at a time (the owner's pump,
// holding LockReader, or the goroutine that made the Conn before any pump
// runs) and is not synchronized. The read buffer is a pooled 16 KiB array taken when bytes
// arrive and given back whenever everything read has been consumed, so an
// idle connection holds no buffer (see AwaitData). Slices returned by the read
// methods alias that buffer and are valid until the next read call or
// FreeRead.
//
// Writing is safe for concurrent use: every frame is written whole under
// wmu with a write deadline, so pongs, pings and closes from other
// goroutines interleave only between frames.
type Conn struct {
	// The fields are ordered so that none pads the struct: 504 bytes on
	// 64-bit platforms, the 512-byte size class (an idle relay holds two
	// Conns). Mind the class when adding one: past 512 bytes the allocator
	// adds an 8-byte header, and the next class is 576.
	nc net.Conn

	// reader state (owned by the reading goroutine)
	rb       *[BufSize]byte
	r, w     int
	raw      *rawReader // &rr, or nil when the socket is not a raw fd (tests, TLS)
	rr       rawReader
	rdl      mono          // the reader's deadline: the peer is dead if silent until then; 0 = none
	sockDL   mono          // the read deadline on the socket: rdl or earlier (a busy wait's, or an older rdl); 0 = none
	readIdle time.Duration // a peer silent this long is dead (ping interval + pong timeout); 0 = no limit

	// Parking (see park_linux.go). rmu is held by whichever goroutine runs
	// the reader of a connection that has an owner; the other fields are
	// the reader's unless noted.
	rmu      sync.Mutex
	ready    atomic.Bool // edge-triggered: the socket became readable since the last read began
	hup      atomic.Bool // edge-triggered: the peer shut its side (or the socket failed); read to the end
	parked   atomic.Bool
	woken    atomic.Bool  // unpark started kick to resume the owner
	own      Owner        // called back when a parked connection is readable; nil = never parks
	inl      Inliner      // set (before the reader runs) when the owner's pump may run on the poller's goroutine: the socket is registered edge-triggered
	hotUntil mono         // bytes came recently: wait under the runtime poller until then
	parkedAt mono         // when the connection last parked; 0 = never
	pfd      int          // the socket's descriptor while parked
	reads    int          // reads of the current inline run (AwaitInline)
	parkDL   atomic.Int64 // rdl of the current park (a mono); 0 when not parked (or no deadline)
	noPark   bool         // the poller refused this connection
	expired  bool         // resumed because the read deadline passed
	polled   bool         // the socket is registered with the poller
	short    bool         // the last read returned less than it asked for: the socket was drained
	onPoller bool         // AwaitInline runs on the poller's goroutine: no lock may be waited for

	client    bool // the peer is a WebSocket client: frames in are masked, frames out are not
	closeRecv bool // the peer's close frame was read (reader-owned)

	// When the connection is kicked (keepalive.go), under tmu; hIdx is
	// under the timers heap's lock instead (timers.go). closeSent and
	// closed, any goroutine's, fill the word tmu leaves.
	tmu       sync.Mutex
	closeSent atomic.Bool
	closed    atomic.Bool
	hIdx      int    // 1 + the index of c's entry in the timers heap; 0: none
	timerAt   mono   // when the kick is scheduled for; 0 = not scheduled
	kick      func() // c.onKick, made once: what the timers and the resume of a parked reader run
	pingEvery time.Duration
	nextPing  mono          // 0: no keepalive
	idleFor   time.Duration // the owner's idle timeout (set once, before the pumps run)
	idleAt    atomic.Int64  // the owner's idle deadline (a mono); 0 = none
	intr      atomic.Int64  // the deadline another goroutine imposed (InterruptRead; a mono); 0 = none

	// Writing, under wmu. A frame is built in a pooled buffer (write.go):
	// the Conn keeps no scratch of its own.
	wmu          sync.Mutex
	wdl          mono // the write deadline last set (guarded by wmu)
	writeTimeout time.Duration
	ctrl         Bucket // caps the peer's control frames (client legs; reader-owned)
	skip         int64  // payload bytes of an abandoned frame still to read (reader-owned)
	rerr         error  // the first read error, sticky (reader-owned)
	st           stats  // traffic and close codes (stats.go)
}

// New makes the Conn of nc, a socket past its WebSocket handshake. client
// says the peer is a WebSocket client (the proxy is the server): frames in
// must be masked and frames out are not. Writes wait at most writeTimeout
// (0: no limit), and a peer silent for readIdle fails the read (0: no
// limit). The Conn owns nc from now on: Close closes it.
func New(nc net.Conn, client bool, writeTimeout, readIdle time.Duration) *Conn {
	c := &Conn{nc: nc, client: client, writeTimeout: writeTimeout, readIdle: readIdle}
	c.st.start = time.Now()
	if c.rr.init(c) {
		c.raw = &c.rr
	}
	return c
}

// clockBase anchors mono.
var clockBase = time.Now()

// mono is a time on the monotonic clock, in nanoseconds since clockBase;
// 0 means none (no Conn exists in the process's first nanosecond). A Conn
// keeps its deadlines as monos: 8 bytes where a time.Time takes 24, read
// with one vDSO call where time.Now makes two, and compared as deadlines
// on time.Time are, by the monotonic reading.
type mono int64

// monoNow returns the time now.
func monoNow() mono { return mono(time.Since(clockBase)) }

// monoOf returns t as a mono; the zero Time is 0.
func monoOf(t time.Time) mono {
	if t.IsZero() {
		return 0
	}
	return mono(t.Sub(clockBase))
}

func (m mono) add(d time.Duration) mono { return m + mono(d) }

// sub returns m-o as a Duration.
func (m mono) sub(o mono) time.Duration { return time.Duration(m - o) }

// time returns m as a time.Time with a monotonic reading; 0 is the zero
// Time (no deadline).
func (m mono) time() time.Time {
	if m == 0 {
		return time.Time{}
	}
	return clockBase.Add(time.Duration(m))
}

// Owner is what a parked connection calls back when it is readable again,
// its read deadline passed (expired) or its read was interrupted. Unparked
// runs on a new goroutine and must hold the reader (LockReader) while it
// reads. IdleTimeout runs on the timer's goroutine.
type Owner interface {
	Unparked(c *Conn, expired bool)
	IdleTimeout() // the connection's idle deadline passed (StartIdle)
}

// Inliner is an Owner whose pump may run on the poller's goroutine (see
// park_linux.go): readable connections are then served without waking a
// goroutine, as an event loop serves them. Such a pump must never block
// there: it reads only what the socket has (AwaitInline), writes only what
// the socket takes (TryLockWrite, WriteNow), takes the reader only with
// TryLockReader, and moves to a goroutine of its own before anything else.
// RunInline runs on the poller's goroutine, c parked no more.
type Inliner interface {
	RunInline(c *Conn)
}

// LockReader takes c's reader for its owner's pump, which runs it until it
// parks or ends and then unlocks c.rmu. expired says a parked read was
// resumed because its deadline passed: the pump's next AwaitData fails.
func (c *Conn) LockReader(expired bool) {
	c.rmu.Lock()
	if expired {
		c.expired = true
	}
}

// ErrParked: the connection parked (AwaitData); its owner resumes it.
var ErrParked = errors.New("parked")

// ErrHandoff: a pump run on the poller's goroutine (inliner) must move to a
// goroutine of its own to go on, as what comes next may block.
var ErrHandoff = errors.New("handed off")

// ErrPartial: AwaitInline read more of a data frame that is still
// incomplete.
var ErrPartial = errors.New("partial frame")

// errNeedMore is internal: the buffer does not hold what was asked for.
var errNeedMore = errors.New("need more bytes")

// fill reads more bytes from the socket into the read buffer, taking a
// buffer from the pool when the connection holds none. It keeps unconsumed
// bytes, moving them to the front when the buffer's tail is full.
func (c *Conn) fill() error {
	if c.rb != nil && c.r == c.w {
		c.release()
	}
	managed := c.readIdle > 0 && !c.closeSent.Load() && c.intr.Load() == 0
	if managed {
		if err := c.extendReadDeadline(); err != nil {
			return err
		}
	}
	if c.rerr != nil {
		return c.rerr
	}
	if !c.compact() {
		return errNeedMore // cannot happen: callers never ask for more than a buffer
	}
	if c.raw != nil {
		// Read straight from the socket under the runtime poller; the
		// buffer is taken only once bytes are there (see rawReader).
		for {
			n, err := c.raw.read()
			if n > 0 {
				return nil
			}
			if err == nil {
				err = io.EOF
			}
			if managed && c.earlyDeadline(err) {
				continue
			}
			return c.readFailed(err)
		}
	}
	if c.rb == nil {
		c.rb, c.r, c.w = getBuf(), 0, 0
	}
	n, err := c.nc.Read(c.rb[c.w:])
	for n == 0 && managed && c.earlyDeadline(err) {
		n, err = c.nc.Read(c.rb[c.w:])
	}
	c.w += n
	c.st.in.bytes += int64(n)
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	if c.r == c.w {
		c.release()
	}
	return c.readFailed(err)
}

// compact moves unconsumed bytes to the front of a full buffer, and
// reports whether the buffer has room to read into.
func (c *Conn) compact() bool {
	if c.rb == nil || c.w < len(c.rb) {
		return true
	}
	if c.r == 0 {
		return false
	}
	c.w = copy(c.rb[:], c.rb[c.r:c.w])
	c.r = 0
	return true
}

// extendReadDeadline moves the reader's deadline to readIdle from now. The
// socket's deadline is changed only when it is unset or later than that:
// an earlier one (an older extension, a busy wait's) is extended when it
// fires (earlyDeadline), since a timer change per read costs more than the
// slack is worth.
func (c *Conn) extendReadDeadline() error {
	c.rdl = monoNow().add(c.readIdle)
	if c.sockDL != 0 && c.sockDL <= c.rdl {
		return nil
	}
	return c.armRead(c.rdl)
}

// armRead sets the socket's read deadline to t, for the reader. A deadline
// imposed by InterruptRead meanwhile wins.
func (c *Conn) armRead(t mono) error {
	c.sockDL = t
	err := c.nc.SetReadDeadline(t.time())
	if d := c.intr.Load(); d != 0 {
		err = c.nc.SetReadDeadline(mono(d).time())
	}
	return err
}

// earlyDeadline reports whether err is the socket's deadline firing before
// the reader's own, and if so moves the socket's deadline there, so the
// read can be retried.
func (c *Conn) earlyDeadline(err error) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) || c.intr.Load() != 0 || monoNow() >= c.rdl {
		return false
	}
	return c.armRead(c.rdl) == nil
}

// SetReadDeadline sets the read deadline; the reader's goroutine only.
func (c *Conn) SetReadDeadline(t time.Time) {
	c.rdl = monoOf(t)
	_ = c.armRead(c.rdl)
}

// InterruptRead makes the connection's reader return by t: its read
// deadline becomes t for good, and a parked reader is resumed to meet it.
// Any goroutine may call it.
func (c *Conn) InterruptRead(t time.Time) {
	d := monoOf(t)
	if d == 0 {
		d = 1 // zero would mean none: use the past
	}
	c.intr.Store(int64(d))
	_ = c.nc.SetReadDeadline(d.time())
	c.unpark()
}

// readFailed records a read error as final unless it is a deadline, which
// callers may retry (an idle gap) or treat as the end (a close grace).
func (c *Conn) readFailed(err error) error {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		c.rerr = err
	}
	return err
}

// release gives the read buffer back when nothing in it is unconsumed.
func (c *Conn) release() {
	if c.rb != nil && c.r == c.w {
		putBuf(c.rb)
		c.rb, c.r, c.w = nil, 0, 0
	}
}

// Buffered returns the unconsumed bytes of the read buffer.
func (c *Conn) Buffered() []byte {
	if c.rb == nil {
		return nil
	}
	return c.rb[c.r:c.w]
}

// ReadHeader reads the next frame header and checks it against RFC 6455 for
// this side. fragmented says a fragmented message is in progress.
func (c *Conn) ReadHeader(fragmented bool) (ws.Header, error) {
	for {
		h, n, err := ParseHeader(c.Buffered())
		if err != nil {
			return h, CloseProtocol
		}
		if n > 0 {
			c.r += n
			if err := checkHeader(h, c.client, fragmented); err != nil {
				c.skip = h.Length // its payload is not a frame: a drain skips it
				return h, err
			}
			return h, nil
		}
		if err := c.fill(); err != nil {
			return h, err
		}
	}
}

func checkHeader(h ws.Header, fromClient, fragmented bool) error {
	state := ws.StateClientSide
	if fromClient {
		state = ws.StateServerSide
	}
	if fragmented {
		state = state.Set(ws.StateFragmented)
	}
	if ws.CheckHeader(h, state) != nil {
		return CloseProtocol
	}
	return nil
}

// FillTo reads until the buffer holds n unconsumed bytes; n is at most
// a buffer.
func (c *Conn) FillTo(n int) error {
	for c.w-c.r < n {
		if err := c.fill(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// ReadPayload returns up to n bytes of the current frame's payload, at least
// one when n > 0, reading from the socket if the buffer is empty. The bytes
// are still masked; they alias the read buffer until the next read call.
func (c *Conn) ReadPayload(n int64) ([]byte, error) {
	if c.r == c.w {
		if err := c.fill(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	avail := int64(c.w - c.r)
	if avail > n {
		avail = n
	}
	p := c.rb[c.r : c.r+int(avail)]
	c.r += int(avail)
	return p, nil
}

// close closes the socket (once) and gives back the read buffer if the
// reader is done with it. It is safe to call from any goroutine; a blocked
// reader returns with an error.
func (c *Conn) Close() {
	if c.closed.Swap(true) {
		return
	}
	c.stopKeepalive()
	c.closeSocket()
	c.unpark() // a parked reader learns of it by reading
}

// CloseGracefully sends a close frame and closes the socket after the peer
// answers or grace passes. The caller must own reading.
func (c *Conn) CloseGracefully(code ws.StatusCode, reason string, grace time.Duration) {
	_ = c.SendClose(code, reason)
	if grace > 0 && !c.closed.Load() {
		c.readIdle = 0
		c.SetReadDeadline(time.Now().Add(grace))
		c.DrainUntilClose()
	}
	c.Close()
	c.FreeRead()
}

// CloseGrace is how long a peer that was sent a close frame may take to
// answer with its own before the socket is closed.
const CloseGrace = time.Second

// DrainUntilClose reads and discards frames until the peer's close frame,
// an error or the read deadline.
func (c *Conn) DrainUntilClose() {
	if !c.closeSent.Load() || c.closeRecv || c.rerr != nil {
		return // no close to wait for: we sent none, or the peer answered or left
	}
	// However the session ended, the peer gets CloseGrace to answer.
	if c.rdl == 0 || c.rdl.sub(monoNow()) > CloseGrace {
		c.SetReadDeadline(time.Now().Add(CloseGrace))
	}
	for c.skip > 0 {
		p, err := c.ReadPayload(c.skip)
		if err != nil {
			return
		}
		c.skip -= int64(len(p))
	}
	for {
		h, err := c.ReadHeader(false)
		if err != nil {
			return
		}
		for left := h.Length; left > 0; {
			p, err := c.ReadPayload(left)
			if err != nil {
				return
			}
			left -= int64(len(p))
		}
		if h.OpCode == ws.OpClose {
			return
		}
	}
}

// FreeRead gives the read buffer back whatever it holds. The reader must be
// done with the connection: its owner calls it once both of its pumps
// ended, after Close.
func (c *Conn) FreeRead() {
	if c.rb != nil {
		putBuf(c.rb)
	}
	c.rb, c.r, c.w = nil, 0, 0
}
