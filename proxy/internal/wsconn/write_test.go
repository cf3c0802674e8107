package wsconn

import (
	"bytes"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// TestWriteAfterOldDeadline checks that a write long after a blocking one
// still succeeds: the blocking write's deadline, long passed, must not fail
// the next write.
func TestWriteAfterOldDeadline(t *testing.T) {
	nc, peer := tcpPair(t)
	// A small send buffer, so that a 1 MiB write cannot go at once and
	// waits for the peer; a write timeout generous enough that it finishes
	// on a loaded machine.
	raw, _ := nc.(*net.TCPConn).SyscallConn()
	_ = raw.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096) })

	const timeout = 2 * time.Second
	c := New(nc, false, timeout, 0)
	go func() {
		time.Sleep(50 * time.Millisecond) // the write blocks first
		_, _ = io.Copy(io.Discard, peer)  // until the test closes peer
	}()
	if err := c.WriteRaw(bytes.Repeat([]byte("x"), 1<<20)); err != nil {
		t.Fatalf("the big write: %v", err)
	}
	time.Sleep(timeout + 200*time.Millisecond) // its deadline passes
	if err := c.WriteRaw([]byte("later")); err != nil {
		t.Fatalf("a write after the last one's deadline passed: %v", err)
	}
}
