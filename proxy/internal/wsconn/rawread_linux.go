package wsconn

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawReader reads a connection's socket with recvfrom(2), and makes the
// write attempts that do not wait (Conn.WriteNow). A read that may wait
// does so under the runtime poller (syscall.RawConn.Read); a read that
// parks instead, and a write, are made on the descriptor directly. The
// read callback takes the pooled read buffer only when the read returns
// bytes and gives it back when the socket has none, so a connection
// waiting for its peer holds no buffer, and a busy one pays one system
// call per batch of frames. The callback is made once: a method value per
// call would allocate.
//
// The calls made on the descriptor directly skip RawConn.Control, whose
// hold on the descriptor is a trip through the net.Conn to its poll
// descriptor: memory a connection touches nowhere else on that path, a
// cache miss per frame when thousands of connections take turns. The Conn
// guards the descriptor's life itself instead: use counts the calls in
// flight (hold, drop) and Close marks it closed (closeSocket); whichever
// comes last closes the socket, so no call reaches a descriptor number
// that another socket has taken since.
type rawReader struct {
	c   *Conn
	rc  syscall.RawConn
	fn  func(fd uintptr) bool // readFD, made at the first read that may wait
	fd  int
	n   int
	err error
	use atomic.Int32 // calls in flight on fd, plus fdClosed and fdShut

	park   bool // read or park: when the socket has no bytes, park the connection instead of waiting
	parked bool // the last read parked the connection
}

// The flags of rawReader.use above the count of calls in flight.
const (
	fdClosed = 1 << 29 // Close was called
	fdShut   = 1 << 30 // the socket was closed
)

// errNoPark: the poller refused the connection; it waits as usual.
var errNoPark = errors.New("cannot park")

// init sets r up to read c's socket, and reports whether it can: only
// plain TCP sockets are read raw. r lives inside c.
func (r *rawReader) init(c *Conn) bool {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return false
	}
	if _, isTCP := c.nc.(*net.TCPConn); !isTCP {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	fd := -1
	if rc.Control(func(d uintptr) { fd = int(d) }) != nil || fd < 0 {
		return false
	}
	r.c, r.rc, r.fd = c, rc, fd
	return true
}

// hold reports whether fd is still open, and if so keeps it open until
// drop.
func (r *rawReader) hold() bool {
	if r.use.Add(1)&fdClosed != 0 {
		r.drop()
		return false
	}
	return true
}

// drop ends a hold; the last one after Close closes the socket.
func (r *rawReader) drop() {
	if r.use.Add(-1) == fdClosed {
		r.shut()
	}
}

// shut closes the socket once Close was called and no call holds fd.
func (r *rawReader) shut() {
	if r.use.CompareAndSwap(fdClosed, fdClosed|fdShut) {
		r.c.nc.Close()
	}
}

// closeSocket closes c's socket, at once or, when a call holds its
// descriptor, as that call returns; Close calls it once.
func (c *Conn) closeSocket() {
	if c.raw == nil {
		c.nc.Close()
		return
	}
	c.rr.use.Add(fdClosed)
	c.rr.shut()
}

func (r *rawReader) readFD(fd uintptr) bool {
	c := r.c
	held := c.rb != nil
	if !held {
		c.rb, c.r, c.w = getBuf(), 0, 0
	}
	n, err := rawRead(int(fd), c.rb[c.w:])
	c.short = n < len(c.rb)-c.w
	switch {
	case err == unix.EAGAIN:
		if !held {
			putBuf(c.rb)
			c.rb = nil
		}
		if r.park {
			if err := c.parkFD(int(fd)); err == nil {
				r.parked = true
			} else {
				r.err = err
			}
			return true
		}
		return false // not readable: the poller waits and calls again
	case err != nil:
		n = 0
	}
	if n > 0 {
		c.w += n
		c.st.in.bytes += int64(n)
	} else if !held {
		putBuf(c.rb)
		c.rb = nil
	}
	r.n, r.err = n, err
	return true
}

// read reads once; n == 0 with a nil error is the end of the stream.
func (r *rawReader) read() (int, error) {
	r.n, r.err = 0, nil
	if r.c.inl != nil {
		// Edge-triggered: an edge from now on means bytes this read may
		// not see (AwaitData).
		r.c.ready.Store(false)
	}
	var err error
	if r.park {
		// It never asks the runtime poller to wait: it only needs the
		// descriptor open for the call.
		if !r.hold() {
			return 0, net.ErrClosed
		}
		r.readFD(uintptr(r.fd))
		r.drop()
	} else {
		if r.fn == nil {
			r.fn = r.readFD
		}
		err = r.rc.Read(r.fn)
	}
	if err != nil {
		return 0, err
	}
	if r.err != nil {
		return 0, r.err
	}
	return r.n, nil
}

// WriteNow writes as much of p as the socket takes at once, without
// waiting; the caller holds the write lock and c.raw is set. Every write
// starts this way (Conn.send); a pump run on the poller's goroutine writes
// only this way (relayPump.write).
func (c *Conn) WriteNow(p []byte) (int, error) {
	r := c.raw
	// Not through RawConn.Write: the socket's write deadline would apply,
	// and one left by a blocking write long done (Conn.send) would fail a
	// write that cannot block (TestWriteAfterOldDeadline).
	if !r.hold() {
		return 0, net.ErrClosed
	}
	n, err := rawWrite(r.fd, p)
	r.drop()
	if err == unix.EAGAIN {
		n, err = 0, nil // a full socket is no error, just fewer bytes
	}
	n = max(n, 0)
	c.st.outBytes.Add(int64(n))
	return n, err
}

// rawRead and rawWrite are recvfrom(2) and sendto(2) without an address
// on a non-blocking socket: the socket calls themselves rather than read(2)
// and write(2), which reach the same code through the file layer (a
// position lock and an iterator more per call). They are made as raw system
// calls: they never block, so the scheduler need not know of them. Through unix.Read and Write, a loopback write that spends
// long delivering to its peer marks its P as in a system call long enough
// for sysmon to retake it and start another thread, and keeps sysmon
// polling (the measurement is in benchmarks/RESULTS.md).
// A send to a peer that has gone fails with EPIPE and, with MSG_NOSIGNAL,
// raises no SIGPIPE for the runtime to field.
func rawRead(fd int, p []byte) (int, error)  { return rawIO(unix.SYS_RECVFROM, fd, p, 0) }
func rawWrite(fd int, p []byte) (int, error) { return rawIO(unix.SYS_SENDTO, fd, p, unix.MSG_NOSIGNAL) }

// rawIO makes the receive or send trap on fd with p and flags (no address), retrying EINTR: it does
// not mean the socket is drained. An empty p does nothing and returns 0.
func rawIO(trap uintptr, fd int, p []byte, flags uintptr) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, _, e := unix.RawSyscall6(trap, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), flags, 0, 0)
		switch e {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		}
		return -1, e
	}
}
