package proxy

import (
	"net"
	"syscall"
	"unsafe"
)

// peekWaiter waits for readability with a MSG_PEEK|MSG_DONTWAIT probe under
// the runtime poller, so a connection waiting for its peer holds no read
// buffer: the idle cost of a proxied connection is its goroutines and
// sockets, not 16 KiB buffers (see reference/performance.md 4.3).
type peekWaiter struct {
	rc   syscall.RawConn
	fn   func(fd uintptr) bool // made once: a method value per call would allocate
	err  syscall.Errno
	byte [1]byte
}

func newReadWaiter(nc net.Conn) readWaiter {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &peekWaiter{rc: rc}
	w.fn = w.probe
	return w
}

func (w *peekWaiter) probe(fd uintptr) bool {
	_, _, e := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&w.byte)),
		1, syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	if e == syscall.EAGAIN || e == syscall.EINTR {
		return false // not readable yet: the poller waits and calls again
	}
	w.err = e
	return true
}

func (w *peekWaiter) waitReadable() error {
	w.err = 0
	if err := w.rc.Read(w.fn); err != nil {
		return err
	}
	// A probe error (a reset, say) is reported by the read that follows.
	return nil
}
